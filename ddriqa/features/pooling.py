"""Pooling of feature maps into per-channel statistics, and the crop layouts of DDR.

:func:`channel_stats` (and its module :class:`ChannelStats`) turns a ``(B, C, H, W)`` feature map
into ``(B, k * C)`` numbers: for each statistic, one value per channel. The statistics keep what a
degradation does to the texture of the features (their level, spread and magnitude) and drop
where in the crop things are, which is mostly image content.

:func:`crop_boxes` gives the top-left corners of the crops a DDR extractor takes from an image:
the central crop, a regular grid, seeded random positions, or non-overlapping tiles covering the
image.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ddriqa.errors import InputError

__all__ = ["CROP_LAYOUTS", "STATS", "ChannelStats", "channel_stats", "crop_boxes"]

#: statistics of :func:`channel_stats`, in output order
STATS = ("mean", "std", "absmean")
#: crop layouts of :func:`crop_boxes`
CROP_LAYOUTS = ("center", "grid", "random", "tiles")


def _check_map(x):
    if not isinstance(x, torch.Tensor) or x.ndim != 4:
        shape = tuple(x.shape) if hasattr(x, "shape") else type(x).__name__
        raise InputError(f"expected a (B, C, H, W) feature map tensor, got {shape}")
    if x.shape[2] * x.shape[3] < 2:
        raise InputError(f"a feature map needs at least 2 positions for a standard deviation, got {tuple(x.shape)}")


def channel_stats(x, stats=STATS):
    """Per-channel statistics of a feature map over its spatial positions.

    Parameters
    ----------
    x : torch.Tensor of shape (B, C, H, W)
    stats : sequence of {"mean", "std", "absmean"}, default=all three
        ``std`` is the population standard deviation (divisor ``H * W``); ``absmean`` the mean of
        ``|x|``. Computed in float32 whatever the input dtype.

    Returns
    -------
    torch.Tensor of shape (B, len(stats) * C)
        Statistic-major: all channels' means, then all standard deviations, ...

    Examples
    --------
    >>> import torch
    >>> from ddriqa.features.pooling import channel_stats
    >>> x = torch.tensor([[[[1.0, -1.0], [1.0, -1.0]]]])
    >>> channel_stats(x)
    tensor([[0., 1., 1.]])
    """
    _check_map(x)
    stats = tuple(stats)
    unknown = [s for s in stats if s not in STATS]
    if unknown or not stats:
        raise InputError(f"unknown statistic(s) {unknown or '(none)'}; choose from {STATS}")
    x = x.float().flatten(2)
    out = []
    for s in stats:
        if s == "mean":
            out.append(x.mean(dim=2))
        elif s == "std":
            out.append(x.std(dim=2, unbiased=False))
        else:
            out.append(x.abs().mean(dim=2))
    return torch.cat(out, dim=1)


class ChannelStats(torch.nn.Module):
    """Module form of :func:`channel_stats`.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.features.pooling import ChannelStats
    >>> ChannelStats(("mean",))(torch.ones(2, 3, 4, 4)).shape
    torch.Size([2, 3])
    """

    def __init__(self, stats=STATS):
        super().__init__()
        self.stats = tuple(stats)

    def forward(self, x):
        return channel_stats(x, self.stats)


def crop_boxes(height, width, crop, layout="center", n_crops=1, seed=0):
    """Top-left corners ``(top, left)`` of the ``crop x crop`` patches taken from an image.

    Parameters
    ----------
    height, width : int
        Image size; at least ``crop`` each (pad smaller images first).
    crop : int
    layout : {"center", "grid", "random", "tiles"}, default="center"
        ``"center"``: the central crop (top-left ``((H - crop) // 2, (W - crop) // 2)``);
        ``"grid"``: ``n_crops`` crops (a square number) on a regular ``g x g`` lattice spanning
        the image, corners included; ``"random"``: ``n_crops`` uniformly random positions drawn
        from ``seed`` and the image size (the same image gets the same crops in any batch);
        ``"tiles"``: every non-overlapping ``crop x crop`` tile of the largest centred tiling
        (``(H // crop) * (W // crop)`` crops; ``n_crops`` is ignored).
    n_crops : int, default=1
    seed : int, default=0

    Returns
    -------
    list of (int, int)

    Examples
    --------
    >>> from ddriqa.features.pooling import crop_boxes
    >>> crop_boxes(10, 12, 4)
    [(3, 4)]
    >>> crop_boxes(10, 12, 4, "grid", 4)
    [(0, 0), (0, 8), (6, 0), (6, 8)]
    >>> crop_boxes(10, 12, 4, "tiles")
    [(1, 0), (1, 4), (1, 8), (5, 0), (5, 4), (5, 8)]
    """
    if layout not in CROP_LAYOUTS:
        raise InputError(f"crop layout must be one of {CROP_LAYOUTS}, got {layout!r}")
    if height < crop or width < crop:
        raise InputError(f"image too small: {width}x{height} (width x height), smaller than the {crop}x{crop} crop")
    if layout == "center":
        return [((height - crop) // 2, (width - crop) // 2)]
    if layout == "tiles":
        rows, cols = height // crop, width // crop
        top0, left0 = (height - rows * crop) // 2, (width - cols * crop) // 2
        return [(top0 + r * crop, left0 + c * crop) for r in range(rows) for c in range(cols)]
    if layout == "grid":
        g = math.isqrt(int(n_crops))
        if g * g != n_crops or g < 1:
            raise InputError(f"a grid of crops needs a square number of crops (1, 4, 9, ...), got {n_crops}")

        def axis(size):
            if g == 1:
                return [(size - crop) // 2]
            return [round(i * (size - crop) / (g - 1)) for i in range(g)]

        return [(t, l) for t in axis(height) for l in axis(width)]
    rng = np.random.default_rng([int(seed), int(height), int(width)])
    tops = rng.integers(0, height - crop + 1, size=int(n_crops))
    lefts = rng.integers(0, width - crop + 1, size=int(n_crops))
    return [(int(t), int(l)) for t, l in zip(tops, lefts)]
