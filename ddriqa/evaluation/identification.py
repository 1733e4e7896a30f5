"""The distortion-identification benchmark of ``ddriqa benchmark``: methods, features, caching.

Methods:

- ``brisque``: the 36 BRISQUE features, min-max scaling and an RBF SVM whose C and gamma are
  chosen by content-disjoint inner cross-validation on each split's train side.
- ``ddr:<backbone>``: DDR features (a trained SR backbone, central crop, one layer), PCA fitted
  on each split's train side, linear SVM (the paper's method).
- ``ddr-random``: the same network with seeded random weights (the control that shows what the
  training of the backbone adds).

Each method's features are computed once per image (DDR: as the Gram matrix of the features,
see :mod:`ddriqa.evaluation.protocol`) and cached in ``<out_dir>/cache/`` together with
the list of images they belong to, so a rerun after a crash skips what is done. The splits and
the scoring are :func:`ddriqa.evaluation.protocol.run_benchmark`.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError

__all__ = ["METHODS", "ddr_method_name", "method_features", "run_identification_benchmark"]

#: method families accepted by ``--methods``
METHODS = ("brisque", "ddr", "ddr-random")


def ddr_method_name(weights):
    """Method name of a DDR backbone: ``ddr:<name>`` (a path gives its file stem)."""
    text = os.fspath(weights)
    return "ddr:" + (Path(text).stem if ("/" in text or os.sep in text or text.endswith(".safetensors")) else text)


def _key(paths, spec):
    h = hashlib.sha256()
    h.update(json.dumps(spec, sort_keys=True, default=str).encode())
    for p in paths:
        h.update(os.fsencode(p) + b"\0")
    return h.hexdigest()[:16]


def _cached(cache_dir, method, paths, spec, compute, log):
    """Load ``<cache>/<method>-<key>.npy`` or compute and save it (atomically)."""
    safe = method.replace(":", "_").replace("/", "_")
    path = Path(cache_dir) / f"{safe}-{_key(paths, spec)}.npy"
    if path.is_file():
        try:
            log(f"{method}: features from cache {path}")
            return np.load(path, allow_pickle=False)
        except (OSError, ValueError):
            pass  # a damaged cache file is recomputed
    value = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npy")
    np.save(tmp, value)
    os.replace(tmp, path)
    return value


def method_features(method, paths, *, weights=None, layer="ResBlock16", crop=96, device="auto",
                    seed=0, chunk_size=16, n_jobs=None, cache_dir=None, log=None):
    """Features of one method for every image: an ``(n, 36)`` array or a DDR Gram matrix.

    Parameters
    ----------
    method : {"brisque", "ddr", "ddr-random"}
    paths : list of str
    weights : str, optional
        Backbone of ``"ddr"`` (shipped name or path).
    layer, crop, device
        DDR extractor settings.
    seed : int
        Seed of the ``"ddr-random"`` initialisation.
    chunk_size : int
        Images per streamed DDR chunk.
    n_jobs : int, optional
        BRISQUE parallel jobs.
    cache_dir : path, optional
        Cache folder (None: no cache).
    log : callable, optional

    Returns
    -------
    numpy.ndarray
        ``(n, 36)`` float64 BRISQUE features, or the ``(n, n)`` float64 Gram matrix of the DDR
        features.
    """
    log = log or (lambda message: None)
    if method == "brisque":
        from ddriqa.features.brisque import BRISQUEExtractor

        spec = {"method": "brisque"}

        def compute():
            return BRISQUEExtractor(n_jobs=n_jobs).fit(paths).transform(paths)
    elif method in ("ddr", "ddr-random"):
        from ddriqa.classification.gram import gram_from_extractor
        from ddriqa.features.ddr import DDRExtractor

        w = "random" if method == "ddr-random" else weights
        if w is None:
            raise InputError("method 'ddr' needs weights (a shipped backbone name or a .safetensors path)")
        if w != "random":
            from ddriqa.models.weights import resolve_weights, sha256_file

            wid = sha256_file(resolve_weights(w))
        else:
            wid = f"random-{seed}"
        spec = {"method": "ddr", "weights": wid, "layer": layer, "crop": crop}

        def compute():
            ext = DDRExtractor(weights=w, layer=layer, crop=crop, device=device, random_state=seed).fit()
            return gram_from_extractor(ext, paths, chunk_size=chunk_size, spill_dir=cache_dir)
    else:
        raise InputError(f"unknown method {method!r}; choose from {', '.join(METHODS)}")
    if cache_dir is None:
        return compute()
    return _cached(cache_dir, method if method != "ddr" else ddr_method_name(weights), paths, spec, compute, log)


def run_identification_benchmark(data, out_dir, *, methods=METHODS, weights=None, n_splits=100,
                                 test_size=0.2, seed=0, layer="ResBlock16", crop=96,
                                 n_components=120, device="auto", n_jobs=None, brisque_models=None,
                                 log=None):
    """Run the content-disjoint identification benchmark on a labelled data set.

    Parameters
    ----------
    data : path or pandas.DataFrame
        A LIVE-layout folder / labelled folder (:func:`ddriqa.datasets.folders.load_dataset`)
        or its table (columns ``path``, ``distortion``, ``reference``).
    out_dir : path
        Receives ``summary.csv``, ``summary.md``, ``splits.csv`` and ``cache/``.
    methods : sequence of str, default=("brisque", "ddr", "ddr-random")
    weights : sequence of str, optional
        DDR backbones for ``"ddr"``; default :func:`ddriqa.models.weights.shipped_weights`.
        Without any, ``"ddr"`` is skipped with a note.
    n_splits, test_size, seed
        Split protocol (seed also seeds ``ddr-random``).
    layer, crop, device
        DDR settings.
    n_components : int, default=120
        DDR PCA dimension (capped at the smallest train side minus one).
    n_jobs : int, optional
        Parallel jobs (BRISQUE features and splits).
    brisque_models : estimator, optional
        Override of the BRISQUE classifier (for tests: a small grid).
    log : callable, optional

    Returns
    -------
    per_split, summary : pandas.DataFrame
    notes : list of str
        What was skipped or capped, also written at the end of ``summary.md``.
    """
    from ddriqa.datasets.folders import load_dataset
    from ddriqa.evaluation.protocol import GramFeatures, run_benchmark, write_benchmark

    log = log or (lambda message: None)
    table = load_dataset(data) if not hasattr(data, "columns") else data
    if "reference" not in table or table["reference"].isna().any():
        raise InputError(
            f"{data}: every image needs a reference (content) name for content-disjoint splits; "
            "use a LIVE-layout folder (info.txt lines `refname imgname param`)"
        )
    paths = table["path"].astype(str).tolist()
    y = table["distortion"].astype(str).to_numpy()
    groups = table["reference"].astype(str).to_numpy()
    n_groups = len(np.unique(groups))
    n_test_groups = math.ceil(float(test_size) * n_groups)
    n_train_groups = n_groups - n_test_groups
    notes = []
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InputError(f"unknown method(s) {unknown}; choose from {', '.join(METHODS)}")
    out_dir = Path(out_dir)
    cache = out_dir / "cache"
    features, models = {}, {}
    log(f"{len(paths)} images, {len(set(y))} classes, {n_groups} references "
        f"({n_train_groups} train / {n_test_groups} test per split), {n_splits} splits")
    for method in methods:
        if method == "brisque":
            features["brisque"] = method_features("brisque", paths, n_jobs=n_jobs, cache_dir=cache, log=log)
            if brisque_models is not None:
                models["brisque"] = brisque_models
            else:
                from sklearn.model_selection import GroupKFold

                from ddriqa.classification.pipelines import make_brisque_classifier

                k = max(2, min(5, n_train_groups))
                models["brisque"] = lambda k=k: make_brisque_classifier(features=False, cv=GroupKFold(n_splits=k))
            continue
        if method == "ddr":
            backbones = list(weights) if weights else None
            if backbones is None:
                from ddriqa.models.weights import shipped_weights

                backbones = shipped_weights()
            if not backbones:
                note = "ddr: skipped, no trained DDR backbone is shipped yet (pass --weights PATH)"
                log(note)
                notes.append(note)
            todo = [(ddr_method_name(w), w) for w in backbones]
        else:
            todo = [("ddr-random", "random")]
        for name, w in todo:
            log(f"{name}: extracting {layer} features of the central {crop}x{crop} crop")
            gram = method_features("ddr-random" if w == "random" else "ddr", paths, weights=w, layer=layer,
                                   crop=crop, device=device, seed=seed, cache_dir=cache, log=log)
            features[name] = GramFeatures(gram, int(n_components))
            if name == "ddr-random":
                notes.append(f"ddr-random: SRResNet with random weights (seed {seed}), {layer}, crop {crop}")
    if not features:
        raise InputError("no method to run (see the notes above)")
    # cap the PCA dimension at the smallest train side minus one
    from ddriqa.evaluation.protocol import content_disjoint_splits

    splits = content_disjoint_splits(groups, n_splits=n_splits, test_size=test_size, seed=seed)
    smallest = min(len(tr) for tr, _ in splits)
    for name, f in list(features.items()):
        if isinstance(f, GramFeatures) and f.n_components > smallest - 1:
            features[name] = GramFeatures(f.gram, smallest - 1)
            notes.append(f"{name}: PCA dimension capped at {smallest - 1} (smallest train side {smallest})")
    per_split, summary = run_benchmark(features, y, groups, models=models, n_splits=n_splits,
                                       test_size=test_size, seed=seed, n_jobs=n_jobs, out_dir=out_dir)
    write_benchmark(per_split, summary, out_dir)
    if notes:
        md = out_dir / "summary.md"
        md.write_text(md.read_text(encoding="utf-8") + "\nNotes:\n\n" + "".join(f"- {n}\n" for n in notes),
                      encoding="utf-8")
    return per_split, summary, notes
