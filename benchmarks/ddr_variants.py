"""Research harness for DDR identification heads: extract rich per-crop statistics once, try heads.

``extract`` runs an SR backbone over a LIVE-layout folder (with its ``refimgs/`` as the
``pristine`` class) and stores, for every image, crop, tapped layer and channel, several
statistics of the feature map: mean, standard deviation, mean absolute value, kurtosis and the
mean absolute spatial difference (between neighbouring positions, both axes, divided by the
standard deviation: how smooth the map is). Crops: a ``g x g`` grid of ``crop x crop`` patches at
the image's own scale, and optionally another grid on the image downscaled by 2 (area
interpolation), which sees four times the content per crop. The 3 x 3 grid contains the 2 x 2
grid's corner crops, so one extraction serves both.

``evaluate`` reads such files and scores named variants (which crops, layers, statistics, how
crops are aggregated, which head) on the benchmark's content-disjoint splits
(:func:`ddriqa.evaluation.protocol.content_disjoint_splits`, same seed and test size as
``ddriqa benchmark``), printing the median macro precision and accuracy of each. Several
features files given together are pooled into one set (their references must differ): the
BSDS500 train, test and val sets scored as one set of 500 references.

The features are a cache of this script only (kept outside the repository, e.g. ``/tmp``).

Examples::

    python benchmarks/ddr_variants.py extract /tmp/live_kodak -o /tmp/ddrv/kodak.npz
    python benchmarks/ddr_variants.py extract /tmp/live_kodak --weights random_rrdbnet -o /tmp/ddrv/kodak_random.npz
    python benchmarks/ddr_variants.py evaluate /tmp/ddrv/kodak.npz --splits 20
    python benchmarks/ddr_variants.py extract /tmp/live_kodak --crop 32 --grid 6 --half-grid 0 \
        --layers RRDB1,RRDB2,RRDB4 -o /tmp/ddrv/kodak_c32g6d.npz   # the crops of ddr-36 and ddr-36-deep
    python benchmarks/ddr_variants.py evaluate /tmp/ddrv/kodak_c32g6d.npz --variants small-crops --splits 20
    python benchmarks/ddr_variants.py cache /tmp/ddrv/a.npz /tmp/ddrv/b.npz --data TRAIN_DIR --preset ddr-36 \
        -o /tmp/ddrv/train_ddr36.npy   # rows for tools/train_default_model.py --cache
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

STATS = ("mean", "std", "absmean", "kurt", "tv")


def _stats(fea):
    """(B, C, H, W) -> (B, len(STATS), C) float32."""
    import torch

    x = fea.float()
    m = x.mean(dim=(2, 3))
    d = x - m[:, :, None, None]
    var = (d * d).mean(dim=(2, 3))
    sd = var.sqrt()
    am = x.abs().mean(dim=(2, 3))
    kurt = (d ** 4).mean(dim=(2, 3)) / (var * var + 1e-12)
    tv = ((x[:, :, 1:, :] - x[:, :, :-1, :]).abs().mean(dim=(2, 3))
          + (x[:, :, :, 1:] - x[:, :, :, :-1]).abs().mean(dim=(2, 3))) / (sd + 1e-6)
    return torch.stack([m, sd, am, kurt, tv], dim=1)


def _grid(h, w, crop, g):
    from ddriqa.features.pooling import crop_boxes

    return crop_boxes(h, w, crop, "grid", g * g)


def extract(args):
    """Write the per-crop statistics of every image of ``args.data`` to ``args.output`` (.npz)."""
    import cv2
    import torch

    from ddriqa.evaluation.identification import _load_table
    from ddriqa.features.ddr import _reflect_to
    from ddriqa.io import read_image
    from ddriqa.models.backbones import build_backbone, forward_layers

    torch.set_num_threads(args.threads)
    table = _load_table(args.data, not args.no_pristine, None)
    layers = args.layers.split(",")
    model = build_backbone(args.weights, seed=0).eval().to(memory_format=torch.channels_last)
    n = len(table)
    scales = [1.0] + ([0.5] if args.half_grid else [])
    grids = [args.grid] + ([args.half_grid] if args.half_grid else [])
    n_crops = sum(g * g for g in grids)
    feats = None
    t0 = time.perf_counter()
    for i, path in enumerate(table["path"]):
        img = read_image(path, dtype="float32")
        crops = []
        for s, g in zip(scales, grids):
            im = img if s == 1.0 else cv2.resize(img, (round(img.shape[1] * s), round(img.shape[0] * s)),
                                                 interpolation=cv2.INTER_AREA)
            im = _reflect_to(im, args.crop, args.crop)
            crops += [im[t:t + args.crop, l:l + args.crop] for t, l in _grid(*im.shape[:2], args.crop, g)]
        x = torch.from_numpy(np.ascontiguousarray(np.stack(crops))).permute(0, 3, 1, 2)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            maps = forward_layers(model, x, layers)
            if feats is None:
                feats = np.zeros((n, n_crops, len(layers), len(STATS), maps[layers[0]].shape[1]), dtype=np.float32)
            for k, name in enumerate(layers):
                feats[i, :, k] = _stats(maps[name]).numpy()
        if (i + 1) % 50 == 0:
            print(f"{i + 1}/{n} {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    np.savez(args.output, feats=feats, y=table["distortion"].to_numpy().astype(str),
             groups=table["reference"].to_numpy().astype(str), paths=table["path"].to_numpy().astype(str),
             layers=np.array(layers), stats=np.array(STATS), grids=np.array(grids), crop=np.array(args.crop),
             seconds=time.perf_counter() - t0)
    print(f"{n} images, {time.perf_counter() - t0:.0f} s -> {args.output}", file=sys.stderr)


# ------------------------------------------------------------------------------------ evaluate
def crop_index(grids, which):
    """Indices of the crops of a variant, parts joined by '+': 'g3' (every full-scale crop: the whole
    grid, whatever its size), 'g2' (its four corners), 's2' (every other row and column of the grid,
    from the first), 'h2' (the half-scale grid)."""
    g = int(grids[0])
    full = list(range(g * g))
    corners = [0, g - 1, g * (g - 1), g * g - 1] if g > 1 else [0]
    every_other = [r * g + c for r in range(0, g, 2) for c in range(0, g, 2)]
    half = list(range(g * g, g * g + int(grids[1]) ** 2)) if len(grids) > 1 else []
    out = []
    for part in which.split("+"):
        out += {"g3": full, "g2": corners, "s2": every_other, "h2": half}[part]
    return out


def variant_matrix(data, crops, layers, stats):
    """(n_images, n_crops, n_features) of the chosen crops, layers and statistics."""
    li = [list(data["layers"]).index(s) for s in layers]
    si = [list(data["stats"]).index(s) for s in stats]
    f = data["feats"][:, crop_index(data["grids"], crops)][:, :, li][:, :, :, si]
    return f.reshape(f.shape[0], f.shape[1], -1)


def brisque_matrix(data):
    """BRISQUE features (n, 36) of the images of a features file, cached beside it."""
    path = Path(str(data["_file"]) + ".brisque.npy")
    if path.is_file():
        return np.load(path)
    from ddriqa.features.brisque import BRISQUEExtractor

    paths = [str(p) for p in data["paths"]]
    B = BRISQUEExtractor().fit(paths).transform(paths)
    np.save(path, B)
    return B


def load_features(files):
    """One features file, or several pooled into one set (their rows in order; references must differ)."""
    parts = [dict(np.load(f), _file=f) for f in files]
    if len(parts) == 1:
        return parts[0]
    return {"parts": parts, **{k: np.concatenate([d[k] for d in parts]) for k in ("y", "groups", "paths")}}


def _features_for(data, v):
    """Rows for a variant: per crop (vote heads) or per image (pooled heads)."""
    if "parts" in data:
        return np.concatenate([_features_for(d, v) for d in data["parts"]])
    if v.get("head") == "brisque":
        return brisque_matrix(data)
    X = variant_matrix(data, v["crops"], v["layers"], v["stats"])
    if v.get("fuse_brisque"):  # BRISQUE of the whole image beside each crop's block (the fusion method)
        B = brisque_matrix(data)
        X = np.concatenate([X, np.repeat(B[:, None, :].astype(X.dtype), X.shape[1], axis=1)], axis=2)
    if v.get("log"):
        X = np.sign(X) * np.log1p(np.abs(X))
    agg = v.get("aggregate", "none")
    if agg == "none":
        return X
    parts = [X.mean(axis=1)]
    if "std" in agg:
        parts.append(X.std(axis=1))
    if "minmax" in agg:
        parts += [X.min(axis=1), X.max(axis=1)]
    return np.concatenate(parts, axis=1)


def _head(v, n_crops):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    from ddriqa.classification.pipelines import pooled_svm
    from ddriqa.classification.voting import CropVoteClassifier

    kind = v.get("head", "linear")
    C = v.get("C", 1.0)
    if kind == "brisque":
        from sklearn.model_selection import GroupKFold

        from ddriqa.classification.pipelines import make_brisque_classifier

        return make_brisque_classifier(features=False, cv=GroupKFold(n_splits=5))
    if kind == "linear":
        base = pooled_svm(C)
    elif kind == "logreg":
        base = Pipeline([("scale", StandardScaler()),
                         ("lr", LogisticRegression(C=C, class_weight="balanced", max_iter=2000))])
    elif kind == "ridge":
        from sklearn.linear_model import RidgeClassifier

        base = Pipeline([("scale", StandardScaler()), ("ridge", RidgeClassifier(alpha=C, class_weight="balanced"))])
    elif kind == "rbf":
        base = Pipeline([("scale", StandardScaler()),
                         ("svm", SVC(C=C, gamma="scale", class_weight="balanced"))])
    else:
        raise ValueError(kind)
    if v.get("aggregate", "none") == "none" and n_crops > 1:
        return CropVoteClassifier(base, n_crops=n_crops)
    return base


def _crop_summary(d, n_crops):
    """Per-image mean, std, min and max over crops of per-crop decision values (n*k, c) -> (n, 4c)."""
    d = d.reshape(-1, n_crops, d.shape[-1])
    return np.concatenate([d.mean(1), d.std(1), d.min(1), d.max(1)], axis=1)


class StackedCrops:
    """Per-crop linear SVM; out-of-fold crop decisions summarised per image -> logistic regression."""

    def __init__(self, n_crops, C=1.0, C2=1.0, groups=None, folds=5):
        self.n_crops, self.C, self.C2, self.groups, self.folds = n_crops, C, C2, groups, folds

    def fit(self, X, y):
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import GroupKFold
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        from ddriqa.classification.pipelines import pooled_svm

        k = self.n_crops
        Z = X.reshape(len(X) * k, -1)
        yz = np.repeat(y, k)
        oof = np.zeros((len(Z), len(np.unique(y))))
        groups = self.groups if self.groups is not None else np.arange(len(X))
        folds = max(2, min(self.folds, len(np.unique(groups))))
        for tr, te in GroupKFold(n_splits=folds).split(X, y, groups):
            ztr = (tr[:, None] * k + np.arange(k)).ravel()
            zte = (te[:, None] * k + np.arange(k)).ravel()
            oof[zte] = pooled_svm(self.C).fit(Z[ztr], yz[ztr]).decision_function(Z[zte])
        self.base_ = pooled_svm(self.C).fit(Z, yz)
        self.top_ = make_pipeline(StandardScaler(), LogisticRegression(C=self.C2, max_iter=2000,
                                                                        class_weight="balanced"))
        self.top_.fit(_crop_summary(oof, k), y)
        return self

    def predict(self, X):
        k = self.n_crops
        d = self.base_.decision_function(X.reshape(len(X) * k, -1))
        return self.top_.predict(_crop_summary(d, k))


def _fit(v, n_crops, X, y, groups):
    """The variant's head fitted on rows ``X`` (inner folds, where it has any, grouped by reference)."""
    if v.get("head") == "stack":
        return StackedCrops(n_crops, v.get("C", 1.0), v.get("C2", 1.0), groups=groups).fit(X, y)
    if v.get("head") == "brisque":
        return _head(v, n_crops).fit(X, y, svm__groups=groups)
    return _head(v, n_crops).fit(X, y)


