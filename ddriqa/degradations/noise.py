"""Additive white Gaussian noise (LIVE's "wn"), reproducible from an explicit generator."""

from __future__ import annotations

import numpy as np

from ddriqa.degradations._checks import check_image, check_positive, check_rng

__all__ = ["add_gaussian_noise"]


def add_gaussian_noise(image, sigma, rng):
    """Add i.i.d. Gaussian noise with the same standard deviation to every pixel and channel.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, C)
        uint8 on 0..255, or float on [0, 1].
    sigma : float
        Standard deviation on the **0..255 scale** (>= 0). For float images the noise has
        standard deviation ``sigma / 255``.
    rng : numpy.random.Generator
        Source of the noise.

    Returns
    -------
    numpy.ndarray
        uint8 input: ``image + noise`` rounded half up and clipped to 0..255 (as an 8-bit image
        file stores it). Float input: float64 ``image + noise / 255``, **not clipped** (values may
        leave [0, 1]; clip with ``numpy.clip(out, 0, 1)`` if needed).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.noise import add_gaussian_noise
    >>> img = np.full((200, 200), 128, np.uint8)
    >>> out = add_gaussian_noise(img, 10.0, np.random.default_rng(0))
    >>> out.dtype, bool(9.5 < out.astype(float).std() < 10.5)
    (dtype('uint8'), True)
    """
    img = check_image(image, "add_gaussian_noise")
    sigma = check_positive(sigma, "sigma", "add_gaussian_noise", allow_zero=True)
    check_rng(rng, "add_gaussian_noise")
    noise = rng.standard_normal(img.shape)
    if img.dtype == np.uint8:
        out = img.astype(np.float64) + sigma * noise
        return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)
    return img.astype(np.float64) + (sigma / 255.0) * noise
