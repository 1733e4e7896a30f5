"""PCA + t-SNE projection: shapes, seeding, reproducibility."""

import numpy as np
import pytest

from ddriqa.analysis.projection import project, run_seeds
from ddriqa.errors import InputError


def _blobs(n=20, d=400, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(0, 1, (n, d)), rng.normal(2.5, 1, (n, d)), rng.normal(-2.5, 1, (n, d))])
    return X.astype(dtype), np.repeat(["clean", "blur", "noise"], n)


def test_shapes_and_seeds():
    X, y = _blobs()
    proj = project(X, y, runs=3, seed=7, max_iter=250)
    assert proj.points.shape == (3, 60, 2)
    assert proj.n_pca == 50 and proj.method == "pca+tsne"
    assert proj.seeds == run_seeds(7, 3)
    assert len(set(proj.seeds)) == 3
    assert run_seeds(7, 5)[:3] == run_seeds(7, 3)  # a run's seed does not depend on the number of runs


def test_seeded_runs_reproducible_and_runs_differ():
    X, y = _blobs()
    a = project(X, y, runs=2, seed=3, max_iter=250).points
    b = project(X, y, runs=2, seed=3, max_iter=250).points
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-6)
    assert np.abs(a[0] - a[1]).max() > 1e-3  # different seeds per run, random init


def test_clusters_are_found():
    from ddriqa.analysis.dispersion import dispersion_over_runs

    X, y = _blobs()
    s = dispersion_over_runs(project(X, y, runs=2, seed=0, max_iter=250))
    # well separated blobs: the 2-D points separate them (CHI far above the ~1 of random labels)
    assert s.chi_mean > 50


def test_pca_method_single_run():
    X, y = _blobs(d=30, dtype=np.float64)
    proj = project(X, y, method="pca", runs=5)
    assert proj.points.shape == (1, 60, 2)
    from sklearn.decomposition import PCA

    ref = PCA(2).fit_transform(X)
    # identical up to the sign of each component
    for c in range(2):
        np.testing.assert_allclose(np.abs(proj.points[0, :, c]), np.abs(ref[:, c]), atol=1e-8)


def test_input_errors():
    X, y = _blobs(n=5, d=10)
    with pytest.raises(InputError, match="method"):
        project(X, y, method="umap")
    with pytest.raises(InputError, match="labels must have shape"):
        project(X, y[:3])
    X[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        project(X, y)
