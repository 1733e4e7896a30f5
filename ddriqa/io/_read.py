"""Reading image files: :func:`read_image`, the one reader every ddriqa command uses.

Decoding goes through Pillow, which reads the image size from the header without decoding the
pixels (so the pixel-count limit is checked first), applies the EXIF orientation, and handles
palette, CMYK, multi-page and JPEG 2000 files. OpenCV is used for 16-bit colour images (which
Pillow reduces to 8 bits by truncation) and as a fallback for files Pillow cannot identify.
For 8-bit PNG and JPEG, OpenCV decodes about 10-25 % faster than Pillow or no faster (BMP: both well
under 1 ms for 768x512), see ``benchmarks/results/decode_speed.md`` (``python
benchmarks/decode_speed.py``); that is negligible next to feature extraction, and OpenCV neither
reports the size before decoding nor refuses truncated files consistently across versions, so
Pillow decodes them.
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import stat
import warnings

import numpy as np

from ddriqa.errors import ImageReadError, InputError, hint

__all__ = ["DEFAULT_MAX_PIXELS", "apply_exif_orientation", "read_image", "read_image_size"]

#: Default limit on width * height, checked from the file header before decoding: 2**26 pixels
#: (8192 x 8192, 67 megapixels), below Pillow's own decompression-bomb warning threshold.
DEFAULT_MAX_PIXELS = 2**26

_EXIF_ORIENTATION_TAG = 0x0112
_PIL_BOMB_RE = re.compile(r"\((\d+) pixels\)")
_GRAY16_MODES = {"I;16", "I;16L", "I;16B", "I;16N"}
_ALPHA_MODES = {"RGBA", "RGBa", "LA", "La", "PA"}


def _check_dtype(dtype):
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt not in (np.dtype(np.uint8), np.dtype(np.float32)):
        raise InputError(f"dtype must be 'uint8' or 'float32', got {dtype!r}")
    return dt


def _link_target(path):
    try:
        return os.readlink(path)
    except OSError:
        return "?"


def _read_bytes(path):
    """The whole file, with each OS failure turned into an ImageReadError."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            raise ImageReadError(path, f"dangling symbolic link (to {_link_target(path)}, which does not exist)") from None
        raise ImageReadError(path, "no such file") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise ImageReadError(path, "symbolic link loop (the link leads back to itself)") from None
        raise ImageReadError(path, f"cannot access the file ({exc.strerror or exc})") from None
    if stat.S_ISDIR(st.st_mode):
        raise ImageReadError(path, "is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise ImageReadError(path, "is not a regular file")
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot read the file ({exc.strerror or exc})") from None
    if len(data) == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    return data


def _too_many(path, pixels, max_pixels, size=None):
    """The one pixel-limit message (whether the size is known from the header or not)."""
    dims = f"{size[0]}x{size[1]} = " if size is not None else ""
    return ImageReadError(
        path,
        f"image has {dims}{pixels} pixels, over the limit of {max_pixels} pixels "
        f"(possible decompression bomb; {hint('max_pixels')} to read it)",
    )


def apply_exif_orientation(image, orientation):
    """Apply an EXIF orientation value (1..8) to an ``HxW`` or ``HxWxC`` array.

    The result is what a viewer displays: for example orientation 6 (camera held upright,
    "rotate 90 CW") turns a stored ``HxW`` image into a ``WxH`` one. Unknown values are ignored.

    Parameters
    ----------
    image : numpy.ndarray
        Stored pixels, rows first.
    orientation : int
        The EXIF Orientation tag (0x0112).

    Returns
    -------
    numpy.ndarray
        A view or copy of ``image`` with the orientation applied.

    Examples
    --------
    >>> import numpy as np
    >>> apply_exif_orientation(np.zeros((2, 5)), 6).shape
    (5, 2)
    """
    a = image
    if orientation == 2:
        return a[:, ::-1]
    if orientation == 3:
        return a[::-1, ::-1]
    if orientation == 4:
        return a[::-1]
    if orientation == 5:
        return np.swapaxes(a, 0, 1)
    if orientation == 6:
        return np.rot90(a, k=-1)
    if orientation == 7:
        return np.swapaxes(a[::-1, ::-1], 0, 1)
    if orientation == 8:
        return np.rot90(a, k=1)
    return a


def _orientation(im):
    try:
        value = im.getexif().get(_EXIF_ORIENTATION_TAG, 1)
        return int(value)
    except Exception:  # a corrupt EXIF block must not make a readable image unreadable
        return 1


def _png_is_16bit_colour(data):
    # IHDR: 8-byte signature, 4 length, 4 "IHDR", 4 width, 4 height, 1 bit depth, 1 colour type
    return len(data) > 25 and data[24] == 16 and data[25] in (2, 6)


def _pnm_maxval(data):
    """maxval of a binary P6 header, or None."""
    if not data.startswith(b"P6"):
        return None
    tokens, i, n = [], 2, min(len(data), 4096)
    while len(tokens) < 3 and i < n:
        c = data[i : i + 1]
        if c == b"#":
            while i < n and data[i : i + 1] not in (b"\n", b"\r"):
                i += 1
        elif c.isspace():
            i += 1
        else:
            j = i
            while j < n and not data[j : j + 1].isspace() and data[j : j + 1] != b"#":
                j += 1
            tokens.append(data[i:j])
            i = j
    try:
        return int(tokens[2])
    except (IndexError, ValueError):
        return None


def _jpeg2000_complete(data):
    """False when a JPEG 2000 codestream lacks its end marker (EOC, FFD9): a truncated file.

    OpenJPEG decodes a codestream cut at a tile boundary without complaint, giving a flat
    image, so this is checked before decoding.
    """
    if data.startswith(b"\xff\x4f\xff\x51"):  # raw codestream (.j2k)
        return data.rstrip(b"\x00")[-2:] == b"\xff\xd9"
    pos, n = 0, len(data)
    while pos + 8 <= n:  # JP2 boxes: find the contiguous codestream box (jp2c)
        length = int.from_bytes(data[pos : pos + 4], "big")
        kind = data[pos + 4 : pos + 8]
        header = 8
        if length == 1:
            if pos + 16 > n:
                return False
            length = int.from_bytes(data[pos + 8 : pos + 16], "big")
            header = 16
        elif length == 0:
            length = n - pos
        if length < header:
            return False
        if kind == b"jp2c":
            if pos + length > n:
                return False
            return data[pos + header : pos + length].rstrip(b"\x00")[-2:] == b"\xff\xd9"
        pos += length
    return False


def _is_16bit_colour(im, data):
    fmt = im.format
    if fmt == "PNG":
        return _png_is_16bit_colour(data)
    if fmt == "TIFF":
        bps = getattr(im, "tag_v2", {}).get(258)
        if isinstance(bps, (tuple, list)):
            return len(bps) >= 3 and max(bps) == 16
        return False
    if fmt == "PPM":
        maxval = _pnm_maxval(data)
        return maxval is not None and maxval > 255
    return False


def _to_output(arr, bits, dtype):
    """HxW or HxWxC (C >= 3, RGB first) integer array -> HxWx3 in the requested dtype."""
    if arr.ndim == 3:
        arr = arr[:, :, :3]
    else:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    if bits == 8:
        arr = arr.astype(np.uint8, copy=False)
        if dtype == np.uint8:
            return np.ascontiguousarray(arr)
        return arr.astype(np.float32) / np.float32(255.0)
    arr = arr.astype(np.uint32)
    if dtype == np.uint8:  # round(v * 255 / 65535), exactly, in integers
        return ((arr * 255 + 32767) // 65535).astype(np.uint8)
    return (arr.astype(np.float64) / 65535.0).astype(np.float32)


def _decode_with_cv2(path, data, dtype, orientation, max_pixels):
    """OpenCV decode (16-bit colour, or a format Pillow does not know); None if OpenCV cannot."""
    import cv2

    if orientation is None:  # unknown to Pillow: let OpenCV apply EXIF itself where it can
        flags = cv2.IMREAD_ANYDEPTH | cv2.IMREAD_ANYCOLOR
    else:
        flags = cv2.IMREAD_UNCHANGED
    try:
        arr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), flags)
    except cv2.error as exc:
        raise ImageReadError(path, f"cannot decode the image ({str(exc).strip().splitlines()[-1]})") from None
    if arr is None:
        return None
    if max_pixels is not None and arr.shape[0] * arr.shape[1] > max_pixels:
        raise _too_many(path, arr.shape[0] * arr.shape[1], max_pixels, (arr.shape[1], arr.shape[0]))
    if arr.ndim == 3:
        if arr.shape[2] == 1:
            arr = arr[:, :, 0]
        elif arr.shape[2] >= 3:
            arr = arr[:, :, [2, 1, 0]]  # BGR(A) -> RGB, alpha dropped
        else:
            raise ImageReadError(path, f"unsupported number of channels ({arr.shape[2]})")
    if arr.dtype == np.uint8:
        bits = 8
    elif arr.dtype == np.uint16:
        bits = 16
    else:
        raise ImageReadError(path, f"unsupported sample type {arr.dtype} (only 8- and 16-bit images are read)")
    if orientation:
        arr = apply_exif_orientation(arr, orientation)
    return _to_output(arr, bits, dtype)


