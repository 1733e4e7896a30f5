"""Batch jobs over many image files that never lose results and never die on one bad file.

The two jobs behind ``ddriqa classify`` and ``ddriqa extract`` live here, so that they can be
used from Python as well as from the command line:

- :func:`classify_files` streams one CSV row per image (path, predicted distortion, one score
  per class, error), appending and flushing each row as soon as it exists, and can resume an
  interrupted run without losing or duplicating rows.
- :func:`extract_files` writes raw feature vectors into a ``.npy`` file of the final shape,
  filled chunk by chunk, plus a sidecar CSV of paths and errors.

Both read images in a background thread (:func:`iter_decoded`), so that decoding overlaps the
feature computation, and process them in batches (:func:`map_batches`): when a batch fails, its
items are retried one by one, so that one bad image costs only its own row.
"""

from __future__ import annotations

import csv
import io
import os
import queue
import re
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddriqa.errors import DDRIQAError, ImageReadError, InputError, ModelFileError

__all__ = [
    "BatchItem",
    "JobSummary",
    "StrictModeError",
    "error_reason",
    "image_reader",
    "iter_decoded",
    "map_batches",
    "predict_scores",
    "score_kind",
    "classification_header",
    "classify_files",
    "extract_files",
    "read_done_paths",
]


class StrictModeError(DDRIQAError):
    """Raised by a batch job in strict mode at the first file that fails.

    Parameters
    ----------
    path : str
        The file that failed.
    reason : str
        Why it failed.
    """

    def __init__(self, path, reason):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


@dataclass
class BatchItem:
    """One processed item of a batch job.

    Attributes
    ----------
    index : int
        Position in the input list.
    path : str
        The file (or ``<array #i>`` for an in-memory image).
    value : object or None
        The per-item result of the batch function; None when the item failed.
    error : str or None
        Why the item failed (None when fine).
    """

    index: int
    path: str
    value: object = None
    error: str | None = None


_ARRAY_PREFIX = re.compile(r"^<array #\d+>: ")


def error_reason(exc):
    """The reason text written to an ``error`` column for an exception.

    :class:`~ddriqa.errors.ImageReadError` and :class:`~ddriqa.errors.ModelFileError` give their
    ``reason`` (the path is in the row already); other errors give their message (without the
    ``<array #i>:`` position an extractor puts in front, meaningless here), prefixed by the
    exception type when it is not one of ddriqa's own.
    """
    if isinstance(exc, (ImageReadError, ModelFileError)):
        return exc.reason
    text = _ARRAY_PREFIX.sub("", str(exc).strip()) or "no message"
    if isinstance(exc, DDRIQAError):
        return text
    return f"{type(exc).__name__}: {text}"


def _default_reader(path):
    from ddriqa.io import read_image

    return read_image(path)


def image_reader(max_pixels="default"):
    """A ``read(path)`` function for the batch jobs: :func:`ddriqa.io.read_image` (uint8 RGB).

    Parameters
    ----------
    max_pixels : int, None or "default"
        Pixel limit passed to ``read_image``; ``"default"`` keeps its default, ``None`` or 0
        means no limit.
    """
    if max_pixels == "default":
        return _default_reader
    from functools import partial

    from ddriqa.io import read_image

    return partial(read_image, max_pixels=int(max_pixels) if max_pixels else None)


_DONE = object()


def iter_decoded(paths, read=None, prefetch=8):
    """Decode images in a background thread and yield them in input order.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The files to read.
    read : callable, optional
        ``read(path) -> image``; default :func:`ddriqa.io.read_image` (uint8 RGB).
    prefetch : int, default=8
        How many decoded images may wait in the queue (bounds the memory used).

    Yields
    ------
    index : int
    path : str
    image : numpy.ndarray or None
        None when reading failed.
    error : Exception or None
        The exception raised by ``read`` (an :class:`~ddriqa.errors.ImageReadError` for
        :func:`ddriqa.io.read_image`), or None.

    Examples
    --------
    >>> from ddriqa.batch import iter_decoded
    >>> [(i, err is None) for i, _, _, err in iter_decoded(["missing.png"])]
    [(0, False)]
    """
    read = _default_reader if read is None else read
    paths = list(paths)
    q = queue.Queue(maxsize=max(1, int(prefetch)))
    stop = threading.Event()

    def put(item):
        while not stop.is_set():
            try:
                q.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def worker():
        try:
            for i, p in enumerate(paths):
                if stop.is_set():
                    return
                try:
                    img, err = read(p), None
                except Exception as exc:  # reported per item, never fatal for the batch
                    img, err = None, exc
                if not put((i, os.fspath(p), img, err)):
                    return
        finally:
            put(_DONE)

    thread = threading.Thread(target=worker, name="ddriqa-reader", daemon=True)
    thread.start()
    try:
        while True:
            item = q.get()
            if item is _DONE:
                break
            yield item
    finally:
        stop.set()
        thread.join(timeout=5)