def evaluate_variant(data, v, splits, test=None):
    from ddriqa.evaluation.protocol import split_metrics

    X = _features_for(data, v)
    y = data["y"]
    classes = sorted(set(y))
    n_crops = X.shape[1] if X.ndim == 3 else 1
    X2 = X.reshape(len(X), -1)
    out = {}
    precs, accs, per_class = [], [], []
    for tr, te in splits:
        clf = _fit(v, n_crops, X2[tr], y[tr], data["groups"][tr])
        rows = split_metrics(y[te], clf.predict(X2[te]), classes)
        per_class.append(rows[:-1])
        m = rows[-1]
        precs.append(m["precision"])
        accs.append(m["accuracy"])
    if precs:
        out = {"prec": float(np.median(precs)), "iqr": float(np.subtract(*np.percentile(precs, [75, 25]))),
               "acc": float(np.median(accs)),
               "classes": {c: (float(np.nanmedian([r[i]["precision"] for r in per_class])),
                               float(np.nanmedian([r[i]["recall"] for r in per_class])))
                           for i, c in enumerate(classes)}}
    if test is not None:
        Xt = _features_for(test, v).reshape(len(test["y"]), -1)
        clf = _fit(v, n_crops, X2, y, data["groups"])
        pred = clf.predict(Xt)
        rows = split_metrics(test["y"], pred, classes)
        out["cross"] = rows[-1]["precision"]
        out["cross_acc"] = rows[-1]["accuracy"]
        out["cross_classes"] = {r["class"]: (r["precision"], r["recall"]) for r in rows[:-1]}
        clean = test["y"] == "pristine"
        out["cross_clean"] = (int((pred[clean] == "pristine").sum()), int(clean.sum()))
    return out