_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8", "JPEG"),
    (b"GIF8", "GIF"),
    (b"BM", "BMP"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"\x00\x00\x00\x0cjP  ", "JPEG 2000"),
    (b"\xff\x4f\xff\x51", "JPEG 2000"),
)


def _known_signature(data):
    """The format named by the file's magic bytes, for formats Pillow reads; else None."""
    for magic, name in _SIGNATURES:
        if data.startswith(magic):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return None


def _unrecognised(path, data):
    name = _known_signature(data)
    if name is not None:
        return ImageReadError(path, f"corrupt {name} header (the decoder could not parse the file)")
    return ImageReadError(path, f"not a recognised image format (first bytes {data[:8]!r})")


def read_image(path, dtype="uint8", max_pixels=DEFAULT_MAX_PIXELS):
    """Read an image file as an RGB array.

    Reads PNG, BMP, JPEG (including CMYK), TIFF (the **first page** of a multi-page file),
    JPEG 2000 (``.jp2`` / ``.j2k``), WebP and GIF (the **first frame** of an animation),
    PPM / PGM / PBM, in 8 or 16 bits per sample, as gray, RGB, RGBA or palette images.
    The EXIF orientation is applied, so the array is the image as a viewer shows it.
    Gray images are repeated to three channels; an **alpha channel is dropped** (the colour
    samples are returned as stored, not composited on any background).

    Parameters
    ----------
    path : str or os.PathLike
        The image file.
    dtype : {"uint8", "float32"}, default="uint8"
        ``uint8``: samples on 0..255; 16-bit files are scaled with rounding,
        ``round(v * 255 / 65535)``. ``float32``: samples on [0, 1]; 16-bit files keep their
        precision, ``v / 65535``.
    max_pixels : int or None, default=DEFAULT_MAX_PIXELS
        Refuse images with more than this many pixels (width * height). The size is read from
        the file header before any pixel is decoded, so a tiny file that claims a huge image (a
        decompression bomb) costs nothing. ``None`` disables the check. Images above Pillow's
        own limit (about 179 megapixels) are then decoded with OpenCV, whose limit is 2**30
        pixels (environment variable ``CV_IO_MAX_IMAGE_PIXELS``).

    Returns
    -------
    numpy.ndarray of shape (H, W, 3), dtype uint8 or float32

    Raises
    ------
    ddriqa.errors.ImageReadError
        For every failure: missing file, directory, permission denied, empty file, truncated
        or corrupt data, not an image, too many pixels, unsupported pixel format. The message
        names the file and the reason. A truncated file never yields a partial image.
    ddriqa.errors.InputError
        A bad argument: ``dtype``, ``max_pixels``, or a ``path`` that is not a str / PathLike.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ddriqa.io import read_image, write_image
    >>> path = os.path.join(tempfile.mkdtemp(), "gray.png")
    >>> _ = write_image(path, np.full((4, 6), 200, dtype=np.uint8))
    >>> img = read_image(path)
    >>> img.shape, img.dtype, int(img[0, 0, 0])
    ((4, 6, 3), dtype('uint8'), 200)
    >>> bool(read_image(path, dtype="float32")[0, 0, 0] == np.float32(200 / 255))
    True
    """
    dt = _check_dtype(dtype)
    if max_pixels is not None and (not isinstance(max_pixels, (int, np.integer)) or max_pixels < 1):
        raise InputError(f"max_pixels must be a positive integer or None, got {max_pixels!r}")
    if not isinstance(path, (str, os.PathLike)):
        raise InputError(f"path must be a str or os.PathLike, got {type(path).__name__} {path!r:.60}")
    path = os.fspath(path)
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    data = _read_bytes(path)
    try:
        return _decode(path, data, dt, max_pixels)
    except ImageReadError:
        raise
    except MemoryError:
        raise ImageReadError(path, "not enough memory to decode the image") from None
    except Exception as exc:  # any decoder failure becomes an ImageReadError naming the file
        raise ImageReadError(path, f"cannot decode the image ({type(exc).__name__}: {exc})") from None


