"""Scatterplot of projected features coloured by degradation, with the cluster measure in the title.

Follows scikit-learn's ``*Display`` pattern: build with :meth:`DegradationScatterDisplay.from_features`
(projects and measures) or :meth:`DegradationScatterDisplay.from_projection`, then ``plot(ax=None)``
draws and returns the display with ``ax_`` and ``figure_`` set. matplotlib (the ``plots`` extra)
is imported only inside :meth:`plot`; nothing here calls ``plt.show()``.
"""

from __future__ import annotations

import numpy as np

from ddriqa.errors import InputError

__all__ = ["DegradationScatterDisplay"]

# one (colour, marker) per class, in order of first appearance; colours from the Tableau palette
_COLOURS = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
_MARKERS = ("o", "^", "s", "D", "v", "P", "X", "*", "<", ">")


def _class_order(labels):
    _, first = np.unique(labels, return_index=True)
    return [labels[i] for i in sorted(first)]


class DegradationScatterDisplay:
    """2-D scatterplot of projected features, one colour and marker per degradation.

    Parameters
    ----------
    points : array-like of shape (n_samples, 2)
        The projected points to draw (one run).
    labels : array-like of shape (n_samples,)
        The degradation of each point.
    summary : DispersionSummary, optional
        Cluster measures over runs; its text (e.g. ``"CHI: 613.77 ± 33.40"``) goes in the title.
    title : str, optional
        Text put before the measure in the title (e.g. the layer name).
    metric : {"chi", "wd", "bd"}, default="chi"
        Which measure of ``summary`` the title shows.

    Attributes
    ----------
    ax_ : matplotlib.axes.Axes
        The axes drawn on (after :meth:`plot`).
    figure_ : matplotlib.figure.Figure
        The figure of ``ax_``.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from ddriqa.analysis.display import DegradationScatterDisplay
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (15, 30)), rng.normal(4, 1, (15, 30))])
    >>> disp = DegradationScatterDisplay.from_features(
    ...     X, np.repeat(["clean", "noise"], 15), runs=2, title="demo", max_iter=250)
    >>> disp.ax_.get_title().startswith("demo")
    True
    """

    def __init__(self, points, labels, *, summary=None, title=None, metric="chi"):
        self.points = points
        self.labels = labels
        self.summary = summary
        self.title = title
        self.metric = metric

    def plot(self, ax=None, *, marker_size=14, alpha=0.8, legend=True):
        """Draw the scatterplot.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is made when None.
        marker_size : float, default=14
        alpha : float, default=0.8
        legend : bool, default=True

        Returns
        -------
        self
        """
        try:
            import matplotlib.pyplot as plt
        except ImportError as exc:  # pragma: no cover - depends on the environment
            raise ImportError("plotting needs matplotlib: pip install 'ddriqa[plots]'") from exc

        pts = np.asarray(self.points, dtype=np.float64)
        labels = np.asarray(self.labels)
        if pts.ndim != 2 or pts.shape[1] != 2:
            raise InputError(f"points must have shape (n_samples, 2); got {pts.shape}")
        if labels.shape != (pts.shape[0],):
            raise InputError(f"labels must have shape ({pts.shape[0]},); got {labels.shape}")
        if ax is None:
            _, ax = plt.subplots(figsize=(4.2, 4.2))
        for i, cls in enumerate(_class_order(labels)):
            sel = labels == cls
            ax.scatter(
                pts[sel, 0], pts[sel, 1],
                s=marker_size, alpha=alpha,
                c=_COLOURS[i % len(_COLOURS)], marker=_MARKERS[i % len(_MARKERS)],
                label=str(cls), linewidths=0,
            )
        parts = [p for p in (self.title, self.summary.format(self.metric) if self.summary is not None else None) if p]
        ax.set_title("\n".join(parts), fontsize=10)
        ax.set_xticks([])
        ax.set_yticks([])
        if legend:
            ax.legend(loc="best", fontsize=8, markerscale=1.2, frameon=True)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self

    @classmethod
    def from_projection(cls, projection, labels=None, *, run=0, title=None, metric="chi", ax=None, **plot_kwargs):
        """Measure a :class:`~ddriqa.analysis.projection.Projection` and plot one of its runs.

        Parameters
        ----------
        projection : Projection
        labels : array-like, optional
            Defaults to ``projection.labels``.
        run : int, default=0
            Which run to draw (the title shows the measure over all runs).
        title, metric : see the class.
        ax : matplotlib.axes.Axes, optional
        **plot_kwargs : passed to :meth:`plot`.

        Returns
        -------
        DegradationScatterDisplay
        """
        from ddriqa.analysis.dispersion import dispersion_over_runs

        labels = projection.labels if labels is None else np.asarray(labels)
        if labels is None:
            raise InputError("labels are required (the Projection carries none)")
        summary = dispersion_over_runs(projection.points, labels)
        disp = cls(projection.points[int(run)], labels, summary=summary, title=title, metric=metric)
        return disp.plot(ax=ax, **plot_kwargs)

    @classmethod
    def from_features(
        cls, features, labels, *, method="pca+tsne", n_pca=50, runs=5, seed=0, run=0,
        title=None, metric="chi", ax=None, max_iter=1000, perplexity=30.0, **plot_kwargs,
    ):
        """Project features (:func:`~ddriqa.analysis.projection.project`), measure them and plot.

        Parameters
        ----------
        features : array-like of shape (n_samples, n_features)
        labels : array-like of shape (n_samples,)
        method, n_pca, runs, seed, max_iter, perplexity : see :func:`~ddriqa.analysis.projection.project`.
        run : int, default=0
            Which run to draw.
        title, metric : see the class.
        ax : matplotlib.axes.Axes, optional
        **plot_kwargs : passed to :meth:`plot`.

        Returns
        -------
        DegradationScatterDisplay
        """
        from ddriqa.analysis.projection import project

        proj = project(
            features, labels, method=method, n_pca=n_pca, runs=runs, seed=seed,
            max_iter=max_iter, perplexity=perplexity,
        )
        return cls.from_projection(proj, run=run, title=title, metric=metric, ax=ax, **plot_kwargs)