def map_batches(paths, fn, *, batch_size=8, read=None, strict=False, prefetch=None):
    """Apply ``fn`` to batches of decoded images; yield one :class:`BatchItem` per path, in order.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The image files.
    fn : callable
        ``fn(list_of_images) -> sequence`` with one result per image (e.g. an array of rows).
    batch_size : int, default=8
        Images per call of ``fn``.
    read : callable, optional
        Image reader, default :func:`ddriqa.io.read_image`.
    strict : bool, default=False
        Raise :class:`StrictModeError` at the first item that fails instead of yielding it
        with an error; every item before it has been yielded.
    prefetch : int, optional
        Decoded images held ahead of the computation; default ``2 * batch_size``.

    Yields
    ------
    BatchItem

    Notes
    -----
    When ``fn`` raises for a batch, each of its images is retried alone, so a bad image (one
    too small for a crop, say) costs only its own result. Results of good images are those of
    ``fn`` on the batch; for extractors that treat images independently they equal the
    results of processing each image alone (up to floating-point summation order).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.batch import map_batches
    >>> items = map_batches(["a.png"], lambda imgs: [im.mean() for im in imgs],
    ...                     read=lambda p: np.ones((2, 2, 3)))
    >>> [(it.path, float(it.value), it.error) for it in items]
    [('a.png', 1.0, None)]
    """
    batch_size = int(batch_size)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    prefetch = 2 * batch_size if prefetch is None else prefetch

    def run(batch):
        # batch: list of (BatchItem, image); fills value or error of each item
        good = [(it, img) for it, img in batch if it.error is None]
        if not good:
            return
        try:
            values = fn([img for _, img in good])
            if len(values) != len(good):
                raise RuntimeError(f"batch function returned {len(values)} results for {len(good)} images")
            for (it, _), v in zip(good, values):
                it.value = v
        except Exception as exc:
            if len(good) == 1:
                good[0][0].error = error_reason(exc)
                return
            for it, img in good:  # isolate the bad image(s)
                try:
                    it.value = fn([img])[0]
                except Exception as exc1:
                    it.error = error_reason(exc1)

    def emit(batch):
        run(batch)
        for it, _ in batch:
            if strict and it.error is not None:
                raise StrictModeError(it.path, it.error)
            yield it

    batch = []
    for i, p, img, err in iter_decoded(paths, read=read, prefetch=prefetch):
        item = BatchItem(index=i, path=p)
        if err is not None:
            item.error = error_reason(err)
            img = None
        batch.append((item, img))
        if len(batch) >= batch_size or (strict and err is not None):
            yield from emit(batch)
            batch = []
    if batch:
        yield from emit(batch)


# --------------------------------------------------------------------------- classification


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


def _norm(path):
    return os.path.normcase(os.path.normpath(os.path.abspath(os.fspath(path))))


def _complete_prefix(text, ncols):
    """The longest prefix of ``text`` made of whole CSV rows of ``ncols`` fields (after a crash)."""
    end = len(text)
    for _ in range(10000):
        if end <= 0:
            return ""
        candidate = text[:end] if text[:end].endswith("\n") else text[: text.rfind("\n", 0, end) + 1]
        try:
            rows = list(csv.reader(io.StringIO(candidate, newline="")))
            if all(len(r) == ncols for r in rows):
                return candidate
        except csv.Error:
            pass
        end = len(candidate) - 1  # drop the last line and try again
    return ""


