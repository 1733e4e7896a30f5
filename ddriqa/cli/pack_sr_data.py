"""``ddriqa pack-sr-data``: pack folders of HR training images into one .npz file."""

from __future__ import annotations

import click

from ddriqa.cli._common import EXIT_OK, EXIT_SOME_ERRORS, exits_on_errors, log, plural
from ddriqa.cli.train_sr import output_options, output_value


@click.command("pack-sr-data")
@exits_on_errors
@click.argument("dirs", nargs=-1, required=True, type=click.Path(exists=True, file_okay=False))
@output_options("The .npz pack to write.", dir_okay=False)
@click.option("--groups", default=None,
              help="Comma-separated label per folder (e.g. Set5,Set14,BSD100 for a validation pack); default: folder names.")
@click.option("-r", "--recursive", is_flag=True, help="Also take images from subfolders.")
@click.option("--overwrite", is_flag=True, help="Replace an existing pack (refused without it).")
def pack_sr_data(dirs, output, out_alias, groups, recursive, overwrite):
    """Decode the images of DIRS once into a single .npz pack for `ddriqa train-sr --data`.

    JPEG files whose bytes decode to exactly the pixels ddriqa reads are stored verbatim (no
    re-encoding); every other image as lossless PNG; each entry keeps the SHA-256 of its pixels.
    Unreadable files are reported on stderr and skipped. Prints a JSON summary to stdout.

    An existing pack is refused without --overwrite.

    Exit status: 0 fine; 1 some files skipped; 2 no images / bad folder / output exists.

    Example:

        ddriqa pack-sr-data ../shared/data/sr/T91 ../shared/data/sr/BSDS500/train
        ../shared/data/sr/BSDS500/test -o packed/sr_train.npz
    """
    import json

    from ddriqa.jobs.outputs import refuse_existing
    from ddriqa.training.data import pack_images

    out_path = output_value(output, out_alias)
    refuse_existing([out_path], overwrite=overwrite, remove=False)  # before any work
    labels = [g.strip() for g in groups.split(",")] if groups else None
    summary = pack_images(dirs, out_path, groups=labels, recursive=recursive,
                          on_error=lambda path, exc: log(f"warning: skipped {exc}"))
    log(f"{plural(summary['n_images'], 'image')}, {summary['bytes'] / 2**20:.1f} MiB "
        f"(decoded {summary['raw_bytes'] / 2**20:.1f} MiB) -> {out_path}")
    click.echo(json.dumps(summary))
    raise SystemExit(EXIT_SOME_ERRORS if summary["skipped"] else EXIT_OK)
