"""Speed of ddriqa's BRISQUE features against OpenCV contrib's C++ implementation.

Times :func:`ddriqa.features.brisque.brisque_features` and
``cv2.quality.QualityBRISQUE_computeFeatures`` (OpenCV contrib, C++) on the same 768x512 images,
alternating the two on each image in one process, and reports images per second and the ratio
(ddriqa's images/s divided by OpenCV's; >= 1 means ddriqa is at least as fast). The two compute
different numbers (OpenCV's port differs from the LIVE reference, see
``../shared/reference/brisque.md``): OpenCV is a speed peer only.

Environment
-----------
``opencv-contrib-python-headless`` provides ``cv2.quality`` but installs its own ``cv2`` module,
which would replace ``opencv-python-headless`` in the project's environment. Run this script from a
separate virtual environment *without* system site packages (``--system-site-packages`` is not
enough: the system ``cv2`` shadows the contrib one)::

    python -m venv /tmp/bench-venv
    /tmp/bench-venv/bin/pip install numpy scipy opencv-contrib-python-headless pillow pandas \\
        joblib scikit-learn click safetensors
    /tmp/bench-venv/bin/pip install --no-deps -e .     # from the repository root
    /tmp/bench-venv/bin/python benchmarks/brisque_speed.py                  # generated images
    /tmp/bench-venv/bin/python benchmarks/brisque_speed.py --data ../shared/data/kodak24

(torch is not needed: ``ddriqa.features.brisque`` does not import it.) The result is written to
``benchmarks/results/brisque_speed.md`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def generated_images(n, height=512, width=768, seed=0):
    """Photo-like uint8 RGB test images: smooth gradients, shapes, edges and noise."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    images = []
    for _ in range(n):
        img = np.zeros((height, width, 3))
        for c in range(3):
            fx, fy = rng.uniform(0.005, 0.05, size=2)
            img[..., c] = 110 + 50 * np.sin(fx * xx + rng.uniform(0, 6.3)) * np.cos(fy * yy)
            for _ in range(6):
                cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(10, 120)
                img[..., c] += np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, rng.uniform(-60, 60), 0)
        img += rng.normal(0, rng.uniform(2, 15), size=img.shape)
        images.append(np.clip(np.round(img), 0, 255).astype(np.uint8))
    return images


def folder_images(folder, n):
    """Up to ``n`` images of a folder (sorted), RGB uint8; portrait ones are transposed to 768x512."""
    import cv2

    exts = {".png", ".bmp", ".jpg", ".jpeg", ".tif", ".tiff"}
    paths = sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in exts)[:n]
    if not paths:
        sys.exit(f"no images found in {folder}")
    images = []
    for p in paths:
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            sys.exit(f"{p}: cannot be read")
        img = np.ascontiguousarray(img[:, :, ::-1])
        if img.shape[0] > img.shape[1]:
            img = np.ascontiguousarray(img.transpose(1, 0, 2))
        images.append(img)
    return images


def main(argv=None):
    parser = argparse.ArgumentParser(description="BRISQUE features: ddriqa vs OpenCV contrib speed")
    parser.add_argument("--data", type=Path, default=None, help="image folder (e.g. ../shared/data/kodak24); "
                        "default: generated 768x512 images")
    parser.add_argument("--images", type=int, default=24, help="number of images (default 24)")
    parser.add_argument("--rounds", type=int, default=3, help="passes over the images (default 3)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "brisque_speed.md")
    args = parser.parse_args(argv)

    import cv2

    if not hasattr(cv2, "quality"):
        sys.exit("cv2.quality is missing: run this from a venv with opencv-contrib-python-headless "
                 "(see this script's docstring)")
    from ddriqa.features.brisque import brisque_features

    if args.data is not None:
        images = folder_images(args.data, args.images)
        source = f"{len(images)} images of {args.data}"
    else:
        images = generated_images(args.images)
        source = f"{len(images)} generated 768x512 images (seed 0)"

    opencv = cv2.quality.QualityBRISQUE_computeFeatures
    for img in images[:2]:  # warm up (lazy tables, imports, thread pools)
        brisque_features(img)
        opencv(img)

    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    t_ours, t_cv = [], []
    for _ in range(args.rounds):
        for img in images:
            t0 = time.perf_counter()
            brisque_features(img)
            t1 = time.perf_counter()
            opencv(img)
            t2 = time.perf_counter()
            t_ours.append(t1 - t0)
            t_cv.append(t2 - t1)
    t_ours, t_cv = np.array(t_ours), np.array(t_cv)
    ips_ours, ips_cv = len(t_ours) / t_ours.sum(), len(t_cv) / t_cv.sum()
    ratio = ips_ours / ips_cv
    load_after = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    shapes = sorted({img.shape for img in images})
    command = "python " + " ".join([os.path.relpath(__file__)] + (argv if argv is not None else sys.argv[1:]))
    lines = [
        "# BRISQUE feature speed: ddriqa vs OpenCV contrib",
        "",
        f"- date: {_dt.datetime.now(_dt.timezone.utc).strftime('%Y-%m-%d %H:%M UTC')}",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical CPUs, {platform.processor() or 'unknown CPU'}, "
        f"Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__} (contrib)",
        f"- images: {source}, shapes {shapes}; {args.rounds} rounds, the two run alternately on each image",
        f"- command (from a venv with opencv-contrib-python-headless, see the script): `{command}`",
        "- threads: library defaults (OpenCV's own thread pool; ddriqa's reductions use no BLAS)",
        f"- 1-minute load average before / after: {load_before:.2f} / {load_after:.2f} "
        "(other jobs on the machine slow both sides; the alternation keeps the comparison fair)",
        "",
        "| implementation | ms / image (mean) | ms / image (median) | images / s |",
        "|---|---:|---:|---:|",
        f"| ddriqa `brisque_features` (LIVE reference definition) | {1e3 * t_ours.mean():.2f} | "
        f"{1e3 * np.median(t_ours):.2f} | {ips_ours:.1f} |",
        f"| OpenCV contrib `cv2.quality.QualityBRISQUE_computeFeatures` (C++) | {1e3 * t_cv.mean():.2f} | "
        f"{1e3 * np.median(t_cv):.2f} | {ips_cv:.1f} |",
        "",
        f"ratio (ddriqa images/s / OpenCV images/s): **{ratio:.2f}** "
        f"(ratio of the median times: {np.median(t_cv) / np.median(t_ours):.2f})",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    print(f"ratio {ratio:.2f}  (written to {args.out})", file=sys.stderr)


if __name__ == "__main__":
    main()
