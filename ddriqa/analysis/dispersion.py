"""Cluster measures of projected points: WD, BD and the Calinski-Harabasz index (CHI).

Definitions as in the paper (Liu et al., arXiv 2108.00406, App. A.4, Eqs. 8-10), for ``K``
classes and ``N`` points ``x_ik`` (point ``i`` of class ``k``, ``n(k)`` points in class ``k``)::

    WD = sum_k sum_i ||x_ik - mean_k||^2          (within-cluster dispersion, lower = more compact)
    BD = sum_k n(k) ||mean_k - mean||^2           (between-clusters dispersion, higher = farther apart)
    CHI = BD / WD * (N - K) / (K - 1)             (Calinski-Harabasz index)

CHI equals :func:`sklearn.metrics.calinski_harabasz_score` (including its convention of 1.0 when
``WD == 0``). WD and BD depend on the scale of the points (t-SNE output scale differs between
implementations); CHI does not.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ddriqa.errors import InputError

__all__ = ["Dispersion", "DispersionSummary", "bootstrap_chi", "dispersion", "dispersion_over_runs"]


@dataclass(frozen=True)
class Dispersion:
    """WD, BD and CHI of one set of points.

    Attributes
    ----------
    wd, bd, chi : float
        Within-cluster dispersion, between-clusters dispersion, Calinski-Harabasz index.
    n_samples, n_classes : int
        ``N`` and ``K``.
    """

    wd: float
    bd: float
    chi: float
    n_samples: int
    n_classes: int

    def as_dict(self):
        """The fields as a plain dict."""
        return asdict(self)


@dataclass(frozen=True)
class DispersionSummary:
    """WD, BD and CHI over several projection runs, with their mean and standard deviation.

    Attributes
    ----------
    runs : pandas.DataFrame
        One row per run: ``run, wd, bd, chi``.
    n_samples, n_classes : int
    ddof : int
        Delta degrees of freedom of the standard deviations.
    """

    runs: object
    n_samples: int
    n_classes: int
    ddof: int = 1

    def _stat(self, col, fn):
        v = self.runs[col].to_numpy(dtype=np.float64)
        if fn == "mean":
            return float(v.mean())
        return float(v.std(ddof=self.ddof)) if v.size > self.ddof else 0.0

    @property
    def wd_mean(self):
        return self._stat("wd", "mean")

    @property
    def wd_std(self):
        return self._stat("wd", "std")

    @property
    def bd_mean(self):
        return self._stat("bd", "mean")

    @property
    def bd_std(self):
        return self._stat("bd", "std")

    @property
    def chi_mean(self):
        return self._stat("chi", "mean")

    @property
    def chi_std(self):
        return self._stat("chi", "std")

    def as_row(self):
        """A flat dict: ``n_samples, n_classes, n_runs, wd_mean, wd_std, bd_mean, bd_std, chi_mean, chi_std``."""
        return {
            "n_samples": self.n_samples,
            "n_classes": self.n_classes,
            "n_runs": int(len(self.runs)),
            "wd_mean": self.wd_mean,
            "wd_std": self.wd_std,
            "bd_mean": self.bd_mean,
            "bd_std": self.bd_std,
            "chi_mean": self.chi_mean,
            "chi_std": self.chi_std,
        }

    def format(self, metric="chi", digits=2):
        """``"CHI: 613.77 ± 33.40"``-style text for a title or a table."""
        if metric not in ("wd", "bd", "chi"):
            raise InputError(f"metric must be 'wd', 'bd' or 'chi'; got {metric!r}")
        m, s = self._stat(metric, "mean"), self._stat(metric, "std")
        return f"{metric.upper()}: {m:.{digits}f} \u00b1 {s:.{digits}f}"


def _check(points, labels):
    X = np.asarray(points, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"points must be a 2-D array (n_samples, n_dims); got shape {X.shape}")
    if not np.all(np.isfinite(X)):
        raise InputError("points contain NaN or infinite values")
    y = np.asarray(labels)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise InputError(f"labels must have shape ({X.shape[0]},) to match the points; got shape {y.shape}")
    classes, codes = np.unique(y, return_inverse=True)
    k = classes.size
    if not 1 < k < X.shape[0]:
        raise InputError(
            f"need 2 <= number of classes < number of points; got {k} classes for {X.shape[0]} points"
        )
    return X, codes.ravel(), k


def dispersion(points, labels):
    """WD, BD and CHI of labelled points (paper Eqs. 8-10).

    Parameters
    ----------
    points : array-like of shape (n_samples, n_dims)
        E.g. the 2-D t-SNE points of one run.
    labels : array-like of shape (n_samples,)
        The class (degradation) of each point; at least 2 classes, fewer than ``n_samples``.

    Returns
    -------
    Dispersion

    Examples
    --------
    >>> from ddriqa.analysis.dispersion import dispersion
    >>> d = dispersion([[0, 0], [0, 2], [4, 0], [4, 2]], ["a", "a", "b", "b"])
    >>> d.wd, d.bd, d.chi
    (4.0, 16.0, 8.0)
    """
    X, codes, k = _check(points, labels)
    n = X.shape[0]
    mean = X.mean(axis=0)
    wd = 0.0
    bd = 0.0
    for c in range(k):
        Xc = X[codes == c]
        mc = Xc.mean(axis=0)
        wd += float(((Xc - mc) ** 2).sum())
        bd += float(Xc.shape[0] * ((mc - mean) ** 2).sum())
    chi = 1.0 if wd == 0.0 else bd * (n - k) / (wd * (k - 1.0))
    return Dispersion(wd=wd, bd=bd, chi=float(chi), n_samples=int(n), n_classes=int(k))


def dispersion_over_runs(points, labels=None, ddof=1):
    """WD, BD and CHI of every run of a projection, with mean and standard deviation.

    Parameters
    ----------
    points : array-like of shape (n_runs, n_samples, n_dims), or a
        :class:`~ddriqa.analysis.projection.Projection`
    labels : array-like of shape (n_samples,), optional when ``points`` is a Projection with labels
    ddof : int, default=1
        Delta degrees of freedom of the standard deviation over runs (1: sample standard deviation).

    Returns
    -------
    DispersionSummary

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.analysis.dispersion import dispersion_over_runs
    >>> pts = np.array([[[0, 0], [0, 2], [4, 0], [4, 2]], [[0, 0], [0, 2], [2, 0], [2, 2]]])
    >>> s = dispersion_over_runs(pts, ["a", "a", "b", "b"])
    >>> s.chi_mean, s.format("chi")
    (5.0, 'CHI: 5.00 ± 4.24')
    """
    import pandas as pd

    if hasattr(points, "points") and hasattr(points, "method"):  # a Projection
        if labels is None:
            labels = points.labels
        points = points.points
    if labels is None:
        raise InputError("labels are required (the Projection carries none)")
    P = np.asarray(points, dtype=np.float64)
    if P.ndim == 2:
        P = P[None]
    if P.ndim != 3 or P.shape[0] < 1:
        raise InputError(f"points must have shape (n_runs, n_samples, n_dims); got {np.shape(points)}")
    rows = []
    d = None
    for r in range(P.shape[0]):
        d = dispersion(P[r], labels)
        rows.append({"run": r, "wd": d.wd, "bd": d.bd, "chi": d.chi})
    return DispersionSummary(
        runs=pd.DataFrame(rows, columns=["run", "wd", "bd", "chi"]),
        n_samples=d.n_samples,
        n_classes=d.n_classes,
        ddof=int(ddof),
    )


def bootstrap_chi(points, labels, *, n_boot=200, seed=0, interval=0.9):
    """The spread of CHI over resamples of the images: a stratified bootstrap of projected points.

    Each resample draws, within every class, as many points as it has, with replacement (the
    same images in every run), and takes the mean CHI over the runs. The projection is not
    recomputed, so this is the sampling spread of the index given the embedding, not the
    spread of t-SNE itself (that is the standard deviation over runs).

    Parameters
    ----------
    points : array-like of shape (n_runs, n_samples, n_dims) or (n_samples, n_dims)
    labels : array-like of shape (n_samples,)
    n_boot : int, default=200
    seed : int, default=0
    interval : float, default=0.9
        Central probability of the returned interval.

    Returns
    -------
    (float, float)
        The ``(1 - interval) / 2`` and ``(1 + interval) / 2`` quantiles of the resampled CHI.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.analysis.dispersion import bootstrap_chi
    >>> rng = np.random.default_rng(0)
    >>> pts = np.concatenate([rng.normal(0, 1, (30, 2)), rng.normal(3, 1, (30, 2))])
    >>> lo, hi = bootstrap_chi(pts, [0] * 30 + [1] * 30)
    >>> bool(lo < dispersion(pts, [0] * 30 + [1] * 30).chi < hi)
    True
    """
    P = np.asarray(points, dtype=np.float64)
    if P.ndim == 2:
        P = P[None]
    y = np.asarray(labels)
    _check(P[0], y)
    rng = np.random.default_rng(seed)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)]
    values = np.empty(int(n_boot))
    for b in range(int(n_boot)):
        idx = np.concatenate([rng.choice(g, size=g.size, replace=True) for g in groups])
        values[b] = np.mean([dispersion(P[r, idx], y[idx]).chi for r in range(P.shape[0])])
    q = (1.0 - float(interval)) / 2.0
    lo, hi = np.quantile(values, [q, 1.0 - q])
    return float(lo), float(hi)
