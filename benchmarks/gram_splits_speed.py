"""Time of the DDR benchmark's split loop once the Gram matrix exists (LIVE-sized, synthetic).

The content-disjoint benchmark (:func:`ddriqa.evaluation.protocol.run_benchmark`) derives
each split's exact PCA from the ``N x N`` Gram matrix of all images
(:func:`~ddriqa.classification.gram.gram_pca_scores`), then fits the DDR classifier head
(global scale + linear SVC). This script times that loop for LIVE's layout (29 references,
779 distorted images in 5 classes: 227/233/174/174/174 minus the 203 undistorted copies are
approximated by 779 images spread over the references), 120 components, on a Gram matrix of
synthetic features with a class signal. The extraction pass that produces the Gram matrix is
not included (see ``benchmarks/extract_speed.py``).

Usage::

    python benchmarks/gram_splits_speed.py --n-splits 100

Writes ``benchmarks/results/gram_splits_speed.md`` (``--out`` to change).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np


def live_like_layout(seed=0):
    """779 (class, reference) labels over 29 references and 5 classes, like LIVE Release 2."""
    rng = np.random.default_rng(seed)
    counts = {"jp2k": 169, "jpeg": 175, "wn": 145, "gblur": 145, "fastfading": 145}  # 779 distorted
    y, groups = [], []
    for cls, n in counts.items():
        refs = np.sort(np.concatenate([np.arange(29), rng.integers(0, 29, n - 29)]))
        y += [cls] * n
        groups += [f"ref{r:02d}" for r in refs]
    return np.array(y), np.array(groups)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n-splits", type=int, default=100)
    ap.add_argument("--dim", type=int, default=2000, help="synthetic feature dimension (the loop cost does not depend on it)")
    ap.add_argument("--threads", type=int, default=1,
                    help="BLAS threads (threadpoolctl); 1 is the fast choice on a shared 2-core machine")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent / "results" / "gram_splits_speed.md"))
    args = ap.parse_args(argv)

    from threadpoolctl import threadpool_limits

    from ddriqa.evaluation.protocol import GramFeatures, run_benchmark

    y, groups = live_like_layout()
    rng = np.random.default_rng(1)
    classes = np.unique(y)
    code = np.searchsorted(classes, y)
    content = rng.normal(size=(29, args.dim))
    ref_idx = np.array([int(g[3:]) for g in groups])
    X = content[ref_idx] + rng.normal(size=(y.size, args.dim))
    X[:, :5] += 4.0 * np.eye(5)[code]
    with threadpool_limits(limits=args.threads):
        t0 = time.perf_counter()
        G = X @ X.T
        t_gram = time.perf_counter() - t0
        t0 = time.perf_counter()
        per_split, summary = run_benchmark({"DDR (synthetic)": GramFeatures(G, 120)}, y, groups,
                                           n_splits=args.n_splits, test_size=0.2, seed=0)
        t_loop = time.perf_counter() - t0
    acc = summary.loc[summary["class"] == "ALL", "accuracy_median"].iloc[0]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "# DDR benchmark: split loop time after the single extraction pass",
        "",
        f"- date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC",
        f"- machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"numpy {np.__version__}; 1-minute load average at the end: {load:.2f} (shared machine)",
        f"- data: {y.size} synthetic images, 29 references, 5 classes (LIVE-like layout), features of dim {args.dim}",
        "- per split: exact PCA (120 components) from the centred train Gram block, test rows projected "
        "through the cross block, GlobalScaler + SVC(kernel='linear', C=1)",
        f"- BLAS threads: {args.threads} (threadpoolctl; multi-threaded OpenBLAS on this shared, loaded machine "
        "is 10-80x slower for these small matrices)",
        f"- command: `python benchmarks/gram_splits_speed.py --n-splits {args.n_splits} --dim {args.dim} "
        f"--threads {args.threads}`",
        "",
        "| step | time (s) |",
        "|---|---:|",
        f"| Gram matrix of the synthetic features (stands in for the extraction pass) | {t_gram:.2f} |",
        f"| {args.n_splits} content-disjoint splits (PCA + SVM fit + predict each) | {t_loop:.2f} |",
        f"| per split | {t_loop / args.n_splits:.3f} |",
        "",
        f"(median accuracy on the synthetic data: {acc:.3f}; it only shows the loop ran, it is not a result.)",
        "",
    ]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
