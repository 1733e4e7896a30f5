"""Batches over many image files that never die on one bad file.

Images are read in a background thread (:func:`iter_decoded`), so that decoding overlaps the
computation, and processed in batches (:func:`map_batches`): when a batch fails, its items are
retried one by one, so that one bad image costs only its own result. The jobs of
:mod:`ddriqa.jobs.classify` and :mod:`ddriqa.jobs.extract` are built on this.
"""

from __future__ import annotations

import os
import queue
import re
import threading
from dataclasses import dataclass

from ddriqa.errors import DDRIQAError, ImageReadError, InputError, ModelFileError

__all__ = [
    "BatchItem",
    "JobSummary",
    "StrictModeError",
    "error_reason",
    "image_reader",
    "iter_decoded",
    "map_batches",
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
    >>> from ddriqa.jobs.batches import iter_decoded
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
    >>> from ddriqa.jobs.batches import map_batches
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
