"""The Gram/PCA core: streamed Gram matrices, kept rows, centred eigendecomposition, split scores."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from ddriqa.classification.gram import (
    ShiftedRows,
    centred_eigh,
    check_chunk,
    gram_from_chunks,
    gram_pass,
    gram_pca_scores,
    iter_row_chunks,
)
from ddriqa.errors import InputError


def _signs(a, b):
    return np.sign(np.sum(a * b, axis=0))


def test_gram_pca_equals_sklearn_pca_up_to_sign():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 500)) * np.linspace(3.0, 0.05, 500) + 7.0  # large mean: centring matters
    train, test = rng.permutation(60)[:45], np.arange(60)
    test = np.setdiff1d(test, train)
    # the Gram matrix of shifted rows (as gram_from_chunks returns) gives the same scores
    G = gram_from_chunks(iter_row_chunks(X, 8), 60, precision=np.float64)
    z_train, z_test = gram_pca_scores(G, train, test, 12)
    ref = PCA(n_components=12, svd_solver="full").fit(X[train])
    r_train, r_test = ref.transform(X[train]), ref.transform(X[test])
    s = _signs(z_train, r_train)
    assert set(np.abs(s)) == {1.0}
    np.testing.assert_allclose(z_train, r_train * s, atol=1e-8)
    np.testing.assert_allclose(z_test, r_test * s, atol=1e-8)
    with pytest.raises(InputError, match="n_components"):
        gram_pca_scores(G, train, test, 45)


@pytest.mark.parametrize("memory_limit", [4 << 30, 0])  # rows in memory / in a spill file
def test_gram_from_chunks_matches_centred_products(tmp_path, memory_limit):
    rng = np.random.default_rng(1)
    X = (rng.normal(size=(23, 700)) * 0.5 + 4.0).astype(np.float32)  # large common mean
    G = gram_from_chunks(iter_row_chunks(X, 5), 23, slab=256, memory_limit=memory_limit, spill_dir=str(tmp_path))
    assert G.shape == (23, 23) and G.dtype == np.float64
    np.testing.assert_array_equal(G, G.T)
    H = np.eye(23) - 1.0 / 23
    Xc = X.astype(np.float64) - X.mean(axis=0, dtype=np.float64)
    ref = Xc @ Xc.T
    # float32 products: relative error well below 1e-5 of the largest entry
    np.testing.assert_allclose(H @ G @ H, ref, atol=1e-5 * np.abs(ref).max())
    assert list(tmp_path.iterdir()) == []  # the spill file is removed
    # BLAS left at its own thread count: the same matrix up to float32 rounding
    G2 = gram_from_chunks(iter_row_chunks(X, 5), 23, slab=256, memory_limit=memory_limit, blas_threads=None)
    np.testing.assert_allclose(G2, G, atol=1e-5 * np.abs(G).max())
    # the scores match those from the exact float64 Gram matrix
    train, test = np.arange(18), np.arange(18, 23)
    z1, t1 = gram_pca_scores(G, train, test, 4)
    z2, t2 = gram_pca_scores(X.astype(np.float64) @ X.T.astype(np.float64), train, test, 4)
    np.testing.assert_allclose(z1, z2, atol=1e-3 * np.abs(z2).max())
    np.testing.assert_allclose(t1, t2, atol=1e-3 * np.abs(t2).max())


@pytest.mark.parametrize("memory_limit", [4 << 30, 0])
def test_float64_gram_is_exact(tmp_path, memory_limit):
    X = np.random.default_rng(5).normal(size=(17, 60)) * np.linspace(4.0, 0.1, 60) + 3.0
    G = gram_from_chunks(iter_row_chunks(X.astype(np.float32), 5), 17, precision=np.float64,
                         memory_limit=memory_limit, spill_dir=str(tmp_path))
    H = np.eye(17) - 1.0 / 17
    Xc = X.astype(np.float32).astype(np.float64)
    Xc -= Xc.mean(0)
    np.testing.assert_allclose(H @ G @ H, Xc @ Xc.T, rtol=1e-9, atol=1e-8)
    assert list(tmp_path.iterdir()) == []
    with pytest.raises(InputError, match="expected 18"):
        gram_from_chunks(iter_row_chunks(X, 5), 18)


@pytest.mark.parametrize("where", ["memory", "spill", "source"])
def test_gram_pass_keeps_the_shifted_rows(tmp_path, where):
    X = np.random.default_rng(2).normal(size=(13, 40)) + 5.0
    g = gram_pass(iter_row_chunks(X, 4), 13, keep_rows=True, precision=None,
                  memory_limit=0 if where == "spill" else 4 << 30, spill_dir=str(tmp_path),
                  source=X if where == "source" else None)
    with g:
        assert g.dtype == np.float64 and g.rows.in_memory == (where == "memory")
        np.testing.assert_array_equal(g.shift, X[:4].mean(axis=0))
        np.testing.assert_allclose(g.mean, X.mean(axis=0), rtol=1e-12)
        shifted = X - g.shift
        np.testing.assert_allclose(g.gram, shifted @ shifted.T, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(g.column_sums, shifted.sum(axis=0), atol=1e-12)
        np.testing.assert_array_equal(g.rows.read(3, 9, slice(5, 17)), shifted[3:9, 5:17])
        np.testing.assert_array_equal(g.rows.read(0, 13), shifted)
        assert (where == "spill") == bool(list(tmp_path.iterdir()))
    assert list(tmp_path.iterdir()) == []  # closing removes the spill file


def test_spill_file_is_removed_when_the_stream_fails(tmp_path):
    X = np.ones((6, 8), dtype=np.float32)

    def stream():
        yield 0, X[:3]
        raise RuntimeError("extractor died")

    with pytest.raises(RuntimeError, match="extractor died"):
        gram_pass(stream(), 6, keep_rows=True, memory_limit=0, spill_dir=str(tmp_path))
    assert list(tmp_path.iterdir()) == []


def test_gram_from_chunks_rejects_bad_streams():
    X = np.ones((6, 8), dtype=np.float32)
    with pytest.raises(InputError, match="expected 7"):
        gram_from_chunks(iter_row_chunks(X, 4), 7)
    with pytest.raises(InputError, match="more than the 5 rows"):
        gram_from_chunks(iter_row_chunks(X, 4), 5)
    with pytest.raises(InputError, match="expected start 4"):
        gram_from_chunks(iter([(0, X[:4]), (5, X[4:])]), 6)
    bad = X.copy()
    bad[5, 2] = np.nan
    with pytest.raises(InputError, match="row 4 contains NaN"):
        gram_from_chunks(iter_row_chunks(bad, 4), 6)
    with pytest.raises(InputError, match="expected 8"):
        gram_from_chunks(iter([(0, X[:4]), (4, X[4:, :7])]), 6)
    with pytest.raises(InputError, match="precision"):
        gram_from_chunks(iter_row_chunks(X, 4), 6, precision=np.float16)
    with pytest.raises(InputError, match="2-D"):
        check_chunk(np.ones(3), 0, 0, 6)


def test_shifted_rows_without_shift_casts():
    with ShiftedRows(2, 3, np.float32, memory_limit=0) as rows:
        rows.write(0, np.arange(6.0).reshape(2, 3))
        out = rows.read(0, 2)
    assert out.dtype == np.float32 and out.tolist() == [[0, 1, 2], [3, 4, 5]]


def test_centred_eigh_is_the_pca_of_the_rows():
    X = np.random.default_rng(3).normal(size=(9, 30)) * np.linspace(3, 0.1, 30) + 2.0
    e = centred_eigh(X @ X.T, 9)
    Xc = X - X.mean(axis=0)
    sv = np.linalg.svd(Xc, compute_uv=False)
    np.testing.assert_allclose(e.values[:8], sv[:8] ** 2, rtol=1e-10)
    assert e.valid[:8].all() and not e.valid[8]  # centred rank 8
    np.testing.assert_allclose(e.trace, np.sum(Xc**2), rtol=1e-12)
    np.testing.assert_allclose(np.abs(e.vectors[:, 0] @ Xc), sv[0] * np.abs(np.linalg.svd(Xc)[2][0]), atol=1e-10)
    with pytest.raises(InputError, match="between 1 and the 9 rows"):
        centred_eigh(X @ X.T, 10)
    with pytest.raises(InputError, match="square"):
        centred_eigh(X, 2)
