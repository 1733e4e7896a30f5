"""Decode speed of Pillow and OpenCV on PNG / BMP / JPEG, and of ddriqa.io.read_image.

This is the measurement behind ``ddriqa.io`` decoding 8-bit PNG/BMP/JPEG with Pillow (which also
gives the header size before decoding, EXIF orientation and strict truncation errors) rather than
with ``cv2.imdecode``. Pillow and OpenCV decode from bytes in memory (read_image also reads the file); each
decoder converts to an RGB uint8 array.

Usage (from the repository root)::

    python benchmarks/decode_speed.py                                 # generated 768x512 images
    python benchmarks/decode_speed.py --data ../shared/data/kodak24   # a folder of images

The table goes to stdout and to ``benchmarks/results/decode_speed.md`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import io
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def _generated(folder, rng):
    from PIL import Image

    yy, xx = np.mgrid[0:512, 0:768].astype(np.float64)
    paths = []
    for i in range(4):
        img = 120 + 60 * np.sin(xx * rng.uniform(0.01, 0.05) + i)[..., None] * np.cos(yy * 0.03)[..., None]
        img = np.clip(img + rng.normal(0, 8, (512, 768, 3)), 0, 255).astype(np.uint8)
        for ext, kw in ((".png", {}), (".bmp", {}), (".jpg", {"quality": 90})):
            path = Path(folder) / f"g{i}{ext}"
            Image.fromarray(img).save(path, **kw)
            paths.append(path)
    return paths


def _time_interleaved(fns, items, repeats):
    """Median ms per call of each fn; the fns alternate on every item, so machine load hits all alike."""
    times = [[] for _ in fns]
    for _ in range(repeats):
        for item in items:
            for k, (fn, arg) in enumerate(zip(fns, item)):
                t0 = time.perf_counter()
                fn(arg)
                times[k].append(time.perf_counter() - t0)
    return [1e3 * float(np.median(t)) for t in times]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", help="folder of images (default: generated 768x512 images)")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", default=str(HERE / "results" / "decode_speed.md"))
    args = parser.parse_args(argv)

    import cv2
    from PIL import Image

    from ddriqa.io import list_images, read_image

    with tempfile.TemporaryDirectory() as tmp:
        paths = list_images(args.data) if args.data else _generated(tmp, np.random.default_rng(0))
        by_ext = {}
        for p in paths:
            by_ext.setdefault(p.suffix.lower().replace(".jpeg", ".jpg"), []).append(p)

        def pil(blob):
            return np.asarray(Image.open(io.BytesIO(blob)).convert("RGB"))

        def ocv(blob):
            return cv2.cvtColor(cv2.imdecode(np.frombuffer(blob, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)

        lines = [
            "| format | files | Pillow ms/img | OpenCV ms/img | read_image ms/img (incl. file read) |",
            "|---|---|---|---|---|",
        ]
        for ext in sorted(by_ext):
            files = by_ext[ext]
            items = [(f.read_bytes(), f.read_bytes(), f) for f in files]
            t_pil, t_cv, t_read = _time_interleaved((pil, ocv, read_image), items, args.repeats)
            lines.append(f"| {ext} | {len(files)} | {t_pil:.2f} | {t_cv:.2f} | {t_read:.2f} |")

    source = args.data or "generated 768x512 images (4 per format)"
    import PIL

    header = [
        "# Decode speed: Pillow vs OpenCV",
        "",
        f"- data: {source}",
        f"- command: `python benchmarks/decode_speed.py{' --data ' + args.data if args.data else ''}`",
        f"- date: {_dt.datetime.now(_dt.timezone.utc):%Y-%m-%d %H:%M} UTC; machine: {platform.machine()}, "
        f"Python {sys.version.split()[0]}, Pillow {PIL.__version__}, OpenCV {cv2.__version__}",
        f"- median over {args.repeats} passes of per-image times, the three decoders alternating on each image",
        "",
    ]
    text = "\n".join(header + lines) + "\n"
    print(text)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists() and args.data:  # keep earlier sections (one per data set)
        text = out.read_text() + "\n" + text
    out.write_text(text)


if __name__ == "__main__":
    main()
