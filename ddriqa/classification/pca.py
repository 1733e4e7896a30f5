"""PCA that streams its input in chunks, for feature vectors too large to hold twice.

A DDR feature row (SRGAN ResBlock16 on a 96x96 crop) has 64*96*96 = 589,824 float32 values,
2.36 MB; 3,000 training images are 7 GB. :class:`StreamingPCA` fits a PCA on such data
without ever asking for more than one chunk of rows at a time, either from a feature extractor
(a transformer with ``iter_transform(X, chunk_size)``, such as
:class:`ddriqa.features.ddr.DDRExtractor`) or from a 2-D feature array (which may be a
``numpy.memmap``).

The exact solver also provides :func:`streaming_gram`, the ``N x N`` Gram matrix of a stream of
feature rows, which the benchmark (:mod:`ddriqa.evaluation.protocol`) reuses to derive an
exact PCA for every train/test split from one extraction pass.
"""

from __future__ import annotations

import os
import tempfile

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from ddriqa.errors import InputError

__all__ = ["StreamingPCA", "streaming_gram", "iter_row_chunks"]


def iter_row_chunks(X, chunk_size):
    """Yield ``(start, block)`` row blocks of a 2-D array (or memmap), as float arrays.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    chunk_size : int
        Rows per block.

    Yields
    ------
    start : int
    block : numpy.ndarray of shape (<= chunk_size, n_features)
    """
    n = X.shape[0]
    for start in range(0, n, chunk_size):
        yield start, np.asarray(X[start : start + chunk_size])


def _check_block(block, start, expected_start, n_features=None):
    block = np.asarray(block)
    if block.ndim != 2:
        raise InputError(f"a feature chunk must be 2-D (rows, features), got shape {block.shape}")
    if start != expected_start:
        raise InputError(f"feature chunks must arrive in order: expected start {expected_start}, got {start}")
    if n_features is not None and block.shape[1] != n_features:
        raise InputError(f"feature chunk at row {start} has {block.shape[1]} features, expected {n_features}")
    if not np.all(np.isfinite(block)):
        raise InputError(f"feature chunk at row {start} contains NaN or infinite values")
    return block


class _RowStore:
    """Random access to rows already seen: the input array itself, or a spill file on disk.

    The spill file is written and read with plain file I/O (not a memory map), so the rows read
    back never count towards the process's resident memory beyond the block being used.
    """

    def __init__(self, array=None, n_samples=None, spill_dir=None):
        self._array = array
        self._n = n_samples
        self._spill_dir = spill_dir
        self._tmp = None
        self._fh = None
        self._dtype = None
        self._width = None

    def add(self, start, block):
        if self._array is not None:
            return
        if self._fh is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="ddriqa-pca-", dir=self._spill_dir)
            self._fh = open(os.path.join(self._tmp.name, "features.bin"), "w+b")  # noqa: SIM115
            self._dtype, self._width = block.dtype, block.shape[1]
        row_bytes = self._dtype.itemsize * self._width
        self._fh.seek(start * row_bytes)
        self._fh.write(memoryview(np.ascontiguousarray(block, dtype=self._dtype)).cast("B"))

    def rows(self, start, stop, cols=None):
        """Rows ``start:stop`` (optionally only the column range ``cols``, a slice with step 1)."""
        if self._array is not None:
            block = self._array[start:stop]
            return np.asarray(block if cols is None else block[:, cols])
        item = self._dtype.itemsize
        row_bytes = item * self._width
        self._fh.flush()
        if cols is None:
            self._fh.seek(start * row_bytes)
            out = np.empty((stop - start, self._width), dtype=self._dtype)
            if self._fh.readinto(memoryview(out).cast("B")) != out.nbytes:
                raise OSError("the temporary feature file is shorter than expected (disk full?)")
            return out
        c0, c1, _ = cols.indices(self._width)
        out = np.empty((stop - start, c1 - c0), dtype=self._dtype)
        for i in range(stop - start):
            self._fh.seek((start + i) * row_bytes + c0 * item)
            if self._fh.readinto(memoryview(out[i]).cast("B")) != out[i].nbytes:
                raise OSError("the temporary feature file is shorter than expected (disk full?)")
        return out

    def close(self):
        if self._fh is not None:
            self._fh.close()
            self._fh = None
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None


