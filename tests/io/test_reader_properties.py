"""Property-based tests of read_image: random bytes, random truncations, random valid files.

read_image's contract: it returns an ``(H, W, 3)`` array (uint8 or float32), or raises
:class:`~ddriqa.errors.ImageReadError` naming the file -- never another exception, and a
truncated file never yields a partial image (a successful read of a cut file equals the full read).
"""

from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from PIL import Image

from ddriqa.errors import ImageReadError
from ddriqa.io import read_image

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

pytestmark = [
    pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning"),
    # Pillow warns (and goes on) when a cut TIFF/JPEG has a truncated EXIF block; read_image then
    # ignores the orientation or refuses the file, both fine here
    pytest.mark.filterwarnings("ignore:Corrupt EXIF data:UserWarning"),
]

# magic numbers that steer random bytes into each decoder
MAGICS = [
    b"",
    b"\x89PNG\r\n\x1a\n",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    b"\xff\xd8\xff\xe0",
    b"\xff\xd8\xff\xdb",
    b"GIF89a",
    b"BM",
    b"II*\x00",
    b"MM\x00*",
    b"\x00\x00\x00\x0cjP  \r\n\x87\n",
    b"\xff\x4f\xff\x51",
    b"RIFF\x00\x00\x00\x00WEBPVP8 ",
    b"P6\n4 4\n255\n",
    b"P5\n3 2\n65535\n",
    b"P4\n8 1\n",
]

FORMATS = {  # Pillow format -> (suffix, lossless)
    "PNG": (".png", True),
    "BMP": (".bmp", True),
    "TIFF": (".tif", True),
    "JPEG": (".jpg", False),
    "GIF": (".gif", True),
    "WEBP": (".webp", False),
    "JPEG2000": (".jp2", False),
    "PPM": (".ppm", True),
}
MODES = ["1", "L", "P", "RGB", "RGBA", "LA", "I;16", "I", "F", "CMYK"]


def _check_result(out, path):
    assert isinstance(out, np.ndarray)
    assert out.ndim == 3 and out.shape[2] == 3 and out.shape[0] >= 1 and out.shape[1] >= 1, out.shape
    assert out.dtype == np.uint8


def _read_or_error(path, **kw):
    """read_image's result, or None after checking that the error is an ImageReadError naming ``path``."""
    try:
        out = read_image(path, **kw)
    except ImageReadError as exc:
        assert exc.path == str(path) and str(path) in str(exc)
        return None
    return out


@SETTINGS
@given(magic=st.sampled_from(MAGICS), tail=st.binary(min_size=0, max_size=600),
       suffix=st.sampled_from([".png", ".jpg", ".bin", ""]))
def test_random_bytes(tmp_path_factory, magic, tail, suffix):
    path = tmp_path_factory.mktemp("rb") / f"random{suffix}"
    path.write_bytes(magic + tail)
    out = _read_or_error(path, max_pixels=1_000_000)
    if out is not None:
        _check_result(out, path)


@st.composite
def pillow_images(draw, max_side=24):
    """(encoded bytes, format, mode, the PIL image saved) for a random image in a random mode."""
    fmt = draw(st.sampled_from(sorted(FORMATS)))
    mode = draw(st.sampled_from(MODES))
    h, w = draw(st.integers(1, max_side)), draw(st.integers(1, max_side))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    rgb = rng.integers(0, 256, (h, w, 3), dtype=np.uint8)
    base = Image.fromarray(rgb)
    if mode in ("I;16", "I"):
        im = Image.fromarray(rng.integers(0, 65536, (h, w)).astype(np.uint16 if mode == "I;16" else np.int32))
    elif mode == "F":
        im = Image.fromarray(rng.random((h, w)).astype(np.float32))
    elif mode == "P":
        im = base.convert("P", palette=Image.Palette.ADAPTIVE, colors=draw(st.integers(2, 256)))
    elif mode == "RGBA":
        im = Image.fromarray(np.dstack([rgb, rng.integers(0, 256, (h, w), dtype=np.uint8)]))
    elif mode == "LA":
        im = Image.fromarray(np.dstack([rgb[:, :, 0], rgb[:, :, 1]]), mode="LA")
    else:
        im = base.convert(mode)
    buf = io.BytesIO()
    try:
        im.save(buf, format=fmt)
    except (OSError, ValueError, KeyError, TypeError):
        assume(False)  # Pillow cannot write this mode in this format
    return buf.getvalue(), fmt, mode, im


@SETTINGS
@given(case=pillow_images())
def test_random_valid_images(tmp_path_factory, case):
    data, fmt, mode, im = case
    path = tmp_path_factory.mktemp("valid") / f"img{FORMATS[fmt][0]}"
    path.write_bytes(data)
    out = _read_or_error(path)
    if out is None:
        # the only refusals for a valid file are documented unsupported sample types
        with pytest.raises(ImageReadError, match="unsupported"):
            read_image(path)
        return
    _check_result(out, path)
    assert out.shape[:2] == (im.height, im.width)
    as_float = read_image(path, dtype="float32")
    assert as_float.dtype == np.float32 and as_float.shape == out.shape
    assert float(as_float.min()) >= 0.0 and float(as_float.max()) <= 1.0
    np.testing.assert_allclose(as_float * 255.0, out, rtol=0, atol=0.5 + 1e-3)
    lossless, eight_bit = FORMATS[fmt][1], mode in ("1", "L", "P", "RGB")
    if lossless and eight_bit:
        with Image.open(io.BytesIO(data)) as back:
            expected = np.asarray(back.convert("RGB"))
        np.testing.assert_array_equal(out, expected)


@SETTINGS
@given(case=pillow_images(max_side=40), cut=st.floats(0.0, 1.0, exclude_max=True))
def test_random_truncations(tmp_path_factory, case, cut):
    data, fmt, mode, _ = case
    folder = tmp_path_factory.mktemp("trunc")
    full_path = folder / f"full{FORMATS[fmt][0]}"
    full_path.write_bytes(data)
    full = _read_or_error(full_path)
    n = int(len(data) * cut)
    path = folder / f"cut{FORMATS[fmt][0]}"
    path.write_bytes(data[:n])
    out = _read_or_error(path)
    if out is None:
        return
    _check_result(out, path)
    # a cut file is either refused or decodes to the complete image (only trailing bytes were lost)
    assert full is not None, (fmt, mode, n, len(data))
    np.testing.assert_array_equal(out, full, err_msg=f"{fmt} {mode}: cut at {n} of {len(data)} bytes")
