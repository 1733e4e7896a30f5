"""Projection of deep features to 2-D points: PCA, then t-SNE, over several seeded runs.

This is the projection step of the paper's analysis protocol (Liu et al., "Discovering
Distinctive 'Semantics' in Super-Resolution Networks", Sec. 3.1 and App. A.4): the features of
each image are reduced to 50 dimensions with PCA, then t-SNE maps them to 2-D; t-SNE is run
several times (five in the paper) and the cluster measures of
:mod:`ddriqa.analysis.dispersion` are reported as mean and standard deviation over the runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ddriqa.errors import InputError

__all__ = ["METHODS", "Projection", "project", "run_seeds"]

METHODS = ("pca+tsne", "tsne", "pca")


@dataclass(frozen=True)
class Projection:
    """The 2-D points of every projection run.

    Attributes
    ----------
    points : numpy.ndarray of shape (n_runs, n_samples, 2)
        The projected points of each run.
    labels : numpy.ndarray of shape (n_samples,) or None
        The labels passed to :func:`project` (e.g. the degradation of each image).
    method : str
        The projection method.
    seeds : tuple of int
        The ``random_state`` given to t-SNE in each run (one entry per run).
    n_pca : int or None
        Number of PCA dimensions kept before t-SNE (None when PCA was not used first).
    """

    points: np.ndarray
    labels: np.ndarray | None
    method: str
    seeds: tuple = field(default=())
    n_pca: int | None = None

    @property
    def n_runs(self):
        """Number of runs."""
        return int(self.points.shape[0])

    def __len__(self):
        return self.n_runs

    def __iter__(self):
        return iter(self.points)


def run_seeds(seed, runs):
    """The per-run integer seeds derived from ``seed`` with :class:`numpy.random.SeedSequence`.

    Parameters
    ----------
    seed : int
        The master seed.
    runs : int
        Number of runs.

    Returns
    -------
    tuple of int
        ``runs`` independent seeds in ``[0, 2**31)``; the first ``k`` of them do not depend on ``runs``.
    """
    children = np.random.SeedSequence(int(seed)).spawn(int(runs))
    return tuple(int(c.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF) for c in children)


def _check_features(features):
    X = np.asarray(features)
    if X.ndim > 2:  # (n, C, H, W) feature maps: flatten per sample
        X = X.reshape(X.shape[0], -1)
    if X.ndim != 2:
        raise InputError(f"features must be a 2-D array (n_samples, n_features); got shape {X.shape}")
    if X.dtype.kind not in "fiu" or X.dtype == np.bool_:
        raise InputError(f"features must be numeric; got dtype {X.dtype}")
    if X.dtype.kind != "f":
        X = X.astype(np.float64)
    if X.shape[0] < 3:
        raise InputError(f"need at least 3 samples to project; got {X.shape[0]}")
    if not np.all(np.isfinite(X)):
        raise InputError("features contain NaN or infinite values")
    return X


def project(
    features,
    labels=None,
    method="pca+tsne",
    n_pca=50,
    runs=5,
    seed=0,
    *,
    perplexity=30.0,
    init="random",
    max_iter=1000,
    n_jobs=None,
):
    """Project features to 2-D points, once per run.

    Parameters
    ----------
    features : array-like of shape (n_samples, n_features)
        One row per image (float32 is kept as float32; ``(n, C, H, W)`` maps are flattened).
        ``n_features`` may be large: PCA runs first and works on the ``n_samples`` rows.
    labels : array-like of shape (n_samples,), optional
        The class of each row (only checked for length and carried along in the result).
    method : {"pca+tsne", "tsne", "pca"}, default="pca+tsne"
        ``"pca+tsne"``: PCA to ``n_pca`` dimensions, then t-SNE to 2-D (the paper's protocol).
        ``"tsne"``: t-SNE directly on the features. ``"pca"``: the first two principal
        components; PCA is deterministic, so there is a single run whatever ``runs`` says.
    n_pca : int, default=50
        PCA dimensions kept before t-SNE (capped at ``min(n_samples, n_features)``).
    runs : int, default=5
        Number of t-SNE runs, each with its own seed.
    seed : int, default=0
        Master seed; run ``r`` uses t-SNE ``random_state = run_seeds(seed, runs)[r]``.
    perplexity : float, default=30.0
        t-SNE perplexity (capped below ``n_samples - 1``).
    init : {"random", "pca"}, default="random"
        t-SNE initialisation. ``"random"`` (the scikit-learn default until 1.2, used in the paper's
        era) makes the runs differ, so that their spread is informative.
    max_iter : int, default=1000
        t-SNE iterations.
    n_jobs : int, optional
        Passed to :class:`sklearn.manifold.TSNE` (neighbour search).

    Returns
    -------
    Projection
        ``points`` of shape ``(n_runs, n_samples, 2)``.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.analysis.projection import project
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (20, 100)), rng.normal(3, 1, (20, 100))]).astype(np.float32)
    >>> proj = project(X, np.repeat(["a", "b"], 20), runs=2, seed=0, max_iter=250)
    >>> proj.points.shape
    (2, 40, 2)
    """
    from sklearn.decomposition import PCA

    if method not in METHODS:
        raise InputError(f"method must be one of {METHODS}; got {method!r}")
    X = _check_features(features)
    n = X.shape[0]
    if labels is not None:
        labels = np.asarray(labels)
        if labels.ndim != 1 or labels.shape[0] != n:
            raise InputError(f"labels must have shape ({n},) to match the features; got shape {labels.shape}")
    runs = int(runs)
    if runs < 1:
        raise InputError(f"runs must be >= 1; got {runs}")
    if int(n_pca) < 2:
        raise InputError(f"n_pca must be >= 2; got {n_pca}")
    seeds = run_seeds(seed, runs)

    if method == "pca":
        pca = PCA(n_components=2, svd_solver="full" if min(X.shape) <= 1000 else "randomized", random_state=int(seed))
        pts = pca.fit_transform(X).astype(np.float64)
        return Projection(points=pts[None], labels=labels, method=method, seeds=(int(seed),), n_pca=2)

    from sklearn.manifold import TSNE

    used_pca = None
    if method == "pca+tsne":
        used_pca = int(min(n_pca, n, X.shape[1]))
        if used_pca < X.shape[1]:
            # The full SVD works on the n x D matrix (n small); the randomized solver is only used
            # for many samples, seeded, so the projection is reproducible in both cases.
            solver = "full" if n <= 2000 else "randomized"
            X = PCA(n_components=used_pca, svd_solver=solver, random_state=int(seed)).fit_transform(X)
    X = np.ascontiguousarray(X, dtype=np.float64 if X.dtype == np.float64 else np.float32)
    perp = float(min(perplexity, max(1.0, (n - 1) / 3.0)))
    out = np.empty((runs, n, 2), dtype=np.float64)
    for r, s in enumerate(seeds):
        tsne = TSNE(
            n_components=2,
            perplexity=perp,
            init=init,
            learning_rate="auto",
            max_iter=int(max_iter),
            random_state=s,
            n_jobs=n_jobs,
        )
        out[r] = tsne.fit_transform(X)
    return Projection(points=out, labels=labels, method=method, seeds=seeds, n_pca=used_pca)
