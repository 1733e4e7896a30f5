"""JPEG / JPEG 2000: target rates, decoder agreement, quality search."""

from __future__ import annotations

import io

import numpy as np
import pytest
from conftest import textured_image

from ddriqa.degradations.compression import (
    bits_per_pixel,
    decode_jpeg2000,
    encode_jpeg,
    encode_jpeg2000,
    jpeg,
    jpeg2000,
    jpeg_quality_for_bpp,
)
from ddriqa.errors import InputError


@pytest.fixture(scope="module")
def img256():
    return textured_image(256, 256, seed=3)


@pytest.mark.parametrize("bpp", [0.03, 0.1, 0.5, 1.5, 3.15])
def test_jpeg2000_hits_target_rate(img256, bpp):
    data = encode_jpeg2000(img256, bpp)
    got = bits_per_pixel(data, img256.shape)
    assert abs(got - bpp) <= 0.10 * bpp, f"target {bpp} bpp, got {got:.4f}"
    out = decode_jpeg2000(data, img256.shape)
    assert out.shape == img256.shape and out.dtype == np.uint8


def test_jpeg2000_quality_grows_with_rate(img256):
    err = [np.abs(jpeg2000(img256, b).astype(float) - img256).mean() for b in (0.05, 0.5, 3.0)]
    assert err[0] > err[1] > err[2]
    assert err[0] - err[2] > 2.0  # grey levels of mean absolute error


def test_jpeg2000_gray_and_tiles():
    gray = textured_image(96, 80, seed=1, channels=1)
    data = encode_jpeg2000(gray, 1.0, tile_size=(48, 40), resilience=True)
    assert abs(bits_per_pixel(data, gray.shape) - 1.0) <= 0.1
    assert b"\xff\x58" in data  # PLT markers with resilience
    assert decode_jpeg2000(data, gray.shape).shape == gray.shape


@pytest.mark.parametrize("quality", [5, 30, 75, 95])
def test_jpeg_equals_standard_decoder(img256, quality):
    import cv2

    data = encode_jpeg(img256, quality)
    ours = jpeg(img256, quality)
    # OpenCV's decoder (a different library build) reading the same bytes gives the same pixels
    theirs = cv2.cvtColor(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
    np.testing.assert_array_equal(ours, theirs)
    assert ours.dtype == np.uint8 and ours.shape == img256.shape


def test_jpeg_gray_roundtrip_pillow():
    from PIL import Image

    gray = textured_image(64, 48, seed=2, channels=1)
    data = encode_jpeg(gray, 50)
    np.testing.assert_array_equal(jpeg(gray, 50), np.asarray(Image.open(io.BytesIO(data))))


def test_jpeg_quality_for_bpp(img256):
    for target in (0.3, 1.0, 2.5):
        q, got = jpeg_quality_for_bpp(img256, target)
        assert got == pytest.approx(bits_per_pixel(encode_jpeg(img256, q), img256.shape))
        # no other quality is closer to the target
        rates = {k: bits_per_pixel(encode_jpeg(img256, k), img256.shape) for k in range(max(1, q - 3), min(100, q + 3) + 1)}
        assert abs(got - target) <= min(abs(r - target) for r in rates.values()) + 1e-12
    assert jpeg_quality_for_bpp(img256, 1e-4)[0] == 1
    assert jpeg_quality_for_bpp(img256, 1e4)[0] == 100


def test_input_errors(img256):
    with pytest.raises(InputError, match="uint8"):
        jpeg(img256.astype(np.float32) / 255, 50)
    with pytest.raises(InputError, match="quality"):
        jpeg(img256, 0)
    with pytest.raises(InputError, match="bpp"):
        jpeg2000(img256, -1)
    with pytest.raises(InputError, match="HxW"):
        jpeg(np.zeros((4, 4, 2), np.uint8), 50)
