"""``ddriqa eval-sr``: Y-PSNR of an SR network (and of bicubic) on HR images."""

from __future__ import annotations

import click

from ddriqa.cli._common import (
    EXIT_SOME_ERRORS,
    device_option,
    exits_on_errors,
    list_input_images,
    log,
    plural,
    progress,
)


def _db(value):
    """A PSNR cell: 4 decimals, ``inf`` for an image identical to its HR image, empty for none."""
    import math

    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return "inf" if math.isinf(value) else f"{value:.4f}"


@click.command("eval-sr")
@exits_on_errors
@click.option("--weights", required=True, metavar="NAME|PATH", help="Generator weights: a shipped name or a .safetensors file.")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of HR images.")
@click.option("-o", "--output", default="-", show_default=True, type=click.Path(dir_okay=False),
              help="CSV file ('-': stdout).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file (refused without it).")
@click.option("--tile", type=click.IntRange(min=8), default=None, help="LR tile side (default: whole images).")
@device_option
def eval_sr(weights, data_dir, output, overwrite, tile, device):
    """Y-PSNR (dB, 4-pixel border cropped) of x4 SR on every HR image of --data.

    Each HR image is cropped to a multiple of 4 and its LR input made by MATLAB bicubic x1/4;
    the network's output (rounded to uint8) and the bicubic x4 upsampling of the same LR are
    compared with the HR image on the BT.601 Y channel. Prints a CSV with columns
    image, psnr_y, psnr_y_bicubic, error and a final row `mean`. Unreadable files get an error row.

    An output identical to its HR image has an infinite PSNR: its cell says `inf`, it is left
    out of the mean (the mean of the finite values), and the `mean` row's error column and
    stderr say how many images were left out.

    An existing --output is refused without --overwrite.

    Exit status: 0 fine; 1 some images failed; 2 usage error, output exists or cannot be
    written, no images, or unreadable weights.

    Example:

        ddriqa eval-sr --weights runs/srresnet_x4_gr/generator.safetensors --data ../shared/data/sr/Set5
    """
    import csv
    import os
    import sys

    from ddriqa.device import resolve_device
    from ddriqa.jobs.outputs import refuse_existing
    from ddriqa.jobs.sr import evaluate_sr
    from ddriqa.models.weights import load_generator

    refuse_existing([output], overwrite=overwrite, remove=False)  # before any work
    files = list_input_images(data_dir)  # before the network loads
    model = load_generator(weights, device=resolve_device(device)).requires_grad_(False)
    fh = sys.stdout if output == "-" else open(output, "w", newline="", encoding="utf-8")
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow(["image", "psnr_y", "psnr_y_bicubic", "error"])
    try:
        with progress(length=len(files), label="eval-sr") as bar:

            def on_row(path, psnr, psnr_bicubic, error):
                writer.writerow([os.path.basename(path), _db(psnr), _db(psnr_bicubic), error or ""])
                fh.flush()
                if error:
                    log(f"warning: {path}: {error}")
                bar.update(1)

            summary = evaluate_sr(model, files, tile=tile, on_row=on_row)
        (mean, n_inf), (mean_bic, n_inf_bic) = summary.means()
        if summary.psnr:
            writer.writerow(["mean", _db(mean), _db(mean_bic), summary.mean_note()])
    finally:
        if fh is not sys.stdout:
            fh.close()
    if summary.psnr:
        n = len(summary.psnr)
        log(f"mean Y-PSNR over {plural(n - n_inf, 'image')}: {_db(mean) or 'none finite'} dB "
            f"(bicubic {_db(mean_bic) or 'none finite'} dB over {plural(n - n_inf_bic, 'image')})")
        if n_inf or n_inf_bic:
            log(f"note: {summary.mean_note()}")
    if summary.failed:
        raise SystemExit(EXIT_SOME_ERRORS)
