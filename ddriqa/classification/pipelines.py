"""Ready-made distortion classifiers: DDR + PCA + linear SVM, and BRISQUE + RBF SVM.

Both factories return an unfitted :class:`sklearn.pipeline.Pipeline`; with ``features=False``
they return the same pipeline without the feature extractor, for precomputed features (the
benchmark extracts every image once and reuses the features across splits). Both fit on any
training fold a cross-validation gives them: the DDR PCA dimension is capped at what the fold
allows (:class:`CappedStreamingPCA`, a capping subclass of the streaming PCA), and the BRISQUE
grid search uses folds grouped by reference image when ``fit`` is given ``svm__groups``
(:class:`StratifiedOrGroupKFold`).
"""

from __future__ import annotations

import inspect

import numpy as np
from sklearn.model_selection import GridSearchCV, GroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from ddriqa.classification.pca import StreamingPCA as _StreamingPCA
from ddriqa.classification.scaling import GlobalScaler
from ddriqa.errors import InputError
from ddriqa.features.presets import DEFAULT_CROP, DEFAULT_LAYER, DEFAULT_WEIGHTS

__all__ = [
    "make_ddr_classifier",
    "make_brisque_classifier",
    "make_pooled_ddr_classifier",
    "pooled_vote_search",
    "POOLED_C_GRID",
    "make_preset_classifier",
    "ddr_svm",
    "PAPER_C_GRID",
    "pooled_svm",
    "CappedStreamingPCA",
    "StratifiedOrGroupKFold",
    "BRISQUE_C_GRID",
    "BRISQUE_GAMMA_GRID",
]

#: LIBSVM guide's coarse grid (Hsu, Chang, Lin): C = 2^-5, 2^-3, ..., 2^15
BRISQUE_C_GRID = tuple(float(2.0**e) for e in range(-5, 16, 2))
#: gamma = 2^-15, 2^-13, ..., 2^3
BRISQUE_GAMMA_GRID = tuple(float(2.0**e) for e in range(-15, 4, 2))


#: C values of the paper head's grid search (:func:`ddr_svm` with ``C="cv"``): 10^-2, 10^-1, ..., 10^5.
#: After :class:`~ddriqa.classification.scaling.GlobalScaler` the PCA scores have an RMS distance of 1 to
#: their mean; on real flattened maps the distortion classes differ along directions of small variance,
#: so a fixed ``C = 1`` can underfit to the majority class (measured:
#: ``benchmarks/results/identification.md``, section "The paper's head with C chosen by grouped CV")
PAPER_C_GRID = tuple(float(10.0**e) for e in range(-2, 6))


