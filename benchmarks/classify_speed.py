"""End-to-end ``ddriqa classify`` speed and memory against DDR extraction alone.

On a folder of generated 768x512 JPEGs, in the same run and alternating round by round:

- **classify**: the ``ddriqa classify FOLDER --model MODEL.npz -o out.csv`` command in a
  subprocess (decoding in the batch reader thread, DDR features, PCA, SVM, CSV rows);
- **extract-only**: ``DDRExtractor(...).fit().transform(paths)`` in a subprocess (the same
  backbone, files and crop; the extractor's own reader thread; no PCA, SVM or CSV).

Both are timed as the subprocess's wall time (imports and model loading included, so the ratio
is what a user sees); images/s = images / wall time. Peak RSS is each subprocess's own
``ru_maxrss`` (``os.wait4``).

No trained DDR classifier is shipped, so one is fitted here on a few generated images with a
seeded random-init backbone (``make_ddr_classifier(weights="random", random_state=0)``) and saved
with :func:`ddriqa.classification.persistence.save_classifier`; the speed does not depend on the
weights' values.

Usage (from the repository root)::

    python benchmarks/classify_speed.py --images 200 --rounds 3 --output benchmarks/results/classify_speed.md

Goals: classify >= 0.85x the extraction-only throughput; classify peak RSS < 2 GiB.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see extract_speed.md)

import argparse  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
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

EXTRACT_ONLY = """
import sys, os
from ddriqa.features.ddr import DDRExtractor
folder, seed = sys.argv[1], int(sys.argv[2])
paths = sorted(os.path.join(folder, f) for f in os.listdir(folder))
X = DDRExtractor(weights="random", random_state=seed, device="cpu").fit().transform(paths)
assert X.shape[0] == len(paths)
"""


def make_folder(folder, n, width, height, seed, quality=90):
    import cv2

    rng = np.random.default_rng(seed)
    for i in range(n):
        img = photo_like(rng, height, width)
        cv2.imwrite(os.path.join(folder, f"img_{i:04d}.jpg"), img[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, quality])


def fit_model(path, workdir, n_train, seed):
    """Fit and save a DDR classifier (random-init backbone) on ``n_train`` generated 128x128 images."""
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_ddr_classifier

    rng = np.random.default_rng(seed + 1)
    images, labels = [], []
    for i in range(n_train):
        cls = CLASSES[i % len(CLASSES)]
        images.append(distort(photo_like(rng, 128, 128), cls, rng))
        labels.append(cls)
    clf = make_ddr_classifier(weights="random", random_state=seed, n_components=min(16, n_train - 1), device="cpu",
                              spill_dir=workdir)
    clf.fit(images, labels)
    return save_classifier(clf, path)


def timed_child(cmd):
    """(wall seconds, peak RSS bytes, CPU seconds) of a subprocess."""
    t = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode(errors="replace")
    proc.stderr.close()
    if proc.returncode != 0:
        raise SystemExit(f"{cmd} failed ({proc.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss * 1024, usage.ru_utime + usage.ru_stime


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--width", type=int, default=768)
    parser.add_argument("--height", type=int, default=512)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--train-images", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=8, help="ddriqa classify --batch-size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", default="benchmarks/results/classify_speed.md")
    args = parser.parse_args(argv)

    workdir = tempfile.mkdtemp(prefix="ddriqa-clsspeed-")
    try:
        folder = os.path.join(workdir, "images")
        os.makedirs(folder)
        make_folder(folder, args.images, args.width, args.height, args.seed)
        model = fit_model(os.path.join(workdir, "ddr_random.npz"), workdir, args.train_images, args.seed)
        print(f"model: {model} ({os.path.getsize(model) / 2**20:.1f} MiB)", file=sys.stderr)
        rows = []
        for r in range(args.rounds):
            load0 = os.getloadavg()[0]
            out = os.path.join(workdir, f"out_{r}.csv")
            runs = {
                "extract": [sys.executable, "-c", EXTRACT_ONLY, folder, str(args.seed)],
                "classify": [sys.executable, "-m", "ddriqa.cli", "classify", folder, "--model", str(model), "-o", out,
                             "--batch-size", str(args.batch_size)],
            }
            order = ["extract", "classify"] if r % 2 == 0 else ["classify", "extract"]  # ABBA: load drift cancels
            res = {name: timed_child(runs[name]) for name in order}
            (t_ex, rss_ex, cpu_ex), (t_cl, rss_cl, cpu_cl) = res["extract"], res["classify"]
            load1 = os.getloadavg()[0]
            with open(out, encoding="utf-8") as f:
                lines = f.read().splitlines()
            n_rows = len(lines) - 1
            n_err = sum(1 for line in lines[1:] if not line.endswith(","))
            if n_rows != args.images or n_err:
                raise SystemExit(f"classify wrote {n_rows} rows ({n_err} errors), expected {args.images} good rows")
            row = dict(extract=args.images / t_ex, classify=args.images / t_cl, rss_ex=rss_ex, rss_cl=rss_cl,
                       cpu_ex=cpu_ex / args.images, cpu_cl=cpu_cl / args.images, load0=load0, load1=load1,
                       first=order[0])
            rows.append(row)
            print(f"round {r + 1}: extract-only {row['extract']:.2f} img/s, classify {row['classify']:.2f} img/s, "
                  f"ratio {row['classify'] / row['extract']:.3f}, RSS {rss_cl / 2**30:.2f} GiB, load {load0:.2f}"
                  f"->{load1:.2f}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    write_report(args, argv, rows)
    return 0


def write_report(args, argv, rows):
    gib = 2.0**30
    ratios = [r["classify"] / r["extract"] for r in rows]
    med_ratio = statistics.median(ratios)
    peak = max(r["rss_cl"] for r in rows)
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        threads = "?"
    lines = report_head('End-to-end `ddriqa classify` vs DDR extraction alone', 'classify_speed.py', argv) + [
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"torch {threads} intra-op threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; the CPUs were "
        "shared with other processes (1-min load average before/after each round below).",
        "",
        f"Data: {args.images} generated {args.width}x{args.height} JPEGs (quality 90). Model: DDR classifier "
        f"(seeded random-init SRResNet, ResBlock16, 96x96 crop, StreamingPCA k={min(16, args.train_images - 1)}, "
        f"linear SVM) fitted on {args.train_images} generated images and saved with `save_classifier`. "
        f"`ddriqa classify --batch-size {args.batch_size}`; the extractor's own batch size is its default.",
        "",
        "Each figure is images / wall time of a fresh subprocess (imports and model loading included).",
        "",
        "| round (first run) | extract-only img/s | classify img/s | classify / extract | extract-only CPU s/img | "
        "classify CPU s/img | extract-only peak RSS (GiB) | classify peak RSS (GiB) | load avg before / after |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for i, r in enumerate(rows, 1):
        lines.append(
            f"| {i} ({r['first']}) | {r['extract']:.2f} | {r['classify']:.2f} | {r['classify'] / r['extract']:.3f} | "
            f"{r['cpu_ex']:.3f} | {r['cpu_cl']:.3f} | "
            f"{r['rss_ex'] / gib:.2f} | {r['rss_cl'] / gib:.2f} | {r['load0']:.2f} / {r['load1']:.2f} |"
        )
    cpu_ratio = statistics.median(r["cpu_ex"] / r["cpu_cl"] for r in rows)
    lines += [
        "",
        f"- classify / extract-only throughput, median of the paired rounds: **{med_ratio:.3f}x** "
        f"({'met' if med_ratio >= 0.85 else 'NOT met'}; goal >= 0.85x); range {min(ratios):.3f}-{max(ratios):.3f}.",
        f"- classify peak RSS: **{peak / gib:.2f} GiB** ({'met' if peak < 2 * gib else 'NOT met'}; goal < 2 GiB).",
        f"- CPU time per image (user + system, all threads), extract-only / classify, median: {cpu_ratio:.3f} "
        "(less sensitive to other processes than wall time; 1.0 means classify adds no CPU work; it does not show "
        "overlap, which only wall time can).",
        "",
        "The rounds alternate which command runs first (ABBA), so a load that rises or falls during a round "
        "does not always favour the same side. With a load average well above the 2 cores, both commands get "
        "only a share of the CPUs and the wall-time ratio is noisy; rerun on a quiet machine for a clean figure.",
        "",
    ]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
