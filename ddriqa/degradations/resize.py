"""MATLAB-compatible bicubic resizing (``imresize``) and the SR bicubic downsampler.

MATLAB's ``imresize(A, scale)`` with its default ``'bicubic'`` method and ``'Antialiasing', true``
is the reference for two things this package needs to match: the low-resolution inputs of the
super-resolution networks (``imresize(HR, 1/4)``), and the half-scale image of BRISQUE.

The algorithm (MATLAB's ``contributions``), for each dimension separately:

* kernel: Keys' cubic convolution with ``a = -0.5``, support ``[-2, 2]`` (width 4);
* when shrinking (``scale < 1``) with antialiasing the kernel is stretched by ``1/scale`` and its
  values are multiplied by ``scale``: ``h(x) = scale * cubic(scale * x)``, width ``4 / scale``;
* output pixel ``x`` (1-based) maps to ``u = x / scale + 0.5 * (1 - 1 / scale)`` in the input;
  it takes ``P = ceil(width) + 2`` taps starting at ``left = floor(u - width / 2)``;
* the weights of each output pixel are normalised to sum 1, out-of-range indices are mirrored
  symmetrically (``[1..n, n..1]`` repeated), and taps whose weight is zero for every output pixel are
  dropped;
* the output size is ``ceil(scale * size)``; with ``output_shape`` the scale of a dimension is
  ``out / in``;
* the dimension with the smaller scale is processed first (rows first for equal scales).

The weights of a dimension are cached by ``(in, out, scale, antialias)``; rows are resized with a
sparse ``out x in`` matrix product, columns of gray images with a gather of the taps and a weighted
sum, columns of colour images with the sparse product on the transposed image.

Rounding of ``uint8`` images follows MATLAB, whose ``imresizemex`` returns the class of its input:
each one-dimensional pass runs in float64 and its result is saturated to ``0..255`` and rounded half
away from zero before the next pass (so a two-pass resize rounds twice). Float images are never
rounded or clipped. (The public port fatheral/matlab_imresize, which does the same, reports zero
difference from MATLAB on its uint8 test image.)
"""

from __future__ import annotations

import math
from functools import lru_cache
from numbers import Real

import numpy as np
import scipy.sparse as sp

from ddriqa.errors import InputError

__all__ = ["MAX_OUTPUT_PIXELS", "imresize", "bicubic_downsample", "cubic", "contributions", "resize_matrix"]

#: Largest output (rows * cols) :func:`imresize` produces; beyond it an InputError is raised.
MAX_OUTPUT_PIXELS = 2**30
#: Largest antialiasing kernel (taps): shrinking by more than 4 / _MAX_TAPS is refused.
_MAX_TAPS = 2**24


def cubic(x):
    """Keys' cubic convolution kernel with ``a = -0.5`` (MATLAB's ``cubic``).

    Parameters
    ----------
    x : array_like
        Distances from the sample point.

    Returns
    -------
    numpy.ndarray of float64
        Kernel values; zero outside ``[-2, 2]``.

    Examples
    --------
    >>> from ddriqa.degradations.resize import cubic
    >>> [float(v) for v in cubic([0.0, 1.0, 2.0, 0.5])]
    [1.0, 0.0, 0.0, 0.5625]
    """
    absx = np.abs(np.asarray(x, dtype=np.float64))
    absx2 = absx * absx
    absx3 = absx2 * absx
    return (1.5 * absx3 - 2.5 * absx2 + 1.0) * (absx <= 1) + (
        -0.5 * absx3 + 2.5 * absx2 - 4.0 * absx + 2.0
    ) * ((absx > 1) & (absx <= 2))


def contributions(in_length, out_length, scale, antialias=True):
    """MATLAB's ``contributions``: weights and 0-based input indices of each output sample.

    Parameters
    ----------
    in_length, out_length : int
        Input and output lengths of the dimension.
    scale : float
        Scale factor of the dimension (``out / in`` or the requested scale).
    antialias : bool, default=True
        Stretch the kernel by ``1 / scale`` when shrinking.

    Returns
    -------
    weights : numpy.ndarray of shape (out_length, P')
        Normalised weights (each row sums to 1); all-zero columns removed.
    indices : numpy.ndarray of shape (out_length, P')
        0-based input indices after symmetric mirroring.

    Examples
    --------
    >>> from ddriqa.degradations.resize import contributions
    >>> w, idx = contributions(4, 2, 0.5)
    >>> w.shape, bool(abs(w.sum(axis=1) - 1).max() < 1e-12)
    ((2, 8), True)
    """
    if scale < 1 and antialias:
        kernel_width = 4.0 / scale

        def h(x):
            return scale * cubic(scale * x)

    else:
        kernel_width = 4.0
        h = cubic
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]  # 1-based
    weights = h(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(in_length), np.arange(in_length - 1, -1, -1)])
    indices = aux[np.mod(indices.astype(np.int64) - 1, aux.size)]
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], indices[:, keep]


