"""Gram matrices of feature rows, and exact PCA scores derived from them.

The one Gram/PCA core of the package. A DDR feature row (ResBlock16 of a 96x96 crop) has
589,824 values, far more than there are images, so PCA goes through the ``N x N`` Gram matrix:
:func:`gram_from_chunks` forms it while the rows stream from an extractor (float32 BLAS
products, float64 sums), and :func:`gram_pca_scores` derives the exact PCA scores of any
train/test split from it (linear-kernel PCA equals PCA).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import linalg

from ddriqa.errors import InputError

__all__ = ["blas_limit", "check_chunk", "gram_from_chunks", "gram_from_extractor", "gram_pca_scores"]


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
    n = train.size
    k = int(n_components)
    if not 1 <= k <= n - 1:
        raise InputError(f"n_components={k} must be between 1 and n_train - 1 = {n - 1}")
    K = gram[np.ix_(train, train)]
    col = K.mean(axis=0)
    Kc = K - col[:, None] - col[None, :] + col.mean()
    evals, U = linalg.eigh(Kc, subset_by_index=[n - k, n - 1])
    evals, U = evals[::-1], U[:, ::-1]
    sing = np.sqrt(np.clip(evals, 0.0, None))
    good = evals > evals[0] * n * np.finfo(np.float64).eps * 100
    inv = np.zeros_like(sing)
    inv[good] = 1.0 / sing[good]
    z_train = U * sing[None, :]
    idx = np.argmax(np.abs(z_train), axis=0)
    signs = np.sign(z_train[idx, np.arange(k)])
    signs[signs == 0] = 1.0
    z_train *= signs
    Kt = gram[np.ix_(test, train)]
    Kt_c = Kt - Kt.mean(axis=1, keepdims=True) - col[None, :] + col.mean()
    z_test = (Kt_c @ U) * (inv * signs)[None, :]
    return z_train, z_test


def blas_limit(threads):
    """Context limiting the BLAS threads (threadpoolctl), or doing nothing for None."""
    import contextlib

    if threads is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=int(threads), user_api="blas")


def check_chunk(block, start, expected, n_samples, n_features):
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


def gram_from_chunks(chunks, n_samples, *, slab=65536, memory_limit=4 << 30, spill_dir=None, blas_threads=1):
    """Gram matrix of a stream of feature rows, computed while the rows arrive (float32 products).

    Every row is shifted by the mean of the first chunk (a constant shift cancels in every
    centred quantity, see :func:`gram_pca_scores`) and kept as float32: in memory when the
    ``n_samples x n_features`` rows fit in ``memory_limit`` bytes (1.7 GB for 720 DDR rows of
    589,824 values), otherwise in a temporary memory-mapped file in ``spill_dir``. Each new
    chunk is multiplied with all rows so far by single-precision BLAS (``sgemm``) over column
    slabs of ``slab`` features whose products are summed in float64, so the cost is
    ``n_samples^2 * n_features / 2`` multiply-adds at matrix-multiply speed, overlapped with
    the extraction that produces the next chunk, and no row is read twice from disk.

    Parameters
    ----------
    chunks : iterable of (start, block)
        Consecutive row blocks, e.g. ``extractor.iter_transform(X, chunk_size)``.
    n_samples : int
        Total number of rows the stream yields.
    slab : int, default=65536
        Features per float32 product (its sums go to float64).
    memory_limit : int, default=4 GiB
        Largest size of the kept rows held in memory; above it they go to a temporary file.
    spill_dir : str or None
        Folder for that temporary file (default: the system's temporary folder).
    blas_threads : int or None, default=1
        BLAS threads for the products (threadpoolctl; None leaves the BLAS as it is). One
        thread is the default because multi-threaded OpenBLAS was measured 20-170x slower on
        the shared, loaded 2-core development machine (``benchmarks/ddr_gram_speed.py``).

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
    import tempfile

    n = int(n_samples)
    slab = int(slab)
    if n < 1 or slab < 1:
        raise InputError(f"n_samples and slab must be positive, got {n_samples!r} and {slab!r}")
    gram = np.zeros((n, n))
    rows = shift = tmp = None
    expected = 0
    try:
        for start, block in chunks:
            block = check_chunk(block, start, expected, n, None if rows is None else rows.shape[1])
            stop = start + block.shape[0]
            if rows is None:
                d = block.shape[1]
                shift = block.mean(axis=0, dtype=np.float64).astype(np.float32)
                if n * d * 4 <= memory_limit:
                    rows = np.empty((n, d), dtype=np.float32)
                else:
                    tmp = tempfile.TemporaryDirectory(prefix="ddriqa-gram-", dir=spill_dir)
                    rows = np.lib.format.open_memmap(Path(tmp.name) / "rows.npy", mode="w+",
                                                     dtype=np.float32, shape=(n, d))
            new = rows[start:stop]
            np.subtract(block, shift, out=new, dtype=np.float32, casting="unsafe")
            if isinstance(rows, np.memmap):
                new = np.array(new)  # the new rows stay in memory while they meet the old ones
            d = rows.shape[1]
            # earlier rows in groups of about 256 MB (all at once when they are in memory)
            step = stop if not isinstance(rows, np.memmap) else max(1, (256 << 20) // (4 * d))
            with blas_limit(blas_threads):
                for j0 in range(0, stop, step):
                    j1 = min(j0 + step, stop)
                    old = rows[j0:j1]
                    acc = gram[start:stop, j0:j1]
                    for c0 in range(0, d, slab):
                        acc += new[:, c0:c0 + slab] @ old[:, c0:c0 + slab].T
            gram[:start, start:stop] = gram[start:stop, :start].T
            expected = stop
        if expected != n:
            raise InputError(f"the feature stream yielded {expected} rows, expected {n}")
    finally:
        del rows
        if tmp is not None:
            tmp.cleanup()
    # the diagonal block was formed as a full product: make it exactly symmetric
    return (gram + gram.T) / 2


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
        See :func:`gram_from_chunks`.

    Returns
    -------
    ndarray of shape (n, n), float64
    """
    from ddriqa.features._inputs import as_image_list

    items = as_image_list(X)
    return gram_from_chunks(extractor.iter_transform(items, chunk_size), len(items),
                            memory_limit=memory_limit, spill_dir=spill_dir, blas_threads=blas_threads)
