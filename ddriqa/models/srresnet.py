"""SRResNet ("MSRResNet"): the super-resolution backbone whose features are the DDR.

The network of Wang et al.'s BasicSR "MSRResNet", as used by Liu et al. (2021) both as
SRResNet (L1 training) and as the SRGAN generator:

* ``conv_first`` 3x3 ``in_channels -> num_features`` + LeakyReLU(0.1)
* ``num_blocks`` residual blocks ``x + conv2(ReLU(conv1(x)))`` (3x3, bias, no batch norm,
  no residual scaling)
* upsampling: x4 = two ``(conv nf -> 4 nf, PixelShuffle(2), LeakyReLU(0.1))`` stages
  (``upconv1``, ``upconv2``); x2 = one such stage; x3 = one stage with ``9 nf`` channels and
  ``PixelShuffle(3)``
* ``hr_conv`` nf -> nf + LeakyReLU(0.1), ``conv_last`` nf -> ``out_channels``
* global residual ("wGR", default): the output is added to the bilinear upsampling of the input
  (``align_corners=False``); ``global_residual=False`` gives the "woGR" variant.

Feature taps (:meth:`SRResNet.forward_features`): ``"Conv1"`` is the tensor after
``LeakyReLU(conv_first(x))`` (the tap of the authors' public DegAE code); ``"ResBlock{k}"`` is
the raw tensor after the k-th residual block. Input convention: RGB float in [0, 1], no
mean/std normalisation.
"""

from __future__ import annotations


import torch
import torch.nn.functional as F
from torch import nn

from ddriqa.errors import InputError
from ddriqa.models._taps import BlockTaps

__all__ = ["ResidualBlock", "SRResNet", "init_scaled_kaiming"]


def init_scaled_kaiming(module, scale=0.1, generator=None):
    """Kaiming-normal init (fan_in, a=0) scaled by ``scale`` on every conv; biases to 0.

    Parameters
    ----------
    module : torch.nn.Module
        Every ``nn.Conv2d`` inside it is re-initialised in place.
    scale : float
        Factor applied to the Kaiming-normal weights (0.1 in MSRResNet).
    generator : torch.Generator, optional
        Source of randomness; None uses torch's global generator.
    """
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, a=0, mode="fan_in", generator=generator)
                m.weight.mul_(scale)
                if m.bias is not None:
                    m.bias.zero_()


class ResidualBlock(nn.Module):
    """``x + conv2(ReLU(conv1(x)))`` with 3x3 convolutions, bias, no batch norm."""

    def __init__(self, num_features=64):
        super().__init__()
        self.conv1 = nn.Conv2d(num_features, num_features, 3, 1, 1, bias=True)
        self.conv2 = nn.Conv2d(num_features, num_features, 3, 1, 1, bias=True)

    def forward(self, x):
        return x + self.conv2(F.relu(self.conv1(x)))


def _check_input(x, in_channels):
    if not isinstance(x, torch.Tensor):
        raise InputError(f"expected a torch.Tensor of shape (B, {in_channels}, H, W), got {type(x).__name__}")
    if x.dim() != 4 or x.shape[1] != in_channels or not x.is_floating_point():
        raise InputError(
            f"expected a float tensor of shape (B, {in_channels}, H, W) (RGB in [0, 1]); "
            f"got shape {tuple(x.shape)} dtype {x.dtype}"
        )




