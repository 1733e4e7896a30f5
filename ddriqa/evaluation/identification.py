"""The distortion-identification benchmark of ``ddriqa benchmark``: methods, features, caching.

Methods (``--methods``):

- ``brisque``: the 36 BRISQUE features, min-max scaling and an RBF SVM whose C and gamma are
  chosen by content-disjoint inner cross-validation on each split's train side.
- ``paper``: Liu et al.'s head (preset ``paper``): the flattened ``ResBlock16`` map of the
  central 96x96 crop of a trained SR backbone (``--weights``, default our ``srgan_x4_gr``),
  PCA fitted on each split's train side, global scaling, linear SVM whose C is chosen from
  :data:`~ddriqa.classification.pipelines.PAPER_C_GRID` by 5-fold cross-validation grouped by
  reference on the PCA scores of the train side (the PCA is fitted on the whole train side, so
  it has seen the inner validation folds: a slight, standard leak into the choice of C only).
  The chosen C of every split is in ``splits.csv`` (column ``chosen``) and counted in the notes
  of ``summary.md``. One row per backbone (``paper:<name>`` when backbones are named).
- ``paper-random``: the same with a seeded random SRResNet (the paper's control).
- each pooled preset of :data:`ddriqa.features.presets.POOLED_PRESETS` (``ddr``, ``ddr-9``, ...):
  channel statistics of Real-ESRGAN feature maps on a grid of crops, standardisation, linear SVM
  per crop with C = :data:`POOLED_C`, decisions averaged over the crops.
- ``<preset>-random`` (``ddr-random``, ...): the same preset on a seeded random network of the same
  architecture (:func:`ddriqa.models.backbones.random_twin`): what training adds.
- ``brisque+<preset>`` (``brisque+ddr``, ...): BRISQUE (of the whole image) beside each crop's
  features, the preset's head (fusion).

Protocols: ``content`` (content-disjoint: references never shared between train and test) and
``random`` (image-level stratified splits: each reference's versions can sit on both sides, as
in figures that do not say otherwise), on the same data and the same number of splits; and,
with a second data set, ``cross`` (fit on all of one set, test on all of the other).

Each method's features are computed once per image (the paper's head: as the Gram matrix of its
589,824-value features, see :mod:`ddriqa.evaluation.protocol`) and cached in
``<out_dir>/cache/`` together with the list of images and the seconds the extraction took, so
a rerun after a crash skips what is done and ``speed.csv`` still reports the measured speed.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError
from ddriqa.features.presets import POOLED_PRESETS as _POOLED

__all__ = ["METHODS", "ddr_method_name", "method_features", "method_names", "run_identification_benchmark"]

#: C of the pooled heads in the benchmark: fixed, chosen once by 5-fold cross-validation grouped by
#: reference on a separate development set (the BSDS500 train+test LIVE-like set, see
#: benchmarks/results/identification.md), so that no split's test side informs it and each split
#: costs one fit instead of a grid search
POOLED_C = 1.0
#: method names accepted by ``--methods``
METHODS = ("brisque", "paper", "paper-random", *_POOLED, *(f"{p}-random" for p in _POOLED),
           *(f"brisque+{p}" for p in _POOLED))


def method_names():
    """The accepted method names, in the order of the tables."""
    return list(METHODS)


def ddr_method_name(weights, prefix="paper"):
    """Row name of a backbone: ``<prefix>:<name>`` (a path gives its file stem)."""
    text = os.fspath(weights)
    stem = Path(text).stem if ("/" in text or os.sep in text or text.endswith(".safetensors")) else text
    return f"{prefix}:{stem}"


def _key(paths, spec):
    h = hashlib.sha256()
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for p in paths:
        h.update(os.fsencode(p) + b"\0")
    return h.hexdigest()[:16]


def _cached(cache_dir, name, paths, spec, compute, log):
    """Load ``<cache>/<name>-<key>.npy`` (+ ``.json``: seconds) or compute and save both atomically.

    Returns ``(value, seconds)``: the seconds the computation took when it ran (read back from
    the cache afterwards).
    """
    if cache_dir is None:
        t0 = time.perf_counter()
        value = compute()
        return value, time.perf_counter() - t0
    safe = name.replace(":", "_").replace("/", "_").replace("+", "_")
    path = Path(cache_dir) / f"{safe}-{_key(paths, spec)}.npy"
    meta = path.with_suffix(".json")
    if path.is_file():
        try:
            value = np.load(path, allow_pickle=False)
            seconds = json.loads(meta.read_text(encoding="utf-8")).get("seconds") if meta.is_file() else None
            log(f"{name}: features from cache {path}")
            return value, seconds
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed
    t0 = time.perf_counter()
    value = compute()
    seconds = time.perf_counter() - t0
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, value)
    os.replace(tmp, path)
    meta.write_text(json.dumps({"seconds": seconds, "n_images": len(paths), "spec": spec}, default=str),
                    encoding="utf-8")
    return value, seconds


def _weights_id(weights, seed):
    from ddriqa.models.backbones import is_random

    if is_random(weights):
        return f"{weights.lower()}-{seed}"
    from ddriqa.models.weights import resolve_weights, sha256_file

    return sha256_file(resolve_weights(weights))


def method_features(method, paths, *, weights=None, layer="ResBlock16", crop=96, preset=None, device="auto",
                    seed=0, chunk_size=16, n_jobs=None, cache_dir=None, log=None):
    """Features of one method family for every image, and the seconds they took.

    Parameters
    ----------
    method : {"brisque", "gram", "pooled"}
        BRISQUE's 36 numbers; the Gram matrix of flattened DDR features (the paper's head); or
        the pooled DDR features of ``preset``.
    paths : list of str
    weights : str, optional
        Backbone (shipped name, third-party name, path, ``"random"`` or ``"random_rrdbnet"``).
    layer, crop
        Flattened-DDR settings (``"gram"``).
    preset : str, optional
        Pooled preset name (``"pooled"``); ``weights`` overrides its backbone.
    device, seed, chunk_size, n_jobs
        Extraction settings (seed: the random initialisations).
    cache_dir : path, optional
        Cache folder (None: no cache).
    log : callable, optional

    Returns
    -------
    features : numpy.ndarray
        ``(n, d)`` features or the ``(n, n)`` Gram matrix.
    seconds : float or None
        Wall time of the extraction (None: cached by an older version without timing).
    """
    log = log or (lambda message: None)
    if method == "brisque":
        from ddriqa.features.brisque import BRISQUEExtractor

        def compute():
            return BRISQUEExtractor(n_jobs=n_jobs).fit(paths).transform(paths)

        return _cached(cache_dir, "brisque", paths, {"method": "brisque"}, compute, log)
    if weights is None:
        raise InputError(f"method {method!r} needs weights (a backbone name or a .safetensors path)")
    from ddriqa.features.ddr import DDRExtractor

    if method == "gram":
        from ddriqa.classification.gram import gram_from_extractor

        spec = {"method": "ddr", "weights": _weights_id(weights, seed), "layer": layer, "crop": crop}

        def compute():
            ext = DDRExtractor(weights=weights, layer=layer, crop=crop, device=device, random_state=seed).fit()
            return gram_from_extractor(ext, paths, chunk_size=chunk_size, spill_dir=cache_dir)

        return _cached(cache_dir, f"gram_{_weights_id(weights, seed)[:12]}_{layer}_{crop}", paths, spec, compute, log)
    if method == "pooled":
        from ddriqa.features.presets import preset_params

        params = preset_params(preset, weights=weights)
        spec = {"method": "pooled", **{k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()},
                "weights": _weights_id(weights, seed)}

        def compute():
            ext = DDRExtractor(**params, pad="reflect", device=device, random_state=seed).fit()
            return ext.transform(paths)

        return _cached(cache_dir, f"pooled_{preset}_{_weights_id(weights, seed)[:12]}", paths, spec, compute, log)
    raise InputError(f"unknown feature family {method!r}")


def _speed_row(name, n, seconds):
    rate = n / seconds if seconds else np.nan
    return {"method": name, "n_images": n, "seconds": np.nan if seconds is None else round(float(seconds), 2),
            "images_per_s": np.nan if seconds is None else round(float(rate), 3)}


class _Features:
    """Features of every method of one image list, computed once (parts shared by the fusions)."""

    def __init__(self, paths, *, cache, weights, seed, device, n_jobs, layer, crop, log):
        self.paths, self.cache, self.weights, self.seed = paths, cache, weights, seed
        self.device, self.n_jobs, self.layer, self.crop, self.log = device, n_jobs, layer, crop, log
        self._parts = {}
        self.seconds = {}

    def _part(self, key, **kwargs):
        if key not in self._parts:
            value, seconds = method_features(paths=self.paths, device=self.device, seed=self.seed,
                                             n_jobs=self.n_jobs, cache_dir=self.cache, log=self.log, **kwargs)
            self._parts[key] = value
            self.seconds[key] = seconds
        return self._parts[key]

    def brisque(self):
        return self._part("brisque", method="brisque")

    def gram(self, weights):
        return self._part(("gram", os.fspath(weights)), method="gram", weights=weights, layer=self.layer,
                          crop=self.crop)

    def pooled(self, preset, random=False):
        from ddriqa.features.presets import PRESETS
        from ddriqa.models.backbones import random_twin

        w = PRESETS[preset]["extractor"]["weights"]
        w = random_twin(w) if random else w
        return self._part(("pooled", preset, w), method="pooled", preset=preset, weights=w)

    def total_seconds(self, keys):
        values = [self.seconds.get(k) for k in keys]
        return None if any(v is None for v in values) else float(sum(values))


def _pooled_head(preset):
    """``"pooled"`` (one decision per image) or ``("vote", n_crops)`` for a preset."""
    from ddriqa.features.presets import PRESETS

    spec = PRESETS[preset]
    return ("vote", int(spec["extractor"]["n_crops"])) if spec["head"] == "crop-vote" else "pooled"


def _plan(methods, weights):
    """(row name, feature recipe, head) for each requested method."""
    from ddriqa.features.presets import PRESETS

    plan = []
    for m in methods:
        if m == "brisque":
            plan.append((m, ("brisque",), "brisque"))
        elif m == "paper":
            backbones = list(weights) if weights else [PRESETS["paper"]["extractor"]["weights"]]
            for w in backbones:
                name = "paper" if not weights else ddr_method_name(w)
                plan.append((name, ("gram", w), "gram"))
        elif m == "paper-random":
            plan.append((m, ("gram", "random"), "gram"))
        elif m in _POOLED:
            plan.append((m, ("pooled", m, False), _pooled_head(m)))
        elif m.endswith("-random") and m[: -len("-random")] in _POOLED:
            plan.append((m, ("pooled", m[: -len("-random")], True), _pooled_head(m[: -len("-random")])))
        elif m.startswith("brisque+") and m[len("brisque+"):] in _POOLED:
            plan.append((m, ("fusion", m[len("brisque+"):]), _pooled_head(m[len("brisque+"):])))
        else:
            raise InputError(f"unknown method {m!r}; choose from {', '.join(METHODS)}")
    return plan


def _materialise(recipe, feats):
    """(features, part keys whose seconds add up to the method's extraction time)."""
    from ddriqa.evaluation.protocol import GramFeatures

    kind = recipe[0]
    if kind == "brisque":
        return feats.brisque(), ["brisque"]
    if kind == "gram":
        return GramFeatures(feats.gram(recipe[1])), [("gram", os.fspath(recipe[1]))]
    from ddriqa.features.presets import PRESETS
    from ddriqa.models.backbones import random_twin

    if kind == "pooled":
        _, preset, random = recipe
        w = PRESETS[preset]["extractor"]["weights"]
        return feats.pooled(preset, random), [("pooled", preset, random_twin(w) if random else w)]
    preset = recipe[1]
    spec = PRESETS[preset]
    w = spec["extractor"]["weights"]
    ddr, brisque = feats.pooled(preset), feats.brisque()
    if spec["head"] == "crop-vote":  # BRISQUE (of the whole image) beside each crop's block
        from ddriqa.features.fusion import fuse_crop_features

        fused = fuse_crop_features(ddr, brisque, int(spec["extractor"]["n_crops"]))
    else:
        fused = np.hstack([brisque, ddr])
    return fused, ["brisque", ("pooled", preset, w)]


def _head(kind, n_train_groups):
    if kind == "brisque":
        from sklearn.model_selection import GroupKFold

        from ddriqa.classification.pipelines import make_brisque_classifier

        k = max(2, min(5, n_train_groups))
        return lambda: make_brisque_classifier(features=False, cv=GroupKFold(n_splits=k))
    if kind == "pooled":
        from ddriqa.classification.pipelines import pooled_svm

        return pooled_svm
    if isinstance(kind, tuple) and kind[0] == "vote":
        from ddriqa.classification.pipelines import pooled_svm
        from ddriqa.classification.voting import CropVoteClassifier

        return lambda n=kind[1]: CropVoteClassifier(pooled_svm(POOLED_C), n_crops=n)
    return None  # GramFeatures: the protocol's default (ddr_svm("cv"), C by grouped inner CV)


def _chosen_notes(per_split):
    """One note per method and protocol: how often each grid-search choice was made over the splits."""
    notes = []
    rows = per_split[(per_split["class"] == "ALL") & (per_split["chosen"].fillna("") != "")]
    for (protocol, method), sub in rows.groupby(["protocol", "method"], sort=False):
        counts = sub["chosen"].value_counts()
        text = ", ".join(f"{v} ({n} split{'s' if n > 1 else ''})" for v, n in counts.head(8).items())
        more = f", {len(counts) - 8} other choices" if len(counts) > 8 else ""
        notes.append(f"{method}, {protocol}: chosen on the train side by the inner grid search: {text}{more}")
    return notes


def _load_table(data, pristine, log):
    from ddriqa.datasets.folders import load_dataset
    from ddriqa.datasets.live_database import with_pristine

    table = load_dataset(data) if not hasattr(data, "columns") else data
    if "reference" not in table or table["reference"].isna().any():
        raise InputError(
            f"{data}: every image needs a reference (content) name for content-disjoint splits; "
            "use a LIVE-layout folder (info.txt lines `refname imgname param`)"
        )
    if pristine:
        if hasattr(data, "columns"):
            raise InputError("pristine=True needs the data folder (its refimgs/), not a table")
        try:
            table = with_pristine(table, data)
        except InputError as exc:
            raise InputError(f"{exc}; pass --no-pristine to benchmark the distortion classes only") from None
    return table


def _confusions(predictions, y, classes):
    """Confusion counts summed over the splits: method -> DataFrame."""
    from ddriqa.evaluation.plots import confusion_matrix_table

    out = {}
    for method, per_split in predictions.items():
        true = np.concatenate([y[te] for te, _ in per_split])
        pred = np.concatenate([p for _, p in per_split])
        out[method] = confusion_matrix_table(true, pred, classes)
    return out


def _write_pictures(out_dir, protocol, summary, confusions, notes):
    """CSV (always) and PNG (when matplotlib is there) of each method's confusion and per-class bars."""
    from ddriqa.evaluation.plots import PlotsUnavailableError, plot_confusion_matrix, plot_per_class

    folder = Path(out_dir) / "confusion"
    folder.mkdir(parents=True, exist_ok=True)
    plots = True
    for method, cm in confusions.items():
        stem = f"{protocol}_{method.replace(':', '_').replace('+', '_')}"
        cm.to_csv(folder / f"{stem}.csv")
        if not plots:
            continue
        try:
            plot_confusion_matrix(cm, list(cm.index), folder / f"{stem}.png",
                                  title=f"{method}, {protocol} splits (summed)")
            rows = summary[(summary["method"] == method)]
            plot_per_class(rows, folder / f"{stem}_per_class.png",
                           metrics=("precision_median", "recall_median"), title=f"{method}, {protocol} splits")
        except PlotsUnavailableError as exc:
            plots = False
            notes.append(f"{exc} (confusion matrices written as CSV only)")


def run_identification_benchmark(data, out_dir, *, methods=("brisque", "paper", "paper-random", "ddr", "ddr-random"),
                                 weights=None, n_splits=100, test_size=0.2, seed=0, protocols=("content", "random"),
                                 pristine=True, test_data=None, layer="ResBlock16", crop=96, n_components=120,
                                 device="auto", n_jobs=None, brisque_models=None, log=None):
    """Run the identification benchmark on a labelled data set.

    Parameters
    ----------
    data : path or pandas.DataFrame
        A LIVE-layout folder (LIVE Release 2 or ``ddriqa degrade`` output) or its table
        (columns ``path``, ``distortion``, ``reference``).
    out_dir : path
        Receives ``summary.csv``, ``summary.md``, ``splits.csv``, ``speed.csv``,
        ``confusion/`` (CSV + PNG per method and protocol) and ``cache/``.
    methods : sequence of str
        See :data:`METHODS` and the module docstring.
    weights : sequence of str, optional
        Backbones of ``paper`` (default: the ``paper`` preset's, ``srgan_x4_gr``).
    n_splits, test_size, seed
        Split protocol (seed also seeds the random-init controls).
    protocols : sequence of {"content", "random"}
    pristine : bool, default=True
        Add the clean references (``refimgs/``) as a sixth class ``pristine``.
    test_data : path, optional
        A second data set: adds the ``cross`` protocol (fit on all of ``data``, test on all
        of ``test_data``).
    layer, crop, n_components
        The paper head's tap, crop and PCA dimension (capped at the smallest train side - 1).
    device, n_jobs
    brisque_models : estimator, optional
        Override of the BRISQUE classifier (for tests: a small grid).
    log : callable, optional

    Returns
    -------
    per_split, summary : pandas.DataFrame
        With a ``protocol`` column.
    notes : list of str
        What was skipped or capped, also written at the end of ``summary.md``.
    """
    import pandas as pd

    from ddriqa.evaluation.protocol import (
        PROTOCOLS, GramFeatures, content_disjoint_splits, random_splits, run_benchmark, summarize,
        summary_markdown,
    )

    log = log or (lambda message: None)
    bad = [p for p in protocols if p not in PROTOCOLS]
    if bad or not protocols:
        raise InputError(f"unknown protocol(s) {bad or protocols}; choose from {', '.join(PROTOCOLS)}")
    plan = _plan(list(methods), weights)
    table = _load_table(data, pristine, log)
    paths = table["path"].astype(str).tolist()
    y = table["distortion"].astype(str).to_numpy()
    groups = table["reference"].astype(str).to_numpy()
    n_groups = len(np.unique(groups))
    n_train_groups = n_groups - math.ceil(float(test_size) * n_groups)
    classes = sorted(set(y))
    out_dir = Path(out_dir)
    cache = out_dir / "cache"
    notes = []
    log(f"{len(paths)} images, {len(classes)} classes ({', '.join(classes)}), {n_groups} references, "
        f"{n_splits} splits per protocol ({', '.join(protocols)})")
    kw = dict(cache=cache, weights=weights, seed=seed, device=device, n_jobs=n_jobs, layer=layer, crop=crop, log=log)
    feats = _Features(paths, **kw)
    features, models, speed = {}, {}, []
    for name, recipe, head in plan:
        log(f"{name}: features")
        features[name], keys = _materialise(recipe, feats)
        speed.append(_speed_row(name, len(paths), feats.total_seconds(keys)))
        make = brisque_models if (head == "brisque" and brisque_models is not None) else _head(head, n_train_groups)
        if make is not None:
            models[name] = make
        if recipe[0] == "gram" and recipe[1] == "random":
            notes.append(f"paper-random: SRResNet with random weights (seed {seed}), {layer}, crop {crop}")
        if recipe[0] == "pooled" and recipe[2]:
            from ddriqa.features.presets import PRESETS
            from ddriqa.models.backbones import random_twin

            notes.append(f"{name}: {random_twin(PRESETS[recipe[1]]['extractor']['weights'])} "
                         f"(seeded random init, seed {seed}) with the {recipe[1]} preset's extractor and head")
    splits_by_protocol = {}
    for protocol in protocols:
        splits_by_protocol[protocol] = (content_disjoint_splits(groups, n_splits, test_size, seed)
                                        if protocol == "content" else random_splits(y, n_splits, test_size, seed))
    smallest = min(len(tr) for s in splits_by_protocol.values() for tr, _ in s)
    for name, f in list(features.items()):
        if isinstance(f, GramFeatures):
            k = min(int(n_components), smallest - 1)
            features[name] = GramFeatures(f.gram, k)
            if k < n_components:
                notes.append(f"{name}: PCA dimension capped at {k} (smallest train side {smallest})")
    per_parts, sum_parts = [], []
    for protocol, splits in splits_by_protocol.items():
        log(f"scoring the {protocol} splits")
        predictions = {}
        ps, sm = run_benchmark(features, y, groups, models=models, classes=classes, n_jobs=n_jobs,
                               splits=splits, predictions=predictions)
        ps.insert(0, "protocol", protocol)
        sm.insert(0, "protocol", protocol)
        per_parts.append(ps)
        sum_parts.append(sm)
        _write_pictures(out_dir, protocol, sm, _confusions(predictions, y, classes), notes)
    if test_data is not None:
        cross_ps, cross_sm = _cross(plan, features, models, table, test_data, pristine, kw, classes, n_jobs,
                                    n_components, out_dir, notes, log)
        per_parts.append(cross_ps)
        sum_parts.append(cross_sm)
    per_split = pd.concat(per_parts, ignore_index=True)
    summary = pd.concat(sum_parts, ignore_index=True)
    notes.extend(_chosen_notes(per_split))
    out_dir.mkdir(parents=True, exist_ok=True)
    per_split.to_csv(out_dir / "splits.csv", index=False)
    summary.to_csv(out_dir / "summary.csv", index=False)
    speed_table = pd.DataFrame(speed)
    speed_table.to_csv(out_dir / "speed.csv", index=False)
    titles = {"content": "content-disjoint", "random": "image-level random (stratified)",
              "cross": f"cross-set (fit on {data}, test on {test_data})"}
    md = []
    for protocol in dict.fromkeys(summary["protocol"]):
        md.append(f"### {titles[protocol]}\n")
        md.append(summary_markdown(summary[summary["protocol"] == protocol].drop(columns="protocol"),
                                   protocol=titles[protocol]))
    md.append("### Speed (feature extraction, images/s on this machine)\n")
    md.append("| method | images | seconds | images/s |\n|---|---|---|---|")
    md.extend(f"| {r['method']} | {r['n_images']} | {r['seconds']} | {r['images_per_s']} |" for r in speed)
    if notes:
        md.append("\nNotes:\n")
        md.extend(f"- {n}" for n in notes)
    (out_dir / "summary.md").write_text("\n".join(md) + "\n", encoding="utf-8")
    return per_split, summary, notes


def _cross(plan, features, models, table, test_data, pristine, kw, classes, n_jobs, n_components, out_dir,
           notes, log):
    """Fit every method on all of ``table``, test on all of ``test_data`` (one split)."""
    from ddriqa.evaluation.protocol import GramFeatures, run_benchmark

    other = _load_table(test_data, pristine, log)
    log(f"cross-set: {len(other)} test images from {test_data}")
    other_paths = other["path"].astype(str).tolist()
    other_feats = _Features(other_paths, **kw)
    union_feats = None  # the paper head's Gram matrix over both sets (train rows first), made on demand
    joint, joint_models = {}, {}
    for name, recipe, _ in plan:
        if recipe[0] == "gram":
            if union_feats is None:
                union_feats = _Features(table["path"].astype(str).tolist() + other_paths, **kw)
            gram = union_feats.gram(recipe[1])
            joint[name] = GramFeatures(gram, min(int(n_components), len(table) - 1))
            notes.append(f"{name}: cross-set Gram matrix over the {len(table)} + {len(other_paths)} images of both "
                         "sets (PCA fitted on the first set's rows only)")
        else:
            test_part, _ = _materialise(recipe, other_feats)
            joint[name] = np.vstack([features[name], test_part])
        if name in models:
            joint_models[name] = models[name]
    if not joint:
        raise InputError("no method can run the cross-set check")
    n_train = len(table)
    y = np.concatenate([table["distortion"].astype(str).to_numpy(), other["distortion"].astype(str).to_numpy()])
    groups = np.concatenate([table["reference"].astype(str).to_numpy(),
                             ("test:" + other["reference"].astype(str)).to_numpy()])
    split = [(np.arange(n_train), np.arange(n_train, y.size))]
    predictions = {}
    ps, sm = run_benchmark(joint, y, groups, models=joint_models, classes=classes, n_jobs=n_jobs, splits=split,
                           predictions=predictions)
    ps.insert(0, "protocol", "cross")
    sm.insert(0, "protocol", "cross")
    _write_pictures(out_dir, "cross", sm, _confusions(predictions, y, classes), notes)
    return ps, sm
