"""``ddriqa degrade``: write a LIVE-like distorted data set from a folder of reference images."""

from __future__ import annotations

import click

from ddriqa.cli._common import (
    DEFAULT_CROP,
    EXIT_SOME_ERRORS,
    check_output,
    exits_on_errors,
    list_input_images,
    log,
    plural,
    progress,
)

#: Smallest reference side ``degrade`` accepts by default. None of the five LIVE distortions
#: refuses a small image, but below this size the set is not what it claims: LIVE's widest blur
#: (sigma 15 px) has a 91-tap kernel (``ddriqa.degradations.blur.default_kernel_size(15)``), so
#: a smaller image is blurred mostly with its own mirrored border; JPEG / JPEG 2000 headers alone
#: exceed LIVE's bit rates on tiny images (a 20x20 JPEG at quality 1 is 13 bpp, LIVE's range is
#: 0.15-3.34 bpp); and the DDR features of `train`, `classify` and `extract` take a 96x96 crop.
MIN_REFERENCE_SIDE = max(91, DEFAULT_CROP)


def _parse_classes(value):
    from ddriqa.degradations.live_preset import LIVE_CLASSES

    names = [c.strip().lower() for c in value.split(",") if c.strip()]
    unknown = [c for c in names if c not in LIVE_CLASSES]
    if unknown or not names:
        raise click.BadParameter(f"unknown class(es) {', '.join(unknown) or '(none)'}; "
                                 f"choose from {','.join(LIVE_CLASSES)}", param_hint="--classes")
    if len(set(names)) != len(names):
        raise click.BadParameter(f"a class is repeated in {value!r}", param_hint="--classes")
    return tuple(names)


def _refuse_small_references(paths, min_size):
    """Raise an InputError naming the references with a side below ``min_size`` (unreadable ones
    are left to the job, which skips them with a warning)."""
    from ddriqa.errors import DDRIQAError, InputError
    from ddriqa.io import read_image_size

    small = []
    for path in paths:
        try:
            h, w = read_image_size(path)
        except DDRIQAError:
            continue
        if min(h, w) < min_size:
            small.append(f"{path} ({w}x{h})")
    if small:
        shown = ", ".join(small[:5]) + (f" and {len(small) - 5} more" if len(small) > 5 else "")
        raise InputError(
            f"{plural(len(small), 'reference')} smaller than {min_size} pixels on a side: {shown}. "
            f"The LIVE preset's widest blur is a 91-pixel kernel and the DDR features crop 96x96; use "
            "larger references, or lower the limit with --min-size (BRISQUE features need 16)")


@click.command("degrade")
@exits_on_errors
@click.argument("refs_dir", type=click.Path(exists=True, file_okay=False, dir_okay=True))
@click.argument("out_dir", type=click.Path(file_okay=False, dir_okay=True))
@click.option("--preset", type=click.Choice(["live"]), default="live", show_default=True,
              help="Distortion set and parameter ranges (LIVE Release 2: jp2k, jpeg, wn, gblur, fastfading).")
@click.option("-n", "--per-class", type=click.IntRange(min=1), default=24, show_default=True,
              help="Distorted images per class, spread round-robin over the references.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of every random choice; the same seed gives the same images.")
@click.option("--classes", default="jp2k,jpeg,wn,gblur,fastfading", show_default=True, callback=lambda c, p, v: _parse_classes(v),
              help="Comma-separated subset of the preset's classes.")
@click.option("--min-size", type=click.IntRange(min=1), default=MIN_REFERENCE_SIDE, show_default=True,
              help="Refuse references with a smaller side (pixels), before any work.")
@click.option("--overwrite", is_flag=True,
              help="OUT_DIR holds a set: replace it whole (only the files a degrade run recorded are removed).")
@click.option("--add", is_flag=True,
              help="OUT_DIR holds a set: add --per-class images per class to it (numbered after its last; "
                   "info.txt and labels.csv extended).")
def degrade(refs_dir, out_dir, preset, per_class, seed, classes, min_size, overwrite, add):
    """Distort the images of REFS_DIR and write them to OUT_DIR in the LIVE database layout.

    OUT_DIR gets refimgs/<name>.bmp (the references as RGB BMP), <class>/img<k>.bmp,
    <class>/info.txt ("refname imgname param" lines, readable by ddriqa's LIVE loader) and
    labels.csv (path, distortion, reference, param). Parameters are drawn from LIVE's published
    ranges: jp2k 0.028-3.15 bpp, jpeg 0.15-3.34 bpp, wn sigma 0.012-2.0 (on [0, 1]), gblur sigma
    0.42-15 px, fastfading SNR 15.5-26.1 dB. A summary line goes to stdout, progress to stderr.

    References smaller than --min-size pixels on a side (default 96: the widest LIVE blur is a
    91-pixel kernel, the DDR crop is 96) are refused before anything is written.

    An OUT_DIR that holds files is refused unless --overwrite (replace the set: the files that
    degrade runs recorded in degrade_files.txt, labels.csv and info.txt are removed first) or
    --add (append images). A folder holding other files is refused either way; REFS_DIR is
    only read, and may not be OUT_DIR or lie inside it.

    Exit status: 0 everything written; 1 finished, but some references were unreadable or some
    images failed (each named in a warning on stderr); 2 usage error, no reference image, a
    reference too small, or no readable reference.

    Example:

        ddriqa degrade ../shared/data/kodak24 live_kodak --per-class 24 --seed 0
    """
    from ddriqa.datasets.synthesize import check_output_set, make_live_like
    from ddriqa.jobs.sr import check_separate_folders

    if overwrite and add:
        raise click.UsageError("--overwrite and --add exclude each other")
    existing = "overwrite" if overwrite else "add" if add else "refuse"
    check_separate_folders(refs_dir, out_dir)
    check_output(out_dir, folder=True)
    check_output_set(out_dir, existing)  # before any work
    refs = list_input_images(refs_dir)
    _refuse_small_references(refs, min_size)
    log(f"degrade: preset {preset}, {plural(per_class, 'image')} x {plural(len(classes), 'class', 'classes')} "
        f"({','.join(classes)}) from {plural(len(refs), 'reference')}, seed {seed}")
    with progress(length=per_class * len(classes), label="degrade") as bar:
        result = make_live_like(refs, out_dir, per_class, seed, classes=classes, progress=bar.update,
                                existing=existing)
    click.echo(
        f"{'added' if add else 'wrote'} {plural(len(result.labels), 'distorted image')} ({','.join(classes)}) from "
        f"{plural(len(result.references), 'reference')} to {result.out_dir}; "
        f"{plural(len(result.skipped), 'reference')} skipped (unreadable), "
        f"{plural(len(result.failed), 'image')} failed"
    )
    if result.skipped or result.failed:
        raise SystemExit(EXIT_SOME_ERRORS)