def ddr_svm(C="cv", *, C_grid=PAPER_C_GRID, cv=5, random_state=0, n_jobs=None):
    """The classifier that follows the PCA in the DDR method: global scale + linear-kernel SVC.

    Returns ``Pipeline([("scale", GlobalScaler()), ("svm", SVM)])``, where ``SVM`` is
    ``SVC(kernel="linear", C=C)`` for a number ``C``, or, for ``C="cv"`` (the default), a
    :class:`~sklearn.model_selection.GridSearchCV` of that SVC over ``C_grid``
    (:data:`PAPER_C_GRID`) with ``cv`` inner folds, refitted on all the data it is given.
    An int ``cv`` means :class:`StratifiedOrGroupKFold`: folds grouped by reference image when
    ``fit`` gets ``svm__groups=references`` (``min(cv, number of references)`` folds, as the
    BRISQUE head and ``ddriqa train`` do), stratified folds without groups or with a single
    reference (at most as many as the smallest class has images, at least 2). The search scores
    accuracy; among equal scores the smallest C wins.

    :class:`~ddriqa.classification.scaling.GlobalScaler` divides the PCA scores by one number
    (their RMS distance to the mean), which keeps the geometry and puts every backbone and layer
    on one scale (raw activation magnitudes differ by orders), so one grid of C serves all.
    It is fitted on all the data given to ``fit``, before the inner folds (one number: the
    folds see the same rescaling). In the DDR pipeline and in the benchmark's Gram route the
    PCA, too, is fitted on the whole training side and C is chosen on its scores, so the PCA
    basis has seen the inner validation folds: a slight, standard leak that concerns only the
    choice of C, never the outer test side.

    ``SVC(kernel="linear")`` (LIBSVM) rather than ``LinearSVC`` (LIBLINEAR): it minimises the
    standard hinge loss with an unpenalised intercept, solves the dual exactly and handles the
    5 classes one-vs-one, as the LIBSVM-based IQA identification literature (BRISQUE, DIIVINE)
    did; LinearSVC's default squared hinge, penalised intercept and one-vs-rest scheme are a
    different classifier. With ~120 PCA dimensions and < 10^4 images LIBSVM is fast.
    No class weights: LIVE's classes are near-balanced and the paper uses none.

    Parameters
    ----------
    C : float or "cv", default="cv"
    C_grid : sequence of float, default=PAPER_C_GRID
        Candidates of ``C="cv"``.
    cv : int or cross-validation splitter, default=5
    random_state : int or None, default=0
        Seed of the stratified folds.
    n_jobs : int or None, default=None
        Parallel jobs of the grid search.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a", "b"], 20); X = rng.normal(size=(40, 5)) * [100, 100, 100, 100, 1]
    >>> X[y == "b", 4] += 3  # the classes differ along a direction of small variance
    >>> head = ddr_svm().fit(X, y, svm__groups=np.arange(40) % 8)
    >>> head.named_steps["svm"].best_params_["C"], head.score(X, y)
    (100000.0, 0.95)
    >>> ddr_svm(1.0).fit(X, y).score(X, y)  # a fixed C = 1 is at chance here
    0.5
    """
    if isinstance(C, str):
        if C != "cv":
            raise InputError(f"C must be a positive number or 'cv', got {C!r}")
        grid = _positive_grid(C_grid, "C_grid")
        if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
            if cv < 2:
                raise InputError(f"cv must be >= 2 folds, got {cv}")
            cv = StratifiedOrGroupKFold(n_splits=int(cv), random_state=random_state, adapt=True)
        svm = GridSearchCV(SVC(kernel="linear"), {"C": grid}, cv=cv, n_jobs=n_jobs, refit=True)
    else:
        svm = SVC(kernel="linear", C=float(C))
    return Pipeline([("scale", GlobalScaler()), ("svm", svm)])


class CappedStreamingPCA(_StreamingPCA):
    """The PCA step of :func:`make_ddr_classifier`: a :class:`ddriqa.classification.pca.StreamingPCA`
    whose ``n_components`` is an upper bound, capped at fit time to what the data allow.

    The centred features of ``n`` training images span at most ``n - 1`` directions, so the
    dimension kept is ``min(n_components, n_samples - 1, n_features)`` (at least 1), chosen
    when ``fit`` sees the data; ``n_components_`` says what was kept. A training fold of a
    cross-validation (``cross_val_score``, a grid search) smaller than ``n_components`` is thus
    fitted instead of refused, as ``ddriqa train`` does for a small training set. The parameter
    ``n_components`` itself is never changed (``clone`` and ``get_params`` see what was asked).

    It has exactly the parameters and fitted attributes of the streaming PCA, and is saved and
    loaded under its own name (:mod:`ddriqa.classification.persistence`).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.classification.pipelines import CappedStreamingPCA
    >>> X = np.random.default_rng(0).normal(size=(10, 300))
    >>> CappedStreamingPCA(n_components=120).fit(X).n_components_
    9
    """

    def _n_components_for(self, n_samples, n_features):
        limit = max(1, min(int(n_samples) - 1, int(n_features)))
        if self.n_components is None:
            return limit
        return min(int(self.n_components), limit)


