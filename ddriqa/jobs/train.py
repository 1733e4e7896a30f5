"""The job behind ``ddriqa train``: read a labelled set, fit a DDR or BRISQUE classifier.

:func:`load_training_set` reads the set (LIVE layout or one sub-folder per class) and passes the
loader's warnings (images with no class folder) to a ``log`` function instead of Python's
warning printer; :func:`fit_classifier` fits the classifier, with inner cross-validation folds and
a PCA dimension that fit the size of the set (each adjustment is logged).
"""

from __future__ import annotations

import warnings

import numpy as np

from ddriqa.errors import InputError
from ddriqa.features.presets import DEFAULT_CROP, DEFAULT_LAYER, DEFAULT_WEIGHTS

__all__ = ["fit_classifier", "load_training_set"]

#: inner cross-validation folds of the BRISQUE grid search (fewer when the set is smaller)
MAX_FOLDS = 5


def load_training_set(data, log=None):
    """The table of a labelled image set, its warnings sent to ``log``.

    Parameters
    ----------
    data : str or os.PathLike
        A LIVE-layout folder or a folder with one sub-folder of images per class
        (:func:`ddriqa.datasets.folders.load_dataset`).
    log : callable, optional
        ``log(str)``; each warning of the loader arrives as ``"warning: <message>"``. Without
        it, the warnings are issued as Python warnings.

    Returns
    -------
    pandas.DataFrame
        Columns ``path``, ``distortion``, ``reference``, ``param``, ``dmos``.

    Raises
    ------
    ddriqa.errors.InputError
        No such folder, or no image in it.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> from ddriqa.jobs.train import load_training_set
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "wn").mkdir()
    >>> _ = write_image(root / "wn" / "a.png", np.zeros((4, 4), np.uint8))
    >>> _ = write_image(root / "loose.png", np.zeros((4, 4), np.uint8))
    >>> table = load_training_set(root, log=lambda m: print(m.split(":")[0]))
    warning
    >>> table["distortion"].tolist()
    ['wn']
    """
    from ddriqa.datasets.folders import load_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        table = load_dataset(data)
    for w in caught:
        if log is not None and issubclass(w.category, UserWarning):
            log(f"warning: {w.message}")
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    return table


def _brisque_cv(y, groups, seed):
    """Inner folds of the grid search, grouped by reference when there are two references or more,
    else stratified; returns ``(cv, fit keyword arguments, description)``."""
    from sklearn.model_selection import GroupKFold, StratifiedKFold

    n_groups = len(np.unique(groups)) if groups is not None else 0
    if n_groups >= 2:
        k = min(MAX_FOLDS, n_groups)
        return GroupKFold(n_splits=k), {"svm__groups": groups}, f"{k} folds grouped by reference image"
    classes, counts = np.unique(y, return_counts=True)
    smallest = int(counts.min())
    if smallest < 2:
        raise InputError(
            f"class {classes[counts.argmin()]!r} has 1 image; the grid search of C and gamma needs at "
            "least 2 images per class (or reference names, as in the LIVE layout)"
        )
    k = min(MAX_FOLDS, smallest)
    return StratifiedKFold(n_splits=k, shuffle=True, random_state=seed), {}, f"{k} stratified folds"


def fit_classifier(table, features="brisque", *, weights=DEFAULT_WEIGHTS, layer=DEFAULT_LAYER, crop=DEFAULT_CROP,
                   pad="error", n_components=120, device="auto", seed=0, n_jobs=None, preset=None, log=None):
    """Fit the DDR or BRISQUE classifier on a dataset table (columns path, distortion[, reference]).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`load_training_set`; at least two classes.
    features : {"brisque", "ddr"}, default="brisque"
    weights, layer, crop, pad : DDR backbone, layer, central crop and padding
        (see :func:`ddriqa.classification.pipelines.make_ddr_classifier`); defaults from
        :mod:`ddriqa.features.presets`.
    n_components : int, default=120
        DDR PCA dimension; capped at the number of training images minus one.
    device : str, default="auto"
    seed : int, default=0
        Seed of the inner folds, of the PCA and of a ``"random"`` backbone.
    n_jobs : int, optional
        BRISQUE grid search: parallel jobs.
    preset : str, optional
        With ``features="ddr"``: a pooled preset of :mod:`ddriqa.features.presets` (``"ddr"``,
        ``"ddr-fast"``) instead of the paper's head; ``weights``, ``layer``, ``crop`` and
        ``n_components`` are then the preset's.
    log : callable, optional
        ``log(str)``, told (``"note: ..."``) how the folds or the PCA dimension were fitted to the set,
        before the fit starts.

    Returns
    -------
    sklearn.pipeline.Pipeline
        The fitted classifier.

    Notes
    -----
    BRISQUE's C and gamma are chosen by grid search with inner folds that are disjoint in
    content (grouped by ``reference``) when the table names at least two references, else
    stratified folds, at most :data:`MAX_FOLDS` and no more than the smallest class has images.
    The paper head's C is chosen likewise from
    :data:`~ddriqa.classification.pipelines.PAPER_C_GRID` on the PCA scores of all training images
    (the PCA is fitted once on them, before the inner folds); the saved model keeps the SVC
    refitted with the chosen C, and the file's ``info`` the search (grid, scores).
    """
    from ddriqa.classification.pipelines import PAPER_C_GRID, make_brisque_classifier, make_ddr_classifier

    log = log or (lambda message: None)
    paths = table["path"].astype(str).tolist()
    y = table["distortion"].astype(str).to_numpy()
    if len(np.unique(y)) < 2:
        raise InputError(f"need at least two classes to train a classifier, found {np.unique(y).tolist()}")
    if features == "brisque":
        groups = None
        if "reference" in table and table["reference"].notna().all():
            groups = table["reference"].astype(str).to_numpy()
        cv, fit_params, how = _brisque_cv(y, groups, seed)
        log(f"note: grid search of C and gamma with {how}")
        return make_brisque_classifier(cv=cv, n_jobs=n_jobs, random_state=seed).fit(paths, y, **fit_params)
    if preset is not None:
        from ddriqa.classification.pipelines import make_preset_classifier

        model = make_preset_classifier(preset, device=device)
        fit_params = {}
        if "reference" in table and table["reference"].notna().all() and table["reference"].nunique() >= 2:
            fit_params = {f"{model.steps[-1][0]}__groups": table["reference"].astype(str).to_numpy()}
            log(f"note: C of the {preset} head by grid search with folds grouped by reference image")
        return model.fit(paths, y, **fit_params)
    if n_components > len(paths) - 1:
        log(f"note: PCA dimension capped at {len(paths) - 1} ({len(paths)} training images; asked {n_components})")
        n_components = max(1, len(paths) - 1)
    model = make_ddr_classifier(weights=weights, layer=layer, crop=crop, pad=pad, n_components=n_components,
                                device=device, random_state=seed)
    fit_params, how = {}, "5 stratified folds (no reference names)"
    if "reference" in table and table["reference"].notna().all() and table["reference"].nunique() >= 2:
        fit_params = {"svm__groups": table["reference"].astype(str).to_numpy()}
        how = f"{min(5, table['reference'].nunique())} folds grouped by reference image"
    log(f"note: C of the linear SVM chosen from {', '.join(f'{c:g}' for c in PAPER_C_GRID)} with {how}, "
        "on the PCA scores of all training images")
    model.fit(paths, y, **fit_params)
    search = model.named_steps["svm"]
    log(f"note: chosen C = {search.best_params_['C']:g} (inner accuracy {search.best_score_:.3f})")
    return model
