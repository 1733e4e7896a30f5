"""Gaussian noise and Gaussian blur."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image

from ddriqa.degradations.blur import default_kernel_size, gaussian_blur, gaussian_kernel
from ddriqa.degradations.combine import blur_then_noise
from ddriqa.degradations.noise import add_gaussian_noise
from ddriqa.errors import InputError


@pytest.mark.parametrize("sigma", [3.0, 10.0, 25.0])
def test_noise_sigma_uint8(sigma):
    flat = np.full((400, 400, 3), 128, np.uint8)  # mid grey: no clipping at these sigmas
    out = add_gaussian_noise(flat, sigma, np.random.default_rng(1))
    diff = out.astype(np.float64) - 128
    # rounding adds variance 1/12: compare sqrt(sigma^2 + 1/12) within 5 %
    assert diff.std() == pytest.approx(np.sqrt(sigma**2 + 1 / 12), rel=0.05)
    assert abs(diff.mean()) < 0.2
    assert out.dtype == np.uint8


def test_noise_float_scale_and_no_clip():
    flat = np.full((300, 300), 0.5)
    out = add_gaussian_noise(flat, 51.0, np.random.default_rng(2))  # 51/255 = 0.2
    assert out.dtype == np.float64
    assert out.std() == pytest.approx(0.2, rel=0.05)
    assert out.min() < 0.0 and out.max() > 1.0  # float output is not clipped


def test_noise_reproducible_and_needs_generator():
    img = textured_image(32, 32)
    a = add_gaussian_noise(img, 5, np.random.default_rng(9))
    b = add_gaussian_noise(img, 5, np.random.default_rng(9))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, add_gaussian_noise(img, 5, np.random.default_rng(10)))
    with pytest.raises(InputError, match="Generator"):
        add_gaussian_noise(img, 5, 9)
    with pytest.raises(InputError, match="sigma"):
        add_gaussian_noise(img, -1, np.random.default_rng(0))
    with pytest.raises(InputError, match=r"\[0, 1\]"):
        add_gaussian_noise(np.full((4, 4), 2.0), 5, np.random.default_rng(0))


def test_kernel_matches_fspecial():
    # MATLAB fspecial('gaussian', 3, 0.5), as printed by MATLAB (4 decimals)
    expected = np.array([[0.0113, 0.0838, 0.0113], [0.0838, 0.6193, 0.0838], [0.0113, 0.0838, 0.0113]])
    np.testing.assert_allclose(gaussian_kernel(3, 0.5), expected, atol=6e-5)
    k = gaussian_kernel((4, 6), 1.5)  # even sizes are centred between pixels
    assert k.shape == (4, 6)
    np.testing.assert_allclose(k, k[::-1, ::-1], atol=1e-15)


@pytest.mark.parametrize("sigma", [1.0, 2.0, 3.0, 7.5])
def test_kernel_sum_and_width(sigma):
    size = 2 * int(np.ceil(6 * sigma)) + 1  # +-6 sigma: truncation error negligible
    k = gaussian_kernel(size, sigma)
    assert k.sum() == pytest.approx(1.0, abs=1e-12)
    x = np.arange(size) - (size - 1) / 2
    var_x = float((k.sum(axis=0) * x**2).sum())
    # (for sigma < 1 the sampled kernel is narrower than the continuous Gaussian, hence sigma >= 1)
    assert var_x == pytest.approx(sigma**2, rel=0.01)
    assert gaussian_kernel(default_kernel_size(0.42), 0.42).sum() == pytest.approx(1.0, abs=1e-12)


def test_blur_impulse_response_and_constant():
    img = np.zeros((41, 41))
    img[20, 20] = 1.0
    out = gaussian_blur(img, 2.0)
    assert default_kernel_size(2.0) == 13
    np.testing.assert_allclose(out[14:27, 14:27], gaussian_kernel(13, 2.0), atol=1e-15)
    const = np.full((20, 30, 3), 77, np.uint8)
    np.testing.assert_array_equal(gaussian_blur(const, 15.0), const)  # symmetric border keeps constants


def test_blur_uint8_smooths_and_checks():
    img = textured_image(64, 64)
    out = gaussian_blur(img, 3.0)
    assert out.dtype == np.uint8 and out.shape == img.shape
    grad = lambda a: np.abs(np.diff(a.astype(float), axis=1)).mean()  # noqa: E731
    assert grad(out) < 0.5 * grad(img)
    with pytest.raises(InputError, match="odd"):
        gaussian_blur(img, 1.0, size=4)
    with pytest.raises(InputError, match="sigma"):
        gaussian_blur(img, 0)


def test_blur_then_noise_order():
    img = np.full((200, 200), 100, np.uint8)
    out = blur_then_noise(img, 2.0, 10.0, np.random.default_rng(0), size=15)
    # noise added after the blur is white (not smoothed): its std is the full sigma
    assert out.astype(float).std() == pytest.approx(10.0, rel=0.05)
