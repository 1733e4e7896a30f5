"""Gram matrices of streamed feature rows, and the exact PCA derived from them.

The one Gram/PCA core of the package. A DDR feature row (ResBlock16 of a 96x96 crop) has
589,824 values, far more than there are images, so PCA goes through the ``N x N`` Gram matrix:

- :func:`gram_pass` forms it while the rows stream in chunks (e.g. from an extractor's
  ``iter_transform``), with the column sums of the rows, and keeps the rows for a second pass
  when asked (:class:`ShiftedRows`: in memory, in a temporary file, or read from a given array);
  :func:`gram_from_chunks` and :func:`gram_from_extractor` return just the matrix.
- :func:`centred_eigh` eigendecomposes the centred matrix (the PCA of the rows):
  :func:`gram_pca_scores` derives the exact PCA scores of any train/test split from it, and
  :class:`ddriqa.classification.pca.StreamingPCA` its components.

Numerics: every row is shifted by the mean of the first chunk (a constant shift cancels in every
centred quantity and keeps the sums well-conditioned), each new chunk is multiplied with every
earlier row by BLAS in the chosen ``precision`` (``sgemm`` for float32 features) over column
slabs of ``slab`` features, and the slab products are summed in float64. The cost is
``n_samples^2 * n_features / 2`` multiply-adds at matrix-multiply speed, overlapped with the
extraction that produces the next chunk.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import linalg

from ddriqa.errors import InputError

__all__ = [
    "CentredEigh",
    "GramPass",
    "ShiftedRows",
    "blas_limit",
    "centred_eigh",
    "check_chunk",
    "gram_from_chunks",
    "gram_from_extractor",
    "gram_pass",
    "gram_pca_scores",
    "iter_row_chunks",
]

#: bytes of rows read back at once from a spill file or a source array
_GROUP_BYTES = 256 << 20


def iter_row_chunks(X, chunk_size):
    """Yield ``(start, block)`` row blocks of a 2-D array (or memmap), as arrays.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    chunk_size : int
        Rows per block.

    Yields
    ------
    start : int
    block : numpy.ndarray of shape (<= chunk_size, n_features)

    Examples
    --------
    >>> import numpy as np
    >>> [(s, b.shape) for s, b in iter_row_chunks(np.zeros((5, 2)), 2)]
    [(0, (2, 2)), (2, (2, 2)), (4, (1, 2))]
    """
    n = X.shape[0]
    for start in range(0, n, chunk_size):
        yield start, np.asarray(X[start : start + chunk_size])


def check_chunk(block, start, expected, n_samples, n_features=None):
    """Check one ``(start, block)`` of a feature stream and return the block as an array.

    Parameters
    ----------
    block : array-like of shape (rows, n_features)
    start : int
        Row index of the block's first row, as the stream announced it.
    expected : int
        The row the stream must be at (the previous block's end).
    n_samples : int
        Rows the whole stream announced.
    n_features : int or None
        Required width (None: any, for the first block).

    Returns
    -------
    numpy.ndarray

    Raises
    ------
    ddriqa.errors.InputError
        A block that is not 2-D, out of order, of another width, beyond ``n_samples`` rows, or
        holding NaN or infinite values.

    Examples
    --------
    >>> import numpy as np
    >>> check_chunk(np.ones((2, 3)), 4, 4, 6, 3).shape
    (2, 3)
    """
    block = np.asarray(block)
    if block.ndim != 2:
        raise InputError(f"a feature chunk must be 2-D (rows, features), got shape {block.shape}")
    if start != expected:
        raise InputError(f"feature chunks must arrive in order: expected start {expected}, got {start}")
    if n_features is not None and block.shape[1] != n_features:
        raise InputError(f"feature chunk at row {start} has {block.shape[1]} features, expected {n_features}")
    if start + block.shape[0] > n_samples:
        raise InputError(f"the feature stream yielded more than the {n_samples} rows announced")
    if not np.all(np.isfinite(block)):
        raise InputError(f"feature chunk at row {start} contains NaN or infinite values")
    return block


def _float_dtype(precision, block):
    """float32 or float64: ``precision``, or (None) that of the block (float64 unless float32)."""
    if precision is None:
        return np.dtype(np.float32 if block.dtype == np.float32 else np.float64)
    dtype = np.dtype(precision)
    if dtype not in (np.float32, np.float64):
        raise InputError(f"precision must be float32, float64 or None, got {precision!r}")
    return dtype


class ShiftedRows:
    """Feature rows minus a constant shift, with random access (for products and a second pass).

    The rows are held in one of three ways:

    - in memory, as an ``(n_samples, n_features)`` array of ``dtype``, when it takes at most
      ``memory_limit`` bytes;
    - otherwise in a temporary file in ``spill_dir``, written and read back with plain file I/O
      (not a memory map, so rows read back never count towards the process's resident memory
      beyond the block in use) and deleted by :meth:`close`;
    - or not at all when ``source`` (a 2-D array or memmap holding every row) is given: rows
      are read from it, and shifted, when asked for.

    Parameters
    ----------
    n_samples, n_features : int
    dtype : {numpy.float32, numpy.float64}
        Dtype of the rows :meth:`read` returns.
    shift : ndarray of shape (n_features,) or None
        Subtracted from every row (None: nothing).
    memory_limit : int, default=4 GiB
    spill_dir : str or None
        Folder of the temporary file (default: the system's temporary folder).
    source : array-like of shape (n_samples, n_features) or None

    Examples
    --------
    >>> import numpy as np
    >>> with ShiftedRows(3, 2, np.float64, np.array([1.0, 1.0]), memory_limit=0) as rows:
    ...     _ = rows.write(0, np.arange(6.0).reshape(3, 2))
    ...     rows.read(1, 3, slice(1, 2)).ravel().tolist(), rows.in_memory
    ([2.0, 4.0], False)
    """

    def __init__(self, n_samples, n_features, dtype, shift=None, *, memory_limit=4 << 30, spill_dir=None,
                 source=None):
        self.n_samples, self.n_features = int(n_samples), int(n_features)
        self.dtype = np.dtype(dtype)
        self.shift = None if shift is None else np.asarray(shift, dtype=np.float64)
        self.source = source
        self._tmp = self._fh = self._array = None
        if source is None and self.n_samples * self.n_features * self.dtype.itemsize <= memory_limit:
            self._array = np.empty((self.n_samples, self.n_features), dtype=self.dtype)
        elif source is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ddriqa-rows-", dir=spill_dir)
            self._fh = open(os.path.join(self._tmp.name, "rows.bin"), "w+b")  # noqa: SIM115

    @property
    def in_memory(self):
        """True when :meth:`read` returns views of rows held in memory (no copy)."""
        return self._array is not None

    def batch_rows(self, width=None):
        """Rows to read at once: all when in memory, else about 256 MB of ``width`` columns."""
        if self.in_memory:
            return max(self.n_samples, 1)
        width = self.n_features if width is None else int(width)
        return max(1, _GROUP_BYTES // (max(width, 1) * self.dtype.itemsize))

    def _shifted(self, block, cols=slice(None), out=None):
        """``block - shift[cols]`` in ``dtype`` (computed in the wider of the two dtypes)."""
        if out is None:
            out = np.empty(block.shape, dtype=self.dtype)
        if self.shift is None:
            np.copyto(out, block, casting="unsafe")
        else:
            work = np.result_type(block.dtype, self.dtype)
            np.subtract(block, self.shift[cols].astype(work), out=out, dtype=work, casting="unsafe")
        return out

    def write(self, start, block):
        """Store rows ``start:start + len(block)`` (shifted) and return them shifted, in ``dtype``."""
        if self._array is not None:
            return self._shifted(block, out=self._array[start : start + block.shape[0]])
        shifted = self._shifted(block)
        if self._fh is not None:
            self._fh.seek(start * self.n_features * self.dtype.itemsize)
            self._fh.write(memoryview(shifted).cast("B"))
        return shifted

    def read(self, start, stop, cols=None):
        """Rows ``start:stop`` (shifted, in ``dtype``), optionally only the columns ``cols`` (a slice)."""
        cols = slice(None) if cols is None else cols
        if self._array is not None:
            return self._array[start:stop, cols]
        if self.source is not None:
            return self._shifted(np.asarray(self.source[start:stop, cols]), cols)
        c0, c1, _ = cols.indices(self.n_features)
        item, row_bytes = self.dtype.itemsize, self.dtype.itemsize * self.n_features
        out = np.empty((stop - start, c1 - c0), dtype=self.dtype)
        self._fh.flush()
        targets = [out] if c1 - c0 == self.n_features else list(out)
        for i, target in enumerate(targets):
            self._fh.seek((start + i) * row_bytes + c0 * item)
            if self._fh.readinto(memoryview(target).cast("B")) != target.nbytes:
                raise OSError("the temporary feature file is shorter than expected (disk full?)")
        return out

    def close(self):
        """Delete the temporary file, if any (the rows cannot be read afterwards)."""
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
        self._array = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


@dataclass
class GramPass:
    """What :func:`gram_pass` computed in one pass over a feature stream.

    Attributes
    ----------
    gram : ndarray of shape (n_samples, n_samples), float64
        Gram matrix of the shifted rows, exactly symmetric.
    shift : ndarray of shape (n_features,), float64
        The vector subtracted from every row (the first chunk's mean, rounded to ``dtype``).
    column_sums : ndarray of shape (n_features,), float64
        Column sums of the shifted rows (``mean = shift + column_sums / n_samples``).
    dtype : numpy.dtype
        Precision of the products and of the kept rows.
    rows : ShiftedRows or None
        The shifted rows (``keep_rows=True``); :meth:`close` releases them.
    """

    gram: np.ndarray
    shift: np.ndarray
    column_sums: np.ndarray
    dtype: np.dtype
    rows: ShiftedRows = None

    @property
    def mean(self):
        """Column means of the rows (before the shift)."""
        return self.shift + self.column_sums / self.gram.shape[0]

    def close(self):
        if self.rows is not None:
            self.rows.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _add_products(acc, new, old, slab):
    """``acc += new @ old.T``, one ``slab``-column product (in the rows' dtype) at a time."""
    for c0 in range(0, new.shape[1], slab):
        acc += new[:, c0 : c0 + slab] @ old[:, c0 : c0 + slab].T


def _start_rows(block, n_samples, precision, source, memory_limit, spill_dir):
    """The row store of a stream, set up from its first block."""
    dtype = _float_dtype(precision, block)
    shift = block.mean(axis=0, dtype=np.float64).astype(dtype).astype(np.float64)
    if source is not None and tuple(np.shape(source)) != (n_samples, block.shape[1]):
        raise InputError(f"source has shape {np.shape(source)}, expected ({n_samples}, {block.shape[1]})")
    return ShiftedRows(n_samples, block.shape[1], dtype, shift, memory_limit=memory_limit,
                       spill_dir=spill_dir, source=source)


def gram_pass(chunks, n_samples, *, keep_rows=False, source=None, precision=np.float32, slab=65536,
              memory_limit=4 << 30, spill_dir=None, blas_threads=1):
    """Gram matrix and column sums of a stream of feature rows, in one pass as the rows arrive.

    Every row is shifted by the mean of the first chunk (rounded to ``precision``) and kept
    as a :class:`ShiftedRows`: in memory when the ``n_samples x n_features`` rows fit in
    ``memory_limit`` bytes (1.7 GB for 720 float32 DDR rows), else in a temporary file in
    ``spill_dir`` read back about 256 MB at a time, or read from ``source`` when given. Each new
    chunk is multiplied with all rows so far (:func:`_add_products`), so no row is computed or
    read from disk twice for a new chunk, and its products cost ``n_samples^2 * n_features / 2``
    multiply-adds in all.

    Parameters
    ----------
    chunks : iterable of (start, block)
        Consecutive row blocks, e.g. ``extractor.iter_transform(X, chunk_size)`` or
        :func:`iter_row_chunks`.
    n_samples : int
        Total number of rows the stream yields.
    keep_rows : bool, default=False
        Return the shifted rows in ``rows`` for a second pass (the caller then closes the
        result, e.g. ``with gram_pass(...) as g:``); otherwise they are released on return.
    source : array-like of shape (n_samples, n_features) or None
        The array the chunks come from (e.g. ``iter_row_chunks(source, ...)``): earlier rows
        are read from it instead of being copied.
    precision : {numpy.float32, numpy.float64, None}, default=float32
        Dtype of the kept rows and of the BLAS products (their slab sums are float64). None:
        float32 for float32 chunks, else float64.
    slab : int, default=65536
        Features per product.
    memory_limit : int, default=4 GiB
        Largest size of the rows held in memory; above it they go to a temporary file.
    spill_dir : str or None
        Folder for that file (default: the system's temporary folder).
    blas_threads : int or None, default=1
        BLAS threads for the products (threadpoolctl; None leaves the BLAS as it is). One thread
        is the default because multi-threaded OpenBLAS was measured 20-170x slower on the
        shared, loaded 2-core development machine (``benchmarks/ddr_gram_speed.py``).

    Returns
    -------
    GramPass
        ``gram``, ``shift``, ``column_sums``, ``dtype`` and (``keep_rows``) ``rows``.

    Raises
    ------
    ddriqa.errors.InputError
        A chunk refused by :func:`check_chunk`, or a stream of other than ``n_samples`` rows.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(10, 50)) + 5
    >>> g = gram_pass(iter_row_chunks(X, 4), 10, precision=np.float64)
    >>> Xs = X - g.shift
    >>> bool(np.allclose(g.gram, Xs @ Xs.T)), bool(np.allclose(g.mean, X.mean(axis=0)))
    (True, True)
    """
    n, slab = int(n_samples), int(slab)
    if n < 1 or slab < 1:
        raise InputError(f"n_samples and slab must be positive, got {n_samples!r} and {slab!r}")
    gram = np.zeros((n, n))
    rows = colsum = None
    expected = 0
    try:
        for start, block in chunks:  # the BLAS limit holds for the products only, not the extractor
            block = check_chunk(block, start, expected, n, None if rows is None else rows.n_features)
            if rows is None:
                rows = _start_rows(block, n, precision, source, memory_limit, spill_dir)
                colsum = np.zeros(rows.n_features)
            stop = start + block.shape[0]
            new = rows.write(start, block)
            colsum += new.sum(axis=0, dtype=np.float64)
            step = rows.batch_rows()
            with blas_limit(blas_threads):
                for j0 in range(0, start, step):
                    j1 = min(j0 + step, start)
                    _add_products(gram[start:stop, j0:j1], new, rows.read(j0, j1), slab)
                diag = gram[start:stop, start:stop]
                _add_products(diag, new, new, slab)
            diag[...] = (diag + diag.T) / 2  # a full product: make it exactly symmetric
            gram[:start, start:stop] = gram[start:stop, :start].T
            expected = stop
        if expected != n:
            raise InputError(f"the feature stream yielded {expected} rows, expected {n}")
    except BaseException:
        if rows is not None:
            rows.close()
        raise
    if not keep_rows:
        rows.close()
    return GramPass(gram=gram, shift=rows.shift, column_sums=colsum, dtype=rows.dtype,
                    rows=rows if keep_rows else None)


def gram_from_chunks(chunks, n_samples, *, slab=65536, memory_limit=4 << 30, spill_dir=None, blas_threads=1,
                     precision=np.float32):
    """Gram matrix of a stream of feature rows, computed while the rows arrive.

    :func:`gram_pass` without the rows: the Gram matrix of the rows shifted by the first
    chunk's mean (a constant shift cancels in every centred quantity, see
    :func:`gram_pca_scores`), from float32 BLAS products summed in float64 by default.

    Parameters
    ----------
    chunks : iterable of (start, block)
    n_samples : int
    slab, memory_limit, spill_dir, blas_threads, precision
        See :func:`gram_pass`.

    Returns
    -------
    ndarray of shape (n_samples, n_samples), float64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(10, 50))
    >>> G = gram_from_chunks(((s, X[s:s + 4]) for s in range(0, 10, 4)), 10)
    >>> Xc, H = X - X.mean(0), np.eye(10) - 1 / 10
    >>> bool(np.allclose(H @ G @ H, Xc @ Xc.T, atol=1e-4))
    True
    """
    return gram_pass(chunks, n_samples, precision=precision, slab=slab, memory_limit=memory_limit,
                     spill_dir=spill_dir, blas_threads=blas_threads).gram


def gram_from_extractor(extractor, X, *, chunk_size=32, spill_dir=None, memory_limit=4 << 30, blas_threads=1):
    """Extract the features of ``X`` once, streaming, and return their Gram matrix.

    Parameters
    ----------
    extractor : transformer with ``iter_transform(X, chunk_size)`` (e.g. DDRExtractor)
    X : list of image paths or arrays
    chunk_size : int
    spill_dir : str or None
        Folder for the temporary feature file when the rows exceed ``memory_limit``.
    memory_limit : int, default=4 GiB
    blas_threads : int or None, default=1
        See :func:`gram_pass`.

    Returns
    -------
    ndarray of shape (n, n), float64
    """
    from ddriqa.features._inputs import as_image_list

    items = as_image_list(X)
    return gram_from_chunks(extractor.iter_transform(items, chunk_size), len(items),
                            memory_limit=memory_limit, spill_dir=spill_dir, blas_threads=blas_threads)


class CentredEigh(NamedTuple):
    """The largest eigenpairs of a doubly-centred Gram matrix (see :func:`centred_eigh`)."""

    values: np.ndarray
    vectors: np.ndarray
    column_means: np.ndarray
    trace: float
    valid: np.ndarray


def centred_eigh(gram, n_components):
    """Largest eigenpairs of the centred Gram matrix ``Kc = H G H`` (``H = I - 1 1^T / n``).

    ``Kc = Xc Xc^T`` for the centred rows ``Xc``, so its eigenvalues are the squared singular
    values of ``Xc`` and ``U S`` its PCA scores.

    Parameters
    ----------
    gram : ndarray of shape (n, n)
    n_components : int
        Eigenpairs wanted, 1 to n.

    Returns
    -------
    CentredEigh
        ``values`` (descending, clipped at 0), ``vectors`` (n x k), ``column_means`` of ``gram``
        (to centre the cross products ``k_t`` of other rows:
        ``k_t - mean(k_t) - column_means + mean(column_means)``), ``trace`` of ``Kc`` (the total
        scatter), and ``valid``: the values above the rank threshold
        ``values[0] * n * eps * 100``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(6, 20))
    >>> e = centred_eigh(X @ X.T, 2)
    >>> Xc = X - X.mean(0)
    >>> bool(np.allclose(e.values, np.linalg.svd(Xc, compute_uv=False)[:2] ** 2))
    True
    """
    gram = np.asarray(gram, dtype=np.float64)
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1]:
        raise InputError(f"expected a square Gram matrix, got shape {gram.shape}")
    n, k = gram.shape[0], int(n_components)
    if not 1 <= k <= n:
        raise InputError(f"n_components={k} must be between 1 and the {n} rows of the Gram matrix")
    col = gram.mean(axis=0)
    centred = gram - col[:, None] - col[None, :] + col.mean()
    values, vectors = linalg.eigh(centred, subset_by_index=[n - k, n - 1])
    values, vectors = np.clip(values[::-1], 0.0, None), vectors[:, ::-1]
    valid = values > values[0] * n * np.finfo(np.float64).eps * 100
    return CentredEigh(values, vectors, col, max(float(np.trace(centred)), 0.0), valid)


def gram_pca_scores(gram, train, test, n_components):
    """Exact PCA scores of a train/test split from the Gram matrix of all samples.

    With ``K = G[train][:, train]`` centred (``Kc = H K H``), ``Kc = U S^2 U^T`` and the train
    scores are ``U S`` (the PCA scores of the centred train features); a test row's scores are
    ``(k_t - mean_j k_t[j] - colmean(K) + mean(K)) U S^-1`` with ``k_t = G[t, train]``, i.e. the
    test features centred with the train mean and projected on the train components. Equal to
    ``PCA(n_components, svd_solver="full").fit(X[train])`` transforms up to the sign of each
    component (signs here: the largest |train score| of each component is positive).

    Parameters
    ----------
    gram : ndarray of shape (n_samples, n_samples)
    train, test : array-like of int
    n_components : int

    Returns
    -------
    Z_train : ndarray of shape (len(train), n_components)
    Z_test : ndarray of shape (len(test), n_components)

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(12, 30))
    >>> Ztr, Zte = gram_pca_scores(X @ X.T, np.arange(8), np.arange(8, 12), 3)
    >>> Ztr.shape, Zte.shape
    ((8, 3), (4, 3))
    """
    gram = np.asarray(gram, dtype=np.float64)
    if gram.ndim != 2 or gram.shape[0] != gram.shape[1]:
        raise InputError(f"expected a square Gram matrix, got shape {gram.shape}")
    train, test = np.asarray(train), np.asarray(test)
    n, k = train.size, int(n_components)
    if not 1 <= k <= n - 1:
        raise InputError(f"n_components={k} must be between 1 and n_train - 1 = {n - 1}")
    eig = centred_eigh(gram[np.ix_(train, train)], k)
    sing = np.sqrt(eig.values)
    inv = np.zeros_like(sing)
    inv[eig.valid] = 1.0 / sing[eig.valid]
    z_train = eig.vectors * sing[None, :]
    idx = np.argmax(np.abs(z_train), axis=0)
    signs = np.sign(z_train[idx, np.arange(k)])
    signs[signs == 0] = 1.0
    z_train *= signs
    col = eig.column_means
    Kt = gram[np.ix_(test, train)]
    Kt_c = Kt - Kt.mean(axis=1, keepdims=True) - col[None, :] + col.mean()
    z_test = (Kt_c @ eig.vectors) * (inv * signs)[None, :]
    return z_train, z_test


def blas_limit(threads):
    """Context limiting the BLAS threads (threadpoolctl), or doing nothing for None.

    Examples
    --------
    >>> with blas_limit(None):
    ...     pass
    """
    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads), user_api="blas")