def evaluate(args):
    import json

    from ddriqa.evaluation.protocol import content_disjoint_splits

    data = load_features(args.features)
    test = load_features(args.test) if args.test else None
    if len(set(data["paths"])) != len(data["paths"]):
        raise SystemExit("the pooled features files share images")
    # pooled files may share references (e.g. one folder of some classes, another of the others):
    # the splits group by reference name, so a reference's images stay on one side

    if args.random:
        data_random = load_features(args.random)
        if not np.array_equal(data_random["paths"], data["paths"]):
            raise SystemExit(f"{args.random}: not the images of {args.features}")
    if args.splits == 0 and test is None:
        raise SystemExit("--splits 0 scores only the --test set: give one")
    splits = (content_disjoint_splits(data["groups"], n_splits=args.splits, test_size=0.2, seed=args.seed)
              if args.splits else [])
    if args.variants in NAMED_VARIANTS:
        variants = NAMED_VARIANTS[args.variants]
    else:
        variants = json.loads(Path(args.variants).read_text()) if args.variants else DEFAULT_VARIANTS
    for name, v in variants.items():
        if (args.only and name not in args.only.split(",")) or (v.get("random") and not args.random):
            continue
        t = time.perf_counter()
        on = data_random if v.get("random") else data
        r = evaluate_variant(on, v, splits, None if v.get("random") or v.get("no_cross") else test)
        splits_part = f"prec {r['prec']:.3f} (IQR {r['iqr']:.3f})  acc {r['acc']:.3f}" if "prec" in r else ""
        extra = f"  cross {r['cross']:.3f}" if "cross" in r else ""
        if "prec" not in r and "cross" in r:  # --splits 0: the held-out test set only
            extra = (f"cross {r['cross']:.3f}  cross-acc {r['cross_acc']:.3f}  clean->pristine "
                     f"{r['cross_clean'][0]}/{r['cross_clean'][1]}")
        print(f"{name:40s} {splits_part}{extra}  [{time.perf_counter() - t:.0f} s]", flush=True)
        if args.per_class and "classes" in r:
            print("    " + "  ".join(f"{c} {p:.2f}/{rc:.2f}" for c, (p, rc) in r["classes"].items()), flush=True)
        if args.per_class and "cross_classes" in r:
            print("    cross: " + "  ".join(f"{c} {p:.2f}/{rc:.2f}" for c, (p, rc) in r["cross_classes"].items()),
                  flush=True)


