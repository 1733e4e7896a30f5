"""``ddriqa degrade``: write a LIVE-like distorted data set from a folder of reference images."""

from __future__ import annotations

import click

from ddriqa.cli._common import EXIT_SOME_ERRORS, fail, log, progress


def _parse_classes(value):
    from ddriqa.degradations.live_preset import LIVE_CLASSES

    names = [c.strip().lower() for c in value.split(",") if c.strip()]
    unknown = [c for c in names if c not in LIVE_CLASSES]
    if unknown or not names:
        raise click.BadParameter(f"unknown class(es) {', '.join(unknown) or '(none)'}; choose from {','.join(LIVE_CLASSES)}")
    if len(set(names)) != len(names):
        raise click.BadParameter(f"a class is repeated in {value!r}")
    return tuple(names)


@click.command("degrade")
@click.argument("refs_dir", type=click.Path(exists=True, file_okay=False, dir_okay=True))
@click.argument("out_dir", type=click.Path(file_okay=False, dir_okay=True))
@click.option("--preset", type=click.Choice(["live"]), default="live", show_default=True,
              help="Distortion set and parameter ranges (LIVE Release 2: jp2k, jpeg, wn, gblur, fastfading).")
@click.option("-n", "--per-class", type=click.IntRange(min=1), default=24, show_default=True,
              help="Distorted images per class, spread round-robin over the references.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True,
              help="Seed of every random choice; the same seed gives the same images.")
@click.option("--classes", default="jp2k,jpeg,wn,gblur,fastfading", show_default=True,
              help="Comma-separated subset of the preset's classes.")
def degrade(refs_dir, out_dir, preset, per_class, seed, classes):
    """Distort the images of REFS_DIR and write them to OUT_DIR in the LIVE database layout.

    OUT_DIR gets refimgs/<name>.bmp (the references as RGB BMP), <class>/img<k>.bmp,
    <class>/info.txt ("refname imgname param" lines, readable by ddriqa's LIVE loader) and
    labels.csv (path, distortion, reference, param). Parameters are drawn from LIVE's published
    ranges: jp2k 0.028-3.15 bpp, jpeg 0.15-3.34 bpp, wn sigma 0.012-2.0 (on [0, 1]), gblur sigma
    0.42-15 px, fastfading SNR 15.5-26.1 dB. A summary line goes to stdout, progress to stderr.

    Exit status: 0 everything written; 1 finished, but some references were unreadable or some
    images failed (each named in a warning on stderr); 2 usage error or no readable reference.

    Example:

        ddriqa degrade ../shared/data/kodak24 live_kodak --per-class 24 --seed 0
    """
    from ddriqa.datasets.synthesize import make_live_like
    from ddriqa.errors import DDRIQAError

    try:
        names = _parse_classes(classes)
    except click.BadParameter as exc:
        fail(f"--classes: {exc.message}")
    total = per_class * len(names)
    log(f"degrade: preset {preset}, {per_class} images x {len(names)} classes ({','.join(names)}), seed {seed}")
    bar = progress(length=total, label="degrade")
    try:
        with bar:
            result = make_live_like(refs_dir, out_dir, per_class, seed, classes=names, progress=bar.update)
    except DDRIQAError as exc:
        fail(str(exc))
    n_ok = len(result.labels)
    click.echo(
        f"wrote {n_ok} distorted images ({','.join(names)}) from {len(result.references)} references "
        f"to {result.out_dir}; {len(result.skipped)} references skipped, {len(result.failed)} images failed"
    )
    if result.skipped or result.failed:
        raise SystemExit(EXIT_SOME_ERRORS)
