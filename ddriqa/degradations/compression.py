"""JPEG and JPEG 2000 compression artefacts, encoded and decoded in memory.

Both codecs go through Pillow: JPEG with libjpeg(-turbo) (IJG quality scaling, 4:2:0 chroma
subsampling for colour, as MATLAB's ``imwrite``), JPEG 2000 with OpenJPEG in its ``"rates"`` mode,
which reaches a requested bit rate closely (0.03 to 3.15 bpp, the LIVE range). The decoded image
is exactly what a standard decoder reads back from the returned bytes.

Bit rates are bits of the whole stream (headers included) per pixel: ``8 * len(bytes) / (H * W)``.
"""

from __future__ import annotations

import io

import numpy as np

from ddriqa.degradations._checks import check_positive, check_uint8_image
from ddriqa.errors import InputError

__all__ = [
    "encode_jpeg",
    "decode_jpeg",
    "jpeg",
    "jpeg_quality_for_bpp",
    "encode_jpeg2000",
    "decode_jpeg2000",
    "jpeg2000",
    "bits_per_pixel",
]


def bits_per_pixel(data, shape):
    """Bit rate of an encoded stream: ``8 * len(data) / (H * W)``.

    Examples
    --------
    >>> from ddriqa.degradations.compression import bits_per_pixel
    >>> bits_per_pixel(b"x" * 100, (20, 40))
    1.0
    """
    return 8.0 * len(data) / float(shape[0] * shape[1])


def _pil(image):
    from PIL import Image

    return Image.fromarray(image, mode="L" if image.ndim == 2 else "RGB")


def _check_quality(quality, func):
    if isinstance(quality, bool) or not isinstance(quality, (int, np.integer)) or not 1 <= quality <= 100:
        raise InputError(f"{func}: quality must be an integer in 1..100, got {quality!r}")
    return int(quality)


def encode_jpeg(image, quality):
    """Encode an image as a baseline JPEG stream.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3), uint8
    quality : int
        IJG quality, 1..100 (chroma is subsampled 4:2:0 for colour images).

    Returns
    -------
    bytes

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.compression import encode_jpeg
    >>> encode_jpeg(np.zeros((16, 16, 3), np.uint8), 75)[:2]
    b'\\xff\\xd8'
    """
    img = check_uint8_image(image, "encode_jpeg")
    quality = _check_quality(quality, "encode_jpeg")
    buf = io.BytesIO()
    _pil(img).save(buf, format="JPEG", quality=quality, optimize=False, progressive=False)
    return buf.getvalue()


def _decode(data, expected_shape, func):
    from PIL import Image

    with Image.open(io.BytesIO(data)) as im:
        im.load()
        out = np.asarray(im.convert("L" if len(expected_shape) == 2 else "RGB"))
    if out.shape != tuple(expected_shape):
        raise InputError(f"{func}: decoded image has shape {out.shape}, expected {tuple(expected_shape)}")
    return out.copy()


def decode_jpeg(data, shape):
    """Decode JPEG bytes to a uint8 array of ``shape`` (``(H, W)`` or ``(H, W, 3)``)."""
    return _decode(bytes(data), shape, "decode_jpeg")


def jpeg(image, quality):
    """JPEG-compress an image at a quality and decode it again.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3), uint8
    quality : int
        IJG quality 1..100.

    Returns
    -------
    numpy.ndarray, uint8, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.compression import jpeg
    >>> jpeg(np.full((16, 16, 3), 128, np.uint8), 10).shape
    (16, 16, 3)
    """
    img = check_uint8_image(image, "jpeg")
    return _decode(encode_jpeg(img, quality), img.shape, "jpeg")


def jpeg_quality_for_bpp(image, bpp):
    """The JPEG quality whose bit rate is closest to ``bpp`` (bisection on quality).

    The JPEG bit rate does not strictly increase with the quality everywhere, so the bisection
    brackets the target between two neighbouring qualities and the closer of the two wins (about
    seven encodes). Outside the reachable range the result saturates at quality 1 or 100.

    Parameters
    ----------
    image : numpy.ndarray, uint8
    bpp : float
        Target bits per pixel.

    Returns
    -------
    quality : int
    achieved_bpp : float

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.compression import jpeg_quality_for_bpp
    >>> q, b = jpeg_quality_for_bpp(np.zeros((32, 32, 3), np.uint8), 100.0)
    >>> q
    100
    """
    img = check_uint8_image(image, "jpeg_quality_for_bpp")
    target = check_positive(bpp, "bpp", "jpeg_quality_for_bpp")
    cache = {}

    def rate(q):
        if q not in cache:
            cache[q] = bits_per_pixel(encode_jpeg(img, q), img.shape)
        return cache[q]

    lo, hi = 1, 100
    if rate(lo) >= target:
        return lo, rate(lo)
    if rate(hi) <= target:
        return hi, rate(hi)
    while hi - lo > 1:  # invariant: rate(lo) < target < rate(hi)
        mid = (lo + hi) // 2
        if rate(mid) < target:
            lo = mid
        else:
            hi = mid
    best = min((lo, hi), key=lambda q: (abs(rate(q) - target), q))
    return best, rate(best)


