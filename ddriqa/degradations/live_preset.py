"""The five distortions of the LIVE Image Quality Database (Release 2), with its parameter ranges.

=============  ======================================  ===============================  ============
class          generator                               parameter (unit)                 sampling
=============  ======================================  ===============================  ============
``jp2k``       :func:`~.compression.jpeg2000`          bit rate, 0.028 - 3.15 bpp       log-uniform
``jpeg``       :func:`~.compression.jpeg` at the       target bit rate, 0.15 - 3.34 bpp log-uniform
               quality whose rate is closest
``wn``         :func:`~.noise.add_gaussian_noise`      sigma on the [0, 1] scale,       log-uniform
                                                       0.012 - 2.0
``gblur``      :func:`~.blur.gaussian_blur`            sigma in pixels, 0.42 - 15       log-uniform
``fastfading`` :func:`~.fastfading.fast_fading`        receiver SNR in dB, 15.5 - 26.1  uniform (dB)
=============  ======================================  ===============================  ============

Notes on the parameters
-----------------------
* ``wn``: LIVE added N(0, sigma^2) to R, G and B scaled to [0, 1] (same sigma for the three), clipped
  to [0, 1] and rescaled to 0..255. The parameter here is that sigma on the [0, 1] scale, so
  ``apply_live(img, "wn", s, rng)`` adds noise of standard deviation ``255 * s`` grey levels and
  clips; 2.0 is extreme (the result is nearly binary noise), as in LIVE.
* ``jpeg``: LIVE specifies JPEG by its bit rate. The quality is found by bisection on the IJG
  quality (:func:`~.compression.jpeg_quality_for_bpp`): the closest reachable rate wins, and
  targets below the rate of quality 1 (or above quality 100) saturate. The parameter recorded is
  the target.
* Bit rates and blur widths span decades, hence log-uniform sampling; the SNR is already
  logarithmic (dB) and is sampled uniformly.
"""

from __future__ import annotations

import math

import numpy as np

from ddriqa.degradations._checks import check_rng, check_uint8_image
from ddriqa.errors import InputError

__all__ = ["LIVE_CLASSES", "LIVE_RANGES", "LIVE_LOG_UNIFORM", "sample_live_param", "apply_live"]

#: The five LIVE Release 2 distortion classes, in the database's folder (and dmos.mat index) order:
#: the one list of them in the package.
LIVE_CLASSES = ("jp2k", "jpeg", "wn", "gblur", "fastfading")


#: Published parameter range (low, high) of each class (Sheikh et al. 2006; LIVE Release 2 readme).
LIVE_RANGES = {
    "jp2k": (0.028, 3.15),
    "jpeg": (0.15, 3.34),
    "wn": (0.012, 2.0),
    "gblur": (0.42, 15.0),
    "fastfading": (15.5, 26.1),
}

#: Classes whose parameter is sampled log-uniformly (the others uniformly).
LIVE_LOG_UNIFORM = frozenset({"jp2k", "jpeg", "wn", "gblur"})


def _check_class(distortion, func):
    if distortion not in LIVE_RANGES:
        raise InputError(f"{func}: unknown LIVE distortion {distortion!r}; expected one of {LIVE_CLASSES}")
    return distortion


def sample_live_param(distortion, rng):
    """Draw a parameter for a LIVE distortion from its published range.

    Parameters
    ----------
    distortion : {"jp2k", "jpeg", "wn", "gblur", "fastfading"}
    rng : numpy.random.Generator

    Returns
    -------
    float
        Bit rate (jp2k, jpeg), noise sigma on [0, 1] (wn), blur sigma in pixels (gblur) or SNR in
        dB (fastfading); see the module docstring for the units and the sampling laws.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.live_preset import sample_live_param
    >>> p = sample_live_param("gblur", np.random.default_rng(0))
    >>> 0.42 <= p <= 15
    True
    """
    _check_class(distortion, "sample_live_param")
    check_rng(rng, "sample_live_param")
    lo, hi = LIVE_RANGES[distortion]
    if distortion in LIVE_LOG_UNIFORM:
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))
    return float(rng.uniform(lo, hi))


def apply_live(image, distortion, param, rng):
    """Apply one LIVE distortion with a given parameter.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, 3), uint8
    distortion : {"jp2k", "jpeg", "wn", "gblur", "fastfading"}
    param : float
        In the units of :func:`sample_live_param` (values outside the LIVE range are allowed).
    rng : numpy.random.Generator
        Used by ``wn`` and ``fastfading``; the other classes are deterministic (the generator is
        still required, so that every call site is reproducible the same way).

    Returns
    -------
    numpy.ndarray, uint8, same shape

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.live_preset import apply_live
    >>> img = np.full((64, 64, 3), 120, np.uint8)
    >>> apply_live(img, "wn", 0.05, np.random.default_rng(0)).dtype
    dtype('uint8')
    """
    img = check_uint8_image(image, "apply_live")
    _check_class(distortion, "apply_live")
    check_rng(rng, "apply_live")
    try:
        p = float(param)
    except (TypeError, ValueError):
        raise InputError(f"apply_live: param must be a number, got {param!r}") from None
    if not np.isfinite(p):
        raise InputError(f"apply_live: param must be finite, got {param!r}")
    if distortion == "jp2k":
        from ddriqa.degradations.compression import jpeg2000

        return jpeg2000(img, p)
    if distortion == "jpeg":
        from ddriqa.degradations.compression import jpeg, jpeg_quality_for_bpp

        quality, _ = jpeg_quality_for_bpp(img, p)
        return jpeg(img, quality)
    if distortion == "wn":
        from ddriqa.degradations.noise import add_gaussian_noise

        return add_gaussian_noise(img, 255.0 * p, rng)
    if distortion == "gblur":
        from ddriqa.degradations.blur import gaussian_blur

        return gaussian_blur(img, p)
    from ddriqa.degradations.fastfading import fast_fading

    return fast_fading(img, p, rng)
