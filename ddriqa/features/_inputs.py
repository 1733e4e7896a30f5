"""Input handling shared by the feature extractors: image paths or image arrays.

Extractors accept a list (or tuple, 1-D object array, pandas Series) whose items are file paths
or ``HxW`` / ``HxWx3`` arrays, or a single 4-D ``NxHxWx3`` array. Paths are read with
:func:`ddriqa.io.read_image`, so every file error is an :class:`~ddriqa.errors.ImageReadError`
naming the file.
"""

from __future__ import annotations

import os

import numpy as np

from ddriqa.errors import InputError


def as_image_list(X):
    """Return ``X`` as a Python list of items (paths or arrays), with clear errors.

    Parameters
    ----------
    X : list, tuple, numpy.ndarray, or pandas.Series / single-column DataFrame
        Paths or images. A 4-D array is split along its first axis.

    Returns
    -------
    list
    """
    if isinstance(X, (str, os.PathLike)):
        raise InputError(
            f"expected a list of image paths or arrays, got a single path {os.fspath(X)!r}; "
            "wrap it in a list"
        )
    if hasattr(X, "iloc") and hasattr(X, "columns"):  # DataFrame
        if X.shape[1] != 1:
            raise InputError(
                f"expected a single column of paths or images, got a DataFrame with columns {list(X.columns)}"
            )
        X = X.iloc[:, 0]
    if hasattr(X, "to_numpy") and not isinstance(X, np.ndarray):  # Series
        X = X.to_numpy(dtype=object)
    if isinstance(X, np.ndarray):
        if X.dtype == object:
            items = list(X.ravel()) if X.ndim == 1 or (X.ndim == 2 and X.shape[1] == 1) else None
            if items is None:
                raise InputError(f"expected a 1-D array of paths/images, got object array of shape {X.shape}")
        elif X.dtype.kind in "US":
            items = [str(v) for v in X.ravel()]
        elif X.ndim == 4 or (X.ndim == 3 and X.shape[-1] not in (3,)):
            items = list(X)
        else:
            raise InputError(
                f"expected a list of images or an NxHxWx3 array, got an array of shape {X.shape}; "
                "wrap a single image in a list"
            )
    else:
        try:
            items = list(X)
        except TypeError:
            raise InputError(f"expected a list of image paths or arrays, got {type(X).__name__}") from None
    if len(items) == 0:
        raise InputError(f"expected at least one image, got an empty {type(X).__name__}")
    return items


def load_item(item, dtype="uint8"):
    """Read one item (path or array) into an RGB image.

    Parameters
    ----------
    item : str, os.PathLike or numpy.ndarray
        A path, or an ``HxW`` / ``HxWx3`` array (uint8 on 0..255, or float on 0..1).
    dtype : {"uint8", "float32"}
        Output type: uint8 on 0..255, or float32 on [0, 1].

    Returns
    -------
    numpy.ndarray of shape (H, W, 3)
    """
    from ddriqa.io import float_to_uint8, read_image

    if isinstance(item, (str, os.PathLike)):
        return read_image(item, dtype=dtype)
    if item is None or isinstance(item, (bytes, int, float, dict)):
        raise InputError(f"expected an image path or an image array, got {type(item).__name__} {item!r:.60}")
    orig = np.asarray(item)
    seen = f"shape {orig.shape}, dtype {orig.dtype}"
    if orig.dtype == object:
        raise InputError(
            f"expected an image path or a numeric image array, got {type(item).__name__} (an object array, {seen})"
        )
    arr = orig
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise InputError(f"expected an HxW or HxWx3 image, got an array of {seen}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"expected a non-empty image, got an array of {seen}")
    if arr.dtype == np.uint8:
        return arr if dtype == "uint8" else (arr.astype(np.float32) / 255.0)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise InputError(f"expected a uint8 or float image, got an array of {seen}")
    arr = arr.astype(np.float64)
    finite = np.isfinite(orig)
    if not np.all(finite):
        raise InputError(
            f"the image contains NaN or infinite values ({orig.size - int(finite.sum())} of {orig.size}; {seen})"
        )
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise InputError(
            f"float images must lie in [0, 1]; got values in [{lo:.4g}, {hi:.4g}], {seen} "
            "(pass uint8 for the 0..255 scale)"
        )
    if dtype == "uint8":
        return float_to_uint8(arr)
    return arr.astype(np.float32)


def describe_item(item, index):
    """A short name for an item in error messages and result rows: its path or ``<array #i>``."""
    if isinstance(item, (str, os.PathLike)):
        return os.fspath(item)
    return f"<array #{index}>"
