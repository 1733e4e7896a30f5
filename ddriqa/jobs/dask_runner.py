"""Running ``ddriqa classify`` / ``ddriqa extract`` on a Dask distributed cluster.

The image paths are cut into chunks; each chunk is one task (:func:`classify_task` or
:func:`extract_task`) that a worker runs with the same batch loop as a local run
(:func:`ddriqa.jobs.batches.map_batches`: reader thread, batches, one bad file costs only its own
row). Each worker process loads the classifier or builds the extractor once and keeps it in a
small worker-side cache keyed by the model reference (and the file's size and modification
time), so a model is not shipped with every task and not reloaded for every chunk.

:func:`iter_cluster_items` submits the chunks, collects them with
``distributed.as_completed`` and yields one :class:`~ddriqa.jobs.batches.BatchItem` per path in input
order, so that :func:`ddriqa.jobs.classify.classify_files` and :func:`ddriqa.jobs.extract.extract_files` write
the results with the same writer, and into the same files, as the local run. At most
``window`` chunks are in flight or waiting for an earlier chunk, which bounds the memory
held by the client.

Requirements: ``pip install "ddriqa[distributed]"`` (``dask[distributed]``) on the client and
on every worker; the workers need ddriqa installed and must be able to read the image files
and the model file under the same absolute paths as the client (a shared file system).

Examples
--------
>>> from ddriqa.jobs.dask_runner import chunk_ranges
>>> chunk_ranges(5, 2)
[(0, 2), (2, 4), (4, 5)]
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from functools import partial

from ddriqa.errors import DDRIQAError, InputError
from ddriqa.jobs.batches import BatchItem, StrictModeError, error_reason, image_reader, map_batches
from ddriqa.errors import command_line_words, using_command_line_words
from ddriqa.jobs.classify import load_model, predict_scores, set_padding

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "chunk_ranges",
    "connect",
    "classify_task",
    "extract_task",
    "iter_cluster_items",
    "classify_runner",
    "extract_runner",
]

#: Images per cluster task when none is given.
DEFAULT_CHUNK_SIZE = 32

_CACHE = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 4


def chunk_ranges(n, chunk_size):
    """``(start, stop)`` of consecutive chunks of ``chunk_size`` items covering ``range(n)``."""
    chunk_size = int(chunk_size)
    if chunk_size < 1:
        raise InputError(f"chunk_size must be >= 1, got {chunk_size}")
    return [(s, min(s + chunk_size, n)) for s in range(0, n, chunk_size)]


def _file_key(ref):
    """``(ref, size, mtime_ns)`` for an existing file, else ``(ref,)`` (a shipped name)."""
    try:
        st = os.stat(ref)
    except (OSError, TypeError, ValueError):
        return (ref,)
    return (ref, st.st_size, st.st_mtime_ns)


def _cached(key, build):
    """The worker-process cache: ``build()`` once per key (a few entries, least recently used out)."""
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
        value = build()
        _CACHE[key] = value
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
        return value


def _reader(max_pixels):
    return image_reader("default" if max_pixels is None else max_pixels)


def classify_task(model_ref, paths, *, batch_size=8, max_pixels=None, pad=None, cli_words=False):
    """Worker side of a cluster ``classify``: ``(value, error)`` per path, in order.

    Parameters
    ----------
    model_ref : str
        What ``--model`` resolved to: a shipped classifier name or an absolute ``.npz`` path
        readable on the worker. Loaded once per worker process (cached).
    paths : list of str
        Absolute image paths.
    batch_size : int, default=8
    max_pixels : int or None
        As ``--max-pixels`` (None: the reader's default).
    pad : {"error", "reflect"} or None
        As ``--pad`` (:func:`ddriqa.jobs.classify.set_padding`; None: as the model was saved).

    Returns
    -------
    list of (value, error)
        ``value`` is ``(label, scores)`` (``scores`` a float64 array) or None; ``error`` the
        reason text or None.
    """
    model = _cached(("classify",) + _file_key(model_ref), lambda: load_model(model_ref))
    if pad is not None:
        set_padding(model, pad)

    def fn(images):
        labels, scores = predict_scores(model, images)
        return list(zip(labels, scores))

    with command_line_words(cli_words):  # error rows in the client's words (flags in a command)
        return [(it.value, it.error)
                for it in map_batches(paths, fn, batch_size=batch_size, read=_reader(max_pixels))]


def extract_task(spec, paths, *, batch_size=8, max_pixels=None, cli_words=False):
    """Worker side of a cluster ``extract``: ``(row, error)`` per path, in order.

    Parameters
    ----------
    spec : dict
        Keyword arguments of :func:`ddriqa.jobs.extract.build_extractor` (``features``,
        ``weights``, ``layer``, ``crop``, ``pad``, ``device``, ``seed``); a weights file is
        given by its absolute path. The extractor is built once per worker process (cached).
    paths : list of str
    batch_size : int, default=8
    max_pixels : int or None

    Returns
    -------
    list of (row, error)
        ``row`` a 1-D float32 array or None.
    """
    import numpy as np

    from ddriqa.jobs.extract import build_extractor

    key = ("extract", tuple(sorted((k, str(v)) for k, v in spec.items()))) + _file_key(spec.get("weights"))[1:]
    extractor = _cached(key, lambda: build_extractor(**spec))

    def fn(images):
        out = np.asarray(extractor.transform(images), dtype=np.float32)
        return list(out.reshape(len(images), -1))

    with command_line_words(cli_words):  # error rows in the client's words (flags in a command)
        return [(it.value, it.error)
                for it in map_batches(paths, fn, batch_size=batch_size, read=_reader(max_pixels))]


def connect(address, timeout=10):
    """A ``distributed.Client`` connected to the scheduler at ``address``.

    Parameters
    ----------
    address : str
        E.g. ``"tcp://10.0.0.5:8786"`` (what ``dask scheduler`` prints).
    timeout : float, default=10
        Seconds to wait for the connection.

    Raises
    ------
    InputError
        When dask.distributed is not installed or the scheduler cannot be reached.
    """
    try:
        from distributed import Client
    except ImportError:
        raise InputError(
            "--scheduler needs dask.distributed; install it with: pip install 'ddriqa[distributed]'"
        ) from None
    try:
        return Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputError(f"cannot connect to the Dask scheduler at {address!r}: {exc}") from None


def _total_threads(client):
    try:
        return max(1, sum(client.nthreads().values()))
    except Exception:  # noqa: BLE001 - only a sizing hint
        return 1


def _killed_worker_type():
    try:
        from distributed import KilledWorker
    except ImportError:  # older layouts
        from distributed.scheduler import KilledWorker
    return KilledWorker


class _ChunkWindow:
    """The chunks of one cluster run: submitted ``window`` ahead, their results kept until emitted."""

    def __init__(self, client, task, paths, chunk_size, window):
        from distributed import as_completed

        self.client, self.task, self.paths = client, task, paths
        self.ranges = chunk_ranges(len(paths), chunk_size)
        self.window = max(4, 2 * _total_threads(client)) if window is None else max(1, int(window))
        self.completed = as_completed(loop=client.loop)
        self.chunk_of, self.pending, self.done = {}, set(), {}
        self.next_submit = 0
        self.killed = _killed_worker_type()

    def submit_next(self):
        """Submit the next chunk, if any is left."""
        if self.next_submit >= len(self.ranges):
            return
        s, e = self.ranges[self.next_submit]
        fut = self.client.submit(self.task, [os.path.abspath(p) for p in self.paths[s:e]], pure=False)
        self.chunk_of[fut.key] = self.next_submit
        self.pending.add(fut)
        self.completed.add(fut)
        self.next_submit += 1

    def collect(self, fut):
        """Store the result of a finished task; returns the exception of a failed one (or None).

        A chunk whose worker died gets an error for each of its paths, and the run goes on.
        """
        self.pending.discard(fut)
        k = self.chunk_of.pop(fut.key)
        try:
            self.done[k] = fut.result()
        except self.killed as exc:
            s, e = self.ranges[k]
            self.done[k] = [(None, f"cluster worker died on this chunk: {error_reason(exc)}")] * (e - s)
        except Exception as exc:  # noqa: BLE001 - reported by the caller, after the rows we have
            return exc
        finally:
            fut.release()
        return None

    def items_of(self, k):
        """The BatchItems of finished chunk ``k`` (its result is dropped from memory)."""
        s, e = self.ranges[k]
        results = self.done.pop(k)
        if len(results) != e - s:
            raise DDRIQAError(f"a cluster task returned {len(results)} results for {e - s} paths")
        for j, (value, err) in enumerate(results):
            yield BatchItem(index=s + j, path=self.paths[s + j], value=value, error=err)

    def cancel_pending(self):
        if self.pending:
            self.client.cancel(list(self.pending))


def _checked(items, strict):
    for item in items:
        if strict and item.error is not None:
            raise StrictModeError(item.path, item.error)
        yield item


def iter_cluster_items(client, task, paths, *, chunk_size=DEFAULT_CHUNK_SIZE, window=None, strict=False):
    """Run ``task(chunk_of_absolute_paths)`` on the cluster; yield one BatchItem per path, in order.

    Parameters
    ----------
    client : distributed.Client
    task : callable
        ``task(paths) -> [(value, error), ...]`` (e.g. ``partial(classify_task, model_ref)``);
        it must be importable on the workers (a module-level function or a partial of one).
    paths : sequence of path
        As listed by the client; the items carry these paths, the workers get absolute ones.
    chunk_size : int, default=32
        Paths per task.
    window : int, optional
        Chunks submitted ahead of the first one not yet written (default: twice the cluster's
        threads, at least 4).
    strict : bool, default=False
        Raise :class:`~ddriqa.jobs.batches.StrictModeError` at the first item with an error.

    Yields
    ------
    ddriqa.jobs.batches.BatchItem

    Notes
    -----
    A chunk whose worker died (``distributed.KilledWorker``, e.g. a decoder crash on a hostile
    file) gets an error row for each of its paths; the run goes on. Any other failure of a
    task (the model file not readable on a worker, ddriqa missing there) stops the run with a
    :class:`~ddriqa.errors.DDRIQAError`, after yielding the items already received, so a
    ``--resume`` run only redoes the rest.
    """
    run = _ChunkWindow(client, task, [os.fspath(p) for p in paths], chunk_size, window)
    next_emit, failure = 0, None
    try:
        while run.next_submit < min(run.window, len(run.ranges)):
            run.submit_next()
        for fut in run.completed:
            failure = run.collect(fut)
            if failure is not None:
                break
            while next_emit in run.done:
                yield from _checked(run.items_of(next_emit), strict)
                next_emit += 1
                run.submit_next()
        if failure is not None:
            # keep what already arrived (out of order: the writers key rows by path / index)
            for k in sorted(run.done):
                yield from run.items_of(k)
            if isinstance(failure, DDRIQAError):
                raise failure
            raise DDRIQAError(f"a cluster task failed: {error_reason(failure)}") from failure
    finally:
        run.cancel_pending()


def _absolute_if_file(ref):
    ref = os.fspath(ref)
    return os.path.abspath(ref) if os.path.isfile(ref) else ref


def classify_runner(client, model_ref, *, batch_size=8, max_pixels=None, chunk_size=DEFAULT_CHUNK_SIZE,
                    strict=False, pad=None):
    """A ``runner(paths)`` for :func:`ddriqa.jobs.classify.classify_files` that classifies on the cluster.

    ``model_ref`` is a shipped classifier name or a file path (made absolute here; the workers
    must be able to read it there).
    """
    task = partial(classify_task, _absolute_if_file(model_ref), batch_size=batch_size, max_pixels=max_pixels,
                   pad=pad, cli_words=using_command_line_words())
    return partial(iter_cluster_items, client, task, chunk_size=chunk_size, strict=strict)


def extract_runner(client, spec, *, batch_size=8, max_pixels=None, chunk_size=DEFAULT_CHUNK_SIZE,
                   strict=False):
    """A ``runner(paths)`` for :func:`ddriqa.jobs.extract.extract_files` that extracts on the cluster.

    ``spec`` holds the keyword arguments of :func:`ddriqa.jobs.extract.build_extractor`; a
    weights file path is made absolute here.
    """
    spec = dict(spec)
    if "weights" in spec and spec["weights"] is not None:
        spec["weights"] = _absolute_if_file(spec["weights"])
    task = partial(extract_task, spec, batch_size=batch_size, max_pixels=max_pixels,
                   cli_words=using_command_line_words())
    return partial(iter_cluster_items, client, task, chunk_size=chunk_size, strict=strict)