def make_ddr_classifier(
    weights=DEFAULT_WEIGHTS,
    layer=DEFAULT_LAYER,
    crop=DEFAULT_CROP,
    n_components=120,
    C="cv",
    device="auto",
    batch_size=None,
    random_state=0,
    *,
    features=True,
    pad="error",
    solver="exact",
    chunk_size=32,
    spill_dir=None,
):
    """DDR distortion classifier: SR-network features -> PCA -> linear SVM (Liu et al.).

    The features (``64 x crop x crop`` values per image, 589,824 for the default 96x96 crop)
    are streamed chunk by chunk through a streaming PCA (:class:`CappedStreamingPCA`)
    step that wraps the :class:`~ddriqa.features.ddr.DDRExtractor`, so fitting never holds the
    feature matrix in memory (the exact solver spills it to a temporary file; see
    :class:`StreamingPCA`).

    Parameters
    ----------
    weights : str or torch.nn.Module, default=DEFAULT_WEIGHTS
        Backbone: a shipped weights name, a ``.safetensors`` path, a module, or ``"random"``.
        The defaults of ``weights``, ``layer`` and ``crop`` are those of
        :mod:`ddriqa.features.presets` (``DEFAULT_WEIGHTS``, ``DEFAULT_LAYER``, ``DEFAULT_CROP``).
    layer : str, default=DEFAULT_LAYER
    crop : int, default=DEFAULT_CROP
        Side of the central crop whose features are used.
    n_components : int, default=120
        PCA dimension (the paper's 120), an upper bound: a training set (or cross-validation
        fold) of ``n`` images keeps ``min(n_components, n - 1)`` (:class:`CappedStreamingPCA`), so
        ``cross_val_score`` works on small folds; ``pipe[0].n_components_`` says what was kept.
    C : float or "cv", default="cv"
        SVM regularisation; ``"cv"``: chosen from :data:`PAPER_C_GRID` by :func:`ddr_svm`'s
        5-fold inner cross-validation on the PCA scores of the training images, grouped by
        reference image when ``fit`` is given ``svm__groups=references`` (``ddriqa train`` does),
        else stratified; ``pipe.named_steps["svm"].best_params_["C"]`` says which, and a saved
        model keeps the refitted SVC with that C (:mod:`ddriqa.classification.persistence`).
    device : str, default="auto"
    batch_size : int or None, default=None
        Images per network call (extractor default when None).
    random_state : int or None, default=0
        Seed of the random-init backbone (``weights="random"``) and of the PCA basis completion.
    features : bool, default=True
        ``False``: return the pipeline without the extractor (``PCA -> SVM``), for a
        precomputed 2-D feature array.
    pad : {"error", "reflect"}, default="error"
        Images smaller than the crop: refuse (naming the file) or mirror-pad.
    solver : {"exact", "incremental"}, default="exact"
    chunk_size : int, default=32
        Images per streamed chunk.
    spill_dir : str or None, default=None
        Folder for the temporary feature file of the exact PCA.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``("pca", CappedStreamingPCA)``, ``("scale", GlobalScaler)`` and ``("svm", SVC)``
        (``("svm", GridSearchCV)`` of that SVC with ``C="cv"``).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(30, 500)); y = np.repeat(["a", "b", "c"], 10)
    >>> X[y == "b", 0] += 10; X[y == "c", 1] += 10
    >>> clf = make_ddr_classifier(n_components=5, features=False).fit(X, y)
    >>> clf.predict(X[[0, 10, 20]]).tolist()
    ['a', 'b', 'c']
    """
    extractor = None
    if features:
        from ddriqa.features.ddr import DDRExtractor

        kwargs = dict(weights=weights, layer=layer, crop=crop, pad=pad, device=device, batch_size=batch_size)
        if "random_state" in inspect.signature(DDRExtractor).parameters:
            kwargs["random_state"] = random_state
        extractor = DDRExtractor(**kwargs)
    pca = CappedStreamingPCA(
        extractor=extractor,
        n_components=n_components,
        solver=solver,
        chunk_size=chunk_size,
        spill_dir=spill_dir,
        random_state=random_state,
    )
    return Pipeline([("pca", pca), *ddr_svm(C, random_state=random_state).steps])


