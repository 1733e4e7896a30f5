"""WD / BD / CHI against hand-computed values and scikit-learn."""

import numpy as np
import pytest
from sklearn.metrics import calinski_harabasz_score

from ddriqa.analysis.dispersion import dispersion, dispersion_over_runs
from ddriqa.errors import InputError


def test_hand_computed_three_clusters():
    # class a: (0,0),(2,0) mean (1,0), WD_a = 1 + 1 = 2
    # class b: (0,4),(0,6),(0,8) mean (0,6), WD_b = 4 + 0 + 4 = 8
    # class c: (10,0) mean (10,0), WD_c = 0
    pts = np.array([[0, 0], [2, 0], [0, 4], [0, 6], [0, 8], [10, 0]], dtype=float)
    lab = np.array(["a", "a", "b", "b", "b", "c"])
    d = dispersion(pts, lab)
    # overall mean = (12/6, 18/6) = (2, 3)
    # BD = 2*((1-2)^2+(0-3)^2) + 3*((0-2)^2+(6-3)^2) + 1*((10-2)^2+(0-3)^2) = 2*10 + 3*13 + 73 = 132
    assert d.wd == pytest.approx(10.0, abs=1e-12)
    assert d.bd == pytest.approx(132.0, abs=1e-12)
    # CHI = 132/10 * (6-3)/(3-1) = 19.8
    assert d.chi == pytest.approx(19.8, abs=1e-12)
    assert (d.n_samples, d.n_classes) == (6, 3)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_chi_equals_sklearn(seed):
    rng = np.random.default_rng(seed)
    k = int(rng.integers(2, 6))
    lab = rng.integers(0, k, size=80)
    lab[:k] = np.arange(k)  # every class present
    pts = rng.normal(size=(80, 2)) + lab[:, None] * rng.uniform(0.1, 2.0)
    d = dispersion(pts, lab)
    assert d.chi == pytest.approx(calinski_harabasz_score(pts, lab), rel=1e-10)
    # WD + BD is the total dispersion around the grand mean
    assert d.wd + d.bd == pytest.approx(((pts - pts.mean(0)) ** 2).sum(), rel=1e-10)


def test_zero_within_dispersion_follows_sklearn():
    pts = np.array([[0, 0], [0, 0], [1, 1], [1, 1]], dtype=float)
    lab = [0, 0, 1, 1]
    assert dispersion(pts, lab).chi == calinski_harabasz_score(pts, lab) == 1.0


def test_bad_inputs_raise_clear_errors():
    with pytest.raises(InputError, match="classes"):
        dispersion(np.zeros((4, 2)), [0, 0, 0, 0])
    with pytest.raises(InputError, match="labels must have shape"):
        dispersion(np.zeros((4, 2)), [0, 1])
    with pytest.raises(InputError, match="NaN"):
        dispersion(np.array([[0, np.nan], [1, 1], [2, 2]]), [0, 1, 1])


def test_over_runs_mean_and_std():
    base = np.array([[0, 0], [0, 2], [4, 0], [4, 2]], dtype=float)
    second = base.copy()
    second[2:, 0] = 2.0
    s = dispersion_over_runs(np.stack([base, second]), ["a", "a", "b", "b"])
    assert list(s.runs["chi"]) == pytest.approx([8.0, 2.0], abs=1e-12)
    assert s.chi_mean == pytest.approx(5.0, abs=1e-12)
    assert s.chi_std == pytest.approx(np.sqrt(18.0), abs=1e-12)  # sample std, ddof=1
    assert s.wd_mean == pytest.approx(4.0, abs=1e-12) and s.wd_std == pytest.approx(0.0, abs=1e-12)
    assert s.as_row()["n_runs"] == 2
    assert s.format("chi") == "CHI: 5.00 \u00b1 4.24"
    assert dispersion_over_runs(np.stack([base, second]), ["a", "a", "b", "b"], ddof=0).chi_std == pytest.approx(3.0)
