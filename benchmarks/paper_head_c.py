"""The paper's head with C chosen by grouped cross-validation against the fixed C = 1.

The paper's head (flattened tap of the central 96 x 96 crop -> PCA(120) -> GlobalScaler ->
linear SVM) is scored on one LIVE-like synthetic set and on a second set (e.g. the real LIVE
development images), from one Gram matrix of the features of both sets together, so that the
content-disjoint splits of each set and the cross-set check (fit on all of the first, test on
all of the second) come from one extraction per backbone and tap:

* ``content``: the content-disjoint splits of ``ddriqa benchmark`` on the first set
  (:func:`ddriqa.evaluation.protocol.content_disjoint_splits`, seed 0, a fifth of the references held out);
* ``cross``: one fit on all of the first set, one test on all of the second;
* ``second``: content-disjoint splits of the second set alone, half of its references held out, each
  distinct split once (with 2 references: the 2 splits of 1 vs 1).

Each protocol is run with and without the ``pristine`` class (``--no-pristine`` of the benchmark)
and with two heads on the same splits: ``C=1`` (the head before C was tuned) and ``C=cv`` (the
head of ``ddriqa benchmark`` and ``ddriqa train``: C from
:data:`ddriqa.classification.pipelines.PAPER_C_GRID` by 5-fold cross-validation grouped by reference on
the PCA scores of the train side of each split, :func:`ddriqa.classification.pipelines.ddr_svm`; the
PCA is fitted on the whole train side, so it has seen the inner validation folds; with a single
training reference the inner folds are stratified). The chosen C of every split and the number of
classes predicted are written too (``splits.csv``). Rows are the benchmark's metrics (macro precision
with a never-predicted class counted 0, macro recall, accuracy: median and IQR over the splits).

Usage::

    python benchmarks/paper_head_c.py extract --data /tmp/sets/live_kodak \\
        --second ../shared/data/live_real_dev --weights realesrgan_x4plus --layer RRDB2 --cache /tmp/h36/cache
    python benchmarks/paper_head_c.py evaluate --data ... --second ... --weights ... --layer ... \\
        --cache /tmp/h36/cache --splits 20 -o /tmp/h36/out/realesrgan_RRDB2

``evaluate`` extracts what the cache lacks. Torch and BLAS threads follow the environment
(``OMP_NUM_THREADS=1`` for a background job).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _tables(data, second):
    from ddriqa.evaluation.identification import _load_table

    first = _load_table(data, True, log)
    other = _load_table(second, True, log)
    return first, other


def joint_gram(args):
    """(Gram of the features of both sets, first table, second table)."""
    from ddriqa.evaluation.identification import method_features

    first, other = _tables(args.data, args.second)
    paths = first["path"].astype(str).tolist() + other["path"].astype(str).tolist()
    gram, seconds = method_features("gram", paths, weights=args.weights, layer=args.layer, crop=args.crop,
                                    device="cpu", cache_dir=args.cache, log=log)
    log(f"Gram {gram.shape} ({seconds} s of extraction)")
    return gram, first, other


def _heads():
    from ddriqa.classification.pipelines import ddr_svm

    return {"C=1": lambda: ddr_svm(1.0), "C=cv": lambda: ddr_svm("cv")}


def _score(gram, y, groups, splits, n_components, label):
    """Both heads on the same splits: per-split rows (with the chosen C and the number of classes
    predicted) and the summary."""
    from ddriqa.evaluation.protocol import GramFeatures, run_benchmark

    smallest = min(len(tr) for tr, _ in splits)
    k = min(n_components, smallest - 1)
    heads = _heads()
    feats = {name: GramFeatures(gram, k) for name in heads}
    predictions = {}
    per_split, summary = run_benchmark(feats, y, groups, models=heads, splits=splits, predictions=predictions)
    n_pred = {(m, i): len(set(pred)) for m, runs in predictions.items() for i, (_, pred) in enumerate(runs)}
    per_split["n_predicted"] = [n_pred[(m, i)] for m, i in zip(per_split["method"], per_split["split"])]
    summary.insert(0, "setting", label)
    per_split.insert(0, "setting", label)
    return per_split, summary


def evaluate(args):
    import pandas as pd

    from ddriqa.evaluation.protocol import content_disjoint_splits

    gram, first, other = joint_gram(args)
    n1 = len(first)
    y_all = np.concatenate([first["distortion"].astype(str), other["distortion"].astype(str)])
    g_all = np.concatenate([first["reference"].astype(str), ("second:" + other["reference"].astype(str)).to_numpy()])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    parts, sums = [], []
    for pristine in (True, False):
        keep = np.ones(y_all.size, bool) if pristine else (y_all != "pristine")
        tag = "" if pristine else ", no pristine"
        idx1 = np.flatnonzero(keep[:n1])
        idx2 = n1 + np.flatnonzero(keep[n1:])
        settings = []
        sub = np.concatenate([idx1, idx2])
        G, y, g = gram[np.ix_(sub, sub)], y_all[sub], g_all[sub]
        first_rows = np.arange(idx1.size)
        second_rows = np.arange(idx1.size, sub.size)
        settings.append((f"content{tag}", [(first_rows[tr], first_rows[te]) for tr, te in
                                           content_disjoint_splits(g[first_rows], args.splits, 0.2, 0)]))
        settings.append((f"cross{tag}", [(first_rows, second_rows)]))
        distinct = {}  # a set of few references has few distinct splits (2 references: 2): each once
        for tr, te in content_disjoint_splits(g[second_rows], args.splits, 0.5, 0):
            distinct.setdefault(tuple(sorted(te)), (second_rows[tr], second_rows[te]))
        settings.append((f"second{tag}", list(distinct.values())))
        for label, splits in settings:
            log(f"{label}: {len(splits)} splits")
            ps, sm = _score(G, y, g, splits, args.n_components, label)
            parts.append(ps)
            sums.append(sm)
            pd.concat(sums).to_csv(out / "summary.csv", index=False)
    per_split = pd.concat(parts, ignore_index=True)
    summary = pd.concat(sums, ignore_index=True)
    per_split.to_csv(out / "splits.csv", index=False)
    summary.to_csv(out / "summary.csv", index=False)
    lines = [f"weights {args.weights}, tap {args.layer}, crop {args.crop}; first set {args.data} "
             f"({n1} images), second set {args.second} ({len(other)} images)", "",
             "| setting | head | splits | macro precision | macro recall | accuracy "
             "| classes predicted (median) | chosen C |",
             "|---|---|---|---|---|---|---|---|"]
    for _, r in summary[summary["class"] == "ALL"].iterrows():
        rows = per_split[(per_split["setting"] == r["setting"]) & (per_split["method"] == r["method"])
                         & (per_split["class"] == "ALL")]
        npred = rows["n_predicted"].median()
        values = rows["chosen"].fillna("").str.removeprefix("C=")
        values = values[values != ""]
        cs = "-" if values.empty else ", ".join(
            f"{v} x{n}" for v, n in sorted(values.value_counts().items(), key=lambda t: float(t[0])))
        lines.append(f"| {r['setting']} | {r['method']} | {int(r['n_splits'])} | "
                     f"{r['precision_median']:.3f} ({r['precision_iqr']:.3f}) | {r['recall_median']:.3f} "
                     f"({r['recall_iqr']:.3f}) | {r['accuracy_median']:.3f} ({r['accuracy_iqr']:.3f}) | "
                     f"{npred:g} | {cs} |")
    (out / "summary.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    print("\n".join(lines))


def main(argv=None):
    import warnings

    # the inner folds of a 1-reference train side are stratified, and pristine has 1 image per reference
    warnings.filterwarnings("ignore", message="The least populated class in y")
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("command", choices=("extract", "evaluate"))
    p.add_argument("--data", required=True, help="LIVE-layout folder with refimgs/ (the first set)")
    p.add_argument("--second", required=True, help="a second LIVE-layout folder with refimgs/")
    p.add_argument("--weights", default="srgan_x4_gr")
    p.add_argument("--layer", default="ResBlock16")
    p.add_argument("--crop", type=int, default=96)
    p.add_argument("--n-components", type=int, default=120)
    p.add_argument("--cache", required=True, help="feature cache folder (outside the repository)")
    p.add_argument("--splits", type=int, default=20)
    p.add_argument("-o", "--out", default=None)
    args = p.parse_args(argv)
    if args.command == "extract":
        joint_gram(args)
    else:
        if args.out is None:
            p.error("evaluate needs -o/--out")
        evaluate(args)


if __name__ == "__main__":
    main()
