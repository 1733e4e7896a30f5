"""Identification against training step: is more CPU training of our own backbone worth it?

For each backbone point (step 0 = the seeded random initialisation, then every committed snapshot
and resume state of ``srresnet_x4_gr`` and the SRGAN fine-tuned from it) this measures, on one
LIVE-like set with a ``pristine`` class and the benchmark's content-disjoint splits
(:func:`ddriqa.evaluation.protocol.content_disjoint_splits`, 20 splits, seed 0 unless told):

* ``pooled``: the pooled crop-vote head of the ``ddr`` preset transposed to SRResNet
  (per-channel mean / std / mean |x| of ``ResBlock4``, ``ResBlock8``, ``ResBlock16`` on a 2 x 2
  grid of 64 x 64 crops, standardisation + linear SVM (C = 1) per crop, decisions averaged);
* ``paper``: the paper's head (flattened ``ResBlock16`` of the central 96 x 96 crop -> PCA(120)
  -> linear SVM, through the Gram route of ``ddriqa benchmark``: C chosen per split by 5-fold
  cross-validation grouped by reference on the train side; the committed ``curve.csv`` was
  measured with the earlier fixed C = 1, see its README);

and joins the clean / blur / noise Calinski-Harabasz index at ``ResBlock16`` from the analysis
tables (``benchmarks/results/analysis/cross_degradation.csv``, written by ``analysis_ddr.py``), when
that table has a row for the same network; with ``--psnr-set NAME=FOLDER`` (repeatable) also the
validation Y-PSNR of each point on those HR folders (``ddriqa eval-sr``'s measure: MATLAB bicubic
x1/4 input, BT.601 Y, 4-pixel border) and of bicubic upsampling. Writes ``curve.csv``,
``curve.md`` and, with matplotlib, ``curve.png`` to ``--out``.

Usage (about 6 minutes per backbone point on one core of the 2-core development CPU)::

    python benchmarks/training_curve.py --data /tmp/live_kodak --out benchmarks/results/training_curve \\
        --cache /tmp/curve_cache --psnr-set Set5=../shared/data/sr/Set5 \\
        --psnr-set Set14=../shared/data/sr/Set14 --psnr-set BSD100=../shared/data/sr/BSDS500/val

(``BSDS500/val`` holds the 100 images of BSD100, the BSDS300 test set.)
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
C = REPO / "weights" / "checkpoints"
#: (label, kind, step, weights): the backbone points of the curve, in training order
POINTS = [
    ("random init", "srresnet", 0, "random"),
    ("SRResNet 1k", "srresnet", 1000, C / "snapshots" / "srresnet_x4_gr_step1000.safetensors"),
    ("SRResNet 2k", "srresnet", 2000, C / "snapshots" / "srresnet_x4_gr_step2000.safetensors"),
    ("SRResNet 5k", "srresnet", 5000, C / "snapshots" / "srresnet_x4_gr_step5000.safetensors"),
    ("SRResNet 10k", "srresnet", 10000, C / "snapshots" / "srresnet_x4_gr_step10000.safetensors"),
    ("SRResNet 15k", "srresnet", 15000, C / "snapshots" / "srresnet_x4_gr_step15000.safetensors"),
    ("SRResNet 20k", "srresnet", 20000, C / "snapshots" / "srresnet_x4_gr_step20000.safetensors"),
    ("SRGAN 500 (from SRResNet 8,214)", "srgan", 500, C / "snapshots" / "srgan_x4_gr_step500.safetensors"),
    ("SRGAN 947 (from SRResNet 8,214)", "srgan", 947, REPO / "weights" / "srgan_x4_gr.safetensors"),
    # the SRGAN run from the 20k SRResNet state (tools/TRAINING.md); labelled from each file's init_detail
    ("SRGAN 1k", "srgan", 1000, C / "snapshots" / "srgan_x4_gr_step1000.safetensors"),
    ("SRGAN 2.5k", "srgan", 2500, C / "snapshots" / "srgan_x4_gr_step2500.safetensors"),
    ("SRGAN 5k", "srgan", 5000, C / "snapshots" / "srgan_x4_gr_step5000.safetensors"),
]
POOLED_LAYERS = ("ResBlock4", "ResBlock8", "ResBlock16")


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def _resume_points():
    """The current resume states of srresnet_x4_gr and srgan_x4_gr as points (steps from provenance)."""
    import json

    points = []
    for run, kind, name in (("srresnet_x4_gr", "srresnet", "SRResNet"), ("srgan_x4_gr", "srgan", "SRGAN")):
        path = C / "resume" / f"{run}.safetensors"
        if path.is_file():
            step = int(json.loads(path.with_suffix(".json").read_text())["step"])
            points.append((f"{name} {step:,} (resume state)", kind, step, path))
    return points


def _id(weights):
    from ddriqa.models.weights import sha256_file

    return "random-0" if weights == "random" else sha256_file(weights)[:16]


def _cached(cache, name, compute):
    if cache is None:
        return compute()
    path = Path(cache) / f"{name}.npy"
    if path.is_file():
        return np.load(path)
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, value)
    return value


def _features(weights, paths, cache):
    from ddriqa.classification.gram import gram_from_extractor
    from ddriqa.features.ddr import DDRExtractor

    wid = _id(weights)
    t0 = time.perf_counter()
    pooled = _cached(cache, f"pooled_{wid}", lambda: DDRExtractor(
        weights=weights, layer=POOLED_LAYERS, crop=64, crops="grid", n_crops=4, pooling="stats",
        aggregate="none", pad="reflect", device="cpu", random_state=0).fit().transform(paths))
    gram = _cached(cache, f"gram_{wid}", lambda: gram_from_extractor(
        DDRExtractor(weights=weights, layer="ResBlock16", crop=96, device="cpu", random_state=0).fit(), paths,
        chunk_size=16))
    return pooled, gram, time.perf_counter() - t0


def _psnr_sets(specs):
    """``["Set5=folder", ...]`` -> {name: [image files]}."""
    from ddriqa.io import list_images

    sets = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or not name or not Path(folder).is_dir():
            raise SystemExit(f"--psnr-set {spec!r}: expected NAME=FOLDER with an existing folder")
        sets[name] = list_images(folder)
    return sets


def _psnr(weights, sets, cache):
    """{set: (network Y-PSNR, bicubic Y-PSNR)} of one backbone point, means over each set's images."""
    from ddriqa.jobs.sr import evaluate_sr
    from ddriqa.models.backbones import build_backbone

    out, model, wid = {}, None, _id(weights)  # the weights file hashed once for every set's cache name
    for name, files in sets.items():
        def compute():
            nonlocal model
            if model is None:
                model = build_backbone(weights, seed=0).requires_grad_(False)
            (mean, _), (mean_bicubic, _) = evaluate_sr(model, files).means()
            return np.array([mean, mean_bicubic])

        out[name] = tuple(float(v) for v in _cached(cache, f"psnr_{name}_{wid}", compute))
    return out


