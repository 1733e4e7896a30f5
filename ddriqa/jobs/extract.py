"""The job behind ``ddriqa extract``: feature vectors of image files into a ``.npy`` file.

:func:`extract_files` writes raw feature vectors into a ``.npy`` file of the final shape, filled
chunk by chunk (a memory map, so rows already computed survive a crash), plus a sidecar CSV of
paths and errors. :func:`build_extractor` makes the fitted extractor of ``--features``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ddriqa.errors import InputError
from ddriqa.features.presets import DEFAULT_CROP, DEFAULT_LAYER, DEFAULT_WEIGHTS
from ddriqa.jobs._csv import absolute_path, write_row
from ddriqa.jobs.batches import JobSummary, StrictModeError, map_batches
from ddriqa.jobs.outputs import refuse_existing

__all__ = ["build_extractor", "extract_files", "output_paths"]


def build_extractor(features, weights=DEFAULT_WEIGHTS, layer=DEFAULT_LAYER, crop=DEFAULT_CROP, pad="error",
                    device="auto", seed=0):
    """A fitted feature extractor: ``features="ddr"`` (:class:`~ddriqa.features.ddr.DDRExtractor`
    with these settings, ``seed`` seeding a ``"random"`` backbone) or ``"brisque"``.

    The DDR defaults are :data:`ddriqa.features.presets.DEFAULT_WEIGHTS`, ``DEFAULT_LAYER`` and
    ``DEFAULT_CROP``, as for ``ddriqa extract``.

    The one recipe behind ``ddriqa extract``, local and on a Dask cluster.
    """
    if features == "brisque":
        from ddriqa.features.brisque import BRISQUEExtractor

        return BRISQUEExtractor().fit([None])
    from ddriqa.features.ddr import DDRExtractor

    return DDRExtractor(weights=weights, layer=layer, crop=crop, pad=pad, device=device,
                        random_state=seed).fit()


def output_paths(output):
    """The two files :func:`extract_files` writes for ``output``: the ``.npy`` array and its sidecar CSV.

    Examples
    --------
    >>> from ddriqa.jobs.extract import output_paths
    >>> [p.name for p in output_paths("feat")]
    ['feat.npy', 'feat.csv']
    """
    output = Path(output)
    if output.suffix != ".npy":
        output = output.with_name(output.name + ".npy")
    return output, output.with_suffix(".csv")


def extract_files(transform, paths, output, *, batch_size=8, read=None, strict=False,
                  dtype=np.float32, on_item=None, runner=None, overwrite=False):
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
        that computes the features elsewhere, e.g. :func:`ddriqa.jobs.dask_runner.extract_runner`
        (a Dask cluster); ``transform`` is then unused (may be None).
    overwrite : bool, default=False
        Replace an existing ``output`` or sidecar (both are removed before the job starts).
        Without it an existing one is an :class:`~ddriqa.jobs.outputs.OutputExistsError`.

    Returns
    -------
    summary : JobSummary
    sidecar : pathlib.Path
        ``<output without .npy>.csv`` with columns ``index, path, error``; ``path`` is
        absolute (symbolic links not resolved), as in :func:`~ddriqa.jobs.classify.classify_files`.

    Raises
    ------
    OutputExistsError
        ``output`` or its sidecar exists and ``overwrite`` is False.
    InputError
        When no image at all could be processed (the shape of the array is unknown).

    Examples
    --------
    >>> import os, tempfile, numpy as np
    >>> from ddriqa.jobs.extract import extract_files
    >>> from ddriqa.io import write_image
    >>> d = tempfile.mkdtemp()
    >>> paths = [write_image(os.path.join(d, f"{i}.png"), np.full((8, 8, 3), i, np.uint8)) for i in (1, 2)]
    >>> mean_rgb = lambda imgs: np.array([im.mean(axis=(0, 1)) for im in imgs])
    >>> summary, sidecar = extract_files(mean_rgb, paths, os.path.join(d, "feat.npy"))
    >>> np.load(os.path.join(d, "feat.npy")).tolist()
    [[1.0, 1.0, 1.0], [2.0, 2.0, 2.0]]
    """
    output, sidecar = output_paths(output)
    refuse_existing([output, sidecar], overwrite=overwrite)
    paths = [absolute_path(p) for p in paths]
    summary = JobSummary(n_total=len(paths))
    output.parent.mkdir(parents=True, exist_ok=True)
    f = open(sidecar, "w", encoding="utf-8", errors="surrogateescape", newline="")
    write_row(f, ["index", "path", "error"])
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
            write_row(f, [item.index, item.path, item.error or ""])
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