def write_cache(args):
    """The rows of a pooled preset (:class:`~ddriqa.features.ddr.DDRExtractor` layout: per crop, per
    layer, statistic-major) for every image of ``args.data``, from features files of this harness."""
    import json
    import os

    from ddriqa.evaluation.identification import _load_table
    from ddriqa.features.pooling import STATS as POOLED_STATS  # what pooling="stats" computes, in its order
    from ddriqa.features.presets import preset_params

    params = preset_params(args.preset)
    layers = list(params["layer"]) if isinstance(params["layer"], (list, tuple)) else [params["layer"]]
    data = load_features(args.features)
    parts = data.get("parts", [data])
    for d in parts:
        grid = int(d["grids"][0])
        if (params["crops"] != "grid" or grid * grid != int(params["n_crops"]) or len(d["grids"]) != 1
                or ("crop" in d and int(d["crop"]) != int(params["crop"]))):
            raise SystemExit(f"{d['_file']}: its crops ({grid}x{grid} grid) are not those of preset {args.preset}")
        missing = [name for name in layers if name not in list(d["layers"])]
        if missing:
            raise SystemExit(f"{d['_file']}: no layer {missing}")
    rows = {}
    for d in parts:
        li = [list(d["layers"]).index(name) for name in layers]
        si = [list(d["stats"]).index(s) for s in POOLED_STATS]
        block = d["feats"][:, :, li][:, :, :, si]  # (n, crops, layers, stats, channels)
        block = block.reshape(block.shape[0], -1)
        for path, row in zip(d["paths"], block):
            rows[os.path.realpath(str(path))] = row
    table = _load_table(args.data, True, None)
    paths = table["path"].astype(str).tolist()
    missing = [p for p in paths if os.path.realpath(p) not in rows]
    if missing:
        raise SystemExit(f"{len(missing)} images of {args.data} are in no features file, e.g. {missing[0]}")
    X = np.stack([rows[os.path.realpath(p)] for p in paths]).astype(np.float32)
    seconds = float(sum(float(d["seconds"]) for d in parts))
    np.save(args.output, X)
    Path(args.output).with_suffix(".json").write_text(
        json.dumps({"paths": paths, "preset": args.preset, "seconds": seconds}), encoding="utf-8")
    print(f"{X.shape} -> {args.output}", file=sys.stderr)