def read_image_size(path):
    """The ``(height, width)`` of the array :func:`read_image` would return, from the file header.

    Pillow reads the size without decoding the pixels (the EXIF orientation is taken into
    account); files that only OpenCV reads are decoded. Use it to check sizes up front, before a
    long job reads the images.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    (int, int)

    Raises
    ------
    ddriqa.errors.ImageReadError
        As :func:`read_image`, for a file whose header cannot be read.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ddriqa.io import read_image_size, write_image
    >>> path = write_image(os.path.join(tempfile.mkdtemp(), "a.png"), np.zeros((20, 30), np.uint8))
    >>> read_image_size(path)
    (20, 30)
    """
    from PIL import Image

    path = os.fspath(path)
    data = _read_bytes(path)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as im:
                width, height = im.size
                if _orientation(im) in (5, 6, 7, 8):  # transposed or rotated by 90 degrees
                    width, height = height, width
        if width >= 1 and height >= 1:
            return int(height), int(width)
    except Exception:  # noqa: BLE001 - read_image gives the reason below
        pass
    return read_image(path).shape[:2]


def _decode(path, data, dt, max_pixels):
    from PIL import Image, ImageOps, UnidentifiedImageError

    # Pillow warns above Image.MAX_IMAGE_PIXELS; silence that only when the caller has lifted our
    # (lower) limit on purpose. catch_warnings is not thread-safe, so it is not used by default.
    quiet = max_pixels is None or (Image.MAX_IMAGE_PIXELS is not None and max_pixels > Image.MAX_IMAGE_PIXELS)
    with warnings.catch_warnings() if quiet else contextlib.nullcontext():
        if quiet:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            im = Image.open(io.BytesIO(data))
        except Image.DecompressionBombError as exc:
            match = _PIL_BOMB_RE.search(str(exc))
            pixels = int(match.group(1)) if match else None
            if max_pixels is not None and (pixels is None or pixels > max_pixels):
                raise _too_many(path, pixels if pixels is not None else "more than 178956970", max_pixels) from None
            out = _decode_with_cv2(path, data, dt, None, max_pixels)
            if out is None:
                raise ImageReadError(path, f"image too large for the decoders ({pixels} pixels)") from None
            return out
        except UnidentifiedImageError:
            out = None  # OpenCV only for formats Pillow does not know, never for a corrupt PNG/JPEG...
            if _known_signature(data) is None and _opencv_can_read(path):
                out = _decode_with_cv2(path, data, dt, None, max_pixels)
            if out is None:
                raise _unrecognised(path, data) from None
            return out
        except Exception as exc:
            raise ImageReadError(path, f"cannot parse the image header ({exc or type(exc).__name__})") from None

        try:
            width, height = im.size
            if max_pixels is not None and width * height > max_pixels:
                raise _too_many(path, width * height, max_pixels, (width, height))
            if width < 1 or height < 1:
                raise ImageReadError(path, f"image has an empty size ({width}x{height})")

            if im.format == "JPEG2000" and not _jpeg2000_complete(data):
                raise ImageReadError(path, "truncated image data (the JPEG 2000 codestream has no end marker)")
            if _is_16bit_colour(im, data):
                out = _decode_with_cv2(path, data, dt, _orientation(im), max_pixels)
                if out is None:
                    raise ImageReadError(path, "truncated or corrupt 16-bit image data")
                return out

            try:
                im.load()
            except MemoryError:
                raise
            except Exception as exc:
                text = str(exc)
                if "truncated" in text or isinstance(exc, EOFError):
                    reason = f"truncated image data ({text})" if text else "truncated image data"
                else:
                    reason = f"corrupt or undecodable image data ({text or type(exc).__name__})"
                raise ImageReadError(path, reason) from None
            if _orientation(im) == 1:
                return _pil_to_array(path, im, dt)
            with ImageOps.exif_transpose(im) as upright:
                return _pil_to_array(path, upright, dt)
        finally:
            im.close()


