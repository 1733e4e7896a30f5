"""Input checks shared by the degradation functions (private)."""

from __future__ import annotations

import numpy as np

from ddriqa.errors import InputError


def describe(image):
    """``shape ..., dtype ..., range [lo, hi]`` of an array, for error messages."""
    arr = np.asarray(image)
    if arr.size and arr.dtype.kind in "fiub":
        return f"shape {arr.shape}, dtype {arr.dtype}, range [{arr.min():.4g}, {arr.max():.4g}]"
    return f"shape {arr.shape}, dtype {arr.dtype}"


def check_uint8_image(image, func):
    """Return ``image`` as a uint8 ``HxW`` or ``HxWx3`` array, or raise InputError naming ``func``."""
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise InputError(f"{func}: expected a uint8 image on 0..255, got {describe(arr)}")
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] == 3)) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{func}: expected an HxW or HxWx3 image, got {describe(arr)}")
    return arr


def check_image(image, func):
    """Return a uint8 image, or a float image checked to lie in [0, 1]; HxW or HxWxC."""
    arr = np.asarray(image)
    if arr.dtype == np.uint8:
        pass
    elif arr.dtype.kind == "f":
        if arr.size and not np.all(np.isfinite(arr)):
            raise InputError(f"{func}: the image contains NaN or infinite values ({describe(arr)})")
        if arr.size and (arr.min() < 0.0 or arr.max() > 1.0):
            raise InputError(
                f"{func}: float images must lie in [0, 1], got {describe(arr)} (pass uint8 for 0..255)"
            )
    else:
        raise InputError(f"{func}: expected a uint8 or float image, got {describe(arr)}")
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"{func}: expected an HxW or HxWxC image, got {describe(arr)}")
    return arr


def check_rng(rng, func):
    """Require an explicit numpy Generator (every randomness is reproducible from a seed)."""
    if not isinstance(rng, np.random.Generator):
        raise InputError(
            f"{func}: rng must be a numpy.random.Generator (e.g. numpy.random.default_rng(seed)), "
            f"got {type(rng).__name__}"
        )
    return rng


def check_positive(value, name, func, allow_zero=False):
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{func}: {name} must be a number, got {value!r}") from None
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise InputError(f"{func}: {name} must be {'>= 0' if allow_zero else '> 0'} and finite, got {value!r}")
    return v