L124 = ["RRDB1", "RRDB2", "RRDB4"]
S3 = ["mean", "std", "absmean"]
DEFAULT_VARIANTS = {
    "ddr (g2, RRDB1/2/4, 3 stats, vote)": {"crops": "g2", "layers": L124, "stats": S3},
    "g3 vote": {"crops": "g3", "layers": L124, "stats": S3},
    "g2 +kurt,tv vote": {"crops": "g2", "layers": L124, "stats": list(STATS)},
    "g2 mean+std agg": {"crops": "g2", "layers": L124, "stats": S3, "aggregate": "mean+std"},
    "g3 mean+std agg": {"crops": "g3", "layers": L124, "stats": S3, "aggregate": "mean+std"},
    "g3+h2 vote": {"crops": "g3+h2", "layers": L124, "stats": S3},
    "h2 vote": {"crops": "h2", "layers": L124, "stats": S3},
    "g3 stack": {"crops": "g3", "layers": L124, "stats": S3, "head": "stack"},
    "g3+h2 stack": {"crops": "g3+h2", "layers": L124, "stats": S3, "head": "stack"},
    "lite: g2 Conv1+RRDB1 vote": {"crops": "g2", "layers": ["Conv1", "RRDB1"], "stats": S3},
    "lite: h2 Conv1+RRDB1 vote": {"crops": "h2", "layers": ["Conv1", "RRDB1"], "stats": S3},
    "lite: g2+h2 RRDB1 vote": {"crops": "g2+h2", "layers": ["RRDB1"], "stats": S3},
}