def read_done_paths(output, header):
    """Paths already in an output CSV, after cutting off a partial last row left by a crash.

    Parameters
    ----------
    output : path
        The CSV written by :func:`classify_files` (or an :func:`extract_files` sidecar).
    header : list of str
        The header the file must have.

    Returns
    -------
    set of str
        Normalised absolute paths already present (with or without an error).

    Raises
    ------
    InputError
        When the file has another header (another model's classes, or not our file).
    """
    output = Path(output)
    with open(output, "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    if not text:
        return set()
    first = next(csv.reader(io.StringIO(text, newline="")), [])
    if first != list(header):
        raise InputError(
            f"{output}: cannot resume, its header {first} differs from this run's {list(header)} "
            "(another model or another kind of file); write to a new file"
        )
    keep = _complete_prefix(text, len(header))
    if len(keep) != len(text):
        with open(output, "r+b") as f:  # drop the partial row a killed run may have left
            f.truncate(len(keep.encode("utf-8", errors="surrogateescape")))
    rows = list(csv.reader(io.StringIO(keep, newline="")))
    return {_norm(r[0]) for r in rows[1:]}


class _NoClose:
    """A stream wrapper whose close() only flushes (for stdout)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(text)

    def flush(self):
        self._stream.flush()

    def close(self):
        self._stream.flush()


def _open_output(output, header, *, resume, overwrite):
    """Open the CSV for appending; returns (file, set of done paths)."""
    if os.fspath(output) == "-":
        if resume:
            raise InputError("cannot resume when writing to stdout; give an output file")
        import sys

        out = sys.stdout
        csv.writer(out, lineterminator="\n").writerow(header)
        out.flush()
        return _NoClose(out), set()
    output = Path(output)
    done = set()
    if output.exists() and output.stat().st_size > 0:
        if resume:
            done = read_done_paths(output, header)
        elif not overwrite:
            raise InputError(
                f"{output} exists; pass resume=True (--resume) to continue it or "
                "overwrite=True (--overwrite) to replace it"
            )
        else:
            output.unlink()
    output.parent.mkdir(parents=True, exist_ok=True)
    f = open(output, "a", encoding="utf-8", errors="surrogateescape", newline="")
    if f.tell() == 0:
        csv.writer(f, lineterminator="\n").writerow(header)
        f.flush()
    return f, done


def _write_row(f, row):
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerow(row)
    f.write(buf.getvalue())  # one write per row, flushed at once
    f.flush()


def _fmt(x):
    return repr(float(x))


@dataclass
class JobSummary:
    """What a batch job did.

    Attributes
    ----------
    n_total : int
        Paths given.
    n_skipped : int
        Paths skipped because they were already in the output (resume).
    n_ok : int
        Paths processed fine in this run.
    n_errors : int
        Paths that got an error row in this run.
    """

    n_total: int
    n_skipped: int = 0
    n_ok: int = 0
    n_errors: int = 0


def classification_header(classes, kind):
    """The CSV header of :func:`classify_files`: path, distortion, ``<kind>_<class>``..., error."""
    return ["path", "distortion", *[f"{kind}_{c}" for c in classes], "error"]


def classify_files(model, paths, output, *, batch_size=8, resume=False, overwrite=False,
                   strict=False, read=None, on_item=None, on_skipped=None, runner=None):
    """Classify image files into a CSV, one row per image, appended and flushed as produced.

    Parameters
    ----------
    model : fitted classifier
        Takes a list of RGB uint8 images (e.g. from :func:`ddriqa.classification.pipelines.make_brisque_classifier`).
    paths : sequence of path
        The images.
    output : path or "-"
        The CSV file (``"-"``: stdout). Columns: ``path``, ``distortion`` (predicted class), one score column per
        class named ``proba_<class>`` (probabilities) or ``decision_<class>`` (decision_function
        values), and ``error`` (empty when fine; otherwise the reason, and no prediction).
    batch_size : int, default=8
        Images per model call.
    resume : bool, default=False
        Skip paths already present in ``output`` (a partial last row left by a killed run is
        removed first), so a rerun after a crash loses and duplicates nothing.
    overwrite : bool, default=False
        Replace an existing ``output``. Without ``resume`` or ``overwrite`` an existing,
        non-empty ``output`` is an error (results already there are never thrown away silently).
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
        :func:`ddriqa.cluster.classify_runner` (a Dask cluster); ``model`` then only gives
        the classes and the kind of score. Default: this process (:func:`map_batches`).

    Returns
    -------
    JobSummary

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import FunctionTransformer
    >>> from sklearn.svm import LinearSVC
    >>> from ddriqa.batch import classify_files
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
    f, done = _open_output(output, header, resume=resume, overwrite=overwrite)
    paths = [os.fspath(p) for p in paths]
    todo = [p for p in paths if _norm(p) not in done]
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
                _write_row(f, [item.path, str(label), *[_fmt(s) for s in scores], ""])
                summary.n_ok += 1
            else:
                _write_row(f, [item.path, "", *([""] * len(classes)), item.error])
                summary.n_errors += 1
            if on_item is not None:
                on_item(item)
    finally:
        f.close()
    return summary


# --------------------------------------------------------------------------- feature extraction


def extract_files(transform, paths, output, *, batch_size=8, read=None, strict=False,
                  dtype=np.float32, on_item=None, runner=None):
    """Write the features of image files to a ``.npy`` file, chunk by chunk, plus a CSV of paths.

    Parameters
    ----------
    transform : callable
        ``transform(list_of_images) -> (n, d)`` array (e.g. a fitted extractor's ``transform``).
    paths : sequence of path
    output : path
        The ``.npy`` file: shape ``(len(paths), d)``, row ``i`` for ``paths[i]``; rows of files
        that failed are NaN. ``d`` is taken from the first image that works. The file is a
        memory map of the final shape, so rows already computed are on disk if the job dies.
    batch_size : int, default=8
    read : callable, optional
    strict : bool, default=False
        Stop with :class:`StrictModeError` at the first bad file.
    dtype : numpy dtype, default=float32
    on_item : callable, optional
    runner : callable, optional
        ``runner(paths) -> iterable of BatchItem`` (one per path, ``value`` a feature row)
        that computes the features elsewhere, e.g. :func:`ddriqa.cluster.extract_runner`
        (a Dask cluster); ``transform`` is then unused (may be None).

    Returns
    -------
    summary : JobSummary
    sidecar : pathlib.Path
        ``<output without .npy>.csv`` with columns ``index, path, error``.

    Raises
    ------
    InputError
        When no image at all could be processed (the shape of the array is unknown).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ddriqa.batch import extract_files
    >>> from ddriqa.io import write_image
    >>> d = tempfile.mkdtemp()
    >>> paths = [write_image(os.path.join(d, f"{i}.png"), np.full((8, 8, 3), i, np.uint8)) for i in (1, 2)]
    >>> mean_rgb = lambda imgs: np.array([im.mean(axis=(0, 1)) for im in imgs])
    >>> summary, sidecar = extract_files(mean_rgb, paths, os.path.join(d, "feat.npy"))
    >>> np.load(os.path.join(d, "feat.npy")).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    output = Path(output)
    if output.suffix != ".npy":
        output = output.with_name(output.name + ".npy")
    sidecar = output.with_suffix(".csv")
    paths = [os.fspath(p) for p in paths]
    summary = JobSummary(n_total=len(paths))
    output.parent.mkdir(parents=True, exist_ok=True)
    f = open(sidecar, "w", encoding="utf-8", errors="surrogateescape", newline="")
    _write_row(f, ["index", "path", "error"])
    arr = None

    def fn(images):
        out = np.asarray(transform(images))
        return list(out.reshape(len(images), -1))

    items = (map_batches(paths, fn, batch_size=batch_size, read=read, strict=strict) if runner is None
             else runner(paths))
    try:
        for item in items:
            if strict and item.error is not None:
                raise StrictModeError(item.path, item.error)
            if item.error is None and arr is None:
                row = np.asarray(item.value)
                arr = np.lib.format.open_memmap(output, mode="w+", dtype=dtype, shape=(len(paths), row.size))
                arr[: item.index] = np.nan  # every earlier item failed
            if arr is not None:
                arr[item.index] = np.nan if item.error is not None else np.asarray(item.value).ravel()
            if item.error is None:
                summary.n_ok += 1
            else:
                summary.n_errors += 1
            _write_row(f, [item.index, item.path, item.error or ""])
            if on_item is not None:
                on_item(item)
            if arr is not None and item.index % 64 == 63:
                arr.flush()
    finally:
        f.close()
        if arr is not None:
            arr.flush()
            del arr
    if summary.n_ok == 0:
        raise InputError(f"no image could be processed (see {sidecar} for the reasons); {output} not written")
    return summary, sidecar
