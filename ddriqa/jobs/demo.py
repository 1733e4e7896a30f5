"""The data-free demonstration behind ``ddriqa demo``.

It builds a small LIVE-like set (:func:`ddriqa.datasets.synthesize.make_live_like`) from the
photographs that scikit-image ships on disk, classifies it with a shipped classifier, and scores
the predictions per class. None of these photographs is a Kodak image, so the shipped
classifiers (trained on Kodak-based data) are tested on unseen content.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError

__all__ = ["DEMO_FILES", "DEMO_PHOTOS", "demo_photos", "per_class_table", "plot_demo", "run_demo"]

#: scikit-image's sample photographs used by the demo (files in ``skimage/data``); the last
#: three are gray and are repeated to RGB.
DEMO_PHOTOS = (
    "astronaut.png",
    "coffee.png",
    "chelsea.png",
    "rocket.jpg",
    "motorcycle_left.png",
    "hubble_deep_field.jpg",
    "retina.jpg",
    "ihc.png",
    "camera.png",
    "moon.png",
    "coins.png",
)


#: the files a demo writes in its folder besides live/ (a degrade set, replaced by its own rule)
DEMO_FILES = ("results.csv", "results.csv.model.json", "per_class.csv", "confusion_matrix.csv",
              "confusion_matrix.png", "per_class.png") + tuple(f"photos/{Path(n).stem}.png" for n in DEMO_PHOTOS)


def _plural(n, word):
    return f"{n} {word}{'' if n == 1 else 's'}"


def _skimage_data_dir():
    try:
        import skimage.data
    except ImportError:
        raise InputError(
            "the demo needs scikit-image's sample photographs: pip install ddriqa[demo]"
        ) from None
    return Path(skimage.data.__file__).parent


def demo_photos(names=None, max_side=512):
    """scikit-image's sample photographs as RGB uint8 arrays, the longer side at most ``max_side``.

    Parameters
    ----------
    names : sequence of str, optional
        File names in ``skimage/data`` (default :data:`DEMO_PHOTOS`); missing files are skipped.
    max_side : int or None, default=512
        Larger photos are shrunk (MATLAB-style bicubic with antialiasing); None keeps sizes.

    Returns
    -------
    dict of str to numpy.ndarray
        ``{stem: image}``, in the order of ``names``.

    Raises
    ------
    InputError
        scikit-image is not installed (the message says ``pip install ddriqa[demo]``), or none
        of the photos exists.

    Examples
    --------
    >>> from ddriqa.jobs.demo import demo_photos
    >>> photos = demo_photos(["astronaut.png"], max_side=64)  # doctest: +SKIP
    >>> photos["astronaut"].shape  # doctest: +SKIP
    (64, 64, 3)
    """
    from ddriqa.degradations.resize import imresize
    from ddriqa.io import read_image

    folder = _skimage_data_dir()
    photos = {}
    for name in DEMO_PHOTOS if names is None else names:
        path = folder / name
        if not path.is_file():
            continue
        image = read_image(path)
        h, w = image.shape[:2]
        if max_side is not None and max(h, w) > max_side:
            scale = max_side / max(h, w)
            shape = (max(1, round(h * scale)), max(1, round(w * scale)))
            image = imresize(image, output_shape=shape)
        photos[Path(name).stem] = np.ascontiguousarray(image)
    if not photos:
        raise InputError(f"none of the demo photographs was found in {folder}")
    return photos


def per_class_table(y_true, y_pred, classes):
    """Precision and recall per class, plus the ``ALL`` row (macro averages and accuracy).

    Parameters
    ----------
    y_true, y_pred : sequence of str
        True and predicted classes (an empty prediction, an error row, counts as wrong).
    classes : sequence of str

    Returns
    -------
    pandas.DataFrame
        Index: the classes then ``ALL``; columns ``precision``, ``recall``, ``accuracy`` (ALL
        only) and ``n`` (images of the class). Computed by
        :func:`ddriqa.evaluation.protocol.split_metrics`.

    Examples
    --------
    >>> from ddriqa.jobs.demo import per_class_table
    >>> per_class_table(["a", "a", "b"], ["a", "b", "b"], ["a", "b"])["recall"].tolist()
    [0.5, 1.0, 0.75]
    """
    import pandas as pd

    from ddriqa.evaluation.protocol import split_metrics

    rows = split_metrics(np.asarray(y_true, dtype=str), np.asarray(y_pred, dtype=str), [str(c) for c in classes])
    table = pd.DataFrame(rows).set_index("class").rename(columns={"n_test": "n"})
    return table[["precision", "recall", "accuracy", "n"]]


def run_demo(out_dir, *, model="ddr", per_class=10, seed=0, names=None, max_side=512,
             batch_size=8, classes=None, log=None, overwrite=False):
    """Build a LIVE-like set from scikit-image's photos, classify it, and score it per class.

    Parameters
    ----------
    out_dir : str or os.PathLike
        Working folder: ``photos/`` (the references), ``live/`` (the distorted set, LIVE
        layout), ``results.csv`` (one row per image, as ``ddriqa classify`` writes),
        ``per_class.csv`` and ``confusion_matrix.csv`` (rows: true class, columns: predicted;
        :func:`ddriqa.evaluation.plots.confusion_matrix_table`).
    model : str, default="ddr"
        Classifier name or path (see :func:`ddriqa.classification.named.load_named_classifier`).
        When its classes include ``pristine``, the photos themselves are classified too.
    per_class : int, default=10
        Distorted images per class.
    seed : int, default=0
        Seed of the distortion parameters.
    names : sequence of str, optional
        Photo file names (default :data:`DEMO_PHOTOS`).
    max_side : int, default=512
        Photos are shrunk so that the longer side is at most this.
    batch_size : int, default=8
    classes : sequence of str, optional
        Distortion classes made (default: the five LIVE classes).
    log : callable, optional
        ``log(str)`` for progress lines.
    overwrite : bool, default=False
        ``out_dir`` holds an earlier demo: replace it (its :data:`DEMO_FILES` and its ``live/``
        set; nothing else). Without it such a folder is an
        :class:`~ddriqa.jobs.outputs.OutputExistsError`, before any work.

    Returns
    -------
    table : pandas.DataFrame
        :func:`per_class_table` of the predictions.
    results : pandas.DataFrame
        The classification rows joined with the true class (column ``true``).

    Raises
    ------
    ddriqa.errors.DDRIQAError
        The model cannot be loaded (checked before anything is written), scikit-image is
        missing, or the set cannot be made.
    """
    import pandas as pd

    from ddriqa.datasets.live_database import PRISTINE, load_live, with_pristine
    from ddriqa.datasets.synthesize import make_live_like
    from ddriqa.degradations.live_preset import LIVE_CLASSES
    from ddriqa.evaluation.plots import confusion_matrix_table
    from ddriqa.io import write_image
    from ddriqa.jobs.classify import classify_files, load_model

    from ddriqa.jobs.outputs import OutputExistsError, check_output_path, claim_output_folder

    log = log or (lambda message: None)
    classes = tuple(LIVE_CLASSES if classes is None else classes)
    out_dir = Path(os.fspath(out_dir))
    check_output_path(out_dir, folder=True)
    live = out_dir / "live"
    again = (("overwrite", "replace the earlier demo"),)
    if not overwrite:  # refused before any work
        if live.is_dir() and any(live.iterdir()):
            raise OutputExistsError(live, again)
        claim_output_folder(out_dir, DEMO_FILES, overwrite=False, choices=again)
    clf = load_model(model)  # fail early, before any work
    photos = demo_photos(names, max_side=max_side)
    claim_output_folder(out_dir, DEMO_FILES, overwrite=overwrite, choices=again)
    photo_dir = out_dir / "photos"
    photo_dir.mkdir(parents=True, exist_ok=True)
    refs = [write_image(photo_dir / f"{stem}.png", image) for stem, image in photos.items()]
    log(f"making {_plural(per_class, 'distorted image')} per class ({', '.join(classes)}) "
        f"from {_plural(len(refs), 'photo')}")
    make_live_like(refs, live, per_class=per_class, seed=seed, classes=classes,
                   existing="overwrite" if overwrite else "refuse")
    data = load_live(out_dir / "live")
    if PRISTINE in getattr(clf, "classes_", ()):  # the model knows clean images: show it the photos too
        data = with_pristine(data, out_dir / "live")
        classes = classes + (PRISTINE,)
    log(f"classifying {_plural(len(data), 'image')} with {model}")
    results_path = out_dir / "results.csv"
    classify_files(clf, data["path"].tolist(), results_path, batch_size=batch_size, overwrite=True)
    results = pd.read_csv(results_path, keep_default_na=False, dtype={"distortion": str, "error": str})
    truth = dict(zip(data["path"].map(lambda p: os.path.normpath(os.path.abspath(p))), data["distortion"]))
    results["true"] = results["path"].map(lambda p: truth[os.path.normpath(os.path.abspath(p))])
    table = per_class_table(results["true"], results["distortion"], classes)
    table.to_csv(out_dir / "per_class.csv")
    confusion_matrix_table(results["true"], results["distortion"], classes).to_csv(out_dir / "confusion_matrix.csv")
    return table, results


def plot_demo(out_dir, table, confusion, title=None):
    """Write ``confusion_matrix.png`` and ``per_class.png`` of a demo run into ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
    table : pandas.DataFrame
        :func:`per_class_table` (its ``ALL`` row is drawn as the macro average).
    confusion : pandas.DataFrame
        :func:`ddriqa.evaluation.plots.confusion_matrix_table`.
    title : str, optional

    Returns
    -------
    list of pathlib.Path

    Raises
    ------
    ddriqa.evaluation.plots.PlotsUnavailableError
        matplotlib is not installed.
    """
    from ddriqa.evaluation.plots import plot_confusion_matrix, plot_per_class

    out_dir = Path(os.fspath(out_dir))
    return [
        plot_confusion_matrix(confusion, list(confusion.index), out_dir / "confusion_matrix.png", title=title),
        plot_per_class(table, out_dir / "per_class.png", title=title),
    ]