#: the methods of benchmarks/results/identification.md's ddr-9 table, as variants of this harness
REPORT_VARIANTS = {
    "brisque": {"head": "brisque"},
    "ddr": {"crops": "g2", "layers": L124, "stats": S3},
    "ddr-random": {"crops": "g2", "layers": L124, "stats": S3, "random": True},
    "ddr-fast": {"crops": "g2", "layers": L124[:2], "stats": S3},
    "ddr-9": {"crops": "g3", "layers": L124[:2], "stats": S3},
    "ddr-9-random": {"crops": "g3", "layers": L124[:2], "stats": S3, "random": True},
    "ddr-9-deep": {"crops": "g3", "layers": L124, "stats": S3},
    "ddr-9-deep-random": {"crops": "g3", "layers": L124, "stats": S3, "random": True},
    "brisque+ddr": {"crops": "g2", "layers": L124, "stats": S3, "fuse_brisque": True},
    "brisque+ddr-9": {"crops": "g3", "layers": L124[:2], "stats": S3, "fuse_brisque": True},
    "brisque+ddr-9-deep": {"crops": "g3", "layers": L124, "stats": S3, "fuse_brisque": True},
}


#: the small-crop methods of the identification report, for features extracted with ``--crop 32
#: --grid 6 --half-grid 0 --layers RRDB1,RRDB2,RRDB4`` (every crop of such a file is one of the 36)
SMALL_CROP_VARIANTS = {
    "brisque": {"head": "brisque"},
    "ddr-36": {"crops": "g3", "layers": L124[:2], "stats": S3},
    "ddr-36-random": {"crops": "g3", "layers": L124[:2], "stats": S3, "random": True},
    "ddr-36-deep": {"crops": "g3", "layers": L124, "stats": S3},
    "ddr-36-deep-random": {"crops": "g3", "layers": L124, "stats": S3, "random": True},
}

#: ``evaluate --variants NAME``: the variant sets named on the command line
NAMED_VARIANTS = {"report": REPORT_VARIANTS, "small-crops": SMALL_CROP_VARIANTS}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    e = sub.add_parser("extract")
    e.add_argument("data")
    e.add_argument("-o", "--output", required=True)
    e.add_argument("--weights", default="realesrgan_x4plus")
    e.add_argument("--layers", default="Conv1,RRDB1,RRDB2,RRDB3,RRDB4")
    e.add_argument("--crop", type=int, default=64)
    e.add_argument("--grid", type=int, default=3)
    e.add_argument("--half-grid", type=int, default=2, help="grid on the half-scale image (0: none)")
    e.add_argument("--threads", type=int, default=1)
    e.add_argument("--no-pristine", action="store_true",
                   help="leave out the references (for a folder that adds classes to another folder's references)")
    v = sub.add_parser("evaluate")
    v.add_argument("features", nargs="+", help="features file(s); several are pooled into one set")
    v.add_argument("--test", nargs="+", help="features of a second set: train on all of the first, test on it")
    v.add_argument("--random", nargs="+", help="features of the same images from the random-init network (variants with "
                                    '"random": true use them)')
    v.add_argument("--variants", help="JSON file: name -> variant; 'report': the methods of the identification report; "
                   "'small-crops': its 32x32-crop methods (ddr-36, ddr-36-deep)")
    v.add_argument("--only", help="comma-separated variant names")
    v.add_argument("--splits", type=int, default=20, help="content-disjoint splits (0: only the --test set)")
    v.add_argument("--per-class", action="store_true", help="also print each class's median precision/recall")
    v.add_argument("--seed", type=int, default=0)
    c = sub.add_parser("cache", help="write the features of a pooled preset for tools/train_default_model.py --cache")
    c.add_argument("features", nargs="+", help="features file(s) holding every image of DATA")
    c.add_argument("--data", required=True, help="the LIVE-layout folder the model is trained on (with refimgs/)")
    c.add_argument("--preset", required=True, help="a pooled preset whose crops and layers the files hold")
    c.add_argument("-o", "--output", required=True, help=".npy file (a .json with the paths is written beside it)")
    args = p.parse_args(argv)
    {"extract": extract, "evaluate": evaluate, "cache": write_cache}[args.cmd](args)


if __name__ == "__main__":
    main()
