"""Gaussian blur: MATLAB ``fspecial('gaussian')`` kernels and a separable circular Gaussian filter.

LIVE's "gblur" class blurs R, G and B with a circular 2-D Gaussian kernel of standard deviation
0.42 to 15 pixels. :func:`gaussian_blur` does the same with a separable kernel.

Conventions
-----------
* Kernel size: ``2 * ceil(3 * sigma) + 1`` by default (+-3 sigma; the truncated tails hold less
  than 0.3 % of the mass, and the kernel is renormalised to sum 1).
* Border: symmetric mirroring with the edge pixel repeated (``d c b a | a b c d | d c b a``), MATLAB
  ``imfilter(..., 'symmetric')`` and scipy.ndimage ``mode="reflect"``; a blurred constant image stays
  constant.
* The 2-D kernel of :func:`gaussian_kernel` follows ``fspecial``: values below ``eps * max`` are set
  to zero before normalising. The filter uses the normalised 1-D kernel twice (separable); the two
  differ by less than 1e-15 per tap.
"""

from __future__ import annotations

import math

import numpy as np

from ddriqa.degradations._checks import check_image, check_positive
from ddriqa.errors import InputError

__all__ = ["MAX_KERNEL_SIZE", "gaussian_kernel", "gaussian_kernel_1d", "default_kernel_size", "gaussian_blur"]

#: Largest kernel size accepted (taps per dimension); sigma up to about 170,000 pixels by default.
MAX_KERNEL_SIZE = 2**20 + 1


def default_kernel_size(sigma):
    """The default kernel size for ``sigma``: ``2 * ceil(3 * sigma) + 1``.

    Examples
    --------
    >>> from ddriqa.degradations.blur import default_kernel_size
    >>> default_kernel_size(1.0), default_kernel_size(0.42), default_kernel_size(15)
    (7, 5, 91)
    """
    return _default_size(check_positive(sigma, "sigma", "default_kernel_size"), "default_kernel_size")


def _default_size(sigma, func):
    if 3.0 * sigma > (MAX_KERNEL_SIZE - 1) // 2:  # = 2*ceil(3 sigma)+1 > MAX, without ceil(inf) for sigma ~1e308
        raise InputError(
            f"{func}: sigma={sigma!r} needs a kernel wider than MAX_KERNEL_SIZE={MAX_KERNEL_SIZE} taps "
            f"(sigma <= {(MAX_KERNEL_SIZE - 1) // 6} pixels)"
        )
    return 2 * int(math.ceil(3.0 * sigma)) + 1


def _check_size(size, func):
    if isinstance(size, (tuple, list)):
        if len(size) != 2:
            raise InputError(f"{func}: size must be an int or a (rows, cols) pair, got {size!r}")
        dims = tuple(size)
    else:
        dims = (size, size)
    out = []
    for d in dims:
        if isinstance(d, bool) or not isinstance(d, (int, np.integer)) or d < 1:
            raise InputError(f"{func}: size must hold positive integers, got {size!r}")
        if d > MAX_KERNEL_SIZE:
            raise InputError(f"{func}: size must be at most MAX_KERNEL_SIZE={MAX_KERNEL_SIZE}, got {size!r}")
        out.append(int(d))
    return tuple(out)


def gaussian_kernel_1d(size, sigma):
    """A normalised 1-D Gaussian of ``size`` taps centred on the middle (``(size-1)/2``)."""
    size = _check_size(size, "gaussian_kernel_1d")[0]
    sigma = check_positive(sigma, "sigma", "gaussian_kernel_1d")
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    k = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return k / k.sum()


def gaussian_kernel(size, sigma):
    """A 2-D Gaussian kernel with MATLAB ``fspecial('gaussian', size, sigma)`` semantics.

    Parameters
    ----------
    size : int or (int, int)
        Kernel size (rows, cols); even sizes are centred between pixels, like MATLAB.
    sigma : float
        Standard deviation in pixels (> 0).

    Returns
    -------
    numpy.ndarray of float64, shape (rows, cols)
        Non-negative, sums to 1.

    Examples
    --------
    >>> from ddriqa.degradations.blur import gaussian_kernel
    >>> k = gaussian_kernel(5, 1.0)
    >>> k.shape, round(float(k.sum()), 12), bool(k[2, 2] == k.max())
    ((5, 5), 1.0, True)
    """
    rows, cols = _check_size(size, "gaussian_kernel")
    sigma = check_positive(sigma, "sigma", "gaussian_kernel")
    y = np.arange(rows, dtype=np.float64) - (rows - 1) / 2.0
    x = np.arange(cols, dtype=np.float64) - (cols - 1) / 2.0
    h = np.exp(-(y[:, None] ** 2 + x[None, :] ** 2) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    return h / h.sum()


def gaussian_blur(image, sigma, size=None):
    """Blur each channel with a circular Gaussian (LIVE's "gblur").

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, C)
        uint8 on 0..255, or float on [0, 1].
    sigma : float
        Standard deviation of the Gaussian in pixels (> 0; LIVE: 0.42 to 15).
    size : int, optional
        Kernel size; default ``2 * ceil(3 * sigma) + 1``. Must be odd (centred kernel) and at
        most :data:`MAX_KERNEL_SIZE` (so sigma is at most about 174,762 pixels by default).

    Returns
    -------
    numpy.ndarray
        uint8 (rounded, clipped) for uint8 input; float64 for float input. Same shape.
        Borders are mirrored symmetrically (see the module docstring).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.blur import gaussian_blur
    >>> img = np.zeros((9, 9), np.uint8); img[4, 4] = 255
    >>> out = gaussian_blur(img, 1.0)
    >>> int(out[4, 4]), int(out.sum()) > 200
    (41, True)
    """
    from scipy.ndimage import correlate1d

    img = check_image(image, "gaussian_blur")
    sigma = check_positive(sigma, "sigma", "gaussian_blur")
    size = _default_size(sigma, "gaussian_blur") if size is None else _check_size(size, "gaussian_blur")[0]
    if size % 2 == 0:
        raise InputError(f"gaussian_blur: size must be odd (a centred kernel), got {size}")
    k = gaussian_kernel_1d(size, sigma)
    work = img.astype(np.float64)
    work = correlate1d(work, k, axis=0, mode="reflect")
    work = correlate1d(work, k, axis=1, mode="reflect")
    if img.dtype == np.uint8:
        return np.clip(np.floor(work + 0.5), 0, 255).astype(np.uint8)
    return work
