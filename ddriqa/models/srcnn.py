"""SRCNN-style shallow super-resolution networks, for the paper's depth study.

A plain stack of ``num_layers`` 3x3 convolutions at LR resolution (``num_features`` channels,
ReLU after every conv but the last); the last conv produces ``out_channels * scale**2``
channels that a PixelShuffle(scale) turns into the HR residual, which is added to the bilinear
upsampling of the input (global residual, ``align_corners=False``) unless
``global_residual=False``.

Feature taps (:meth:`SRCNN.forward_features`): ``"Conv{k}"`` is the tensor after the ReLU of the
k-th conv, for ``k = 1 .. num_layers - 1`` (the last conv is the reconstruction layer).
"""

from __future__ import annotations

import re

import torch.nn.functional as F
from torch import nn

from ddriqa.errors import InputError
from ddriqa.models.srresnet import _check_input, init_scaled_kaiming

__all__ = ["SRCNN"]

_LAYER_RE = re.compile(r"^Conv(\d+)$")


class SRCNN(nn.Module):
    """Shallow plain-conv SR network with pixel-shuffle output and global residual.

    Parameters
    ----------
    num_layers : int, default=3
        Number of conv layers, 3..13.
    num_features : int, default=64
        Channels of the hidden layers.
    scale : int, default=4
        Upscaling factor (the last conv outputs ``out_channels * scale**2`` channels).
    global_residual : bool, default=True
        Add the bilinear upsampling of the input to the output.
    in_channels, out_channels : int, default=3
        Image channels.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.srcnn import SRCNN
    >>> net = SRCNN(num_layers=3, num_features=8).eval()
    >>> x = torch.rand(2, 3, 10, 10)
    >>> tuple(net(x).shape)
    (2, 3, 40, 40)
    >>> tuple(net.forward_features(x, "Conv2").shape)
    (2, 8, 10, 10)
    >>> SRCNN.layer_names(3)
    ['Conv1', 'Conv2']
    """

    arch = "SRCNN"

    def __init__(self, num_layers=3, num_features=64, scale=4, global_residual=True, in_channels=3, out_channels=3):
        super().__init__()
        if int(num_layers) != num_layers or not 3 <= num_layers <= 13:
            raise InputError(f"num_layers must be an integer in 3..13, got {num_layers!r}")
        for name, value in (
            ("num_features", num_features),
            ("scale", scale),
            ("in_channels", in_channels),
            ("out_channels", out_channels),
        ):
            if int(value) != value or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if global_residual and in_channels != out_channels:
            raise InputError(f"global_residual needs in_channels == out_channels, got {in_channels} and {out_channels}")
        self.num_layers = int(num_layers)
        self.num_features = nf = int(num_features)
        self.scale = int(scale)
        self.global_residual = bool(global_residual)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)

        self.conv_first = nn.Conv2d(in_channels, nf, 3, 1, 1, bias=True)
        self.body = nn.ModuleList([nn.Conv2d(nf, nf, 3, 1, 1, bias=True) for _ in range(self.num_layers - 2)])
        self.conv_last = nn.Conv2d(nf, out_channels * self.scale**2, 3, 1, 1, bias=True)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Re-initialise every conv: Kaiming normal (fan_in, a=0) x 0.1, bias 0."""
        init_scaled_kaiming(self, 0.1, generator=generator)
        return self

    @staticmethod
    def layer_names(num_layers=3):
        """Names accepted by :meth:`forward_features`: ``["Conv1", ..., "Conv{num_layers-1}"]``."""
        return [f"Conv{k}" for k in range(1, int(num_layers))]

    def config(self):
        """The constructor arguments as a dict."""
        return {
            "num_layers": self.num_layers,
            "num_features": self.num_features,
            "scale": self.scale,
            "global_residual": self.global_residual,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
        }

    def _depth(self, layer):
        m = _LAYER_RE.match(str(layer))
        if m is None or not 1 <= int(m.group(1)) <= self.num_layers - 1:
            raise InputError(f"unknown layer {layer!r}; expected one of {self.layer_names(self.num_layers)}")
        return int(m.group(1))

    def forward_features(self, x, layer):
        """Feature map(s) after the ReLU of conv ``layer`` (``"Conv{k}"``), running only what is needed.

        A sequence of layer names returns a dict ``{layer: tensor}``.
        """
        _check_input(x, self.in_channels)
        many = not isinstance(layer, str)
        layers = list(layer) if many else [layer]
        depths = {name: self._depth(name) for name in layers}
        out = {}
        fea = F.relu(self.conv_first(x))
        for k in range(1, max(depths.values()) + 1):
            if k > 1:
                fea = F.relu(self.body[k - 2](fea))
            for name, d in depths.items():
                if d == k:
                    out[name] = fea
        return out if many else out[layers[0]]

    def forward(self, x):
        """Super-resolve ``x`` (B, in_channels, H, W) -> (B, out_channels, scale*H, scale*W)."""
        _check_input(x, self.in_channels)
        fea = F.relu(self.conv_first(x))
        for conv in self.body:
            fea = F.relu(conv(fea))
        out = F.pixel_shuffle(self.conv_last(fea), self.scale)
        if self.global_residual:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out