def _positive_grid(values, name):
    """``values`` as a non-empty list of positive finite floats, or an InputError showing them."""
    try:
        if isinstance(values, (str, bytes)):
            raise TypeError
        grid = [float(v) for v in values]
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a non-empty list of positive numbers, got {values!r:.80}") from None
    if not grid or not all(np.isfinite(v) and v > 0 for v in grid):
        raise InputError(f"{name} must be a non-empty list of positive numbers, got {values!r:.80}")
    return grid


class StratifiedOrGroupKFold(StratifiedKFold):
    """K folds that are disjoint in content when groups are given, else stratified.

    ``split(X, y, groups=None)``: a shuffled :class:`~sklearn.model_selection.StratifiedKFold`
    (seeded by ``random_state``) without groups; with groups (e.g. the reference image of each
    distorted image), a :class:`~sklearn.model_selection.GroupKFold` of
    ``min(n_splits, number of groups)`` folds, so no reference is on both sides of a fold, as
    ``ddriqa train`` does. The inner cross-validation of :func:`make_brisque_classifier` when
    ``cv`` is an int; the groups reach it through ``fit(X, y, svm__groups=groups)``.

    Parameters
    ----------
    n_splits : int, default=5
    shuffle : bool, default=True
        Stratified folds only (GroupKFold is deterministic).
    random_state : int or None, default=None
    adapt : bool, default=False
        True (the paper head's C search): groups that name a single group (a training side of
        one reference, where no grouped fold exists) fall back to stratified folds, so that a
        benchmark split with one training reference still runs (its outer split stays
        content-disjoint); and stratified folds are at most as many as the smallest class has
        images (at least 2), so that a small training set still gets a search. False: refuse a
        single group; ``n_splits`` stratified folds.

    Raises
    ------
    ddriqa.errors.InputError
        From ``split``: groups that name fewer than two distinct groups (``adapt=False``).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.classification.pipelines import StratifiedOrGroupKFold
    >>> y = np.array(["a", "b"] * 6); refs = np.repeat(["r1", "r2", "r3"], 4)
    >>> cv = StratifiedOrGroupKFold(n_splits=5, random_state=0)
    >>> sorted(str(r) for _, test in cv.split(np.zeros((12, 1)), y, refs) for r in set(refs[test]))
    ['r1', 'r2', 'r3']
    >>> cv.get_n_splits(groups=refs), cv.get_n_splits()
    (3, 5)
    """

    def __init__(self, n_splits=5, *, shuffle=True, random_state=None, adapt=False):
        super().__init__(n_splits=n_splits, shuffle=shuffle, random_state=random_state)
        self.adapt = adapt

    def _folds(self, y, groups):
        """The splitter for this call: GroupKFold, or None for ``self``'s stratified folds, or
        (``adapt``) a StratifiedKFold with fewer folds for small classes."""
        if groups is not None:
            n_groups = len(np.unique(np.asarray(groups)))
            if n_groups >= 2:
                return GroupKFold(n_splits=min(self.n_splits, n_groups))
            if not self.adapt:
                raise InputError(f"folds grouped by reference need at least two groups, got {n_groups}")
        if self.adapt and y is not None:
            smallest = int(np.unique(np.asarray(y), return_counts=True)[1].min())
            k = max(2, min(self.n_splits, smallest))
            if k < self.n_splits:
                return StratifiedKFold(n_splits=k, shuffle=self.shuffle, random_state=self.random_state)
        return None

    def split(self, X, y=None, groups=None):
        folds = self._folds(y, groups)
        if folds is None:
            return super().split(X, y)
        return folds.split(X, y, groups)

    def get_n_splits(self, X=None, y=None, groups=None):
        folds = self._folds(y, groups)
        if folds is None:
            return self.n_splits
        return folds.get_n_splits(X, y, groups)