def _init_step(weights):
    """The SRResNet step an SRGAN point was fine-tuned from (``init_detail.step`` of its provenance)."""
    import json

    meta = Path(weights).with_suffix(".json")
    if not meta.is_file():
        raise SystemExit(f"{meta}: missing provenance record; the curve needs the SRGAN's init step")
    step = json.loads(meta.read_text()).get("init_detail", {}).get("step")
    if step is None:
        raise SystemExit(f"{meta}: no init_detail.step; the curve needs the SRGAN's init step")
    return int(step)


def _chi(analysis_csv, step, kind, init_step=None):
    """ResBlock16 clean/blur/noise CHI (mean, std over t-SNE runs) of this point, if measured.

    Model names of ``analysis_ddr.py``: ``SRResNet-wGR random init (seed 0)``, ``SRResNet-wGR L1
    step N (CPU run)``, ``SRGAN-wGR step N from L1 step M (CPU run, no perceptual loss)`` (the
    SRGAN run from the 8,214-step SRResNet is named without ``from L1 step M``).
    """
    import pandas as pd

    if not Path(analysis_csv).is_file():
        return np.nan, np.nan
    t = pd.read_csv(analysis_csv)
    t = t[t["layer"] == "ResBlock16"]
    if kind == "srresnet" and step == 0:
        name = "SRResNet-wGR random init (seed 0)"
    elif kind == "srresnet":
        name = f"SRResNet-wGR L1 step {step} (CPU run)"
    elif init_step == 8214:
        name = f"SRGAN-wGR step {step} (CPU run, no perceptual loss)"
    else:
        name = f"SRGAN-wGR step {step} from L1 step {init_step} (CPU run, no perceptual loss)"
    rows = t[t["model"] == name]
    if rows.empty:
        return np.nan, np.nan
    return float(rows.iloc[0]["chi_mean"]), float(rows.iloc[0]["chi_std"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", required=True, help="LIVE-layout folder with refimgs/ (degrade output)")
    p.add_argument("--out", required=True)
    p.add_argument("--cache", default=None, help="folder (outside the repository) for each point's features, Y-PSNR and split scores, "
                   "keyed by the weights' sha256: one cache per --data")
    p.add_argument("--splits", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--psnr-set", action="append", default=[], metavar="NAME=FOLDER",
                   help="HR folder for a validation Y-PSNR column (repeatable)")
    p.add_argument("--analysis", default=str(REPO / "benchmarks" / "results" / "analysis" / "cross_degradation.csv"))
    args = p.parse_args(argv)

    import pandas as pd

    from ddriqa.classification.pipelines import pooled_svm
    from ddriqa.classification.voting import CropVoteClassifier
    from ddriqa.evaluation.identification import _load_table
    from ddriqa.evaluation.protocol import GramFeatures, run_benchmark

    sets = _psnr_sets(args.psnr_set)
    table = _load_table(args.data, True, log)
    paths = table["path"].astype(str).tolist()
    y, groups = table["distortion"].to_numpy().astype(str), table["reference"].to_numpy().astype(str)
    candidates = [pt for pt in POINTS if pt[3] == "random" or Path(pt[3]).is_file()] + _resume_points()
    init = {pt[3]: _init_step(pt[3]) for pt in candidates if pt[1] == "srgan"}  # each provenance read once
    points, seen = [], set()
    for pt in candidates:  # a resume state only where no snapshot of the same run and step is a point
        key = (pt[1], pt[2], init.get(pt[3]))
        if key not in seen:
            seen.add(key)
            points.append(pt)
    points.sort(key=lambda pt: (pt[1] == "srgan", init.get(pt[3], 0), pt[2]))
    rows = []
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for label, kind, step, weights in points:
        if kind == "srgan":
            state = ", resume state" if label.endswith("(resume state)") else ""
            label = f"SRGAN {step:,} (from SRResNet {init[weights]:,}{state})"
        log(f"{label}: extracting")
        pooled, gram, seconds = _features(weights, paths, args.cache)

        def identify():  # median and IQR of the macro precision over the splits, pooled then paper head
            _, summary = run_benchmark(
                {"pooled": pooled, "paper": GramFeatures(gram)}, y, groups,
                models={"pooled": lambda: CropVoteClassifier(pooled_svm(1.0), n_crops=4)},
                n_splits=args.splits, seed=args.seed)
            allrow = summary[summary["class"] == "ALL"].set_index("method")
            return np.array([allrow.loc[m, f"precision_{q}"] for m in ("pooled", "paper") for q in ("median", "iqr")])

        # "cv": the paper head with C by grouped inner CV (split scores cached by older versions, C = 1, are not reused)
        precision = _cached(args.cache, f"ident_cv_{_id(weights)}_{args.splits}_{args.seed}", identify)
        chi, chi_sd = _chi(args.analysis, step, kind, init.get(weights))
        row = {"backbone": label, "kind": kind, "step": step,
               "init_step": init.get(weights, ""),
               "weights": "random" if weights == "random" else str(Path(weights).relative_to(REPO)),
               "pooled_precision": round(float(precision[0]), 3),
               "pooled_precision_iqr": round(float(precision[1]), 3),
               "paper_precision": round(float(precision[2]), 3),
               "paper_precision_iqr": round(float(precision[3]), 3),
               "chi_resblock16": round(chi, 1), "chi_resblock16_std": round(chi_sd, 1),
               "seconds": round(seconds, 1)}
        for name, (db, db_bicubic) in _psnr(weights, sets, args.cache).items():
            row[f"psnr_y_{name}"] = round(db, 2)
            row[f"psnr_y_{name}_bicubic"] = round(db_bicubic, 2)
        log(str(row))
        rows.append(row)
        pd.DataFrame(rows).to_csv(out / "curve.csv", index=False)
    curve = pd.DataFrame(rows)
    cols = ["backbone", "step", "pooled_precision", "paper_precision", "chi_resblock16"]
    cols += [f"psnr_y_{name}" for name in sets]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(str(r[c]) for c in cols) + " |" for _, r in curve.iterrows()]
    if sets:
        lines += ["", "bicubic: " + ", ".join(f"{name} {curve.iloc[0][f'psnr_y_{name}_bicubic']:.2f} dB"
                                             for name in sets)]
    (out / "curve.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        log("matplotlib is not installed: no curve.png")
        return
    fig, ax = plt.subplots(figsize=(6.4, 4.0))
    sr = curve[curve["kind"] == "srresnet"]
    gan = curve[curve["kind"] == "srgan"]
    ax.plot(sr["step"], sr["pooled_precision"], "o-", label="pooled crop vote (SRResNet)")
    ax.plot(sr["step"], sr["paper_precision"], "s-", label="paper head (SRResNet)")
    for base, run in gan.groupby("init_step"):  # one pair of dashed lines per SRGAN run, from its SRResNet step
        base = int(base)
        x = base + run["step"].astype(int)
        ax.plot(x, run["pooled_precision"], "o--", label=f"pooled (SRGAN from {base:,})")
        ax.plot(x, run["paper_precision"], "s--", label=f"paper head (SRGAN from {base:,})")
    ax.set_xlabel("training step (L1 steps; SRGAN: its init step + adversarial steps)")
    ax.set_ylabel("macro precision, content-disjoint")
    ax.set_ylim(0.2, 1.0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out / "curve.png", dpi=120)


if __name__ == "__main__":
    main()
