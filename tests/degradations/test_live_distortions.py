"""LIVE classes: parameter sampling and application."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import textured_image

from ddriqa.degradations.compression import jpeg2000
from ddriqa.degradations.live_preset import LIVE_CLASSES, LIVE_RANGES, apply_live, sample_live_param
from ddriqa.errors import InputError


def test_classes_and_ranges():
    assert LIVE_CLASSES == ("jp2k", "jpeg", "wn", "gblur", "fastfading")
    assert LIVE_RANGES["jp2k"] == (0.028, 3.15) and LIVE_RANGES["fastfading"] == (15.5, 26.1)


@pytest.mark.parametrize("distortion", LIVE_CLASSES)
def test_sampling_within_range_and_law(distortion):
    rng = np.random.default_rng(0)
    lo, hi = LIVE_RANGES[distortion]
    draws = np.array([sample_live_param(distortion, rng) for _ in range(4000)])
    assert draws.min() >= lo and draws.max() <= hi
    if distortion == "fastfading":  # uniform in dB: median at the middle
        assert np.median(draws) == pytest.approx((lo + hi) / 2, abs=0.3)
    else:  # log-uniform: median at the geometric mean
        assert np.median(draws) == pytest.approx(math.sqrt(lo * hi), rel=0.08)
    again = [sample_live_param(distortion, np.random.default_rng(0)) for _ in range(2)]
    assert again[0] == again[1] == draws[0]


@pytest.mark.parametrize("distortion", LIVE_CLASSES)
def test_apply_each_class(distortion):
    img = textured_image(64, 80, seed=1)
    param = sample_live_param(distortion, np.random.default_rng(3))
    out = apply_live(img, distortion, param, np.random.default_rng(4))
    assert out.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out, apply_live(img, distortion, param, np.random.default_rng(4)))


def test_wn_sigma_on_unit_scale():
    flat = np.full((300, 300, 3), 128, np.uint8)
    out = apply_live(flat, "wn", 0.05, np.random.default_rng(0))  # 0.05 * 255 = 12.75 grey levels
    assert out.astype(float).std() == pytest.approx(12.75, rel=0.05)
    extreme = apply_live(flat, "wn", 2.0, np.random.default_rng(0))  # clipped: mostly 0 or 255
    assert np.mean((extreme == 0) | (extreme == 255)) > 0.8


def test_jp2k_and_jpeg_rates():
    img = textured_image(128, 128, seed=2)
    np.testing.assert_array_equal(apply_live(img, "jp2k", 0.5, np.random.default_rng(0)), jpeg2000(img, 0.5))
    lo = apply_live(img, "jpeg", 0.3, np.random.default_rng(0)).astype(float)
    hi = apply_live(img, "jpeg", 3.0, np.random.default_rng(0)).astype(float)
    assert np.abs(lo - img).mean() > np.abs(hi - img).mean()


def test_bad_arguments():
    img = textured_image(16, 16)
    with pytest.raises(InputError, match="unknown LIVE distortion"):
        apply_live(img, "blur", 1.0, np.random.default_rng(0))
    with pytest.raises(InputError, match="unknown LIVE distortion"):
        sample_live_param("noise", np.random.default_rng(0))
    with pytest.raises(InputError, match="finite"):
        apply_live(img, "gblur", float("nan"), np.random.default_rng(0))
    with pytest.raises(InputError, match="Generator"):
        apply_live(img, "gblur", 1.0, None)
