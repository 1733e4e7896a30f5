"""Pictures of identification results: a confusion matrix and per-class precision / recall bars.

:func:`confusion_matrix_table` counts predictions per true class (a pandas table, written as CSV
by the commands); :func:`plot_confusion_matrix` and :func:`plot_per_class` draw PNG files with
matplotlib's object-oriented API (a :class:`matplotlib.figure.Figure` and its Agg canvas, no
pyplot state, so they are safe in scripts, threads and servers).

matplotlib is optional (the ``plots`` extra, ``pip install 'ddriqa[plots]'``): it is imported
inside the plotting functions, which raise :class:`PlotsUnavailableError` (an ``ImportError``
and a :class:`~ddriqa.errors.DDRIQAError`) when it is missing, so that a caller can write its
CSV files anyway and say so.
"""

from __future__ import annotations

import os

import numpy as np

from ddriqa.errors import DDRIQAError, InputError

__all__ = ["OTHER", "PlotsUnavailableError", "confusion_matrix_table", "plot_confusion_matrix", "plot_per_class"]

#: Column of :func:`confusion_matrix_table` for predictions outside the classes (another class
#: of the model, or none: an error row).
OTHER = "(other)"


class PlotsUnavailableError(DDRIQAError, ImportError):
    """matplotlib is not installed; the message says how to install it."""


def _figure_class():
    try:
        from matplotlib.figure import Figure
    except ImportError:
        raise PlotsUnavailableError(
            "matplotlib is not installed, so no plot is drawn: pip install 'ddriqa[plots]'"
        ) from None
    return Figure


def confusion_matrix_table(y_true, y_pred, classes):
    """Counts of predicted classes per true class.

    Parameters
    ----------
    y_true, y_pred : sequence of str
        True and predicted class of each image (a prediction may be empty: an error row).
    classes : sequence of str
        The classes, in the order of the rows and columns.

    Returns
    -------
    pandas.DataFrame of int
        Rows: the true classes (index named ``true``); columns: the predicted classes (named
        ``predicted``), plus a last column :data:`OTHER` when some prediction is not one of
        ``classes``. Row sums are the number of images of each class.

    Raises
    ------
    ddriqa.errors.InputError
        Lengths differ, ``classes`` is empty or repeats, or a true class is not in ``classes``.

    Examples
    --------
    >>> from ddriqa.evaluation.plots import confusion_matrix_table
    >>> t = confusion_matrix_table(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    >>> t.values.tolist()
    [[1, 1], [0, 1]]
    >>> confusion_matrix_table(["a", "b"], ["a", ""], ["a", "b"]).columns.tolist()
    ['a', 'b', '(other)']
    """
    import pandas as pd

    y_true = np.asarray(y_true, dtype=str)
    y_pred = np.asarray(y_pred, dtype=str)
    classes = [str(c) for c in classes]
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise InputError(f"y_true and y_pred must be 1-D of the same length, got {y_true.shape} and {y_pred.shape}")
    if not classes or len(set(classes)) != len(classes):
        raise InputError(f"classes must be non-empty and distinct, got {classes}")
    unknown = sorted(set(y_true.tolist()) - set(classes))
    if unknown:
        raise InputError(f"true classes {unknown} are not among the classes {classes}")
    index = {c: i for i, c in enumerate(classes)}
    counts = np.zeros((len(classes), len(classes) + 1), dtype=np.int64)
    for t, p in zip(y_true, y_pred):
        counts[index[t], index.get(p, len(classes))] += 1
    columns = classes + [OTHER]
    if not counts[:, -1].any():
        counts, columns = counts[:, :-1], classes
    table = pd.DataFrame(counts, index=pd.Index(classes, name="true"), columns=pd.Index(columns, name="predicted"))
    return table


