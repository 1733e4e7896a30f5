"""``ddriqa eval-sr``: Y-PSNR of an SR network (and of bicubic) on HR images."""

from __future__ import annotations

import click

from ddriqa.cli._common import log, progress

EXIT_OK = 0
EXIT_SOME_ERRORS = 1
EXIT_FAILURE = 2


@click.command("eval-sr")
@click.option("--weights", required=True, metavar="NAME|PATH", help="Generator weights: a shipped name or a .safetensors file.")
@click.option("--data", "data_dir", required=True, type=click.Path(exists=True, file_okay=False), help="Folder of HR images.")
@click.option("-o", "--output", default="-", show_default=True, help="CSV file ('-': stdout).")
@click.option("--tile", type=click.IntRange(min=8), default=None, help="LR tile side (default: whole images).")
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda ...")
def eval_sr(weights, data_dir, output, tile, device):
    """Y-PSNR (dB, 4-pixel border cropped) of x4 SR on every HR image of --data.

    Each HR image is cropped to a multiple of 4 and its LR input made by MATLAB bicubic x1/4;
    the network's output (rounded to uint8) and the bicubic x4 upsampling of the same LR are
    compared with the HR image on the BT.601 Y channel. Prints a CSV with columns
    image, psnr_y, psnr_y_bicubic, error and a final row `mean`. Unreadable files get an error row.

    Exit status: 0 fine; 1 some images failed; 2 bad weights or no images.

    Example:

        ddriqa eval-sr --weights runs/srresnet_x4_gr/generator.safetensors --data ../shared/data/sr/Set5
    """
    import csv
    import sys

    from ddriqa.degradations.resize import imresize
    from ddriqa.device import resolve_device
    from ddriqa.errors import DDRIQAError, ImageReadError
    from ddriqa.io import list_images, read_image
    from ddriqa.models.weights import load_generator
    from ddriqa.sr.upscale import upscale_image
    from ddriqa.training.data import make_lr_images
    from ddriqa.training.validation import psnr_y

    try:
        model = load_generator(weights, device=resolve_device(device)).requires_grad_(False)
    except DDRIQAError as exc:
        log(f"error: {exc}")
        raise SystemExit(EXIT_FAILURE)
    files = list_images(data_dir)
    if not files:
        log(f"error: no images in {data_dir}")
        raise SystemExit(EXIT_FAILURE)
    fh = sys.stdout if output == "-" else open(output, "w", newline="", encoding="utf-8")
    writer = csv.writer(fh)
    writer.writerow(["image", "psnr_y", "psnr_y_bicubic", "error"])
    scores, bicubic, failed = [], [], 0
    try:
        with progress(files, label="eval-sr") as bar:
            for path in bar:
                try:
                    (hr,), (lr,) = make_lr_images([read_image(path)], 4)
                    sr = upscale_image(model, lr, tile=tile)
                    bic = imresize(lr, scale=4)
                    p, pb = psnr_y(sr, hr, 4), psnr_y(bic, hr, 4)
                except (ImageReadError, DDRIQAError) as exc:
                    failed += 1
                    writer.writerow([path.name, "", "", getattr(exc, "reason", str(exc))])
                    continue
                scores.append(p)
                bicubic.append(pb)
                writer.writerow([path.name, f"{p:.4f}", f"{pb:.4f}", ""])
                fh.flush()
        if scores:
            writer.writerow(["mean", f"{sum(scores) / len(scores):.4f}", f"{sum(bicubic) / len(bicubic):.4f}", ""])
    finally:
        if fh is not sys.stdout:
            fh.close()
    if scores:
        log(f"mean Y-PSNR over {len(scores)} images: {sum(scores) / len(scores):.3f} dB "
            f"(bicubic {sum(bicubic) / len(bicubic):.3f} dB)")
    raise SystemExit(EXIT_SOME_ERRORS if failed else EXIT_OK)
