"""Combined degradations used by the SR analysis: blur, then noise."""

from __future__ import annotations

import numpy as np

from ddriqa.degradations.blur import gaussian_blur
from ddriqa.degradations.noise import add_gaussian_noise

__all__ = ["blur_then_noise"]


def blur_then_noise(image, blur_sigma, noise_sigma, rng, size=None):
    """Gaussian blur followed by additive Gaussian noise (the paper's "blur+noise" inputs).

    Parameters
    ----------
    image : numpy.ndarray, uint8 or float in [0, 1]
    blur_sigma : float
        Blur standard deviation in pixels; 0 skips the blur.
    noise_sigma : float
        Noise standard deviation on the 0..255 scale; 0 adds none.
    rng : numpy.random.Generator
    size : int, optional
        Blur kernel size (default ``2 * ceil(3 * sigma) + 1``; the paper used 15).

    Returns
    -------
    numpy.ndarray
        uint8 for uint8 input (rounded after each step, as two saved images would be); float64
        for float input.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.combine import blur_then_noise
    >>> img = np.full((32, 32, 3), 100, np.uint8)
    >>> blur_then_noise(img, 2.0, 10.0, np.random.default_rng(0), size=15).shape
    (32, 32, 3)
    """
    out = np.asarray(image)
    if float(blur_sigma) > 0:
        out = gaussian_blur(out, blur_sigma, size=size)
    return add_gaussian_noise(out, noise_sigma, rng)