def _opencv_can_read(path):
    import cv2

    try:
        return bool(cv2.haveImageReader(path))
    except cv2.error:
        return False


def _pil_to_array(path, im, dt):
    mode = im.mode
    if mode in _GRAY16_MODES:
        return _to_output(np.asarray(im).astype(np.uint16), 16, dt)
    if mode == "I":
        # 16-bit gray from PGM (Pillow rescales maxval to 65535), or PNG/TIFF 16-bit gray
        bps = getattr(im, "tag_v2", {}).get(258) if im.format == "TIFF" else None
        if im.format in ("PPM", "PNG") or bps in (16, (16,)):
            arr = np.asarray(im)
            if arr.size and (arr.min() < 0 or arr.max() > 65535):
                raise ImageReadError(path, "16-bit image has samples outside 0..65535")
            return _to_output(arr, 16, dt)
        raise ImageReadError(path, "unsupported pixel mode 'I' (32-bit integer samples)")
    if mode == "F":
        raise ImageReadError(path, "unsupported pixel mode 'F' (floating-point samples have no defined range)")
    if mode == "RGB":
        return _to_output(np.asarray(im), 8, dt)
    if mode == "L":
        return _to_output(np.asarray(im), 8, dt)
    if mode in _ALPHA_MODES:
        im = im.convert("RGBA" if mode in ("PA", "RGBa") else mode)
        arr = np.asarray(im)[:, :, :-1]  # alpha is the last band of LA, La and RGBA
        return _to_output(arr[:, :, 0] if arr.shape[2] == 1 else arr, 8, dt)
    try:
        rgb = im.convert("RGB")  # 1, P, CMYK, YCbCr, LAB, HSV, RGBX ...
    except (ValueError, OSError) as exc:
        raise ImageReadError(path, f"unsupported pixel mode {mode!r} ({exc})") from None
    return _to_output(np.asarray(rgb), 8, dt)
