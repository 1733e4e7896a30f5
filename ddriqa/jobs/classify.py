"""The job behind ``ddriqa classify``: one CSV row per image, resumable, never losing a row.

:func:`classify_files` streams one CSV row per image (path, predicted distortion, one score per
class, error), appending and flushing each row as soon as it exists, and can resume an
interrupted run without losing or duplicating rows.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError, ModelFileError
from ddriqa.jobs._csv import absolute_path, open_output, path_key, write_row
from ddriqa.jobs.batches import JobSummary, StrictModeError, map_batches

__all__ = ["check_model_record", "classification_header", "classify_files", "describe_classes", "load_model",
           "model_record", "model_record_path", "predict_scores", "score_kind", "set_padding"]


def _fmt(x):
    return repr(float(x))


def _not_a_classifier(path):
    """Why a file that numpy took for a pickle is not a classifier, from its first bytes."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        head = b""
    if head[:1] == b"\x80":  # the pickle protocol marker
        return ("not a ddriqa classifier file (a Python pickle; ddriqa never loads pickles: "
                "save models with `ddriqa train` or ddriqa.classification.persistence.save_classifier)")
    return (f"not a ddriqa classifier file (not a NumPy .npz archive; it starts with {head!r}); "
            "models are written by `ddriqa train`")


def load_model(name_or_path=None):
    """Load a classifier by short name, shipped name or path, as ``classify`` and ``demo`` do.

    :func:`ddriqa.classification.named.load_named_classifier`, except that a file which is not a
    NumPy archive (a text file, a pickle) is refused with a plain reason instead of NumPy's hint
    to load it "unsafely with allow_pickle".

    Parameters
    ----------
    name_or_path : str, os.PathLike or None
        None: the default model.

    Returns
    -------
    estimator

    Raises
    ------
    ddriqa.errors.ModelFileError
        Missing, unshipped or malformed model; the message names the file.

    Examples
    --------
    >>> import os, tempfile
    >>> from ddriqa.jobs.classify import load_model
    >>> path = os.path.join(tempfile.mkdtemp(), "notes.npz")
    >>> _ = open(path, "w").write("hello")
    >>> try:
    ...     load_model(path)
    ... except Exception as exc:
    ...     print(exc.reason)
    not a ddriqa classifier file (not a NumPy .npz archive; it starts with b'hello'); models are written by `ddriqa train`
    """
    from ddriqa.classification.named import load_named_classifier

    try:
        return load_named_classifier(name_or_path)
    except ModelFileError as exc:
        if "allow_pickle" not in exc.reason:
            raise
        raise ModelFileError(exc.path, _not_a_classifier(exc.path)) from None


def model_record(name_or_path):
    """What identifies a model in a results file: the name given, its file and the file's sha256.

    Raises
    ------
    ddriqa.errors.ModelFileError
        No model of that name (the message lists the short names and shipped classifiers).
    """
    from ddriqa.classification.named import model_file
    from ddriqa.models.weights import sha256_file

    path = model_file(name_or_path)
    return {"model": os.fspath(name_or_path), "file": os.path.abspath(path), "sha256": sha256_file(path)}


def model_record_path(output):
    """The sidecar that records which model wrote ``output``: ``<output>.model.json``."""
    return Path(os.fspath(output) + ".model.json")


