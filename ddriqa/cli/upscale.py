"""``ddriqa upscale``: x4 super-resolution of every image in a folder."""

from __future__ import annotations

import click

from ddriqa.cli._common import (
    EXIT_SOME_ERRORS,
    check_output,
    device_option,
    exits_on_errors,
    list_input_images,
    log,
    plural,
    progress,
)


@click.command("upscale")
@exits_on_errors
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("--weights", required=True, metavar="NAME|PATH", help="Generator weights: a shipped name or a .safetensors file.")
@click.option("--tile", type=click.IntRange(min=8), default=128, show_default=True,
              help="LR tile side for large images (tiles overlap by --overlap pixels).")
@click.option("--overlap", type=click.IntRange(min=0), default=16, show_default=True, help="LR pixels of context per tile side.")
@click.option("-r", "--recursive", is_flag=True, help="Also process images in subfolders (mirrored in OUTPUT_DIR).")
@device_option
@click.option("--overwrite", is_flag=True, help="Replace existing output files (default: keep them).")
def upscale(input_dir, output_dir, weights, tile, overlap, recursive, device, overwrite):
    """Super-resolve every image of INPUT_DIR into OUTPUT_DIR as PNG (<name>.png, 4x larger).

    Large images are processed in overlapping tiles. A file that cannot be read is reported on
    stderr and skipped; existing outputs are kept unless --overwrite (so a rerun resumes). The
    last line on stderr counts the images written, kept (output already there) and failed.

    OUTPUT_DIR may not be INPUT_DIR, nor lie inside it, nor contain it (refused whatever the
    flags: --overwrite would replace the inputs). When every output exists already, nothing is
    upscaled and the last line says so ("nothing upscaled: ...").

    Exit status: 0 every image written or kept (also when all were kept); 1 some files failed
    (see stderr); 2 usage error, an output folder overlapping the input folder, no images, or
    unreadable weights.

    Example:

        ddriqa upscale photos/ photos_x4/ --weights runs/srresnet_x4_gr/generator.safetensors
    """
    from ddriqa.device import resolve_device
    from ddriqa.jobs.sr import check_separate_folders, upscale_files
    from ddriqa.models.weights import load_generator

    check_separate_folders(input_dir, output_dir)  # before anything is read or written
    check_output(output_dir, folder=True)
    files = list_input_images(input_dir, recursive)  # before the network loads
    model = load_generator(weights, device=resolve_device(device)).requires_grad_(False)
    with progress(length=len(files), label="upscale") as bar:

        def on_item(path, status, reason):
            if status == "failed":
                log(f"warning: skipped {path}: {reason}")
            bar.update(1)

        summary = upscale_files(model, files, input_dir, output_dir, tile=tile, overlap=overlap,
                                overwrite=overwrite, on_item=on_item)
    if summary.kept and not summary.written:
        log(f"nothing upscaled: the outputs of {plural(summary.kept, 'image')} exist in {output_dir} already "
            "(an earlier run made them; pass --overwrite to make them again)")
    kept = f", {summary.kept} kept (already in {output_dir}; --overwrite replaces them)" if summary.kept else ""
    log(f"{plural(summary.total, 'image')}: {summary.written} written to {output_dir}{kept}, "
        f"{len(summary.failed)} failed")
    if summary.failed:
        raise SystemExit(EXIT_SOME_ERRORS)
