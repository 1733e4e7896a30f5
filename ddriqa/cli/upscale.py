"""``ddriqa upscale``: x4 super-resolution of every image in a folder."""

from __future__ import annotations

import os

import click

from ddriqa.cli._common import log, progress

EXIT_OK = 0
EXIT_SOME_ERRORS = 1
EXIT_FAILURE = 2


@click.command("upscale")
@click.argument("input_dir", type=click.Path(exists=True, file_okay=False))
@click.argument("output_dir", type=click.Path(file_okay=False))
@click.option("--weights", required=True, metavar="NAME|PATH", help="Generator weights: a shipped name or a .safetensors file.")
@click.option("--tile", type=click.IntRange(min=8), default=128, show_default=True,
              help="LR tile side for large images (tiles overlap by --overlap pixels).")
@click.option("--overlap", type=click.IntRange(min=0), default=16, show_default=True, help="LR pixels of context per tile side.")
@click.option("-r", "--recursive", is_flag=True, help="Also process images in subfolders (mirrored in OUTPUT_DIR).")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda ...")
@click.option("--overwrite", is_flag=True, help="Replace existing output files (default: skip them).")
def upscale(input_dir, output_dir, weights, tile, overlap, recursive, device, overwrite):
    """Super-resolve every image of INPUT_DIR into OUTPUT_DIR as PNG (<name>.png, 4x larger).

    Large images are processed in overlapping tiles. A file that cannot be read is reported on
    stderr and skipped; existing outputs are kept unless --overwrite (so a rerun resumes).

    Exit status: 0 all images done; 1 some files failed (see stderr); 2 bad weights or no images.

    Example:

        ddriqa upscale photos/ photos_x4/ --weights runs/srresnet_x4_gr/generator.safetensors
    """
    from pathlib import Path

    from ddriqa.device import resolve_device
    from ddriqa.errors import DDRIQAError, ImageReadError
    from ddriqa.io import list_images, read_image, write_image
    from ddriqa.models.weights import load_generator
    from ddriqa.sr.upscale import upscale_image

    try:
        model = load_generator(weights, device=resolve_device(device)).requires_grad_(False)
    except DDRIQAError as exc:
        log(f"error: {exc}")
        raise SystemExit(EXIT_FAILURE)
    src, dst = Path(input_dir), Path(output_dir)
    files = list_images(src, recursive=recursive)
    if not files:
        log(f"error: no images in {src}")
        raise SystemExit(EXIT_FAILURE)
    failed = 0
    with progress(files, label="upscale") as bar:
        for path in bar:
            target = (dst / path.relative_to(src)).with_suffix(".png")
            if target.exists() and not overwrite:
                continue
            try:
                image = read_image(path)
                out = upscale_image(model, image, tile=tile, overlap=overlap)
                target.parent.mkdir(parents=True, exist_ok=True)
                write_image(target, out)
            except (ImageReadError, DDRIQAError, OSError) as exc:
                failed += 1
                log(f"\nwarning: skipped {os.fspath(path)}: {getattr(exc, 'reason', exc)}")
    log(f"{len(files) - failed} of {len(files)} images written to {dst}")
    raise SystemExit(EXIT_SOME_ERRORS if failed else EXIT_OK)