def encode_jpeg2000(image, bpp, resilience=False, *, layers=1, tile_size=None):
    """Encode an image as a JPEG 2000 codestream (``.j2k``) at a target bit rate.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3), uint8
    bpp : float
        Target bits per pixel of the whole stream. OpenJPEG's ``rates`` mode is used with the
        compression ratio ``8 * channels / bpp``; while an encode misses by more than 2 %, the
        ratio is corrected from the measured rate (at most three times; the closest stream wins).
    resilience : bool, default=False
        Add packet-length (PLT) markers to the tile-part header, the error-resilience aid Pillow's
        OpenJPEG interface offers. (SOP/EPH markers and the ERTERM/SEGSYM code-block modes that
        LIVE's Kakadu encoder used are not exposed by Pillow.)
    layers : int, default=1
        Number of quality layers; the layer rates are ``bpp / 2**k``, k = layers-1 .. 0, so the
        most important data come first in the (LRCP) stream. Fast fading uses several layers so that
        bit errors late in the stream degrade refinement data rather than the coarse image.
    tile_size : (int, int), optional
        ``(rows, cols)`` of the JPEG 2000 tiles (default: one tile). Each tile is coded
        independently, so damage to one tile's data stays inside that tile.

    Returns
    -------
    bytes
        The raw codestream (starts with the SOC marker ``FF 4F``).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.compression import encode_jpeg2000
    >>> encode_jpeg2000(np.zeros((64, 64, 3), np.uint8), 1.0)[:2]
    b'\\xffO'
    """
    img = check_uint8_image(image, "encode_jpeg2000")
    target = check_positive(bpp, "bpp", "encode_jpeg2000")
    if isinstance(layers, bool) or not isinstance(layers, (int, np.integer)) or not 1 <= layers <= 16:
        raise InputError(f"encode_jpeg2000: layers must be an integer in 1..16, got {layers!r}")
    channels = 1 if img.ndim == 2 else 3
    ratio = 8.0 * channels / target
    smallest = min(img.shape[:2])
    pil_tile = None
    if tile_size is not None:
        th, tw = (int(v) for v in tile_size)
        if th < 1 or tw < 1:
            raise InputError(f"encode_jpeg2000: tile_size must be positive, got {tile_size!r}")
        # smallest tile: the last row/column of tiles may be cut by the image border
        last_h = img.shape[0] - th * ((img.shape[0] - 1) // th)
        last_w = img.shape[1] - tw * ((img.shape[1] - 1) // tw)
        smallest = min(smallest, th, tw, last_h, last_w)
        pil_tile = (tw, th)  # Pillow takes (width, height)
    # number of resolution levels: OpenJPEG's default (6) needs tiles of >= 32 pixels per side
    levels = int(max(1, min(6, np.floor(np.log2(max(1, smallest))) + 1)))

    def encode(r):
        r = max(float(r), 1.0)
        ratios = [r * 2.0**k for k in range(int(layers) - 1, -1, -1)]
        buf = io.BytesIO()
        _pil(img).save(
            buf,
            format="JPEG2000",
            no_jp2=True,
            quality_mode="rates",
            quality_layers=ratios,
            irreversible=True,
            mct=1 if channels == 3 else 0,
            num_resolutions=levels,
            plt=bool(resilience),
            tile_size=pil_tile,
        )
        return buf.getvalue()

    data = encode(ratio)
    best = data
    for _ in range(3):  # OpenJPEG's rate ignores part of the header overhead: correct the ratio
        got = bits_per_pixel(data, img.shape)
        if abs(got - target) <= 0.02 * target or got <= 0:
            break
        ratio *= got / target
        data = encode(ratio)
        if abs(bits_per_pixel(data, img.shape) - target) < abs(bits_per_pixel(best, img.shape) - target):
            best = data
    return best


def decode_jpeg2000(data, shape):
    """Decode a JPEG 2000 codestream to a uint8 array of ``shape``.

    Raises
    ------
    OSError or InputError
        When the stream cannot be decoded or decodes to another shape.
    """
    return _decode(bytes(data), shape, "decode_jpeg2000")


def jpeg2000(image, bpp):
    """JPEG 2000-compress an image at a bit rate (bits per pixel) and decode it again.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3), uint8
    bpp : float
        Target bits per pixel (LIVE: 0.028 to 3.15).

    Returns
    -------
    numpy.ndarray, uint8, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.compression import jpeg2000
    >>> jpeg2000(np.full((64, 64, 3), 90, np.uint8), 0.5).shape
    (64, 64, 3)
    """
    img = check_uint8_image(image, "jpeg2000")
    return decode_jpeg2000(encode_jpeg2000(img, bpp), img.shape)