def check_model_record(output, record):
    """Before resuming ``output``: refuse it when its sidecar names another model.

    Parameters
    ----------
    output : path
        A results CSV with rows.
    record : dict
        :func:`model_record` of this run's model.

    Returns
    -------
    bool
        True when the sidecar names the same model file (same sha256); False when there is no
        sidecar (a file written by an older version: the model cannot be checked).

    Raises
    ------
    ddriqa.errors.InputError
        The sidecar records another model (another sha256).
    """
    side = model_record_path(output)
    if not side.is_file():
        return False
    try:
        old = json.loads(side.read_text(encoding="utf-8"))
        old_sha = str(old["sha256"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{side}: cannot read the record of the model that wrote {output} ({exc})") from None
    if old_sha != record["sha256"]:
        raise InputError(
            f"{output}: cannot resume: its rows come from model {old.get('model')} ({old.get('file')}, "
            f"sha256 {old_sha[:12]}), not {record['model']} ({record['file']}, sha256 {record['sha256'][:12]}); "
            "write to a new file, or replace it")
    return True


def _write_model_record(output, record):
    side = model_record_path(output)
    tmp = side.with_name(side.name + ".tmp")
    tmp.write_text(json.dumps(record, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, side)


def describe_classes(model):
    """``"classes gblur, jpeg, ... (no pristine class: every image gets a distortion)"``.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> from ddriqa.jobs.classify import describe_classes
    >>> describe_classes(SimpleNamespace(classes_=["gblur", "wn"]))
    'classes gblur, wn (no pristine class: every image gets a distortion)'
    """
    classes = [str(c) for c in getattr(model, "classes_", ())]
    text = "classes " + ", ".join(classes)
    if "pristine" not in classes:
        text += " (no pristine class: every image gets a distortion)"
    return text


def set_padding(model, pad):
    """Set how the DDR steps of a loaded classifier treat images smaller than their crops.

    ``pad="error"`` (what ``ddriqa classify`` uses unless ``--pad reflect``): such an image is an
    error row naming its size; ``"reflect"``: it is mirror-padded to the crop (the image is then
    mostly its own reflection, and its label says little). A classifier saved by the pooled
    presets keeps ``"reflect"`` from its training; :func:`load_model` leaves it as saved.

    Returns
    -------
    int
        The number of DDR steps changed or confirmed (0: the model has none, e.g. BRISQUE).
    """
    from ddriqa.features.ddr import DDRExtractor

    n = 0
    steps = [model] + [v for v in model.get_params(deep=True).values() if hasattr(v, "get_params")]
    for est in steps:
        if isinstance(est, DDRExtractor):
            est.pad = pad
            n += 1
    return n


def _final_step(model):
    """(feature part or None, final estimator) of a Pipeline, or (None, model)."""
    steps = getattr(model, "steps", None)
    if steps:
        return (model[:-1] if len(steps) > 1 else None), model[-1]
    return None, model


def score_kind(model):
    """``"proba"`` when the model's final estimator has ``predict_proba``, else ``"decision"``."""
    _, final = _final_step(model)
    return "proba" if hasattr(final, "predict_proba") else "decision"


def predict_scores(model, images):
    """Predicted labels and one score per class, computing the features only once.

    Parameters
    ----------
    model : fitted classifier (usually a Pipeline: features -> ... -> classifier)
    images : list of images (or paths)

    Returns
    -------
    labels : ndarray of shape (n,)
    scores : ndarray of shape (n, n_classes)
        Probabilities when the final estimator has ``predict_proba``, else its
        ``decision_function`` (one-vs-rest; for two classes ``[-d, d]``).
    """
    head, final = _final_step(model)
    X = head.transform(images) if head is not None else images
    labels = np.asarray(final.predict(X))
    if hasattr(final, "predict_proba"):
        scores = np.asarray(final.predict_proba(X), dtype=np.float64)
    else:
        d = np.asarray(final.decision_function(X), dtype=np.float64)
        if d.ndim == 1:
            d = np.stack([-d, d], axis=1)
        scores = d
    return labels, scores


def classification_header(classes, kind):
    """The CSV header of :func:`classify_files`: path, distortion, ``<kind>_<class>``..., error."""
    return ["path", "distortion", *[f"{kind}_{c}" for c in classes], "error"]


def classify_files(model, paths, output, *, batch_size=8, resume=False, overwrite=False,
                   strict=False, read=None, on_item=None, on_skipped=None, runner=None, record=None):
    """Classify image files into a CSV, one row per image, appended and flushed as produced.

    Parameters
    ----------
    model : fitted classifier
        Takes a list of RGB uint8 images (e.g. from :func:`ddriqa.classification.pipelines.make_brisque_classifier`).
    paths : sequence of path
        The images.
    output : path or "-"
        The CSV file (``"-"``: stdout). Columns: ``path`` (absolute, symbolic links not resolved:
        :func:`~ddriqa.jobs._csv.absolute_path`), ``distortion`` (predicted class), one score column per
        class named ``proba_<class>`` (probabilities) or ``decision_<class>`` (decision_function
        values), and ``error`` (empty when fine; otherwise the reason, and no prediction).
    batch_size : int, default=8
        Images per model call.
    resume : bool, default=False
        Skip paths already present in ``output`` (a partial last row left by a killed run is
        removed first), so a rerun after a crash loses and duplicates nothing. Rows are matched
        to files by their resolved path (:func:`~ddriqa.jobs._csv.path_key`), so the rerun may
        name the images by another path (another working directory, a symbolic link).
    overwrite : bool, default=False
        Replace an existing ``output``. Without ``resume`` or ``overwrite`` an existing,
        non-empty ``output`` is an :class:`~ddriqa.jobs.outputs.OutputExistsError` (results
        already there are never thrown away silently).
    strict : bool, default=False
        Stop with :class:`StrictModeError` at the first file that fails (no row for it).
    read : callable, optional
        Image reader; default :func:`ddriqa.io.read_image`.
    on_item : callable, optional
        Called with each :class:`BatchItem` after its row is written (progress bars).
    on_skipped : callable, optional
        Called once with the number of paths skipped because they are done (resume).
    runner : callable, optional
        ``runner(paths) -> iterable of BatchItem`` (one per path, ``value = (label, scores)``,
        in order) that computes the results elsewhere, e.g.
        :func:`ddriqa.jobs.dask_runner.classify_runner` (a Dask cluster); ``model`` then only gives
        the classes and the kind of score. Default: this process (:func:`map_batches`).
    record : dict, optional
        :func:`model_record` of ``model``: written beside a file ``output`` as
        ``<output>.model.json``; a resumed ``output`` whose record names another model is refused
        (:func:`check_model_record`), before anything is written.

    Returns
    -------
    JobSummary

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn.svm import LinearSVC
    >>> from ddriqa.jobs.classify import classify_files
    >>> from ddriqa.io import write_image
    >>> brightness = FunctionTransformer(lambda imgs: np.array([[im.mean()] for im in imgs]))
    >>> model = make_pipeline(brightness, LinearSVC()).fit(
    ...     [np.zeros((4, 4, 3)), np.full((4, 4, 3), 255.0)], ["dark", "bright"])
    >>> d = tempfile.mkdtemp()
    >>> paths = [write_image(os.path.join(d, "a.png"), np.zeros((8, 8, 3), np.uint8)),
    ...          os.path.join(d, "missing.png")]
    >>> summary = classify_files(model, paths, os.path.join(d, "out.csv"))
    >>> summary.n_ok, summary.n_errors
    (1, 1)
    >>> print(open(os.path.join(d, "out.csv")).read().splitlines()[0])
    path,distortion,decision_bright,decision_dark,error
    """
    classes = [str(c) for c in model.classes_]
    kind = score_kind(model)
    header = classification_header(classes, kind)
    to_file = os.fspath(output) != "-"
    if record is not None and resume and to_file and os.path.isfile(output) and os.path.getsize(output) > 0:
        check_model_record(output, record)
    f, done = open_output(output, header, resume=resume, overwrite=overwrite)
    if record is not None and to_file:
        try:
            _write_model_record(output, record)
        except OSError:
            f.close()
            raise
    paths = [absolute_path(p) for p in paths]
    todo = [p for p in paths if path_key(p) not in done]
    summary = JobSummary(n_total=len(paths), n_skipped=len(paths) - len(todo))
    if on_skipped is not None and summary.n_skipped:
        on_skipped(summary.n_skipped)

    def fn(images):
        labels, scores = predict_scores(model, images)
        return list(zip(labels, scores))

    items = (map_batches(todo, fn, batch_size=batch_size, read=read, strict=strict) if runner is None
             else runner(todo))
    try:
        for item in items:
            if strict and item.error is not None:
                raise StrictModeError(item.path, item.error)
            if item.error is None:
                label, scores = item.value
                write_row(f, [item.path, str(label), *[_fmt(s) for s in scores], ""])
                summary.n_ok += 1
            else:
                write_row(f, [item.path, "", *([""] * len(classes)), item.error])
                summary.n_errors += 1
            if on_item is not None:
                on_item(item)
    finally:
        f.close()
    return summary
