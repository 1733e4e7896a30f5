"""End-to-end ``ddriqa classify`` speed of the shipped models and the presets, on 768x512 images.

In one run, on the same folder of generated 768x512 JPEGs, each model is timed as the wall time
of a fresh ``ddriqa classify FOLDER --model M -o out.csv`` subprocess (imports, model loading,
decoding, features, head and CSV included: what a user sees); images/s = images / wall time.
Models: the shipped models of ``--models`` (default: ``ddr``, the default, preset ``ddr-9``;
``fast``, preset ``ddr-9-fast``; ``brisque``), and the pooled presets of ``--presets`` (default
``ddr``, ``ddr-fast`` and ``ddr-9-deep``; fitted here on a few generated images and saved: their
speed does not depend on the head's values). Each model runs once first to warm the caches (the
first use of ``realesrgan_x4plus`` converts the ncnn files once, ~45 s), then ``--rounds`` times
in turn.

Usage (from the repository root)::

    python benchmarks/default_model_speed.py --images 48 --rounds 2 --output benchmarks/results/default_model_speed.md

Goal: the default model >= 4 images/s, or a faster preset that is. A fresh process spends a few
seconds starting (imports, loading and checking the backbone) before its first image, so the
figure grows with the folder: ``--images 192 --models fast,brisque --presets ""`` shows the rate of
a larger folder.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see extract_speed.md)

import argparse  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _report import report_head  # noqa: E402
from fit_memory import CLASSES, distort, photo_like  # noqa: E402


def make_images(folder, n, seed=0):
    import cv2

    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        img = distort(photo_like(rng, 512, 768), CLASSES[i % len(CLASSES)], rng)
        p = Path(folder) / f"img{i:04d}.jpg"
        cv2.imwrite(str(p), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 90])
        paths.append(p)
    return paths


def fit_preset_model(path, images, preset):
    """A classifier of a pooled preset fitted on a few generated images (its speed does not depend on the head)."""
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_pooled_ddr_classifier
    from ddriqa.features.presets import preset_params

    p = preset_params(preset)
    clf = make_pooled_ddr_classifier(weights=p["weights"], layer=p["layer"], crop=p["crop"], crops=p["crops"],
                                     n_crops=p["n_crops"], C=1.0, device="cpu")
    y = [CLASSES[i % len(CLASSES)] for i in range(len(images))]
    clf.fit([str(p) for p in images], y)
    save_classifier(clf, path)


def _shipped_label(name):
    """The table label of a shipped model: its short name and the classifier file it resolves to."""
    from ddriqa.classification.named import resolve_model_name

    return f"--model {name} (shipped: {resolve_model_name(name)})"


def time_classify(folder, model, out):
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "ddriqa.cli", "classify", str(folder), "--model", str(model),
                           "-o", str(out), "--overwrite"], capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"classify --model {model} failed:\n{proc.stderr[-2000:]}")
    return wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", type=int, default=48)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--output", default=None)
    parser.add_argument("--models", default="ddr,fast,brisque",
                        help="shipped models (short names of ddriqa classify --model) to time")
    parser.add_argument("--presets", default="ddr,ddr-fast,ddr-9-deep",
                        help="pooled presets to time beside the shipped models (fitted here on 12 images)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ddriqa-speed-") as tmp:
        tmp = Path(tmp)
        (tmp / "imgs").mkdir()
        images = make_images(tmp / "imgs", args.images)
        models = {}
        for name in [s.strip() for s in args.models.split(",") if s.strip()]:
            models[_shipped_label(name)] = name
        for preset in [s.strip() for s in args.presets.split(",") if s.strip()]:
            fit_preset_model(tmp / f"{preset}.npz", images[:12], preset)
            models[f"preset {preset}"] = tmp / f"{preset}.npz"
        for model in models.values():  # warm-up: file caches, the one-time Real-ESRGAN conversion
            time_classify(tmp / "imgs", model, tmp / "out.csv")
        walls = {name: [] for name in models}
        loads = []
        for _ in range(args.rounds):
            for name, model in models.items():
                before = os.getloadavg()[0]
                walls[name].append(time_classify(tmp / "imgs", model, tmp / "out.csv"))
                loads.append((name, before, os.getloadavg()[0]))
    lines = [*report_head("End-to-end `ddriqa classify` speed of the shipped models and presets",
                          "default_model_speed.py", argv),
             "",
             f"Data: {args.images} generated 768x512 JPEGs (quality 90; clean, noise, blur, jpeg, resize in turn). "
             "Each figure: images / wall time of a fresh `ddriqa classify` subprocess (imports and model "
             "loading included), after one warm-up run per model.",
             "",
             "| model | images/s (median) | rounds (images/s) |",
             "|---|---:|---|"]
    for name, w in walls.items():
        rates = [args.images / s for s in w]
        lines.append(f"| {name} | {statistics.median(rates):.2f} | {', '.join(f'{r:.2f}' for r in rates)} |")
    lines += ["", "1-min load average before / after each run: "
              + "; ".join(f"{n} {a:.2f}/{b:.2f}" for n, a, b in loads), ""]
    text = "\n".join(lines)
    print(text)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
