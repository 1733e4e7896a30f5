"""StreamingPCA: equality with sklearn PCA, streaming behaviour, sklearn conventions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.decomposition import PCA
from sklearn.pipeline import Pipeline
from sklearn.svm import SVC
from sklearn.utils.estimator_checks import parametrize_with_checks

from ddriqa.classification.pca import StreamingPCA
from ddriqa.errors import InputError


def _data(n, d, seed=0, offset=3.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)) * np.linspace(4.0, 0.1, d) + offset


def _align(a, b):
    """Flip the rows of a to the signs of b (PCA components are defined up to sign)."""
    s = np.sign(np.sum(a * b, axis=1))
    return a * s[:, None], s


class ChunkOnlyExtractor(TransformerMixin, BaseEstimator):
    """Fake extractor over a fixed feature table: it refuses to compute all rows at once."""

    def __init__(self, table=None):
        self.table = table

    def fit(self, X, y=None):
        self.calls_ = []
        return self

    def transform(self, X):
        raise AssertionError("the full feature matrix was requested")

    def iter_transform(self, X, chunk_size):
        idx = np.asarray(X, dtype=int)
        self.calls_.append(len(idx))
        for start in range(0, len(idx), chunk_size):
            rows = idx[start : start + chunk_size]
            assert len(rows) <= chunk_size
            yield start, self.table[rows].astype(np.float32)


@pytest.mark.parametrize("shape", [(30, 200), (120, 12)], ids=["gram_route", "scatter_route"])
def test_exact_equals_sklearn_pca(shape):
    X = _data(*shape)
    k = 6
    ours = StreamingPCA(n_components=k, chunk_size=7).fit(X)
    ref = PCA(n_components=k, svd_solver="full").fit(X)
    comps, signs = _align(ours.components_, ref.components_)
    np.testing.assert_allclose(comps, ref.components_, atol=1e-5)
    assert np.all(signs == 1)  # same sign convention as sklearn
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-8)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_, rtol=1e-8)
    np.testing.assert_allclose(ours.singular_values_, ref.singular_values_, rtol=1e-8)
    np.testing.assert_allclose(ours.mean_, ref.mean_, atol=1e-10)
    np.testing.assert_allclose(ours.transform(X), ref.transform(X), atol=1e-8)
    np.testing.assert_allclose(StreamingPCA(n_components=k, chunk_size=7).fit_transform(X), ref.transform(X), atol=1e-8)


def test_float32_stays_float32_and_close():
    X = _data(25, 150).astype(np.float32)
    pca = StreamingPCA(n_components=4, chunk_size=6).fit(X)
    assert pca.components_.dtype == np.float32
    Z = pca.transform(X)
    assert Z.dtype == np.float32
    ref = PCA(n_components=4, svd_solver="full").fit(X.astype(np.float64))
    np.testing.assert_allclose(np.abs(Z), np.abs(ref.transform(X.astype(np.float64))), rtol=1e-4, atol=1e-3)


def test_incremental_subspace_close():
    rng = np.random.default_rng(1)
    basis = np.linalg.qr(rng.normal(size=(300, 4)))[0].T
    X = (rng.normal(size=(200, 4)) * [10, 8, 6, 4]) @ basis + 0.01 * rng.normal(size=(200, 300))
    ours = StreamingPCA(n_components=4, solver="incremental", chunk_size=16).fit(X)
    ref = PCA(n_components=4, svd_solver="full").fit(X)
    cosines = np.linalg.svd(ours.components_ @ ref.components_.T, compute_uv=False)
    assert cosines.min() > 0.9999  # principal angles ~ 0
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-3)
    np.testing.assert_allclose(np.abs(ours.fit_transform(X)), np.abs(ref.transform(X)), rtol=1e-3, atol=1e-2)


@pytest.mark.parametrize("solver", ["exact", "incremental"])
def test_extractor_is_only_asked_for_chunks(solver, tmp_path):
    table = _data(40, 500, seed=2)
    ex = ChunkOnlyExtractor(table)
    X = list(range(40))
    pca = StreamingPCA(extractor=ex, n_components=5, chunk_size=6, solver=solver, spill_dir=str(tmp_path))
    Z = pca.fit_transform(X)
    # one extraction pass for fit_transform (the spill file serves the second pass), then removed
    assert pca.extractor_.calls_ == [40]
    assert list(tmp_path.iterdir()) == []
    assert pca.n_features_in_ == 500 and Z.shape == (40, 5)
    np.testing.assert_allclose(pca.transform(X), Z, rtol=1e-4, atol=1e-3)
    if solver == "exact":
        ref = PCA(n_components=5, svd_solver="full").fit(table.astype(np.float32).astype(np.float64))
        np.testing.assert_allclose(np.abs(_align(pca.components_, ref.components_)[0] - ref.components_).max(), 0, atol=1e-5)


def test_pipeline_clone_and_pandas_output():
    table = _data(30, 80, seed=3)
    y = np.repeat([0, 1, 2], 10)
    table[y == 1, 0] += 20
    pipe = Pipeline([("pca", StreamingPCA(extractor=ChunkOnlyExtractor(table), n_components=3, chunk_size=4)),
                     ("svm", SVC(kernel="linear"))])
    pipe.fit(list(range(30)), y)
    assert pipe.predict(list(range(30))).shape == (30,)
    c = clone(pipe)
    assert c.get_params()["pca__n_components"] == 3 and not hasattr(c.named_steps["pca"], "components_")
    pca = StreamingPCA(n_components=3).set_output(transform="pandas")
    import pandas as pd

    df = pca.fit_transform(pd.DataFrame(table[:, :10], columns=[f"f{i}" for i in range(10)]))
    assert list(df.columns) == ["streamingpca0", "streamingpca1", "streamingpca2"]


def test_rank_deficient_basis_is_completed():
    X = _data(10, 50, seed=4)  # centred rank 9
    pca = StreamingPCA(n_components=10, random_state=0).fit(X)
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(10), atol=1e-10)
    ref = PCA(n_components=9, svd_solver="full").fit(X)
    np.testing.assert_allclose(_align(pca.components_[:9], ref.components_)[0], ref.components_, atol=1e-6)
    assert pca.singular_values_[9] == 0


def test_bad_parameters_are_refused():
    X = _data(10, 20)
    with pytest.raises(ValueError, match="n_components=11"):
        StreamingPCA(n_components=11).fit(X)
    with pytest.raises(InputError, match="solver"):
        StreamingPCA(n_components=2, solver="magic").fit(X)
    with pytest.raises(InputError, match="chunk_size"):
        StreamingPCA(n_components=2, chunk_size=0).fit(X)
    with pytest.raises(ValueError, match="n_samples=1"):
        StreamingPCA(n_components=1).fit(X[:1])


@parametrize_with_checks([StreamingPCA(n_components=2, chunk_size=7)])
def test_sklearn_estimator_checks(estimator, check):
    # All sklearn checks apply to the 2-D array mode; the array-API check skips itself
    # (SCIPY_ARRAY_API unset) and sklearn reports that as a skip.
    check(estimator)
