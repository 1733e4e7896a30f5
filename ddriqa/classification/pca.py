"""PCA that streams its input in chunks, for feature vectors too large to hold twice.

A DDR feature row (SRGAN ResBlock16 on a 96x96 crop) has 64*96*96 = 589,824 float32 values,
2.36 MB; 3,000 training images are 7 GB. :class:`StreamingPCA` fits a PCA on such data
without ever asking for more than one chunk of rows at a time, either from a feature extractor
(a transformer with ``iter_transform(X, chunk_size)``, such as
:class:`ddriqa.features.ddr.DDRExtractor`) or from a 2-D feature array (which may be a
``numpy.memmap``). Its exact solver goes through the ``N x N`` Gram matrix of the rows, formed
and eigendecomposed by the package's Gram core, :mod:`ddriqa.classification.gram`.
"""

from __future__ import annotations

import contextlib
import itertools

import numpy as np
from scipy import linalg
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted, validate_data

from ddriqa.classification.gram import ShiftedRows, centred_eigh, check_chunk, gram_pass, iter_row_chunks
from ddriqa.errors import InputError

__all__ = ["StreamingPCA"]

#: Rows of an extractor's features are kept in memory for the second pass up to this many bytes,
#: and spilled to a temporary file above it.
ROWS_IN_MEMORY = 1 << 30

#: Columns per BLAS product of the second pass (a (k x SLAB) float64 accumulator: 63 MB at k=120).
SLAB = 65536


def _float_dtype(block):
    return np.dtype(np.float32 if block.dtype == np.float32 else np.float64)


def _components(rows, vectors, sing, mean_shifted, out):
    """Second pass: ``out = S^-1 U^T (R - 1 m^T)`` for the kept shifted rows ``R`` of mean ``m``.

    One column slab of :data:`SLAB` features at a time, the rows read back in groups, the
    products taken in the rows' dtype (float32 BLAS for float32 features) and summed in float64.
    """
    n, g = vectors.shape
    weights = vectors.astype(rows.dtype)
    step = rows.batch_rows(SLAB)
    for c0 in range(0, rows.n_features, SLAB):
        sl = slice(c0, min(c0 + SLAB, rows.n_features))
        acc = np.zeros((g, sl.stop - sl.start))
        for j0 in range(0, n, step):
            j1 = min(j0 + step, n)
            acc += weights[j0:j1].T @ rows.read(j0, j1, sl)
        acc -= np.outer(vectors.sum(axis=0), mean_shifted[sl])  # U is orthogonal to 1 up to rounding
        out[:, sl] = acc / sing[:, None]
    return out


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
        with contextlib.ExitStack() as stack:

            def keep_rows(block):
                """Store for the rows (unshifted) that the training scores are computed from."""
                return stack.enter_context(ShiftedRows(n_samples, block.shape[1], _float_dtype(block),
                                                       memory_limit=ROWS_IN_MEMORY, spill_dir=self.spill_dir,
                                                       source=array))

            keep = keep_rows if want_scores else None
            if self.solver == "incremental":
                return self._fit_incremental(chunks(), n_samples, keep)
            return self._fit_exact(chunks(), n_samples, array, want_scores, keep)

    def _n_components_for(self, n_samples, n_features):
        limit = min(n_samples, n_features)
        k = limit if self.n_components is None else int(self.n_components)
        if k > limit:
            raise ValueError(
                f"n_components={k} must be between 1 and min(n_samples, n_features)={limit} "
                f"(n_samples={n_samples}, n_features={n_features})"
            )
        return k

    def _fit_exact(self, chunks, n_samples, array, want_scores, keep):
        chunks = iter(chunks)
        try:
            first_start, first = next(chunks)
        except StopIteration:
            raise InputError("the feature stream is empty") from None
        first = check_chunk(first, first_start, 0, n_samples)
        n_features = first.shape[1]
        k = self._n_components_for(n_samples, n_features)
        stream = itertools.chain([(first_start, first)], chunks)
        if n_features <= n_samples:
            return self._fit_scatter(stream, n_samples, n_features, k, keep)
        # pass 1: the Gram matrix, products in the features' dtype; pass 2: the components
        with gram_pass(stream, n_samples, keep_rows=True, source=array, precision=None,
                       memory_limit=ROWS_IN_MEMORY, spill_dir=self.spill_dir, blas_threads=None) as g:
            eig = centred_eigh(g.gram, k)
            sing = np.sqrt(eig.values)
            good = int(eig.valid.sum())  # the valid eigenvalues are the largest: a prefix
            comps = np.zeros((k, n_features), dtype=g.dtype)
            _components(g.rows, eig.vectors[:, :good], sing[:good], g.column_sums / n_samples, comps[:good])
            mean, dtype = g.mean, g.dtype
        if good < k:
            comps[good:] = self._complete_basis(comps[:good].astype(np.float64), k - good, n_features)
            sing[good:] = 0.0
        scores = eig.vectors * sing[None, :] if want_scores else None
        comps, scores = _flip_rows(comps, scores)
        self._set_fitted(comps, mean, sing, eig.trace / (n_samples - 1), n_samples, n_features, dtype)
        return None if scores is None else scores.astype(dtype, copy=False)

    def _fit_scatter(self, chunks, n_samples, n_features, k, keep):
        scatter = np.zeros((n_features, n_features))
        colsum = np.zeros(n_features)
        shift = dtype = rows = None
        expected = 0
        for start, block in chunks:
            block = check_chunk(block, start, expected, n_samples, n_features)
            if shift is None:
                dtype = _float_dtype(block)
                shift = block.mean(axis=0, dtype=np.float64)
                rows = keep(block) if keep is not None else None
            if rows is not None:
                rows.write(start, block)
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
        return None if rows is None else self._transform_rows(rows, n_samples)

    def _fit_incremental(self, chunks, n_samples, keep):
        from sklearn.decomposition import IncrementalPCA

        ipca = batch = rows = None
        buf, buffered, expected = [], 0, 0
        n_features = dtype = None
        for start, block in chunks:
            block = check_chunk(block, start, expected, n_samples, n_features)
            if ipca is None:
                n_features = block.shape[1]
                dtype = _float_dtype(block)
                k = self._n_components_for(n_samples, n_features)
                batch = max(k, self.chunk_size)
                ipca = IncrementalPCA(n_components=k)
                rows = keep(block) if keep is not None else None
            if rows is not None:
                rows.write(start, block)
            buf.append(block)
            buffered += block.shape[0]
            expected = start + block.shape[0]
            # keep >= batch rows buffered so that the last partial_fit never gets < k rows
            while buffered >= 2 * batch:
                stacked = np.concatenate(buf, axis=0)
                ipca.partial_fit(stacked[:batch])
                buf, buffered = [stacked[batch:]], stacked.shape[0] - batch
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
        return None if rows is None else self._transform_rows(rows, n_samples)

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
    def _transform_rows(self, rows, n_samples):
        out = np.empty((n_samples, self.n_components_), dtype=self.components_.dtype)
        for j0 in range(0, n_samples, self.chunk_size):
            j1 = min(j0 + self.chunk_size, n_samples)
            out[j0:j1] = (rows.read(j0, j1) - self.mean_) @ self.components_.T
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
            block = check_chunk(block, start, expected, n_samples, self.components_.shape[1])
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