class SRResNet(BlockTaps, nn.Module):
    """MSRResNet super-resolution network with optional global residual.

    Parameters
    ----------
    num_features : int, default=64
        Channels of every intermediate feature map.
    num_blocks : int, default=16
        Number of residual blocks.
    scale : {2, 3, 4}, default=4
        Upscaling factor.
    global_residual : bool, default=True
        Add the bilinear upsampling of the input to the output ("wGR").
    in_channels, out_channels : int, default=3
        Image channels.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.srresnet import SRResNet
    >>> net = SRResNet(num_features=8, num_blocks=2).eval()
    >>> x = torch.rand(1, 3, 12, 12)
    >>> tuple(net(x).shape)
    (1, 3, 48, 48)
    >>> tuple(net.forward_features(x, "ResBlock2").shape)
    (1, 8, 12, 12)
    >>> SRResNet.layer_names(2)
    ['Conv1', 'ResBlock1', 'ResBlock2']
    """

    arch = "SRResNet"
    block_name = "ResBlock"
    default_num_blocks = 16

    def __init__(self, num_features=64, num_blocks=16, scale=4, global_residual=True, in_channels=3, out_channels=3):
        super().__init__()
        for name, value in (("num_features", num_features), ("in_channels", in_channels), ("out_channels", out_channels)):
            if int(value) != value or value < 1:
                raise InputError(f"{name} must be a positive integer, got {value!r}")
        if int(num_blocks) != num_blocks or num_blocks < 0:
            raise InputError(f"num_blocks must be a non-negative integer, got {num_blocks!r}")
        if scale not in (2, 3, 4):
            raise InputError(f"scale must be 2, 3 or 4, got {scale!r}")
        if global_residual and in_channels != out_channels:
            raise InputError(
                f"global_residual needs in_channels == out_channels, got {in_channels} and {out_channels}"
            )
        self.num_features = nf = int(num_features)
        self.num_blocks = int(num_blocks)
        self.scale = int(scale)
        self.global_residual = bool(global_residual)
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)

        self.conv_first = nn.Conv2d(in_channels, nf, 3, 1, 1, bias=True)
        self.body = nn.ModuleList([ResidualBlock(nf) for _ in range(self.num_blocks)])
        if self.scale == 3:
            self.upconv1 = nn.Conv2d(nf, 9 * nf, 3, 1, 1, bias=True)
            self.upconv2 = None
        else:
            self.upconv1 = nn.Conv2d(nf, 4 * nf, 3, 1, 1, bias=True)
            self.upconv2 = nn.Conv2d(nf, 4 * nf, 3, 1, 1, bias=True) if self.scale == 4 else None
        self.hr_conv = nn.Conv2d(nf, nf, 3, 1, 1, bias=True)
        self.conv_last = nn.Conv2d(nf, out_channels, 3, 1, 1, bias=True)
        self.reset_parameters()

    def reset_parameters(self, generator=None):
        """Re-initialise every conv: Kaiming normal (fan_in, a=0) x 0.1, bias 0.

        Parameters
        ----------
        generator : torch.Generator, optional
            Seeded generator for a reproducible init; None uses torch's global generator.
        """
        init_scaled_kaiming(self, 0.1, generator=generator)
        return self

    def config(self):
        """The constructor arguments as a dict (``SRResNet(**net.config())`` rebuilds the architecture)."""
        return {
            "num_features": self.num_features,
            "num_blocks": self.num_blocks,
            "scale": self.scale,
            "global_residual": self.global_residual,
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
            ``"Conv1"`` (after the LeakyReLU of ``conv_first``) or ``"ResBlock{k}"`` (after the
            k-th residual block). A sequence returns a dict ``{layer: tensor}``.

        Returns
        -------
        torch.Tensor of shape (B, num_features, H, W), or dict of them
        """
        _check_input(x, self.in_channels)
        return self._forward_taps(x, layer)

    def _stem(self, x):
        return F.leaky_relu(self.conv_first(x), 0.1)

    def forward(self, x):
        """Super-resolve ``x`` (B, in_channels, H, W) -> (B, out_channels, scale*H, scale*W)."""
        _check_input(x, self.in_channels)
        fea = F.leaky_relu(self.conv_first(x), 0.1)
        for block in self.body:
            fea = block(fea)
        if self.scale == 3:
            fea = F.leaky_relu(F.pixel_shuffle(self.upconv1(fea), 3), 0.1)
        else:
            fea = F.leaky_relu(F.pixel_shuffle(self.upconv1(fea), 2), 0.1)
            if self.upconv2 is not None:
                fea = F.leaky_relu(F.pixel_shuffle(self.upconv2(fea), 2), 0.1)
        out = self.conv_last(F.leaky_relu(self.hr_conv(fea), 0.1))
        if self.global_residual:
            out = out + F.interpolate(x, scale_factor=self.scale, mode="bilinear", align_corners=False)
        return out