def make_brisque_classifier(
    cv=5,
    n_jobs=None,
    random_state=0,
    *,
    features=True,
    C_grid=BRISQUE_C_GRID,
    gamma_grid=BRISQUE_GAMMA_GRID,
):
    """BRISQUE distortion classifier: 36 features -> [-1, 1] scaling -> RBF SVM (Mittal et al.).

    The BRISQUE paper's identification recipe: features min-max scaled to [-1, 1] (LIBSVM's
    ``svm-scale``, fitted on the training data), an RBF-kernel SVC whose ``C`` and ``gamma``
    are chosen by cross-validated grid search over log2 grids on the training data only
    (:class:`~sklearn.model_selection.GridSearchCV`, refitted on all training data).

    Parameters
    ----------
    cv : int or cross-validation splitter, default=5
        Inner cross-validation of the grid search. An int ``k`` means
        :class:`StratifiedOrGroupKFold` ``(k, random_state=random_state)``: content-disjoint
        folds grouped by reference image when the fit is given the groups,
        ``clf.fit(X, y, svm__groups=references)`` (``min(k, number of references)`` folds, as
        ``ddriqa train`` does), else shuffled stratified folds. A splitter is used as given.
    n_jobs : int or None, default=None
        Parallel jobs of the feature extraction and of the grid search (joblib; the backend is
        left to the caller's ``joblib.parallel_config``).
    random_state : int or None, default=0
    features : bool, default=True
        ``False``: return the pipeline without the extractor, for precomputed ``(n, 36)``
        features.
    C_grid, gamma_grid : sequence of float
        Default: the LIBSVM guide's grid, ``C = 2^-5..2^15``, ``gamma = 2^-15..2^3`` (steps of 2^2).

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``("brisque", BRISQUEExtractor)`` (when ``features``), ``("scale", MinMaxScaler)``,
        ``("svm", GridSearchCV(SVC))``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 36)); y = np.repeat(["a", "b"], 20); X[y == "b"] += 2
    >>> clf = make_brisque_classifier(features=False, C_grid=[1, 10], gamma_grid=[0.01, 0.1])
    >>> clf.fit(X, y).score(X, y) > 0.9
    True
    >>> refs = np.tile(["r1", "r2", "r3", "r4"], 10)  # content-disjoint inner folds
    >>> clf.fit(X, y, svm__groups=refs).named_steps["svm"].n_splits_
    4
    """
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise InputError(f"cv must be >= 2 folds, got {cv}")
        cv = StratifiedOrGroupKFold(n_splits=int(cv), random_state=random_state)
    C_grid, gamma_grid = _positive_grid(C_grid, "C_grid"), _positive_grid(gamma_grid, "gamma_grid")
    search = GridSearchCV(
        SVC(kernel="rbf"),
        {"C": C_grid, "gamma": gamma_grid},
        cv=cv,
        n_jobs=n_jobs,
        refit=True,
    )
    steps = [("scale", MinMaxScaler(feature_range=(-1, 1))), ("svm", search)]
    if features:
        from ddriqa.features.brisque import BRISQUEExtractor

        steps.insert(0, ("brisque", BRISQUEExtractor(n_jobs=n_jobs)))
    return Pipeline(steps)