def _slabs(n_features, n_rows):
    """Column ranges small enough that an (n_rows x width) float64 temporary stays ~16 MB."""
    width = max(1024, (1 << 21) // max(int(n_rows), 1))
    return [slice(c, min(c + width, n_features)) for c in range(0, n_features, width)]


def _shifted(block, cols, shift):
    out = block[:, cols].astype(np.float64)
    out -= shift[cols]
    return out


def _gram_pass(chunks, n_samples, store, chunk_size):
    """One pass: shifted Gram matrix (float64), column sums of the shifted rows, shift vector.

    Products are formed in float64 over column slabs, so the temporaries stay small whatever
    the feature dimension; rows of earlier chunks are read back from ``store``.
    """
    gram = np.zeros((n_samples, n_samples))
    shift = colsum = None
    dtype = None
    expected = 0
    for start, block in chunks:
        block = _check_block(block, start, expected, None if shift is None else shift.shape[0])
        stop = start + block.shape[0]
        if stop > n_samples:
            raise InputError(f"the feature stream yielded more than the {n_samples} rows announced")
        if shift is None:
            dtype = np.float32 if block.dtype == np.float32 else np.float64
            shift = block.mean(axis=0, dtype=np.float64)
            colsum = np.zeros_like(shift)
        block = block.astype(dtype, copy=False)
        store.add(start, block)
        slabs = _slabs(block.shape[1], max(block.shape[0], chunk_size))
        diag = np.zeros((block.shape[0], block.shape[0]))
        for sl in slabs:
            b = _shifted(block, sl, shift)
            colsum[sl] += b.sum(axis=0)
            diag += b @ b.T
        gram[start:stop, start:stop] = diag
        for j0 in range(0, start, chunk_size):
            j1 = min(j0 + chunk_size, start)
            earlier = store.rows(j0, j1)
            cross = np.zeros((block.shape[0], j1 - j0))
            for sl in slabs:
                cross += _shifted(block, sl, shift) @ _shifted(earlier, sl, shift).T
            gram[start:stop, j0:j1] = cross
            gram[j0:j1, start:stop] = cross.T
        expected = stop
    if expected != n_samples:
        raise InputError(f"the feature stream yielded {expected} rows, expected {n_samples}")
    return gram, colsum, shift, dtype


def streaming_gram(chunks, n_samples, *, chunk_size=64, spill_dir=None):
    """Gram matrix of a stream of feature rows, holding at most two row blocks in memory.

    Rows seen so far are spilled to a temporary float file on disk (deleted on return), because
    each new block must be multiplied with every earlier one. Cost: ``N^2 * D`` multiply-adds,
    memory ``O(N^2 + chunk_size * D)``, disk ``N * D`` values.

    The rows are shifted by a constant vector (the mean of the first block) before the products
    are taken, which keeps the float64 sums well-conditioned; a constant shift cancels exactly in
    every centred quantity (PCA, distances), so the result can be used as the Gram matrix of the
    features for any centred computation.

    Parameters
    ----------
    chunks : iterable of (start, block)
        Consecutive row blocks, e.g. ``extractor.iter_transform(X, chunk_size)`` or
        :func:`iter_row_chunks`.
    n_samples : int
        Total number of rows the stream yields.
    chunk_size : int, default=64
        Rows read back per block from the spill file.
    spill_dir : str or None
        Folder for the temporary file (default: the system's temporary folder).

    Returns
    -------
    numpy.ndarray of shape (n_samples, n_samples), float64

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(10, 50))
    >>> G = streaming_gram(iter_row_chunks(X, 4), 10)
    >>> Xc, H = X - X.mean(0), np.eye(10) - 1 / 10
    >>> bool(np.allclose(H @ G @ H, Xc @ Xc.T))
    True
    """
    store = _RowStore(n_samples=n_samples, spill_dir=spill_dir)
    try:
        gram, _, _, _ = _gram_pass(chunks, n_samples, store, chunk_size)
    finally:
        store.close()
    return gram


def _centre_gram(gram):
    row = gram.mean(axis=1)
    return gram - row[:, None] - row[None, :] + row.mean()


def _flip_rows(components, scores=None):
    """sklearn's sign convention (svd_flip, v-based): the largest |entry| of each component is > 0."""
    # row by row: np.abs of the whole (k x 589,824) matrix would double the peak memory
    idx = np.array([np.argmax(np.abs(row)) for row in components], dtype=np.intp)
    signs = np.sign(components[np.arange(components.shape[0]), idx])
    signs[signs == 0] = 1.0
    components *= signs[:, None]
    if scores is not None:
        scores *= signs[None, :]
    return components, scores


class StreamingPCA(ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator):
    """Principal component analysis fitted on features streamed in chunks.

    With an ``extractor`` (a transformer with ``iter_transform(X, chunk_size)`` yielding
    ``(start, block)``, such as :class:`ddriqa.features.ddr.DDRExtractor`), ``X`` is what the
    extractor accepts (image paths or arrays) and the features are computed chunk by chunk:
    this step is then "extractor + PCA" in one pipeline step, and the full feature matrix is never
    held in memory. Without an extractor, ``X`` is a precomputed 2-D feature array (or memmap),
    read in row chunks.

    Solvers
    -------
    ``"exact"`` (default): the result equals ``sklearn.decomposition.PCA(svd_solver="full")``
    up to rounding (same sign convention).

    - ``n_features > n_samples`` (the DDR case): two passes over the rows. Pass 1 computes
      the features once, spills them to a temporary file on disk (when they come from an
      extractor; a given array is read in place) and accumulates the ``N x N`` Gram matrix
      block-wise; the centred Gram matrix is eigendecomposed (``Xc Xc^T = U S^2 U^T``); pass 2
      reads the rows back and forms the components ``S^-1 U^T Xc``. Memory
      ``O(N^2 + k*D + chunk_size*D)``, disk ``N*D`` values (1.8 GB for LIVE's 779 images in
      float32), compute ``N^2*D``.
    - ``n_features <= n_samples``: one pass accumulating the ``D x D`` scatter matrix.

    ``"incremental"``: :class:`sklearn.decomposition.IncrementalPCA` ``partial_fit`` on
    batches of ``max(n_components, chunk_size)`` rows: one pass, memory ``O((k + batch)*D)`` and
    no disk in ``fit``, but only approximate.

    Why exact is the default: the paper's method is a plain PCA fitted on the training fold;
    the exact solver reproduces it, costs one feature extraction (the expensive part) like the
    incremental one, and its extra costs (an ``N x N`` matrix, a temporary file) are modest
    for the few thousand images an identification training set has. ``fit_transform`` does
    not extract twice: the training scores come from the spilled rows (or, exact with
    ``N < D``, directly from ``U S``).

    Parameters
    ----------
    extractor : transformer or None, default=None
        Feature extractor to stream through; ``None`` for precomputed 2-D features.
    n_components : int or None, default=120
        Number of components; ``None`` keeps ``min(n_samples, n_features)``.
    solver : {"exact", "incremental"}, default="exact"
    chunk_size : int, default=32
        Rows per chunk asked from the extractor (and read back from disk).
    spill_dir : str or None, default=None
        Folder for the temporary feature file (default: the system's temporary folder).
    random_state : int, numpy.random.Generator or None, default=None
        Only used to complete the basis with arbitrary orthonormal directions when
        ``n_components`` exceeds the rank of the centred data.

    Attributes
    ----------
    components_ : ndarray of shape (n_components, n_features)
    mean_ : ndarray of shape (n_features,)
    explained_variance_ : ndarray of shape (n_components,)
    explained_variance_ratio_ : ndarray of shape (n_components,)
    singular_values_ : ndarray of shape (n_components,)
    n_components_ : int
    n_samples_ : int
    n_features_in_ : int
        Feature dimension (of the extractor's output when an extractor is used).
    extractor_ : transformer or None
        The fitted clone of ``extractor``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(40, 300))
    >>> pca = StreamingPCA(n_components=5, chunk_size=8).fit(X)
    >>> pca.transform(X).shape
    (40, 5)
    """

    def __init__(
        self,
        extractor=None,
        n_components=120,
        *,
        solver="exact",
        chunk_size=32,
        spill_dir=None,
        random_state=None,
    ):
        self.extractor = extractor
        self.n_components = n_components
        self.solver = solver
        self.chunk_size = chunk_size
        self.spill_dir = spill_dir
        self.random_state = random_state

    # ------------------------------------------------------------------ inputs
    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def _validate_params_(self):
        if self.solver not in ("exact", "incremental"):
            raise InputError(f"solver must be 'exact' or 'incremental', got {self.solver!r}")
        if isinstance(self.chunk_size, bool) or not isinstance(self.chunk_size, (int, np.integer)) or self.chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer, got {self.chunk_size!r}")
        k = self.n_components
        if k is not None and (isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1):
            raise InputError(f"n_components must be a positive integer or None, got {k!r}")

    def _prepare(self, X, reset):
        """Return (n_samples, chunk iterator factory, in-memory array or None)."""
        if self.extractor is None:
            X = validate_data(self, X, dtype=[np.float64, np.float32], reset=reset, copy=False)
            return X.shape[0], (lambda: iter_row_chunks(X, self.chunk_size)), X
        from ddriqa.features._inputs import as_image_list

        items = as_image_list(X)
        extractor = self.extractor_ if not reset else clone(self.extractor).fit(items)
        if reset:
            self.extractor_ = extractor

        def chunks():
            if hasattr(extractor, "iter_transform"):
                yield from extractor.iter_transform(items, self.chunk_size)
            else:
                for s in range(0, len(items), self.chunk_size):
                    yield s, np.asarray(extractor.transform(items[s : s + self.chunk_size]))

        return len(items), chunks, None

    # --------------------------------------------------------------------- fit
    def fit(self, X, y=None):
        """Fit the PCA, streaming the features of ``X`` chunk by chunk.

        Parameters
        ----------
        X : list of images/paths (with an extractor) or array of shape (n_samples, n_features)
        y : ignored

        Returns
        -------
        self
        """
        self._fit(X, want_scores=False)
        return self

    def fit_transform(self, X, y=None, **fit_params):
        """Fit and return the training scores, extracting the features only once.

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        return self._fit(X, want_scores=True)

    def _fit(self, X, want_scores):
        self._validate_params_()
        self.extractor_ = None
        n_samples, chunks, array = self._prepare(X, reset=True)
        if n_samples < 2:
            raise ValueError(f"StreamingPCA needs at least 2 samples, got n_samples={n_samples}")
        store = _RowStore(array=array, n_samples=n_samples, spill_dir=self.spill_dir)
        try:
            if self.solver == "incremental":
                return self._fit_incremental(chunks(), n_samples, store, want_scores)
            return self._fit_exact(chunks(), n_samples, store, want_scores)
        finally:
            store.close()

    def _n_components_for(self, n_samples, n_features):
        limit = min(n_samples, n_features)
        k = limit if self.n_components is None else int(self.n_components)
        if k > limit:
            raise ValueError(
                f"n_components={k} must be between 1 and min(n_samples, n_features)={limit} "
                f"(n_samples={n_samples}, n_features={n_features})"
            )
        return k

    def _fit_exact(self, chunks, n_samples, store, want_scores):
        chunks = iter(chunks)
        try:
            first_start, first = next(chunks)
        except StopIteration:
            raise InputError("the feature stream is empty") from None
        first = _check_block(first, first_start, 0)
        n_features = first.shape[1]
        k = self._n_components_for(n_samples, n_features)

        def all_chunks():
            yield first_start, first
            yield from chunks

        if n_features <= n_samples:
            return self._fit_scatter(all_chunks(), n_samples, n_features, k, store, want_scores)

        gram, colsum, shift, dtype = _gram_pass(all_chunks(), n_samples, store, self.chunk_size)
        mean_shifted = colsum / n_samples
        gram_c = _centre_gram(gram)
        total_var = max(float(np.trace(gram_c)), 0.0) / (n_samples - 1)
        evals, evecs = linalg.eigh(gram_c, subset_by_index=[n_samples - k, n_samples - 1])
        evals, evecs = evals[::-1], evecs[:, ::-1]
        evals = np.clip(evals, 0.0, None)
        sing = np.sqrt(evals)
        # eigenvalues of the Gram matrix are squared singular values: judge rank on them
        good = evals > evals[0] * n_samples * np.finfo(np.float64).eps * 100
        # pass 2: components = S^-1 U^T Xc, one column slab at a time (rows read back from the
        # store), so that only the float32/float64 result and a small accumulator are held
        comps = np.zeros((k, n_features), dtype=dtype)
        ug = evecs[:, good]
        mean = shift + mean_shifted
        for sl in _slabs(n_features, max(self.chunk_size, int(good.sum()))):
            acc = np.zeros((ug.shape[1], sl.stop - sl.start))
            for j0 in range(0, n_samples, self.chunk_size):
                j1 = min(j0 + self.chunk_size, n_samples)
                acc += ug[j0:j1].T @ _shifted(store.rows(j0, j1, sl), slice(None), mean[sl])
            comps[good, sl] = acc / sing[good][:, None]
        if not np.all(good):
            comps[~good] = self._complete_basis(comps[good].astype(np.float64), int((~good).sum()), n_features)
            sing[~good] = 0.0
        scores = evecs * sing[None, :] if want_scores else None
        comps, scores = _flip_rows(comps, scores)
        self._set_fitted(comps, shift + mean_shifted, sing, total_var, n_samples, n_features, dtype)
        return None if scores is None else scores.astype(dtype, copy=False)

    def _fit_scatter(self, chunks, n_samples, n_features, k, store, want_scores):
        scatter = np.zeros((n_features, n_features))
        colsum = np.zeros(n_features)
        shift = dtype = None
        expected = 0
        for start, block in chunks:
            block = _check_block(block, start, expected, n_features)
            if shift is None:
                dtype = np.float32 if block.dtype == np.float32 else np.float64
                shift = block.mean(axis=0, dtype=np.float64)
            if want_scores:
                store.add(start, block.astype(dtype, copy=False))
            b = block.astype(np.float64) - shift
            scatter += b.T @ b
            colsum += b.sum(axis=0)
            expected = start + block.shape[0]
        if expected != n_samples:
            raise InputError(f"the feature stream yielded {expected} rows, expected {n_samples}")
        m = colsum / n_samples
        scatter -= n_samples * np.outer(m, m)
        evals, evecs = linalg.eigh(scatter)
        order = np.argsort(evals)[::-1][:k]
        sing = np.sqrt(np.clip(evals[order], 0.0, None))
        comps = np.ascontiguousarray(evecs[:, order].T)
        comps, _ = _flip_rows(comps)
        total_var = max(float(np.trace(scatter)), 0.0) / (n_samples - 1)
        self._set_fitted(comps, shift + m, sing, total_var, n_samples, n_features, dtype)
        if not want_scores:
            return None
        return self._transform_rows(store, n_samples)

    def _fit_incremental(self, chunks, n_samples, store, want_scores):
        from sklearn.decomposition import IncrementalPCA

        ipca = None
        batch = None
        buf, buffered, expected = [], 0, 0
        n_features = dtype = None
        for start, block in chunks:
            block = _check_block(block, start, expected, n_features)
            if ipca is None:
                n_features = block.shape[1]
                dtype = np.float32 if block.dtype == np.float32 else np.float64
                k = self._n_components_for(n_samples, n_features)
                batch = max(k, self.chunk_size)
                ipca = IncrementalPCA(n_components=k)
            if want_scores:
                store.add(start, block.astype(dtype, copy=False))
            buf.append(block)
            buffered += block.shape[0]
            expected = start + block.shape[0]
            # keep >= batch rows buffered so that the last partial_fit never gets < k rows
            while buffered >= 2 * batch:
                rows = np.concatenate(buf, axis=0)
                ipca.partial_fit(rows[:batch])
                buf, buffered = [rows[batch:]], rows.shape[0] - batch
        if ipca is None:
            raise InputError("the feature stream is empty")
        if expected != n_samples:
            raise InputError(f"the feature stream yielded {expected} rows, expected {n_samples}")
        if buffered:
            ipca.partial_fit(np.concatenate(buf, axis=0))
        comps = np.array(ipca.components_, dtype=np.float64)
        sing = np.array(ipca.singular_values_, dtype=np.float64)
        total_var = float(ipca.explained_variance_[0] / ipca.explained_variance_ratio_[0]) if sing[0] > 0 else 0.0
        comps, _ = _flip_rows(comps)
        self._set_fitted(comps, np.asarray(ipca.mean_, dtype=np.float64), sing, total_var, n_samples, n_features, dtype)
        if not want_scores:
            return None
        return self._transform_rows(store, n_samples)

    def _complete_basis(self, basis, m, n_features):
        rng = np.random.default_rng(self.random_state)
        extra = rng.standard_normal((m, n_features))
        if basis.shape[0]:
            extra -= (extra @ basis.T) @ basis
        q, _ = np.linalg.qr(extra.T)
        return q.T[:m]

    def _set_fitted(self, comps, mean, sing, total_var, n_samples, n_features, dtype):
        var = sing**2 / (n_samples - 1)
        self.components_ = comps.astype(dtype, copy=False)
        self.mean_ = mean.astype(dtype)
        self.singular_values_ = sing.astype(dtype)
        self.explained_variance_ = var.astype(dtype)
        ratio = var / total_var if total_var > 0 else np.zeros_like(var)
        self.explained_variance_ratio_ = ratio.astype(dtype)
        self.n_components_ = int(comps.shape[0])
        self.n_samples_ = int(n_samples)
        if self.extractor is not None:
            self.n_features_in_ = int(n_features)

    # --------------------------------------------------------------- transform
    def _transform_rows(self, store, n_samples):
        out = np.empty((n_samples, self.n_components_), dtype=self.components_.dtype)
        for j0 in range(0, n_samples, self.chunk_size):
            j1 = min(j0 + self.chunk_size, n_samples)
            out[j0:j1] = (store.rows(j0, j1) - self.mean_) @ self.components_.T
        return out

    def transform(self, X):
        """Project ``X`` on the components, chunk by chunk.

        Parameters
        ----------
        X : list of images/paths (with an extractor) or array of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components_)
        """
        check_is_fitted(self, "components_")
        n_samples, chunks, _ = self._prepare(X, reset=False)
        out = np.empty((n_samples, self.n_components_), dtype=self.components_.dtype)
        expected = 0
        for start, block in chunks():
            block = _check_block(block, start, expected, self.components_.shape[1])
            out[start : start + block.shape[0]] = (block - self.mean_) @ self.components_.T
            expected = start + block.shape[0]
        if expected != n_samples:
            raise InputError(f"the feature stream yielded {expected} rows, expected {n_samples}")
        return out

    def inverse_transform(self, X):
        """Map scores back to the feature space (``X @ components_ + mean_``)."""
        check_is_fitted(self, "components_")
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.n_components_:
            raise InputError(f"expected scores of shape (n, {self.n_components_}), got {X.shape}")
        return X @ self.components_ + self.mean_

    def get_feature_names_out(self, input_features=None):
        """Output names ``streamingpca0 .. streamingpca{k-1}``."""
        check_is_fitted(self, "n_components_")
        return super().get_feature_names_out(input_features)

    @property
    def _n_features_out(self):
        return self.n_components_
