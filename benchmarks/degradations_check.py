"""Measurements behind the degradation module's documented choices.

1. ``imresize`` speed (768x512 float64 gray at 1/2, as BRISQUE calls it; 768x512 RGB uint8 at 1/4).
2. JPEG 2000 bit-rate accuracy over LIVE's range (``encode_jpeg2000``).
3. Fast fading: PSNR against the reference per SNR for the emulated error-resilient decoder and for
   raw bit flips, decoder fallbacks, share of results identical to the clean JPEG 2000 decode,
   seconds per image.

Usage (writes ``benchmarks/results/degradations.md``; without ``--data`` generated images are used)::

    python benchmarks/degradations_check.py --data ../shared/data/kodak24 --images 6 --seeds 3
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def _images(data, count):
    if data:
        from ddriqa.io import list_images, read_image

        return [(p.name, read_image(p)) for p in list_images(data)[:count]]
    sys.path.insert(0, str(REPO / "tests"))
    from conftest import textured_image

    return [(f"textured{s}", textured_image(512, 768, seed=s)) for s in range(count)]


def _psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="folder of reference images (default: generated)")
    ap.add_argument("--images", type=int, default=6)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "degradations.md"))
    args = ap.parse_args(argv)

    from ddriqa.degradations import fastfading as ff
    from ddriqa.degradations.compression import bits_per_pixel, decode_jpeg2000, encode_jpeg2000
    from ddriqa.degradations.resize import imresize

    lines = ["# Degradation measurements", "", "Command: `python benchmarks/degradations_check.py "
             + " ".join(argv if argv is not None else sys.argv[1:]) + "`", "",
             f"Machine: {platform.processor() or platform.machine()}, Python {platform.python_version()}", ""]
    images = _images(args.data, args.images)
    lines.append(f"Images: {len(images)} ({'generated 768x512' if not args.data else args.data})")

    # 1. imresize speed
    rng = np.random.default_rng(0)
    gray = rng.random((512, 768))
    rgb = rng.integers(0, 256, (512, 768, 3), dtype=np.uint8)
    rows = []
    for name, img, scale in (("768x512 float64 gray, x1/2", gray, 0.5), ("768x512 uint8 RGB, x1/4", rgb, 0.25),
                             ("192x128 uint8 RGB, x4", rgb[:128, :192], 4)):
        imresize(img, scale)  # warm the weight cache
        reps = 30
        t = time.perf_counter()
        for _ in range(reps):
            imresize(img, scale)
        rows.append(f"| {name} | {(time.perf_counter() - t) / reps * 1e3:.2f} |")
    lines += ["", "## imresize (MATLAB bicubic, antialiased), cached weights, mean of 30 calls", "",
              "(timed on a shared 2-core machine; other jobs running inflate these)", "", "| input | ms per call |",
              "|---|---|", *rows]

    # 2. JPEG 2000 rate accuracy
    lines += ["", "## JPEG 2000 bit rate (target vs measured, over the images)", "",
              "| target bpp | mean measured | max rel. error |", "|---|---|---|"]
    for target in (0.028, 0.1, 0.5, 1.5, 3.15):
        got = [bits_per_pixel(encode_jpeg2000(img, target), img.shape) for _, img in images]
        lines.append(f"| {target} | {np.mean(got):.4f} | {max(abs(g - target) / target for g in got) * 100:.1f} % |")

    # 3. fast fading
    lines += ["", f"## Fast fading (2.5 bpp, 6 layers, ~128x128 tiles, doppler {ff.DEFAULT_DOPPLER:g} cycles/bit)", "",
              f"{args.seeds} seeds per image and SNR. PSNR in dB against the reference (median [min, max]).", "",
              "| decoder | SNR dB | PSNR | clean-J2K PSNR (median) | identical to clean | fallbacks | s/image |",
              "|---|---|---|---|---|---|---|"]
    cleans = {}
    for name, img in images:
        tile = ff._balanced_tiles(img.shape, ff.DEFAULT_TILE)
        data = encode_jpeg2000(img, ff.LIVE_FF_BPP, resilience=True, layers=ff.DEFAULT_LAYERS, tile_size=tile)
        cleans[name] = decode_jpeg2000(data, img.shape)
    clean_psnr = np.median([_psnr(img, cleans[n]) for n, img in images])
    for decoder in ("resilient", "raw"):
        for snr in (15.5, 19.0, 22.5, 26.1):
            ps, same, fb, t = [], 0, 0, time.perf_counter()
            for name, img in images:
                for seed in range(args.seeds):
                    out, info = ff.fast_fading(img, snr, np.random.default_rng(seed), decoder=decoder,
                                               return_info=True)
                    ps.append(_psnr(img, out))
                    same += bool(np.array_equal(out, cleans[name]))
                    fb += info["fallback"] is not None
            n = len(images) * args.seeds
            lines.append(f"| {decoder} | {snr} | {np.median(ps):.1f} [{min(ps):.1f}, {max(ps):.1f}] | "
                         f"{clean_psnr:.1f} | {same}/{n} | {fb}/{n} | {(time.perf_counter() - t) / n:.3f} |")
    text = "\n".join(lines) + "\n"
    Path(args.out).write_text(text)
    print(text)


if __name__ == "__main__":
    main()
