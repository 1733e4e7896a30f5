"""The identification benchmark: content-disjoint random splits, per-class precision and recall.

Protocol (LIVE's standard one, used by BRISQUE and DIIVINE): the reference images are split at
random into ``1 - test_size`` train and ``test_size`` test references (23/6 for LIVE's 29), every
distorted image goes to the side of its reference (no content on both sides), each method is
fitted on the train side only and scored on the test side; this is repeated ``n_splits`` times and
the per-class precision and recall, the macro averages and the accuracy are summarised by their
median and interquartile range (IQR = 75th - 25th percentile).

Cost: features are computed once per image for the whole data set and reused by every split. A
DDR method is given as a :class:`GramFeatures`, the ``N x N`` Gram matrix of its features
(:func:`ddriqa.classification.gram.gram_from_chunks`, formed by float32 BLAS products while the
extractor streams the rows): each split's PCA is then derived exactly from the centred train block
of the Gram matrix (linear-kernel PCA equals PCA) and the test rows are projected through the
train/test cross block, centred with the train means
(:func:`ddriqa.classification.gram.gram_pca_scores`), so 100 splits cost seconds after the single
extraction pass.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddriqa.classification.gram import blas_limit, gram_pca_scores
from ddriqa.errors import InputError

__all__ = [
    "GramFeatures",
    "content_disjoint_splits",
    "random_splits",
    "PROTOCOLS",
    "split_metrics",
    "chosen_params",
    "run_benchmark",
    "summarize",
    "summary_markdown",
    "write_benchmark",
    "ALL",
]

#: the class label of the overall rows (macro precision/recall and accuracy)
ALL = "ALL"

#: split protocols: references never shared between train and test ("content", the honest one),
#: or images drawn at random regardless of their reference ("random", which lets a classifier
#: see the content of its test images in training)
PROTOCOLS = ("content", "random")


@dataclass(frozen=True)
class GramFeatures:
    """A method's features given as their ``N x N`` Gram matrix (the DDR route).

    Parameters
    ----------
    gram : ndarray of shape (n_samples, n_samples)
        ``X @ X.T`` of the features (a constant shift of every row is allowed: it cancels).
    n_components : int, default=120
        PCA dimension fitted per split on the train block.
    """

    gram: np.ndarray
    n_components: int = 120


def content_disjoint_splits(groups, n_splits=100, test_size=0.2, seed=0):
    """Random train/test splits by group (reference image): no group on both sides.

    Parameters
    ----------
    groups : array-like of shape (n_samples,)
        Reference (content) of each image.
    n_splits : int, default=100
    test_size : float, default=0.2
        Fraction of the *groups* held out (rounded up: 6 of LIVE's 29 references).
    seed : int, default=0

    Returns
    -------
    list of (train_indices, test_indices)

    Examples
    --------
    >>> splits = content_disjoint_splits(["a", "a", "b", "b", "c", "c"], n_splits=2, test_size=0.3)
    >>> [len(te) for _, te in splits]
    [2, 2]
    """
    from sklearn.model_selection import GroupShuffleSplit

    groups = np.asarray(groups)
    if groups.ndim != 1 or groups.size == 0:
        raise InputError(f"groups must be a non-empty 1-D array, got shape {groups.shape}")
    n_groups = np.unique(groups).size
    if n_groups < 2:
        raise InputError(f"content-disjoint splits need at least 2 distinct references, got {n_groups}")
    if not 0.0 < float(test_size) < 1.0:
        raise InputError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    gss = GroupShuffleSplit(n_splits=int(n_splits), test_size=float(test_size), random_state=seed)
    splits = []
    for train, test in gss.split(np.zeros(groups.size), groups=groups):
        if np.intersect1d(groups[train], groups[test]).size:  # cannot happen; guard the protocol
            raise AssertionError("a reference appears on both sides of a split")
        splits.append((train, test))
    return splits


def random_splits(y, n_splits=100, test_size=0.2, seed=0):
    """Image-level random splits, stratified by class (references may be on both sides).

    The protocol behind many published identification figures: each distorted version of a
    reference can land on either side, so the test side shares content with the training side.
    Reported beside :func:`content_disjoint_splits` to show how much that inflates a method.

    Returns
    -------
    list of (train_indices, test_indices)

    Examples
    --------
    >>> splits = random_splits(["a", "b"] * 10, n_splits=3, test_size=0.2)
    >>> [len(te) for _, te in splits]
    [4, 4, 4]
    """
    from sklearn.model_selection import StratifiedShuffleSplit

    y = np.asarray(y)
    if y.ndim != 1 or y.size == 0:
        raise InputError(f"y must be a non-empty 1-D array, got shape {y.shape}")
    if not 0.0 < float(test_size) < 1.0:
        raise InputError(f"test_size must be a fraction in (0, 1), got {test_size!r}")
    sss = StratifiedShuffleSplit(n_splits=int(n_splits), test_size=float(test_size), random_state=seed)
    return list(sss.split(np.zeros(y.size), y))


def split_metrics(y_true, y_pred, classes):
    """Per-class precision and recall plus the ``ALL`` row (macro averages and accuracy).

    Every class counts (scikit-learn's ``zero_division=0`` over the classes that are present):

    - a class with test images that is never predicted has precision **0** (not 0/0 = NaN, which
      a mean would skip: a method that never says ``fastfading`` would otherwise get the mean
      precision of the classes it does say);
    - a class absent from the test side has recall NaN (there is nothing to recall), and, when it
      is not predicted either, precision NaN: it takes no part in that split's macro averages;
    - a class absent from the test side but predicted has precision 0 (every such prediction is
      wrong) and counts in the macro precision.

    Returns
    -------
    list of dict with keys class, precision, recall, accuracy, n_test, n_pred
        ``n_pred``: how many test images the method put in the class (a precision of 0 with
        ``n_pred == 0`` is a class it never predicted).

    Examples
    --------
    >>> rows = split_metrics(["a", "b", "c"], ["a", "a", "b"], ["a", "b", "c"])
    >>> [round(float(r["precision"]), 3) for r in rows]
    [0.5, 0.0, 0.0, 0.167]
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    rows = []
    precisions, recalls = [], []
    for c in classes:
        t, p = y_true == c, y_pred == c
        tp = float(np.sum(t & p))
        if p.sum():
            prec = tp / p.sum()
        else:
            prec = 0.0 if t.sum() else np.nan
        rec = tp / t.sum() if t.sum() else np.nan
        precisions.append(prec)
        recalls.append(rec)
        rows.append({"class": str(c), "precision": prec, "recall": rec, "accuracy": np.nan, "n_test": int(t.sum()),
                     "n_pred": int(p.sum())})
    with np.errstate(all="ignore"):
        macro_p = np.nan if np.all(np.isnan(precisions)) else float(np.nanmean(precisions))
        macro_r = np.nan if np.all(np.isnan(recalls)) else float(np.nanmean(recalls))
    rows.append({"class": ALL, "precision": macro_p, "recall": macro_r,
                 "accuracy": float(np.mean(y_true == y_pred)), "n_test": int(y_true.size), "n_pred": int(y_pred.size)})
    return rows


def _default_model(data):
    if isinstance(data, GramFeatures):  # the paper head: C by inner CV grouped by reference (svm__groups)
        from ddriqa.classification.pipelines import ddr_svm

        return ddr_svm("cv")
    from sklearn.model_selection import GroupKFold

    from ddriqa.classification.pipelines import make_brisque_classifier

    return make_brisque_classifier(features=False, cv=GroupKFold(n_splits=5))


def _group_fit_params(model, groups):
    """Route ``groups`` to grid searches whose inner CV is group-aware (content-disjoint)."""
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    def wants(est):
        return isinstance(est, (GridSearchCV, RandomizedSearchCV)) and "Group" in type(est.cv).__name__

    if wants(model):
        return {"groups": groups}
    if isinstance(model, Pipeline):
        return {f"{name}__groups": groups for name, step in model.steps if wants(step)}
    return {}


def chosen_params(model):
    """The parameters that the grid searches of a fitted ``model`` chose, as text (``"C=100"``).

    Searches are found at the top level or as pipeline steps; ``""`` when there is none.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.svm import SVC
    >>> X = np.r_[np.zeros((6, 1)), np.ones((6, 1))]; y = np.repeat([0, 1], 6)
    >>> chosen_params(GridSearchCV(SVC(), {"C": [0.5, 2.0]}, cv=2).fit(X, y))
    'C=0.5'
    """
    from sklearn.model_selection import GridSearchCV, RandomizedSearchCV
    from sklearn.pipeline import Pipeline

    steps = [s for _, s in model.steps] if isinstance(model, Pipeline) else [model]
    found = []
    for step in steps:
        if isinstance(step, (GridSearchCV, RandomizedSearchCV)) and hasattr(step, "best_params_"):
            for name, value in sorted(step.best_params_.items()):
                text = f"{value:g}" if isinstance(value, (float, np.floating)) else str(value)
                found.append(f"{name.split('__')[-1]}={text}")
    return " ".join(found)


def _run_split(method, data, make_model, y, groups, split_index, train, test, classes, blas_threads=1):
    from sklearn.base import clone

    model = clone(make_model()) if callable(make_model) else clone(make_model)
    with blas_limit(blas_threads):
        if isinstance(data, GramFeatures):
            X_train, X_test = gram_pca_scores(data.gram, train, test, data.n_components)
        else:
            X_train, X_test = data[train], data[test]
        model.fit(X_train, y[train], **_group_fit_params(model, groups[train]))
        pred = model.predict(X_test)
    rows = split_metrics(y[test], pred, classes)
    chosen = chosen_params(model)
    for r in rows:
        r.update(method=method, split=split_index, chosen=chosen)
    return rows, np.asarray(pred).astype(str)


#: ``n_pred``: test images the method put in the class; ``chosen``: what the method's inner grid
#: search picked on that split's train side (:func:`chosen_params`)
_SPLIT_COLUMNS = ["method", "split", "class", "precision", "recall", "accuracy", "n_test", "n_pred", "chosen"]


def run_benchmark(features, y, groups, *, models=None, n_splits=100, test_size=0.2, seed=0,
                  classes=None, n_jobs=None, out_dir=None, blas_threads=1, splits=None, predictions=None):
    """Score every method on the same content-disjoint splits.

    Parameters
    ----------
    features : dict
        ``method name -> (n_samples, d) feature array`` or :class:`GramFeatures`. Rows align
        with ``y`` and ``groups``.
    y : array-like of shape (n_samples,)
        Distortion class of each image.
    groups : array-like of shape (n_samples,)
        Reference image of each image.
    models : dict or None
        ``method name -> estimator (cloned per split) or zero-argument factory``. Defaults:
        for :class:`GramFeatures`, the paper head after the per-split Gram PCA: global scaling
        and a linear SVC whose C is chosen from
        :data:`~ddriqa.classification.pipelines.PAPER_C_GRID` by 5-fold cross-validation grouped
        by reference on the PCA scores of the train side
        (:func:`~ddriqa.classification.pipelines.ddr_svm`; the PCA is fitted on the whole train
        side, so it sees the inner validation folds: a slight, standard leak into the choice of
        C only, never into the test side); the BRISQUE
        recipe (:func:`~ddriqa.classification.pipelines.make_brisque_classifier` with
        content-disjoint ``GroupKFold(5)`` inner folds) for feature arrays.
    n_splits, test_size, seed
        See :func:`content_disjoint_splits`; all methods use the same splits.
    classes : sequence or None
        Class order of the tables (default: sorted unique ``y``).
    n_jobs : int or None
        Splits run in parallel with joblib (backend left to the caller).
    out_dir : str or None
        When given, ``splits.csv`` is rewritten there after each method (finished methods are
        never lost) and :func:`write_benchmark` runs at the end.
    splits : list of (train, test) index arrays, optional
        Use these splits instead of :func:`content_disjoint_splits` (e.g. :func:`random_splits`,
        or one train-on-one-set, test-on-another split).
    predictions : dict, optional
        When given, filled with ``method -> list of (test_indices, predicted labels)``, one per
        split (for confusion matrices).
    blas_threads : int or None, default=1
        BLAS threads inside each split (threadpoolctl; None leaves the BLAS as it is). The
        per-split matrices are small (an eigendecomposition of the train Gram block, a linear
        SVM on ~120 dimensions): single-threaded they ran 20 splits in 1.0 s where the default
        two OpenBLAS threads took 28-73 s on the shared, loaded 2-core machine.

    Returns
    -------
    per_split : pandas.DataFrame
        Columns method, split, class, precision, recall, accuracy (ALL rows), n_test, n_pred,
        chosen (what the method's grid search chose on the split's train side, e.g. ``C=100``;
        empty for a method without one).
    summary : pandas.DataFrame
        See :func:`summarize`.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.tile(["a", "b"], 20); groups = np.repeat(np.arange(10), 4)
    >>> X = rng.normal(size=(40, 50)) + (y == "b")[:, None]
    >>> from sklearn.svm import SVC
    >>> per_split, summary = run_benchmark({"raw": X}, y, groups, models={"raw": SVC()}, n_splits=5)
    >>> summary["class"].tolist()
    ['a', 'b', 'ALL']
    """
    import pandas as pd
    from joblib import Parallel, delayed

    y = np.asarray(y)
    groups = np.asarray(groups)
    if y.ndim != 1 or groups.shape != y.shape:
        raise InputError(f"y and groups must be 1-D of the same length, got {y.shape} and {groups.shape}")
    if not features:
        raise InputError("features must name at least one method")
    prepared = {}
    for method, data in features.items():
        if isinstance(data, GramFeatures):
            g = np.asarray(data.gram)
            if g.shape != (y.size, y.size):
                raise InputError(f"{method}: Gram matrix of shape {g.shape}, expected ({y.size}, {y.size})")
            prepared[method] = data
        else:
            arr = np.asarray(data)
            if arr.ndim != 2 or arr.shape[0] != y.size:
                raise InputError(f"{method}: features of shape {arr.shape}, expected ({y.size}, d)")
            if not np.all(np.isfinite(arr)):
                raise InputError(f"{method}: features contain NaN or infinite values")
            prepared[method] = arr
    classes = [str(c) for c in (np.unique(y) if classes is None else classes)]
    y = y.astype(str)
    models = dict(models or {})
    if splits is None:
        splits = content_disjoint_splits(groups, n_splits=n_splits, test_size=test_size, seed=seed)
    rows = []
    for method, data in prepared.items():
        make_model = models[method] if method in models else (lambda d=data: _default_model(d))
        results = Parallel(n_jobs=n_jobs)(
            delayed(_run_split)(method, data, make_model, y, groups, i, tr, te, classes, blas_threads)
            for i, (tr, te) in enumerate(splits)
        )
        for r, pred in results:
            rows.extend(r)
        if predictions is not None:
            predictions[method] = [(te, pred) for (_, te), (_, pred) in zip(splits, results)]
        if out_dir is not None:
            Path(out_dir).mkdir(parents=True, exist_ok=True)
            pd.DataFrame(rows, columns=_SPLIT_COLUMNS).to_csv(Path(out_dir) / "splits.csv", index=False)
    per_split = pd.DataFrame(rows, columns=_SPLIT_COLUMNS)
    summary = summarize(per_split, classes=classes)
    if out_dir is not None:
        write_benchmark(per_split, summary, out_dir)
    return per_split, summary


def _median_iqr(values):
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return np.nan, np.nan
    q25, q50, q75 = np.percentile(v, [25, 50, 75])
    return float(q50), float(q75 - q25)


def summarize(per_split, classes=None):
    """Median and interquartile range (75th - 25th percentile, linear interpolation) over splits.

    NaN entries (a class absent from a test side, and for precision also never predicted there)
    are left out; a class with test images that a method never predicts has precision 0 in its
    split (see :func:`split_metrics`), so it pulls the median down instead of vanishing.

    Parameters
    ----------
    per_split : pandas.DataFrame
        As returned by :func:`run_benchmark`.
    classes : sequence or None
        Row order of the classes (``ALL`` last).

    Returns
    -------
    pandas.DataFrame
        Columns method, class, precision_median, precision_iqr, recall_median, recall_iqr,
        accuracy_median, accuracy_iqr (ALL rows only), n_splits.
    """
    import pandas as pd

    if classes is None:
        classes = sorted(c for c in per_split["class"].unique() if c != ALL)
    order = [str(c) for c in classes] + [ALL]
    out = []
    for method in dict.fromkeys(per_split["method"]):
        sub = per_split[per_split["method"] == method]
        for c in order:
            cell = sub[sub["class"] == c]
            if cell.empty:
                continue
            pm, pi = _median_iqr(cell["precision"])
            rm, ri = _median_iqr(cell["recall"])
            am, ai = _median_iqr(cell["accuracy"]) if c == ALL else (np.nan, np.nan)
            out.append({"method": method, "class": c, "precision_median": pm, "precision_iqr": pi,
                        "recall_median": rm, "recall_iqr": ri, "accuracy_median": am,
                        "accuracy_iqr": ai, "n_splits": int(cell["split"].nunique())})
    return pd.DataFrame(out, columns=["method", "class", "precision_median", "precision_iqr",
                                      "recall_median", "recall_iqr", "accuracy_median",
                                      "accuracy_iqr", "n_splits"])


def _cell(median, iqr, digits):
    if np.isnan(median):
        return "n/a"
    return f"{median:.{digits}f} ({iqr:.{digits}f})"


def summary_markdown(summary, digits=2, protocol="content-disjoint"):
    """Two Markdown tables like the paper's Table 1: precision, then recall (+ accuracy).

    Rows are methods, columns the classes and ``ALL``; cells read "median (IQR)".

    Returns
    -------
    str
    """
    classes = list(dict.fromkeys(summary["class"]))
    if ALL in classes:
        classes.remove(ALL)
        classes.append(ALL)
    n = int(summary["n_splits"].max()) if len(summary) else 0
    lines = []
    for metric, title in (("precision", "Precision"), ("recall", "Recall")):
        extra = ["accuracy"] if metric == "recall" else []
        note = ("; every class counts (a class with test images that a method never predicts has precision 0)"
                if metric == "precision" else "; the last column is the accuracy")
        lines.append(f"**{title}**: median (IQR) over {n} {protocol} splits{note}")
        lines.append("")
        lines.append("| method | " + " | ".join(classes + extra) + " |")
        lines.append("|---|" + "---|" * (len(classes) + len(extra)))
        for method in dict.fromkeys(summary["method"]):
            sub = summary[summary["method"] == method].set_index("class")
            cells = [
                _cell(sub.loc[c, f"{metric}_median"], sub.loc[c, f"{metric}_iqr"], digits) if c in sub.index else "n/a"
                for c in classes
            ]
            if extra:
                cells.append(_cell(sub.loc[ALL, "accuracy_median"], sub.loc[ALL, "accuracy_iqr"], digits)
                             if ALL in sub.index else "n/a")
            lines.append(f"| {method} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def write_benchmark(per_split, summary, out_dir, digits=2):
    """Write ``summary.csv``, ``summary.md`` and ``splits.csv`` into ``out_dir``.

    Returns
    -------
    dict of str -> pathlib.Path
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"summary.csv": out / "summary.csv", "summary.md": out / "summary.md", "splits.csv": out / "splits.csv"}
    per_split.to_csv(paths["splits.csv"], index=False)
    summary.to_csv(paths["summary.csv"], index=False)
    paths["summary.md"].write_text(summary_markdown(summary, digits=digits), encoding="utf-8")
    return paths
