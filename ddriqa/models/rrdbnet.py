"""RRDBNet: the ESRGAN / Real-ESRGAN super-resolution generator, a second DDR backbone.

The network of Wang et al.'s ESRGAN (2018) as used unchanged by Real-ESRGAN x4plus (2021):

* ``conv_first`` 3x3 ``in_channels -> num_features`` (no activation)
* ``num_blocks`` residual-in-residual dense blocks (RRDB); an RRDB is three residual dense
  blocks (``rdb1``, ``rdb2``, ``rdb3``) and returns ``0.2 * rdb3(rdb2(rdb1(x))) + x``; a residual
  dense block has five 3x3 convs ``conv1 .. conv5`` with dense concatenation (inputs
  ``nf, nf + g, nf + 2g, nf + 3g, nf + 4g`` channels, outputs ``g, g, g, g, nf`` for growth
  ``g``), LeakyReLU(0.2) after the first four, and returns ``0.2 * x5 + x``
* ``conv_body`` nf -> nf, added to the ``conv_first`` output (trunk residual)
* upsampling x4: twice ``nearest x2 -> conv nf -> nf -> LeakyReLU(0.2)`` (``conv_up1``,
  ``conv_up2``)
* ``conv_hr`` nf -> nf + LeakyReLU(0.2), ``conv_last`` nf -> ``out_channels``

All convs are 3x3, stride 1, padding 1, with bias. There is no global (image) residual and no
clipping inside the network: :meth:`RRDBNet.forward` can leave [0, 1] slightly, callers clip
(``ddriqa.training.inference.upscale_image`` does). The module names map 1:1, in order, onto the
351 convolutions of the reference RRDBNet (``conv_first``, ``body.{i}.rdb{1,2,3}.conv{1..5}``,
``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``), which is what
:func:`ddriqa.models.ncnn.rrdbnet_state_dict` relies on.

Feature taps (:meth:`RRDBNet.forward_features`): ``"Conv1"`` is the raw ``conv_first(x)``
(ESRGAN has no activation there); ``"RRDB{k}"`` is the output of the k-th RRDB (before
``conv_body`` and the trunk residual). Input convention: RGB float in [0, 1], no mean/std
normalisation.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ddriqa.errors import InputError
from ddriqa.models._taps import BlockTaps
from ddriqa.models.srresnet import _check_input, init_scaled_kaiming

__all__ = ["RRDB", "RRDBNet", "ResidualDenseBlock"]

_SLOPE = 0.2
_RES_SCALE = 0.2


class ResidualDenseBlock(nn.Module):
    """Five densely connected 3x3 convs, LeakyReLU(0.2) after the first four; ``0.2 * x5 + x``.

    Parameters
    ----------
    num_features : int, default=64
        Channels in and out.
    growth : int, default=32
        Channels added by each of ``conv1 .. conv4``.
    """

    def __init__(self, num_features=64, growth=32):
        super().__init__()
        nf, g = int(num_features), int(growth)
        self.conv1 = nn.Conv2d(nf, g, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(nf + g, g, 3, 1, 1, bias=True)
        self.conv3 = nn.Conv2d(nf + 2 * g, g, 3, 1, 1, bias=True)
        self.conv4 = nn.Conv2d(nf + 3 * g, g, 3, 1, 1, bias=True)
        self.conv5 = nn.Conv2d(nf + 4 * g, nf, 3, 1, 1, bias=True)

    def forward(self, x):
        x1 = F.leaky_relu(self.conv1(x), _SLOPE)
        x2 = F.leaky_relu(self.conv2(torch.cat((x, x1), 1)), _SLOPE)
        x3 = F.leaky_relu(self.conv3(torch.cat((x, x1, x2), 1)), _SLOPE)
        x4 = F.leaky_relu(self.conv4(torch.cat((x, x1, x2, x3), 1)), _SLOPE)
        x5 = self.conv5(torch.cat((x, x1, x2, x3, x4), 1))
        return x5 * _RES_SCALE + x


class RRDB(nn.Module):
    """Residual-in-residual dense block: ``0.2 * rdb3(rdb2(rdb1(x))) + x``."""

    def __init__(self, num_features=64, growth=32):
        super().__init__()
        self.rdb1 = ResidualDenseBlock(num_features, growth)
        self.rdb2 = ResidualDenseBlock(num_features, growth)
        self.rdb3 = ResidualDenseBlock(num_features, growth)

    def forward(self, x):
        return self.rdb3(self.rdb2(self.rdb1(x))) * _RES_SCALE + x


class RRDBNet(BlockTaps, nn.Module):
    """ESRGAN RRDBNet x4 super-resolution network (the Real-ESRGAN x4plus generator).

    Parameters
    ----------
    num_features : int, default=64
        Channels of the trunk feature maps.
    num_blocks : int, default=23
        Number of RRDB blocks.
    growth : int, default=32
        Growth channels of the residual dense blocks.
    scale : {4}, default=4
        Upscaling factor; only x4 (two nearest-x2 stages) is implemented.
    in_channels, out_channels : int, default=3
        Image channels.

    Notes
    -----
    The output is not clipped (call ``clamp(0, 1)`` yourself, or use
    :func:`ddriqa.training.inference.upscale_image`). The default configuration has 351
    convolutions and 16,697,987 parameters.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.rrdbnet import RRDBNet
    >>> net = RRDBNet(num_features=8, num_blocks=2, growth=4).eval()
    >>> x = torch.rand(1, 3, 12, 12)
    >>> tuple(net(x).shape)
    (1, 3, 48, 48)
    >>> tuple(net.forward_features(x, "RRDB2").shape)
    (1, 8, 12, 12)
    >>> RRDBNet.layer_names(2)
    ['Conv1', 'RRDB1', 'RRDB2']
    """

    arch = "RRDBNet"
    block_name = "RRDB"
    default_num_blocks = 23

    def __init__(self, num_features=64, num_blocks=23, growth=32, scale=4, in_channels=3, out_channels=3):
        super().__init__()
        for name, value in (
            ("num_features", num_features),
            ("growth", growth),
            ("in_channels", in_channels),
            ("out_channels", out_channels),
        ):
            if int(value) != value or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if int(num_blocks) != num_blocks or num_blocks < 0:
            raise InputError(f"num_blocks must be a non-negative integer, got {num_blocks!r}")
        if scale != 4:
            raise InputError(f"scale must be 4 (only the x4 RRDBNet is implemented), got {scale!r}")
        self.num_features = nf = int(num_features)
        self.num_blocks = int(num_blocks)
        self.growth = int(growth)
        self.scale = 4
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)

        self.conv_first = nn.Conv2d(self.in_channels, nf, 3, 1, 1, bias=True)
        self.body = nn.ModuleList([RRDB(nf, self.growth) for _ in range(self.num_blocks)])
        self.conv_body = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_up1 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_up2 = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_hr = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_last = nn.Conv2d(nf, self.out_channels, 3, 1, 1, bias=True)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Re-initialise the weights the way ESRGAN / BasicSR does.

        The convs of every residual dense block get Kaiming normal (fan_in, a=0) x 0.1 and bias 0
        (BasicSR's ``default_init_weights(..., 0.1)``); the six outer convs (``conv_first``,
        ``conv_body``, ``conv_up1``, ``conv_up2``, ``conv_hr``, ``conv_last``) get PyTorch's default
        ``nn.Conv2d`` init (Kaiming uniform with a = sqrt(5), bias uniform in +-1/sqrt(fan_in)), as
        in BasicSR's RRDBNet, drawn from ``generator``.

        Parameters
        ----------
        generator : torch.Generator, optional
            Seeded generator for a reproducible init; None uses torch's global generator.
        """
        init_scaled_kaiming(self.body, 0.1, generator=generator)
        with torch.no_grad():
            for conv in (self.conv_first, self.conv_body, self.conv_up1, self.conv_up2, self.conv_hr, self.conv_last):
                nn.init.kaiming_uniform_(conv.weight, a=math.sqrt(5), generator=generator)
                bound = 1.0 / math.sqrt(conv.weight[0].numel())
                nn.init.uniform_(conv.bias, -bound, bound, generator=generator)
        return self

    def config(self):
        """The constructor arguments as a dict (``RRDBNet(**net.config())`` rebuilds the architecture)."""
        return {
            "num_features": self.num_features,
            "num_blocks": self.num_blocks,
            "growth": self.growth,
            "scale": self.scale,
            "in_channels": self.in_channels,
            "out_channels": self.out_channels,
        }

    def forward_features(self, x, layer):
        """Feature map(s) at ``layer``, running only the network up to it.

        Parameters
        ----------
        x : torch.Tensor of shape (B, in_channels, H, W)
            Float RGB in [0, 1] (LR resolution).
        layer : str or sequence of str
            ``"Conv1"`` (the raw ``conv_first`` output; ESRGAN has no activation there) or
            ``"RRDB{k}"`` (the output of the k-th RRDB). A sequence returns a dict
            ``{layer: tensor}``.

        Returns
        -------
        torch.Tensor of shape (B, num_features, H, W), or dict of them
        """
        _check_input(x, self.in_channels)
        return self._forward_taps(x, layer)

    def _stem(self, x):
        return self.conv_first(x)

    def forward(self, x):
        """Super-resolve ``x`` (B, in_channels, H, W) -> (B, out_channels, 4H, 4W), unclipped."""
        _check_input(x, self.in_channels)
        fea = self.conv_first(x)
        trunk = fea
        for block in self.body:
            trunk = block(trunk)
        fea = fea + self.conv_body(trunk)
        fea = F.leaky_relu(self.conv_up1(F.interpolate(fea, scale_factor=2, mode="nearest")), _SLOPE)
        fea = F.leaky_relu(self.conv_up2(F.interpolate(fea, scale_factor=2, mode="nearest")), _SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(fea), _SLOPE))
