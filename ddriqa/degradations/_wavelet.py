"""The CDF 9/7 wavelet of JPEG 2000 (irreversible path), by lifting, with its subband layout.

A small, exact (perfect-reconstruction up to float rounding) implementation for the fast-fading
emulation (:mod:`ddriqa.degradations.fastfading`): it splits a decoded JPEG 2000 image into the
subbands in which the codec's code-blocks live, so that code-blocks can be exchanged between
decodes of the same stream at different numbers of quality layers.

Conventions (those of JPEG 2000 Part 1, Annex F, for an image whose origin is at 0): even samples
go to the low band (``ceil(n / 2)`` of them), odd samples to the high band; whole-sample symmetric
extension at both ends; the four lifting steps ``alpha .. delta`` and the gain ``K``. Each level
transforms the rows, then the columns, of the previous level's low band.
"""

from __future__ import annotations

import numpy as np

__all__ = ["dwt97", "idwt97", "subband_shapes"]

_ALPHA = -1.586134342059924
_BETA = -0.052980118572961
_GAMMA = 0.882911075530934
_DELTA = 0.443506852043971
_K = 1.230174104914001


def _next(a, n):
    """``a[i + 1]`` for i < n, the last element repeated where a runs out (symmetric extension)."""
    if a.shape[0] >= n + 1:
        return a[1:n + 1]
    return np.concatenate([a[1:], a[-1:]], axis=0)[:n]


def _prev(a, n):
    """``a[i - 1]`` for i < n, with ``a[-1] = a[0]`` (symmetric extension)."""
    return np.concatenate([a[:1], a[:n - 1]], axis=0)


def _cur(a, n):
    """``a[i]`` for i < n, the last element repeated when a is one shorter."""
    if a.shape[0] >= n:
        return a[:n]
    return np.concatenate([a, a[-1:]], axis=0)


def _lift(x):
    """One level along axis 0: (low, high)."""
    s, d = x[0::2].copy(), x[1::2].copy()
    ns, nd = s.shape[0], d.shape[0]
    if nd == 0:
        return s, d
    d += _ALPHA * (s[:nd] + _next(s, nd))
    s += _BETA * (_prev(d, ns) + _cur(d, ns))
    d += _GAMMA * (s[:nd] + _next(s, nd))
    s += _DELTA * (_prev(d, ns) + _cur(d, ns))
    return s / _K, d * _K


def _unlift(s, d):
    """Inverse of :func:`_lift`: the signal along axis 0."""
    ns, nd = s.shape[0], d.shape[0]
    if nd == 0:
        return s.copy()
    s, d = s * _K, d / _K
    s = s - _DELTA * (_prev(d, ns) + _cur(d, ns))
    d = d - _GAMMA * (s[:nd] + _next(s, nd))
    s = s - _BETA * (_prev(d, ns) + _cur(d, ns))
    d = d - _ALPHA * (s[:nd] + _next(s, nd))
    out = np.empty((ns + nd,) + s.shape[1:], dtype=s.dtype)
    out[0::2], out[1::2] = s, d
    return out


def dwt97(x, levels):
    """Forward 2-D transform of ``x`` (H, W) or (H, W, C) over ``levels`` levels.

    Returns
    -------
    list
        ``[LL, (HL, LH, HH) of the coarsest level, ..., (HL, LH, HH) of level 1]``: the
        resolution order of a JPEG 2000 stream. The first letter names the horizontal filter
        (along axis 1), the second the vertical one (along axis 0), as in the standard.
    """
    low = np.asarray(x, dtype=np.float64)
    details = []
    for _ in range(int(levels)):
        if min(low.shape[:2]) < 2:
            break
        lo_c, hi_c = (np.swapaxes(b, 0, 1) for b in _lift(np.swapaxes(low, 0, 1)))  # along the columns' index
        ll, lh = _lift(lo_c)
        hl, hh = _lift(hi_c)
        details.append((hl, lh, hh))
        low = ll
    return [low] + details[::-1]


def idwt97(bands):
    """Inverse of :func:`dwt97`."""
    low = bands[0]
    for hl, lh, hh in bands[1:]:
        lo_c = _unlift(low, lh)
        hi_c = _unlift(hl, hh)
        low = np.swapaxes(_unlift(np.swapaxes(lo_c, 0, 1), np.swapaxes(hi_c, 0, 1)), 0, 1)
    return low


def subband_shapes(shape, levels):
    """Shapes (rows, cols) of ``[LL, (HL, LH, HH), ...]`` as :func:`dwt97` makes them."""
    h, w = int(shape[0]), int(shape[1])
    details = []
    for _ in range(int(levels)):
        if min(h, w) < 2:
            break
        hl = (-(-h // 2), w // 2)
        lh = (h // 2, -(-w // 2))
        hh = (h // 2, w // 2)
        details.append((hl, lh, hh))
        h, w = -(-h // 2), -(-w // 2)
    return [(h, w)] + details[::-1]