def plot_confusion_matrix(cm, classes, path, title=None, *, dpi=100):
    """Draw a confusion matrix as a PNG: counts in the cells, colour = share of the true class.

    Parameters
    ----------
    cm : pandas.DataFrame or array-like of shape (n_classes, n_columns)
        Counts, rows = true classes (e.g. :func:`confusion_matrix_table`); a DataFrame's columns
        label the predicted classes (an extra :data:`OTHER` column is drawn too).
    classes : sequence of str
        Row labels (and column labels of an array).
    path : str or os.PathLike
        The PNG file to write.
    title : str, optional
    dpi : int, default=100

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    PlotsUnavailableError
        matplotlib is not installed.
    ddriqa.errors.InputError
        ``cm`` does not have one row per class.

    Examples
    --------
    >>> import os, tempfile
    >>> from ddriqa.evaluation.plots import confusion_matrix_table, plot_confusion_matrix
    >>> cm = confusion_matrix_table(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])
    >>> png = plot_confusion_matrix(cm, ["a", "b"], os.path.join(tempfile.mkdtemp(), "cm.png"))  # doctest: +SKIP
    >>> png.read_bytes()[:4]  # doctest: +SKIP
    b'\\x89PNG'
    """
    from pathlib import Path

    Figure = _figure_class()
    classes = [str(c) for c in classes]
    columns = [str(c) for c in cm.columns] if hasattr(cm, "columns") else classes
    counts = np.asarray(cm, dtype=np.float64)
    if counts.ndim != 2 or counts.shape != (len(classes), len(columns)):
        raise InputError(f"the confusion matrix has shape {counts.shape}; expected {(len(classes), len(columns))}")
    share = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
    side = 1.2 + 0.62 * max(len(classes), len(columns))
    fig = Figure(figsize=(side + 1.2, side))
    ax = fig.subplots()
    image = ax.imshow(share, cmap="Blues", vmin=0.0, vmax=1.0)
    for (i, j), n in np.ndenumerate(counts):
        ax.text(j, i, f"{int(n)}", ha="center", va="center", fontsize=9,
                color="white" if share[i, j] > 0.6 else "black")
    ax.set_xticks(range(len(columns)), labels=columns, rotation=45, ha="right")
    ax.set_yticks(range(len(classes)), labels=classes)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if title:
        ax.set_title(title)
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the true class")
    fig.tight_layout()
    path = Path(os.fspath(path))
    fig.savefig(path, dpi=dpi, format="png")
    return path


def plot_per_class(table, path, *, metrics=("precision", "recall"), errors=None, title=None, dpi=100):
    """Draw per-class bars (precision and recall by default) as a PNG.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per class, indexed by class name (or with a ``class`` column), holding the
        ``metrics`` columns on [0, 1]; e.g. :func:`ddriqa.jobs.demo.per_class_table` (its
        ``ALL`` row is drawn last, as the macro average) or one method's rows of a benchmark
        summary with ``metrics=("precision_median", "recall_median")``.
    path : str or os.PathLike
        The PNG file to write.
    metrics : sequence of str, default=("precision", "recall")
        Columns to draw, one bar per class each.
    errors : sequence of str, optional
        One column per metric holding the length of its error bar on each side (e.g. half an
        IQR); None draws none.
    title : str, optional
    dpi : int, default=100

    Returns
    -------
    pathlib.Path
        ``path``.

    Raises
    ------
    PlotsUnavailableError
        matplotlib is not installed.
    ddriqa.errors.InputError
        A metric or error column is missing.

    Examples
    --------
    >>> import os, tempfile
    >>> import pandas as pd
    >>> from ddriqa.evaluation.plots import plot_per_class
    >>> table = pd.DataFrame({"precision": [1.0, 0.5], "recall": [0.5, 1.0]}, index=["a", "b"])
    >>> png = plot_per_class(table, os.path.join(tempfile.mkdtemp(), "pc.png"))  # doctest: +SKIP
    >>> png.name  # doctest: +SKIP
    'pc.png'
    """
    from pathlib import Path

    Figure = _figure_class()
    if "class" in getattr(table, "columns", ()):
        table = table.set_index("class")
    metrics = list(metrics)
    errors = list(errors) if errors is not None else None
    missing = [c for c in metrics + (errors or []) if c not in table.columns]
    if missing or (errors is not None and len(errors) != len(metrics)):
        raise InputError(f"plot_per_class: columns {missing or errors} missing or not one per metric; "
                         f"the table has {list(table.columns)}")
    labels = [str(c) for c in table.index]
    x = np.arange(len(labels))
    width = 0.8 / len(metrics)
    fig = Figure(figsize=(1.6 + 0.9 * len(labels) * max(1, len(metrics) / 2), 3.6))
    ax = fig.subplots()
    for k, metric in enumerate(metrics):
        values = table[metric].to_numpy(dtype=np.float64)
        yerr = table[errors[k]].to_numpy(dtype=np.float64) if errors else None
        bars = ax.bar(x + (k - (len(metrics) - 1) / 2) * width, np.nan_to_num(values), width, yerr=yerr,
                      capsize=3 if errors else 0, label=metric)
        ax.bar_label(bars, labels=["" if np.isnan(v) else f"{v:.2f}" for v in values], fontsize=7, padding=2)
    ax.set_xticks(x, labels=labels)
    ax.set_ylim(0.0, 1.25)  # room for the value labels and the legend above the bars
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    ax.set_ylabel("score")
    ax.legend(loc="upper left", ncol=len(metrics), fontsize=8, frameon=False)
    if title:
        ax.set_title(title)
    fig.tight_layout()
    path = Path(os.fspath(path))
    fig.savefig(path, dpi=dpi, format="png")
    return path
