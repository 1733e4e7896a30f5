"""Choose the C of the pooled DDR head once, on a development set, by grouped cross-validation.

The identification benchmark (``ddriqa benchmark``) fits the crop-vote head of the ``ddr`` /
``ddr-fast`` presets with one fixed C (``ddriqa.evaluation.identification.POOLED_C``) so that
each split costs one fit. That C is chosen here, on data the benchmark's Kodak figures never
see: a LIVE-like set made from other photographs (the BSDS500 train + test references), with
5 folds grouped by reference image (content-disjoint, as the benchmark's splits). Features come
from the cache that ``tools/train_default_model.py --cache`` writes (the rows of the folders
named here are picked out of it).

Usage (from the repository root)::

    python benchmarks/choose_pooled_c.py --data /tmp/live_bsds_trte --cache /tmp/default_feats.npy \\
        --output benchmarks/results/choose_pooled_c.md
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _report import report_head  # noqa: E402


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", required=True, help="LIVE-layout development folder (with refimgs/)")
    parser.add_argument("--cache", required=True, help="features .npy of tools/train_default_model.py")
    parser.add_argument("--grid", default="0.1,0.3,1.0")
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)

    from sklearn.model_selection import GroupKFold
    from threadpoolctl import threadpool_limits

    from ddriqa.classification.pipelines import pooled_svm
    from ddriqa.classification.voting import CropVoteClassifier
    from ddriqa.datasets.folders import load_dataset
    from ddriqa.datasets.live_database import with_pristine
    from ddriqa.evaluation.protocol import split_metrics

    meta = json.loads(Path(args.cache).with_suffix(".json").read_text(encoding="utf-8"))
    X_all = np.load(args.cache, allow_pickle=False)
    index = {p: i for i, p in enumerate(meta["paths"])}
    table = with_pristine(load_dataset(args.data), args.data)
    rows = [index[p] for p in table["path"].astype(str)]
    X = X_all[rows]
    y = table["distortion"].astype(str).to_numpy()
    groups = table["reference"].astype(str).to_numpy()
    n_crops = 4
    classes = sorted(set(y))
    lines = []
    for C in [float(c) for c in args.grid.split(",")]:
        t0 = time.perf_counter()
        precisions, accuracies = [], []
        with threadpool_limits(1):
            for tr, te in GroupKFold(n_splits=args.folds).split(X, y, groups):
                clf = CropVoteClassifier(pooled_svm(C), n_crops=n_crops).fit(X[tr], y[tr])
                allrow = split_metrics(y[te], clf.predict(X[te]), classes)[-1]
                precisions.append(allrow["precision"])
                accuracies.append(allrow["accuracy"])
        line = (f"| {C:g} | {np.mean(precisions):.3f} | {np.mean(accuracies):.3f} | "
                f"{time.perf_counter() - t0:.0f} |")
        print(line, flush=True)
        lines.append(line)
    best = max(lines, key=lambda s: float(s.split("|")[2]))
    text = "\n".join([
        *report_head("C of the pooled DDR head, chosen on a development set", "choose_pooled_c.py", argv),
        f"Data: {args.data} ({len(y)} images, {len(set(groups))} references, classes {', '.join(classes)}); "
        f"features of the `ddr` preset from `{args.cache}`; {args.folds} folds grouped by reference image; "
        "crop-vote linear SVM (standardised features, balanced class weights).",
        "",
        "| C | macro precision (mean over folds) | accuracy | seconds |",
        "|---:|---:|---:|---:|",
        *lines,
        "",
        f"Chosen (highest macro precision): C = {best.split('|')[1].strip()}.",
        "",
    ])
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
