"""Property-based tests of the degradations: random sizes, dtypes and parameters.

Two kinds of properties:

* valid input (uint8 or float on [0, 1], HxW or HxWx3, parameters in range) always works and
  gives the documented shape, dtype and value range;
* any input at all (random dtype, shape, values, parameters) either works or raises
  :class:`~ddriqa.errors.InputError` -- never another exception.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st

from ddriqa.degradations.blur import gaussian_blur
from ddriqa.degradations.compression import jpeg, jpeg2000
from ddriqa.degradations.live_preset import LIVE_CLASSES, LIVE_RANGES, apply_live
from ddriqa.degradations.noise import add_gaussian_noise
from ddriqa.degradations.resize import imresize
from ddriqa.errors import InputError

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SLOW = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])

sides = st.integers(min_value=1, max_value=24)
channels = st.sampled_from([None, 1, 3])


@st.composite
def valid_images(draw, min_side=1, max_side=24, float_ok=True, channel_options=(None, 1, 3)):
    """uint8 (0..255) or float32/float64 on [0, 1]; HxW, HxWx1 or HxWx3."""
    h = draw(st.integers(min_side, max_side))
    w = draw(st.integers(min_side, max_side))
    c = draw(st.sampled_from(channel_options))
    shape = (h, w) if c is None else (h, w, c)
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    kind = draw(st.sampled_from(["uint8", "float32", "float64"] if float_ok else ["uint8"]))
    look = draw(st.sampled_from(["noise", "constant", "extremes"]))
    if look == "noise":
        u = rng.random(shape)
    elif look == "constant":
        u = np.full(shape, rng.random())
    else:
        u = rng.integers(0, 2, shape).astype(np.float64)
    if kind == "uint8":
        return np.round(u * 255).astype(np.uint8)
    return u.astype(kind)


@st.composite
def any_arrays(draw):
    """Arrays of random dtype, dimensionality and values (mostly invalid images)."""
    ndim = draw(st.integers(0, 4))
    shape = tuple(draw(st.lists(st.integers(0, 6), min_size=ndim, max_size=ndim)))
    dtype = draw(st.sampled_from(["uint8", "int16", "int64", "float16", "float32", "float64", "bool",
                                  "complex64", "U3"]))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    values = rng.normal(0, draw(st.sampled_from([0.3, 300.0])), size=shape)
    if draw(st.booleans()) and values.size:
        values.flat[0] = draw(st.sampled_from([np.nan, np.inf, -np.inf, -1.0, 2.0]))
    if dtype == "U3":
        return values.astype(str).astype("U3")
    with np.errstate(invalid="ignore", over="ignore"):
        return values.astype(dtype)


def _check_range(out, like):
    if like.dtype == np.uint8:
        assert out.dtype == np.uint8
    else:
        assert out.dtype == np.float64
        assert np.all(np.isfinite(out))


# ------------------------------------------------------------------------------------ imresize
@FAST
@given(img=valid_images(), scale=st.floats(0.05, 3.0), antialias=st.booleans())
def test_imresize_scale_shapes_and_range(img, scale, antialias):
    out = imresize(img, scale, antialias=antialias)
    h, w = img.shape[:2]
    assert out.shape[:2] == (math.ceil(scale * h), math.ceil(scale * w))
    assert out.shape[2:] == img.shape[2:]
    _check_range(out, img)
    if img.size and np.all(img == img.flat[0]):  # weights sum to 1: a constant stays constant
        np.testing.assert_allclose(out.astype(np.float64), float(img.flat[0]), rtol=0, atol=1e-9 * 255 + 0.5
                                   if img.dtype == np.uint8 else 1e-9)


@FAST
@given(img=valid_images(), rows=st.integers(1, 30), cols=st.integers(1, 30))
def test_imresize_output_shape(img, rows, cols):
    out = imresize(img, output_shape=(rows, cols))
    assert out.shape[:2] == (rows, cols)
    _check_range(out, img)
    if img.dtype != np.uint8:  # float images are never clipped, but cubic overshoot is bounded
        assert out.min() >= -0.5 and out.max() <= 1.5


@FAST
@given(arr=any_arrays(), scale=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(0.5),
                                         st.tuples(st.floats(0.1, 2), st.floats(0.1, 2)), st.text(max_size=3)))
def test_imresize_never_crashes_outside_input_error(arr, scale):
    try:
        out = imresize(arr, scale)
    except InputError:
        return
    assert out.ndim == arr.ndim


# ------------------------------------------------------------------------------ blur and noise
@FAST
@given(img=valid_images(), sigma=st.floats(0.1, 6.0))
def test_gaussian_blur_shape_range_constant(img, sigma):
    out = gaussian_blur(img, sigma)
    assert out.shape == img.shape
    _check_range(out, img)
    lo, hi = float(img.min()), float(img.max())
    assert out.min() >= lo - 1e-9 and out.max() <= hi + 1e-9  # a non-negative kernel: no overshoot


@FAST
@given(arr=any_arrays(), sigma=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1.0)),
       size=st.one_of(st.none(), st.integers(-3, 9)))
def test_gaussian_blur_never_crashes_outside_input_error(arr, sigma, size):
    try:
        out = gaussian_blur(arr, sigma, size=size)
    except InputError:
        return
    assert out.shape == arr.shape


@FAST
@given(img=valid_images(), sigma=st.floats(0.0, 100.0), seed=st.integers(0, 2**32 - 1))
def test_add_gaussian_noise_reproducible(img, sigma, seed):
    a = add_gaussian_noise(img, sigma, np.random.default_rng(seed))
    b = add_gaussian_noise(img, sigma, np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)
    assert a.shape == img.shape
    _check_range(a, img)
    if sigma == 0.0:
        np.testing.assert_array_equal(a, img if img.dtype == np.uint8 else img.astype(np.float64))


@FAST
@given(arr=any_arrays(), sigma=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(3.0)))
def test_add_gaussian_noise_never_crashes_outside_input_error(arr, sigma):
    try:
        out = add_gaussian_noise(arr, sigma, np.random.default_rng(0))
    except InputError:
        return
    assert out.shape == arr.shape


# --------------------------------------------------------------------------------- compression
@FAST
@given(img=valid_images(float_ok=False, channel_options=(None, 3)), quality=st.integers(1, 100))
def test_jpeg_shape_and_dtype(img, quality):
    out = jpeg(img, quality)
    assert out.shape == img.shape and out.dtype == np.uint8


@SLOW
@given(img=valid_images(float_ok=False, channel_options=(None, 3)), bpp=st.floats(0.05, 6.0))
def test_jpeg2000_shape_and_dtype(img, bpp):
    out = jpeg2000(img, bpp)
    assert out.shape == img.shape and out.dtype == np.uint8


@FAST
@given(arr=any_arrays(), quality=st.one_of(st.integers(-5, 105), st.floats(allow_nan=True), st.none()))
def test_jpeg_never_crashes_outside_input_error(arr, quality):
    try:
        out = jpeg(arr, quality)
    except InputError:
        return
    assert out.shape == arr.shape


@FAST
@given(arr=any_arrays(), bpp=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1.0)))
def test_jpeg2000_never_crashes_outside_input_error(arr, bpp):
    try:
        out = jpeg2000(arr, bpp)
    except InputError:
        return
    assert out.shape == arr.shape


# ------------------------------------------------------------------------------- LIVE classes
@st.composite
def live_params(draw):
    distortion = draw(st.sampled_from(LIVE_CLASSES))
    lo, hi = LIVE_RANGES[distortion]
    # the published range, and a margin beyond it (values outside the range are allowed)
    param = draw(st.floats(lo * 0.8, hi * 1.2))
    return distortion, param


@SLOW
@example(img=np.full((1, 1), 9, np.uint8), dp=("fastfading", 15.5), seed=0)
@example(img=np.full((1, 1, 3), 200, np.uint8), dp=("jp2k", 0.028), seed=0)
@example(img=np.zeros((1, 37, 3), np.uint8), dp=("jpeg", 0.15), seed=0)
@example(img=np.zeros((29, 1), np.uint8), dp=("gblur", 15.0), seed=0)
@example(img=np.full((2, 3, 3), 255, np.uint8), dp=("wn", 2.0), seed=0)
@given(img=valid_images(min_side=1, max_side=40, float_ok=False, channel_options=(None, 3)),
       dp=live_params(), seed=st.integers(0, 2**32 - 1))
def test_apply_live_all_classes(img, dp, seed):
    distortion, param = dp
    a = apply_live(img, distortion, param, np.random.default_rng(seed))
    assert a.shape == img.shape and a.dtype == np.uint8
    if distortion in ("jp2k", "jpeg", "gblur"):  # deterministic classes ignore the generator
        b = apply_live(img, distortion, param, np.random.default_rng(seed + 1))
    else:  # reproducible from the seed
        b = apply_live(img, distortion, param, np.random.default_rng(seed))
    np.testing.assert_array_equal(a, b)


@FAST
@given(arr=any_arrays(), distortion=st.sampled_from(LIVE_CLASSES + ("blur", "")),
       param=st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=2), st.none()))
def test_apply_live_never_crashes_outside_input_error(arr, distortion, param):
    assume(not (isinstance(param, float) and math.isfinite(param) and abs(param) > 1e6))  # keep it fast
    try:
        out = apply_live(arr, distortion, param, np.random.default_rng(0))
    except InputError:
        return
    assert out.shape == arr.shape


# ------------------------------------------------------- extreme parameters (bugs found here)
# Found by these tests and fixed: gaussian_blur(sigma=1e300) raised numpy's ValueError ("Maximum
# allowed size exceeded") and sigma=1e7 ran 19 s on an 8x8 image; imresize(img, 1e-300) raised
# ValueError and imresize(img, 1e4) MemoryError; apply_live(img, "fastfading", 1e300) raised
# OverflowError. All are InputError now (or, for a huge SNR, an error-free channel).
huge_or_moderate = st.one_of(
    st.floats(-1e3, 1e3),
    st.floats(min_value=1e6, allow_infinity=True),
    st.floats(max_value=-1e6, allow_infinity=True),
    st.just(float("nan")),
)


@FAST
@given(img=valid_images(max_side=12, float_ok=False, channel_options=(None, 3)),
       distortion=st.sampled_from(LIVE_CLASSES), param=huge_or_moderate, seed=st.integers(0, 2**16))
def test_apply_live_extreme_parameters(img, distortion, param, seed):
    try:
        out = apply_live(img, distortion, param, np.random.default_rng(seed))
    except InputError:
        return
    assert out.shape == img.shape and out.dtype == np.uint8


@pytest.mark.parametrize(
    "call",
    [
        lambda img: gaussian_blur(img, 1e300),
        lambda img: gaussian_blur(img, 6e307),  # 3 * sigma overflows to inf (found by hypothesis)
        lambda img: gaussian_blur(img, 1e7),
        lambda img: gaussian_blur(img, 1.0, size=2**21 + 1),
        lambda img: imresize(img, 1e9),
        lambda img: imresize(img, 1e4),
        lambda img: imresize(img, 1e-300),
        lambda img: imresize(img, output_shape=(10**6, 10**6)),
        lambda img: apply_live(img, "gblur", 1e300, np.random.default_rng(0)),
    ],
    ids=["blur-1e300", "blur-6e307", "blur-1e7", "blur-size", "imresize-1e9", "imresize-1e4", "imresize-1e-300",
         "imresize-shape", "live-gblur-1e300"],
)
def test_absurd_sizes_are_input_errors(call):
    with pytest.raises(InputError, match=r"MAX_|taps|shrinks"):
        call(np.zeros((8, 8, 3), np.uint8))


def test_fast_fading_huge_snr_is_error_free():
    from ddriqa.degradations.fastfading import fading_bit_errors

    assert not fading_bit_errors(10_000, 1e300, np.random.default_rng(0)).any()
    img = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    out = apply_live(img, "fastfading", 1e300, np.random.default_rng(0))
    assert out.shape == img.shape