def pooled_svm(C=0.1):
    """The head of the pooled DDR presets: standardisation + linear SVM with balanced classes.

    Returns ``Pipeline([("scale", StandardScaler()), ("svm", LinearSVC(C=C,
    class_weight="balanced", dual=False))])``. Pooled channel statistics are a few hundred to a few thousand
    numbers of very different scales (a mean and a spread per channel and layer), so each is
    standardised on the training set; balanced class weights keep a larger class (``pristine``
    from a set with many references) from taking over the margin. The primal solver
    (``dual=False``) fits 600 images x 1,152 features in 0.3 s where the dual took 9 s.
    """
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import LinearSVC

    return Pipeline([("scale", StandardScaler()),
                     ("svm", LinearSVC(C=C, class_weight="balanced", dual=False, max_iter=5000))])


#: C values of the pooled head's grid search (inner folds grouped by reference image); a larger C fits
#: much slower (600 LIVE-like Kodak images x 4 crops: 1.6 s at C=0.1, 2.7 s at 1, 10.8 s at 3)
POOLED_C_GRID = (0.1, 0.3, 1.0)


def pooled_vote_search(n_crops, C_grid=POOLED_C_GRID, cv=5, random_state=0, n_jobs=None):
    """The crop-vote head with C chosen by inner cross-validation on the training side.

    ``GridSearchCV(CropVoteClassifier(pooled_svm()), {"estimator__svm__C": C_grid})`` with
    :class:`StratifiedOrGroupKFold` folds: grouped by reference image when ``fit`` is given
    ``groups`` (content-disjoint, as the benchmark's outer splits), else stratified. Saved
    models keep the refitted best estimator
    (:mod:`ddriqa.classification.persistence`).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a", "b"], 20); X = rng.normal(size=(40, 2, 3)); X[y == "b", :, 0] += 2
    >>> search = pooled_vote_search(2, C_grid=(0.1, 1.0)).fit(X.reshape(40, -1), y, groups=np.arange(40) // 4)
    >>> search.best_params_["estimator__svm__C"] in (0.1, 1.0)
    True
    """
    from ddriqa.classification.voting import CropVoteClassifier

    grid = _positive_grid(C_grid, "C_grid")
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        cv = StratifiedOrGroupKFold(n_splits=int(cv), random_state=random_state)
    return GridSearchCV(CropVoteClassifier(pooled_svm(), n_crops=int(n_crops)), {"estimator__svm__C": grid},
                        cv=cv, n_jobs=n_jobs, refit=True)


