"""MATLAB-compatible imresize: against an independent loop implementation and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ddriqa.degradations.resize import bicubic_downsample, imresize
from ddriqa.errors import InputError


# --- an independent, slow reference written from MATLAB's algorithm (plain python loops) ---
def _ref_cubic(x):
    a = abs(x)
    if a <= 1:
        return 1.5 * a**3 - 2.5 * a**2 + 1
    if a <= 2:
        return -0.5 * a**3 + 2.5 * a**2 - 4 * a + 2
    return 0.0


def _ref_resize_1d(vec, out_len, scale, antialias=True):
    n = len(vec)
    if scale < 1 and antialias:
        width = 4.0 / scale
        kern = lambda d: scale * _ref_cubic(scale * d)  # noqa: E731
    else:
        width = 4.0
        kern = _ref_cubic
    taps = math.ceil(width) + 2
    out = []
    for x in range(1, out_len + 1):
        u = x / scale + 0.5 * (1 - 1 / scale)
        left = math.floor(u - width / 2)
        ws, js = [], []
        for p in range(taps):
            j = left + p  # 1-based, may fall outside 1..n
            ws.append(kern(u - j))
            # symmetric mirroring: ... 2 1 | 1 2 ... n | n n-1 ...
            k = (j - 1) % (2 * n)
            js.append(k if k < n else 2 * n - 1 - k)
        total = sum(ws)
        out.append(sum(w / total * vec[j] for w, j in zip(ws, js)))
    return out


def _ref_imresize(img, scale=None, output_shape=None):
    h, w = img.shape
    if output_shape is None:
        out = (math.ceil(scale * h), math.ceil(scale * w))
        scales = (scale, scale)
    else:
        out = output_shape
        scales = (out[0] / h, out[1] / w)
    order = [0, 1] if scales[0] <= scales[1] else [1, 0]
    cur = [list(map(float, row)) for row in img]
    for dim in order:
        if dim == 0:
            cols = [_ref_resize_1d([r[c] for r in cur], out[0], scales[0]) for c in range(len(cur[0]))]
            cur = [[cols[c][r] for c in range(len(cols))] for r in range(out[0])]
        else:
            cur = [_ref_resize_1d(r, out[1], scales[1]) for r in cur]
    return np.array(cur)


@pytest.mark.parametrize("shape", [(13, 10), (16, 11)])
@pytest.mark.parametrize("scale", [0.5, 0.25, 1 / 3, 2, 4])
def test_matches_reference_loop(shape, scale):
    rng = np.random.default_rng(7)
    img = rng.random(shape)
    got = imresize(img, scale)
    want = _ref_imresize(img, scale=scale)
    assert got.shape == want.shape == (math.ceil(scale * shape[0]), math.ceil(scale * shape[1]))
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-10)


@pytest.mark.parametrize("out", [(5, 9), (20, 6), (13, 10)])
def test_output_shape_matches_reference_loop(out):
    img = np.random.default_rng(3).random((13, 10))
    np.testing.assert_allclose(imresize(img, output_shape=out), _ref_imresize(img, output_shape=out), atol=1e-10)


def test_channels_resized_independently():
    rng = np.random.default_rng(1)
    img = rng.random((17, 12, 3))
    got = imresize(img, 0.5)
    for c in range(3):
        np.testing.assert_allclose(got[..., c], _ref_imresize(img[..., c], scale=0.5), atol=1e-10)


def test_magic4_half():
    # MATLAB: imresize(magic(4), 0.5) (bicubic, antialiasing). Computed BY HAND from the algorithm
    # (no MATLAB output could be found to cite): both dimensions use the weights
    # [0.546875 0.3984375 0.1015625 -0.046875] (and reversed); because every row and column of
    # magic(4) sums to 34, each output value is exactly 8.5.
    magic4 = np.array([[16, 2, 3, 13], [5, 11, 10, 8], [9, 7, 6, 12], [4, 14, 15, 1]], dtype=np.float64)
    np.testing.assert_allclose(imresize(magic4, 0.5), np.full((2, 2), 8.5), atol=1e-12)
    # the row weights themselves, on a basis vector
    np.testing.assert_allclose(
        imresize(np.eye(4)[:, :1], output_shape=(2, 1))[:, 0], [0.546875, -0.046875], atol=1e-12
    )
    # a non-symmetric input: rows 0..3 (value = row index) -> weighted means of the row indices
    ramp = np.repeat(np.arange(4.0)[:, None], 4, axis=1)
    w = np.array([0.546875, 0.3984375, 0.1015625, -0.046875])
    expect_top = float(w @ np.arange(4.0))
    np.testing.assert_allclose(imresize(ramp, 0.5)[:, 0], [expect_top, 3 - expect_top], atol=1e-12)


def test_uint8_rounding_matlab_style():
    magic4 = np.array([[16, 2, 3, 13], [5, 11, 10, 8], [9, 7, 6, 12], [4, 14, 15, 1]], dtype=np.uint8)
    out = imresize(magic4, 0.5)
    assert out.dtype == np.uint8
    # rows first: 11.46875 -> 11 and 5.53125 -> 6, then 0.5*11 + 0.5*6 = 8.5 -> 9 (half away from zero)
    np.testing.assert_array_equal(out, np.full((2, 2), 9, dtype=np.uint8))
    # saturation: overshoot of the cubic kernel at a hard edge is clipped to 0..255
    edge = np.zeros((8, 8), dtype=np.uint8)
    edge[:, 4:] = 255
    up = imresize(edge, 2)
    assert up.dtype == np.uint8 and up.min() == 0 and up.max() == 255
    fup = imresize(edge.astype(np.float64), 2)
    assert fup.max() > 255.5 and fup.min() < -0.5  # float is not clipped


@pytest.mark.parametrize(
    "shape,scale,expected",
    [((5, 7), 0.5, (3, 4)), ((481, 321), 0.25, (121, 81)), ((512, 768), 0.5, (256, 384)), ((10, 10), 1 / 3, (4, 4))],
)
def test_output_size_rule(shape, scale, expected):
    assert imresize(np.zeros(shape), scale).shape == expected


def test_bicubic_downsample_and_checks():
    img = np.random.default_rng(0).integers(0, 256, size=(40, 36, 3), dtype=np.uint8)
    np.testing.assert_array_equal(bicubic_downsample(img, 4), imresize(img, 0.25))
    assert bicubic_downsample(img, 4).shape == (10, 9, 3)
    with pytest.raises(InputError):
        bicubic_downsample(img, 0)
    with pytest.raises(InputError, match="exactly one"):
        imresize(img)
    with pytest.raises(InputError, match="shape"):
        imresize(np.zeros((2, 3, 4, 5)), 0.5)
    with pytest.raises(InputError, match="NaN"):
        imresize(np.full((4, 4), np.nan), 0.5)
    with pytest.raises(InputError):
        imresize(img, -1)


def test_constant_image_preserved():
    img = np.full((31, 17), 0.3)
    for s in (0.25, 0.5, 3):
        np.testing.assert_allclose(imresize(img, s), 0.3, atol=1e-12)


def _round_half_away(x):
    return np.floor(np.clip(x, 0, 255) + 0.5)


@pytest.mark.parametrize("scale", [0.5, 1 / 3, 2])
def test_uint8_rounds_after_each_pass(scale):
    # MATLAB's imresizemex returns the input class, so a uint8 image is saturated and rounded after
    # the first (row) pass and again after the second (column) pass.
    img = np.random.default_rng(5).integers(0, 256, size=(13, 10), dtype=np.uint8)
    rows = np.array(
        [_ref_resize_1d([float(v) for v in img[:, c]], math.ceil(scale * 13), scale) for c in range(10)]
    ).T
    rows = _round_half_away(rows)
    both = np.array([_ref_resize_1d(list(r), math.ceil(scale * 10), scale) for r in rows])
    expected = _round_half_away(both).astype(np.uint8)
    got = imresize(img, scale)
    np.testing.assert_array_equal(got, expected)
    # and this differs from rounding only once at the end for some pixels (the test can fail)
    once = _round_half_away(_ref_imresize(img.astype(np.float64), scale=scale)).astype(np.uint8)
    assert scale == 2 or not np.array_equal(once, expected)
