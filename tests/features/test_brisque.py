"""Tests of ddriqa.features.brisque: exactness against a plain reference, the LIVE MATLAB
calibration values (when ../shared is present), the score model and the transformer API."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from conftest import shared_path, textured_image
from scipy.signal import correlate2d
from scipy.special import gamma as G

from ddriqa.degradations.resize import imresize
from ddriqa.errors import ImageReadError, InputError
from ddriqa.features import brisque as B
from ddriqa.features.brisque import (
    FEATURE_NAMES,
    BRISQUEExtractor,
    brisque_features,
    brisque_score,
    score_from_features,
)

GRID = 0.2 + 0.001 * np.arange(9801)
R_GGD = (G(1.0 / GRID) * G(3.0 / GRID)) / (G(2.0 / GRID) ** 2)
R_AGGD = (G(2.0 / GRID) ** 2) / (G(1.0 / GRID) * G(3.0 / GRID))


# ---------------------------------------------------------------------------------------------
# a deliberately simple float64 reference (brisque_feature.m transcribed line by line)
# ---------------------------------------------------------------------------------------------
def ref_gray(rgb):
    x = rgb.astype(np.float64)
    g = 0.298936021293775 * x[..., 0] + 0.587043074451121 * x[..., 1] + 0.114020904255103 * x[..., 2]
    return np.floor(g + 0.5)  # uint8(): round half away from zero


def ref_window():
    y, x = np.mgrid[-3:4, -3:4].astype(np.float64)
    h = np.exp(-(x**2 + y**2) / (2 * (7 / 6) ** 2))
    return h / h.sum()


def ref_ggd(vec):
    sigma_sq = np.mean(vec**2)
    e = np.mean(np.abs(vec))
    rho = sigma_sq / e**2
    return GRID[np.argmin(np.abs(rho - R_GGD))], np.sqrt(sigma_sq)


def ref_aggd(vec):
    leftstd = np.sqrt(np.mean(vec[vec < 0] ** 2))
    rightstd = np.sqrt(np.mean(vec[vec > 0] ** 2))
    gammahat = leftstd / rightstd
    rhat = np.mean(np.abs(vec)) ** 2 / np.mean(vec**2)
    rhatnorm = rhat * (gammahat**3 + 1) * (gammahat + 1) / (gammahat**2 + 1) ** 2
    alpha = GRID[np.argmin((R_AGGD - rhatnorm) ** 2)]
    return alpha, leftstd, rightstd


def ref_features(rgb):
    imdist = ref_gray(rgb)
    w = ref_window()
    feat = []
    for _ in range(2):
        mu = correlate2d(imdist, w, mode="same", boundary="fill", fillvalue=0)
        sigma = np.sqrt(np.abs(correlate2d(imdist * imdist, w, mode="same", boundary="fill", fillvalue=0) - mu * mu))
        structdis = (imdist - mu) / (sigma + 1)
        alpha, overallstd = ref_ggd(structdis.ravel())
        feat += [alpha, overallstd**2]
        for shift in [(0, 1), (1, 0), (1, 1), (-1, 1)]:
            pair = (structdis * np.roll(structdis, shift, axis=(0, 1))).ravel()
            alpha, leftstd, rightstd = ref_aggd(pair)
            const = np.sqrt(G(1 / alpha)) / np.sqrt(G(3 / alpha))
            meanparam = (rightstd - leftstd) * (G(2 / alpha) / G(1 / alpha)) * const
            feat += [alpha, meanparam, leftstd**2, rightstd**2]
        imdist = imresize(imdist, 0.5)
    return np.array(feat)


@pytest.mark.parametrize("shape,seed", [((64, 80), 0), ((67, 93), 1), ((96, 96), 2), ((51, 120), 3), ((88, 57), 4)])
def test_matches_plain_reference(shape, seed):
    img = textured_image(*shape, seed=seed)
    ours = brisque_features(img)
    ref = ref_features(img)
    assert ours.shape == (36,) and ours.dtype == np.float64
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-8)


def test_matches_plain_reference_with_exact_zeros():
    # a black block gives MSCN coefficients that are exactly 0 (zero products are neither
    # negative nor positive, so the positive side must be counted)
    img = textured_image(70, 90, seed=6)
    img[10:40, 20:60] = 0
    assert np.count_nonzero(B._mscn(B._gray_float64(img)) == 0) > 500
    np.testing.assert_allclose(brisque_features(img), ref_features(img), rtol=0, atol=1e-8)


def test_matches_plain_reference_lopsided_products():
    # a noisy checkerboard: horizontal/vertical products are almost all negative, so the
    # positive side is summed directly (the difference of sums would lose digits)
    y, x = np.mgrid[0:48, 0:64]
    noise = np.random.default_rng(0).normal(0, 8, (48, 64))
    gray = np.clip(np.round(128 + 40 * ((x + y) % 2 * 2 - 1) + noise), 0, 255).astype(np.uint8)
    img = np.repeat(gray[:, :, None], 3, axis=2)
    np.testing.assert_allclose(brisque_features(img), ref_features(img), rtol=0, atol=1e-8)


@pytest.mark.parametrize("shape", [(16, 16), (17, 23), (40, 31)])
def test_shifted_products_equal_circshift(shape):
    a = np.random.default_rng(1).standard_normal(shape)
    out = np.empty_like(a)
    for name, shift in zip(B._SHIFTS, [(0, 1), (1, 0), (1, 1), (-1, 1)]):
        np.testing.assert_array_equal(B._shifted_product(a, name, out), a * np.roll(a, shift, axis=(0, 1)))


def test_grid_search_equals_full_argmin():
    rng = np.random.default_rng(7)
    # GGD: rho inside the table, exactly on grid values, at midpoints, next to them, outside
    rhos = np.concatenate([
        rng.uniform(R_GGD[-1], R_GGD[0], 3000),
        R_GGD[rng.integers(0, 9801, 300)],
        (R_GGD[:-1] + R_GGD[1:])[rng.integers(0, 9800, 300)] / 2,
        np.nextafter(R_GGD[rng.integers(0, 9801, 200)], np.inf),
        np.nextafter(R_GGD[rng.integers(0, 9801, 200)], -np.inf),
        [R_GGD[0], R_GGD[-1], 0.5, 1.0, 20.0, 1e6, np.nextafter(R_GGD[0], np.inf)],
    ])
    for rho in rhos:
        assert B._ggd_alpha_index(rho) == int(np.argmin(np.abs(rho - R_GGD))), rho
    vals = np.concatenate([
        rng.uniform(R_AGGD[0], R_AGGD[-1], 3000),
        R_AGGD[rng.integers(0, 9801, 300)],
        (R_AGGD[:-1] + R_AGGD[1:])[rng.integers(0, 9800, 300)] / 2,
        np.nextafter(R_AGGD[rng.integers(0, 9801, 200)], np.inf),
        np.nextafter(R_AGGD[rng.integers(0, 9801, 200)], -np.inf),
        [R_AGGD[0], R_AGGD[-1], 0.0, 0.01, 0.9, 2.0],
    ])
    for v in vals:
        assert B._aggd_alpha_index(v) == int(np.argmin((R_AGGD - v) ** 2)), v


def test_input_conventions():
    rgb = textured_image(48, 64, seed=5)
    f = brisque_features(rgb)
    # float [0, 1] is mapped with round(255 x) first: x = u8 / 255 gives the same features
    np.testing.assert_array_equal(brisque_features(rgb / 255.0), f)
    np.testing.assert_array_equal(brisque_features((rgb / 255.0).astype(np.float32)), f)
    np.testing.assert_array_equal(brisque_features(rgb.astype(np.int32)), f)
    gray = textured_image(48, 64, seed=5, channels=1)
    fg = brisque_features(gray)
    np.testing.assert_array_equal(brisque_features(gray[:, :, None]), fg)
    # a replicated gray image survives rgb2gray unchanged (coefficients sum to 1 - 1e-15)
    np.testing.assert_array_equal(brisque_features(np.repeat(gray[:, :, None], 3, axis=2)), fg)
    assert not np.allclose(fg, f)


@pytest.mark.parametrize(
    "bad,match",
    [
        (np.zeros((32, 32, 4), np.uint8), r"\(32, 32, 4\)"),
        (np.zeros((2, 32, 32, 3), np.uint8), r"\(2, 32, 32, 3\)"),
        (np.zeros(100, np.uint8), r"\(100,\)"),
        (np.full((32, 32), np.nan), "NaN"),
        (np.full((32, 32, 3), 2.0), r"\[0, 1\].*range \[2, 2\]"),
        (np.zeros((15, 40), np.uint8), r"too small.*\(15, 40\)"),
        (np.ones((32, 32), bool), "bool"),
        (np.full((32, 32), 300, np.int32), "0..255"),
        (np.full((40, 40), 128, np.uint8), "undefined"),
    ],
)
def test_bad_input_raises_input_error(bad, match):
    with pytest.raises(InputError, match=match):
        brisque_features(bad)


# ---------------------------------------------------------------------------------------------
# score model
# ---------------------------------------------------------------------------------------------
def test_score_matches_plain_svr():
    sv, coef, rho, gamma, fmin, fmax = B._svr_model()
    assert sv.shape == (774, 36) and coef.shape == (774,) and gamma == 0.05 and rho == -153.591
    rng = np.random.default_rng(3)
    feats = fmin + (fmax - fmin) * rng.uniform(-0.1, 1.1, size=(5, 36))
    expect = []
    for f in feats:
        x = np.array([float(f"{-1 + 2 * (float(f'{v:.6f}') - lo) / (hi - lo):g}") for v, lo, hi in zip(f, fmin, fmax)])
        expect.append(sum(c * math.exp(-gamma * float(np.sum((s - x) ** 2))) for c, s in zip(coef, sv)) - rho)
    np.testing.assert_allclose(score_from_features(feats), expect, rtol=0, atol=1e-9)
    assert isinstance(score_from_features(feats[0]), float)
    many = fmin + (fmax - fmin) * rng.uniform(0, 1, size=(300, 36))  # more rows than one chunk
    batch = score_from_features(many)
    assert batch.shape == (300,)
    np.testing.assert_allclose(batch[[0, 127, 128, 299]], [score_from_features(many[i]) for i in (0, 127, 128, 299)],
                               rtol=0, atol=1e-9)
    with pytest.raises(InputError, match=r"\(3, 35\)"):
        score_from_features(np.zeros((3, 35)))


def test_shipped_tables_match_release(tmp_path):
    calib = shared_path("reference", "brisque-calibration")
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[2] / "benchmarks" / "tools" / "convert_brisque_model.py"
    spec = importlib.util.spec_from_file_location("convert_brisque_model", script)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    mod.main(["--calibration", str(calib), "--out", str(tmp_path)])
    with np.load(tmp_path / "brisque_live_model.npz", allow_pickle=False) as d:
        sv, coef, rho, gamma, fmin, fmax = B._svr_model()
        np.testing.assert_array_equal(d["support_vectors"], sv)
        np.testing.assert_array_equal(d["dual_coef"], coef)
        assert float(d["rho"]) == rho and float(d["gamma"]) == gamma
    with open(calib / "allrange.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    np.testing.assert_array_equal([float(r["min"]) for r in rows], fmin)
    np.testing.assert_array_equal([float(r["max"]) for r in rows], fmax)


# ---------------------------------------------------------------------------------------------
# LIVE MATLAB calibration (../shared)
# ---------------------------------------------------------------------------------------------
def _read_bmp(path):
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    assert img is not None, path
    return np.ascontiguousarray(img[:, :, ::-1])


def test_scale1_features_match_matlab():
    calib = shared_path("reference", "brisque-calibration")
    with open(calib / "i04_14_1_scale1_features.csv", newline="") as fh:
        matlab = np.array([float(r["matlab_value"]) for r in csv.DictReader(fh)])
    ours = brisque_features(_read_bmp(calib / "i04_14_1.bmp"))[:18]
    assert np.max(np.abs(ours - matlab)) <= 5e-6 + 1e-9, np.c_[ours, matlab]


def test_scores_match_matlab():
    calib = shared_path("reference", "brisque-calibration")
    with open(calib / "expected.csv", newline="") as fh:
        expected = {r["image"]: float(r["matlab_score"]) for r in csv.DictReader(fh)}
    assert set(expected) == {"I03", "I04"}
    for name, score in expected.items():
        ours = brisque_score(_read_bmp(calib / f"{name}.bmp"))
        assert abs(ours - score) <= 0.01, (name, ours, score)


# ---------------------------------------------------------------------------------------------
# transformer API
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def images():
    return [textured_image(40 + 3 * i, 56 - 2 * i, seed=10 + i) for i in range(4)]


@pytest.fixture(scope="module")
def expected(images):
    return np.vstack([brisque_features(im) for im in images])


def test_extractor_transform_and_names(images, expected):
    ext = BRISQUEExtractor()
    out = ext.fit_transform(images)
    assert out.shape == (4, 36) and out.dtype == np.float64
    np.testing.assert_array_equal(out, expected)
    names = ext.get_feature_names_out()
    assert len(names) == 36 and len(set(names)) == 36
    assert names[0] == "brisque_s1_ggd_alpha" and names[18] == "brisque_s2_ggd_alpha"
    assert list(names) == list(FEATURE_NAMES)
    # stateless: transform works without fit, and on a 4-D stack
    np.testing.assert_array_equal(BRISQUEExtractor().transform(np.stack([images[0], images[0]])),
                                  np.vstack([expected[0], expected[0]]))


def test_extractor_clone_pipeline_pandas(images, expected):
    from sklearn.base import clone
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    ext = BRISQUEExtractor(n_jobs=1)
    c = clone(ext)
    assert c is not ext and c.get_params() == {"n_jobs": 1}
    pipe = make_pipeline(BRISQUEExtractor(), StandardScaler())
    z = pipe.fit_transform(images)
    np.testing.assert_allclose(z, StandardScaler().fit_transform(expected), atol=1e-12)
    df = BRISQUEExtractor().set_output(transform="pandas").fit_transform(images)
    assert list(df.columns) == list(FEATURE_NAMES) and df.shape == (4, 36)
    np.testing.assert_array_equal(df.to_numpy(), expected)


def test_extractor_paths_and_parallel(tmp_path, images, expected):
    import cv2

    paths = []
    for i, im in enumerate(images):
        p = tmp_path / f"im{i}.png"
        assert cv2.imwrite(str(p), im[:, :, ::-1])
        paths.append(str(p))
    serial = BRISQUEExtractor(n_jobs=1).fit_transform(paths)
    np.testing.assert_array_equal(serial, expected)
    parallel = BRISQUEExtractor(n_jobs=2).fit_transform(paths)
    np.testing.assert_array_equal(parallel, serial)
    bad = tmp_path / "truncated.png"
    bad.write_bytes(open(paths[0], "rb").read()[:100])
    with pytest.raises(ImageReadError, match="truncated.png"):  # the error survives the workers
        BRISQUEExtractor(n_jobs=2).transform(paths + [str(bad)])


def test_extractor_errors(tmp_path, images):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"this is not an image")
    with pytest.raises(ImageReadError, match="broken.png"):
        BRISQUEExtractor().transform([images[0], str(bad)])
    with pytest.raises(ImageReadError, match="missing.png"):
        BRISQUEExtractor().transform([str(tmp_path / "missing.png")])
    with pytest.raises(InputError, match=r"<array #1>.*too small"):
        BRISQUEExtractor().transform([images[0], np.zeros((8, 8, 3), np.uint8)])
    with pytest.raises(InputError, match="n_jobs"):
        BRISQUEExtractor(n_jobs=0).fit(images)
    with pytest.raises(InputError):
        BRISQUEExtractor().fit([])


def test_extractor_sklearn_api_checks():
    # the estimator checks that apply to a transformer of images (not of 2-D numeric arrays)
    from sklearn.utils import estimator_checks as ec

    for check in (ec.check_no_attributes_set_in_init, ec.check_parameters_default_constructible,
                  ec.check_get_params_invariance, ec.check_set_params):
        check("BRISQUEExtractor", BRISQUEExtractor())
    assert BRISQUEExtractor().__sklearn_tags__().requires_fit is False