@lru_cache(maxsize=64)
def resize_matrix(in_length, out_length, scale, antialias=True):
    """The ``out_length x in_length`` sparse (CSR) weight matrix of one dimension (cached).

    Examples
    --------
    >>> from ddriqa.degradations.resize import resize_matrix
    >>> resize_matrix(8, 4, 0.5).shape
    (4, 8)
    """
    weights, indices = contributions(in_length, out_length, scale, antialias)
    rows = np.repeat(np.arange(out_length), weights.shape[1])
    mat = sp.csr_matrix(
        (weights.ravel(), (rows, indices.ravel())), shape=(out_length, in_length), dtype=np.float64
    )
    mat.sum_duplicates()
    mat.sort_indices()
    return mat


def _describe(image):
    arr = np.asarray(image)
    if arr.size and arr.dtype.kind in "fiu":
        return f"shape {arr.shape}, dtype {arr.dtype}, range [{arr.min():.4g}, {arr.max():.4g}]"
    return f"shape {arr.shape}, dtype {arr.dtype}"


def _check_image(image):
    arr = np.asarray(image)
    if arr.dtype == np.bool_ or arr.dtype.kind not in "fiu":
        raise InputError(f"imresize: expected a uint8 or float image, got {_describe(arr)}")
    if arr.ndim not in (2, 3) or arr.shape[0] < 1 or arr.shape[1] < 1:
        raise InputError(f"imresize: expected an HxW or HxWxC image, got {_describe(arr)}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise InputError(f"imresize: the image contains NaN or infinite values ({_describe(arr)})")
    return arr


def _scales_and_shape(in_shape, scale, output_shape):
    if (scale is None) == (output_shape is None):
        raise InputError("imresize: give exactly one of scale or output_shape")
    if scale is not None:
        if isinstance(scale, Real):
            scales = (float(scale), float(scale))
        else:
            try:
                if isinstance(scale, (str, bytes)):
                    raise TypeError
                scales = tuple(float(s) for s in scale)
            except (TypeError, ValueError):
                raise InputError(f"imresize: scale must be a number or a pair, got {scale!r}") from None
            if len(scales) != 2:
                raise InputError(f"imresize: scale must be a number or a pair, got {scale!r}")
        if not all(np.isfinite(s) and s > 0 for s in scales):
            raise InputError(f"imresize: scale must be positive and finite, got {scale!r}")
        out = tuple(int(math.ceil(s * n)) for s, n in zip(scales, in_shape))
        return scales, out
    shape = tuple(output_shape)
    if len(shape) != 2:
        raise InputError(f"imresize: output_shape must be (rows, cols), got {output_shape!r}")
    if shape[0] is None and shape[1] is None:
        raise InputError("imresize: output_shape needs at least one size")
    if shape[0] is None or shape[1] is None:  # keep the aspect ratio, like MATLAB's NaN
        known = 0 if shape[0] is not None else 1
        s = int(shape[known]) / in_shape[known]
        other = int(math.ceil(s * in_shape[1 - known]))
        shape = (int(shape[0]), other) if known == 0 else (other, int(shape[1]))
    if not all(int(n) == n and n >= 1 for n in shape):
        raise InputError(f"imresize: output_shape must hold positive integers, got {output_shape!r}")
    out = (int(shape[0]), int(shape[1]))
    scales = (out[0] / in_shape[0], out[1] / in_shape[1])
    return scales, out


def _resize_dim(arr, dim, mat, in_length, out_length, scale, antialias):
    """Resize a float64 array along axis ``dim`` (0 or 1).

    Rows (axis 0): the sparse weight matrix times the image seen as ``H x (W*C)``. Columns of a
    2-D image: gather the ``P`` taps of every output column and take their weighted sum (no
    transpose; the fastest for BRISQUE's gray images). Columns of an ``HxWxC`` image: move the
    column axis first and use the sparse product (faster there than the 4-D gather).
    """
    if dim == 0:
        rest = arr.shape[1:]
        flat = arr.reshape(arr.shape[0], -1)
        return np.asarray(mat @ flat).reshape((mat.shape[0],) + rest)
    if arr.ndim == 2:
        weights, indices = _contributions_cached(in_length, out_length, scale, antialias)
        return np.einsum("ijk,jk->ij", arr[:, indices], weights)
    mat = resize_matrix(in_length, out_length, scale, antialias)
    moved = np.ascontiguousarray(np.moveaxis(arr, 1, 0))
    out = np.asarray(mat @ moved.reshape(in_length, -1)).reshape((out_length,) + moved.shape[1:])
    return np.ascontiguousarray(np.moveaxis(out, 0, 1))


@lru_cache(maxsize=64)
def _contributions_cached(in_length, out_length, scale, antialias):
    return contributions(in_length, out_length, scale, antialias)


def imresize(image, scale=None, output_shape=None, antialias=True):
    """Resize an image like MATLAB's ``imresize`` (bicubic, antialiasing when shrinking).

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, C)
        ``uint8`` on 0..255, or float of any range (other integer types are treated as float).
    scale : float or (float, float), optional
        Scale factor; the output has ``ceil(scale * H)`` rows and ``ceil(scale * W)`` columns.
    output_shape : (int, int), optional
        Output ``(rows, cols)``; one entry may be ``None`` to keep the aspect ratio.
        Give exactly one of ``scale`` and ``output_shape``.
    antialias : bool, default=True
        Stretch the kernel when shrinking (MATLAB's default ``'Antialiasing', true``).

    Returns
    -------
    numpy.ndarray
        ``uint8`` for ``uint8`` input (each pass computed in float64, then saturated and rounded
        half away from zero, like MATLAB); float64 otherwise (no clipping).

    Raises
    ------
    ddriqa.errors.InputError
        On a non-image input, a non-positive scale or a bad output shape, an output of more
        than :data:`MAX_OUTPUT_PIXELS` pixels, or a shrink (with antialiasing) below
        ``4 / 2**24`` whose kernel would be absurdly wide.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.resize import imresize
    >>> img = np.zeros((481, 321, 3), dtype=np.uint8)
    >>> imresize(img, 0.25).shape
    (121, 81, 3)
    >>> imresize(np.ones((5, 7)), 0.5).round(12).tolist()[0]
    [1.0, 1.0, 1.0, 1.0]
    """
    arr = _check_image(image)
    scales, out_shape = _scales_and_shape(arr.shape[:2], scale, output_shape)
    if out_shape[0] * out_shape[1] > MAX_OUTPUT_PIXELS:
        raise InputError(
            f"imresize: the output would be {out_shape[0]}x{out_shape[1]} pixels, over MAX_OUTPUT_PIXELS="
            f"{MAX_OUTPUT_PIXELS} (input shape {arr.shape}, scale {scale!r}, output_shape {output_shape!r})"
        )
    if antialias and min(scales) < 4.0 / _MAX_TAPS:
        raise InputError(
            f"imresize: scale {min(scales):.3g} shrinks too much for an antialiasing kernel "
            f"(at most {_MAX_TAPS} taps, scale >= {4.0 / _MAX_TAPS:.3g}); input shape {arr.shape}"
        )
    is_int = arr.dtype == np.uint8
    work = arr.astype(np.float64, copy=False)
    order = sorted(range(2), key=lambda d: scales[d])  # stable: rows first for equal scales
    for dim in order:
        if out_shape[dim] == work.shape[dim] and scales[dim] == 1.0:
            continue  # MATLAB skips a dimension whose scale is 1
        args = (work.shape[dim], out_shape[dim], scales[dim], bool(antialias))
        mat = resize_matrix(*args) if dim == 0 else None
        work = _resize_dim(work, dim, mat, *args)
        if is_int:  # MATLAB keeps uint8 between the passes
            work = np.floor(np.clip(work, 0.0, 255.0) + 0.5)
    if is_int:
        return work.astype(np.uint8)
    if work is arr:
        work = arr.astype(np.float64, copy=True)
    return work


def bicubic_downsample(image, factor=4):
    """Bicubic downsampling by an integer factor: ``imresize(image, 1 / factor)``.

    This is how the super-resolution literature makes low-resolution inputs (MATLAB's
    ``imresize(HR, 1/4)``). Sizes that are not multiples of ``factor`` give ``ceil(size / factor)``.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W) or (H, W, C)
        ``uint8`` or float image.
    factor : int, default=4
        Downsampling factor (>= 1).

    Returns
    -------
    numpy.ndarray
        Same dtype rule as :func:`imresize`.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.degradations.resize import bicubic_downsample
    >>> bicubic_downsample(np.zeros((128, 96, 3), dtype=np.uint8), 4).shape
    (32, 24, 3)
    """
    if isinstance(factor, bool) or not isinstance(factor, (int, np.integer)) or factor < 1:
        raise InputError(f"bicubic_downsample: factor must be a positive integer, got {factor!r}")
    return imresize(image, scale=1.0 / int(factor))
