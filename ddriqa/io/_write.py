"""Writing image files: :func:`write_image` (PNG, BMP, TIFF, WebP, JPEG at a quality, JPEG 2000
at a bit rate), atomically, and :func:`float_to_uint8`, the one float -> uint8 conversion."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError

__all__ = ["float_to_uint8", "write_image"]


_WRITE_FORMATS = {
    ".png": "PNG",
    ".bmp": "BMP",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".jp2": "JPEG2000",
    ".j2k": "JPEG2000",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".webp": "WEBP",
}


def _as_uint8_image(image):
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)):
        raise InputError(f"expected an HxW or HxWx3 image, got an array of shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"cannot write an empty image of shape {arr.shape}")
    if arr.dtype == np.uint8:
        return np.ascontiguousarray(arr)
    if arr.dtype.kind != "f":
        raise InputError(f"expected a uint8 image or a float image on [0, 1], got dtype {arr.dtype}")
    if not np.all(np.isfinite(arr)):
        raise InputError("the image contains NaN or infinite values")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"float images must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}] (pass uint8 for 0..255)"
        )
    return float_to_uint8(arr)


def float_to_uint8(image):
    """A float image on [0, 1] as uint8 on 0..255: ``round(255 x)`` (half to even), saturated.

    The one float -> uint8 conversion of the package (image writing, array inputs of the
    extractors, SR outputs). Values outside [0, 1] saturate; the caller checks the range when
    it must refuse them.

    Parameters
    ----------
    image : numpy.ndarray of float

    Returns
    -------
    numpy.ndarray of uint8, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.io import float_to_uint8
    >>> float_to_uint8(np.array([0.0, 0.5, 1.0, 1.2])).tolist()
    [0, 128, 255, 255]
    """
    return np.clip(np.round(np.asarray(image, dtype=np.float64) * 255.0), 0, 255).astype(np.uint8)


def write_image(path, image, *, quality=None, bpp=None):
    """Write an image; the format follows the file extension.

    Parameters
    ----------
    path : str or os.PathLike
        Output file: ``.png``, ``.bmp``, ``.tif``/``.tiff`` (lossless), ``.jpg``/``.jpeg``,
        ``.webp``, ``.jp2`` (JPEG 2000 file format) or ``.j2k`` (raw JPEG 2000 codestream).
        The parent folder must exist. The file is written to a temporary name in the same
        folder and renamed, so an interrupted write never leaves a half-written image.
    image : numpy.ndarray
        ``HxW`` (gray) or ``HxWx3`` (RGB), uint8 on 0..255 or float on [0, 1] (rounded to uint8).
    quality : int, optional
        JPEG / WebP quality, 1..100. JPEG defaults to 95 (4:2:0 chroma subsampling, Pillow's
        default); WebP defaults to lossless. Not allowed for other formats.
    bpp : float, optional
        JPEG 2000 target bit rate in bits per pixel. It is passed to OpenJPEG as the
        compression ratio ``rate = bits_per_raw_pixel / bpp`` (24 for RGB, 8 for gray) with
        ``quality_mode="rates"`` and the irreversible 9/7 wavelet; the file lands within a few
        percent of ``bpp * H * W / 8`` bytes. ``None`` writes lossless JPEG 2000 (5/3 wavelet).
        Not allowed for other formats.

    Returns
    -------
    pathlib.Path
        The written file.

    Raises
    ------
    ddriqa.errors.InputError
        Unsupported extension, bad image, bad ``quality``/``bpp``, missing parent folder, or
        the write failed (the message names the file).

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from ddriqa.io import write_image, read_image
    >>> img = np.random.default_rng(0).integers(0, 256, (32, 48, 3), dtype=np.uint8)
    >>> out = write_image(os.path.join(tempfile.mkdtemp(), "x.png"), img)
    >>> bool(np.array_equal(read_image(out), img))
    True
    """
    from PIL import Image

    path = Path(os.fspath(path))
    fmt = _WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise InputError(
            f"{path}: cannot write images with extension {path.suffix!r}; "
            f"use one of {', '.join(sorted(_WRITE_FORMATS))}"
        )
    if quality is not None and fmt not in ("JPEG", "WEBP"):
        raise InputError(f"{path}: quality applies to JPEG and WebP only, not {fmt}")
    if bpp is not None and fmt != "JPEG2000":
        raise InputError(f"{path}: bpp applies to JPEG 2000 (.jp2/.j2k) only, not {fmt}")
    if quality is not None:
        if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
            raise InputError(f"{path}: quality must be an integer in 1..100, got {quality!r}")
        quality = int(quality)
    if bpp is not None:
        try:
            bpp = float(bpp)
        except (TypeError, ValueError):
            raise InputError(f"{path}: bpp must be a positive number, got {bpp!r}") from None
        if not np.isfinite(bpp) or bpp <= 0:
            raise InputError(f"{path}: bpp must be a positive number, got {bpp!r}")
    arr = _as_uint8_image(image)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{path}: the folder {parent} does not exist (write_image does not create folders)")

    options = {}
    if fmt == "JPEG":
        options["quality"] = 95 if quality is None else quality
    elif fmt == "WEBP":
        options.update({"lossless": True} if quality is None else {"quality": quality})
    elif fmt == "JPEG2000":
        options["no_jp2"] = path.suffix.lower() == ".j2k"
        if bpp is not None:
            raw_bits = 24.0 if arr.ndim == 3 else 8.0
            if bpp >= raw_bits:
                raise InputError(f"{path}: bpp={bpp} is not below the raw {raw_bits:g} bits per pixel")
            options.update(quality_mode="rates", quality_layers=[raw_bits / bpp], irreversible=True)
    elif fmt == "TIFF":
        options["compression"] = "tiff_deflate"

    pil = Image.fromarray(arr)
    # a hidden temporary name in the same folder (open "x": normal permissions, no clobbering)
    tmp = parent / f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.part"
    try:
        with open(tmp, "xb") as fh:
            pil.save(fh, format=fmt, **options)
        os.replace(tmp, path)
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot write the image ({exc})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path