def make_pooled_ddr_classifier(weights="realesrgan_x4plus", layer=("RRDB1", "RRDB2", "RRDB4"), crop=64,
                               crops="grid", n_crops=4, vote=True, C="cv", device="auto", batch_size=None,
                               random_state=0, *, features=True, pad="reflect"):
    """Pooled DDR classifier: channel statistics of SR-network features -> linear SVM.

    The :class:`~ddriqa.features.ddr.DDRExtractor` with ``pooling="stats"`` reduces each
    feature map to the per-channel mean, standard deviation and mean absolute value (what a
    degradation does to texture, rather than where the edges are), on ``n_crops`` crops laid
    out by ``crops``. With ``vote=True`` (the ``ddr`` preset) every crop is classified by
    :func:`pooled_svm` and the decisions are averaged over an image's crops
    (:class:`~ddriqa.classification.voting.CropVoteClassifier`); with ``vote=False`` the
    features are averaged over the crops and classified once.

    Parameters
    ----------
    weights, layer, crop, crops, n_crops, device, batch_size, random_state, pad
        :class:`~ddriqa.features.ddr.DDRExtractor` parameters (defaults: the ``ddr`` preset of
        :mod:`ddriqa.features.presets`).
    vote : bool, default=True
        Average decisions over crops (True) or features (False).
    C : float or "cv", default="cv"
        Linear SVM regularisation; ``"cv"`` (with ``vote``): chosen from :data:`POOLED_C_GRID` by
        :func:`pooled_vote_search` (pass ``vote__groups=references`` to ``fit`` for
        content-disjoint inner folds).
    features : bool, default=True
        ``False``: return only the head, for precomputed features.

    Returns
    -------
    sklearn.pipeline.Pipeline
        Steps ``("ddr", DDRExtractor)`` (when ``features``), then ``("vote", GridSearchCV)``
        (:func:`pooled_vote_search`), ``("vote", CropVoteClassifier)`` for a number ``C``, or
        ``("scale", StandardScaler)``, ``("svm", LinearSVC)`` without ``vote``.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.models.srresnet import SRResNet
    >>> rng = np.random.default_rng(0)
    >>> images = rng.integers(0, 256, (12, 24, 24, 3), dtype=np.uint8)
    >>> images[6:] = images[6:] // 8  # a second, darker "class"
    >>> y = np.repeat(["a", "b"], 6)
    >>> clf = make_pooled_ddr_classifier(weights=SRResNet(num_features=4, num_blocks=2), layer="ResBlock2",
    ...                                  crop=16, crops="grid", n_crops=4, C=1.0, device="cpu")
    >>> clf.fit(images, y).predict(images[[0, 11]]).tolist()
    ['a', 'b']
    """
    if isinstance(C, str) and C != "cv":
        raise InputError(f"C must be a positive number or 'cv', got {C!r}")
    if vote and C == "cv":
        head = Pipeline([("vote", pooled_vote_search(n_crops, random_state=random_state))])
    elif vote:
        from ddriqa.classification.voting import CropVoteClassifier

        head = Pipeline([("vote", CropVoteClassifier(pooled_svm(C), n_crops=n_crops))])
    else:
        head = pooled_svm(0.1 if C == "cv" else C)
    if not features:
        return head
    from ddriqa.features.ddr import DDRExtractor

    extractor = DDRExtractor(weights=weights, layer=layer, crop=crop, crops=crops, n_crops=n_crops,
                             pooling="stats", aggregate="none" if vote else "mean", pad=pad, device=device,
                             batch_size=batch_size, random_state=random_state)
    return Pipeline([("ddr", extractor), *head.steps])


def make_preset_classifier(name, *, features=True, device="auto", **overrides):
    """The classifier of a named preset of :mod:`ddriqa.features.presets`.

    Parameters
    ----------
    name : str
        ``"paper"`` (:func:`make_ddr_classifier`: flattened map, PCA(120), linear SVM),
        ``"ddr"``, ``"ddr-fast"`` or ``"ddr-9"`` (:func:`make_pooled_ddr_classifier`, crop vote).
    features : bool, default=True
        ``False``: the head only, for precomputed features.
    device : str, default="auto"
    **overrides
        Extractor parameters to change, e.g. ``weights="random_rrdbnet"`` for the random-init
        control of a Real-ESRGAN preset.

    Returns
    -------
    sklearn.pipeline.Pipeline

    Examples
    --------
    >>> make_preset_classifier("ddr-fast", features=False).steps[-1][0]
    'vote'
    >>> make_preset_classifier("paper").steps[0][1].extractor.layer
    'ResBlock16'
    """
    from ddriqa.features.presets import PRESETS, preset_params

    params = preset_params(name, **overrides)
    head = PRESETS[name]["head"]
    if head == "pca-linear-svm":
        if params.get("pooling", "none") != "none" or params.get("crops", "center") != "center":
            raise InputError(f"preset {name!r}: the PCA head takes the flattened central crop only")
        return make_ddr_classifier(weights=params["weights"], layer=params["layer"], crop=params["crop"],
                                   device=device, features=features)
    if head in ("scaled-linear-svm", "crop-vote"):
        if params.get("pooling") != "stats":
            raise InputError(f"preset {name!r}: the pooled head needs pooling='stats'")
        return make_pooled_ddr_classifier(weights=params["weights"], layer=params["layer"], crop=params["crop"],
                                          crops=params["crops"], n_crops=params["n_crops"],
                                          vote=head == "crop-vote", device=device, features=features)
    raise InputError(f"preset {name!r} names an unknown head {head!r}")
