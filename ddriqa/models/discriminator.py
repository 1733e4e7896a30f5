"""SRGAN's VGG-style discriminator (BasicSR's ``VGGStyleDiscriminator128`` layout).

Five stages, each a 3x3 stride-1 conv and a 4x4 stride-2 conv, with batch norm (except the very
first conv, which has a bias instead) and LeakyReLU(0.2); channels 64, 128, 256, 512, 512. The
``input_size / 32`` square map is flattened into ``Linear(512 * s * s, 100)`` + LeakyReLU(0.2) +
``Linear(100, 1)``; the output is a raw logit per image.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import nn

from ddriqa.errors import InputError

__all__ = ["VGGDiscriminator"]


class VGGDiscriminator(nn.Module):
    """VGG-style GAN discriminator returning logits of shape (B, 1).

    Parameters
    ----------
    in_channels : int, default=3
    num_features : int, default=64
        Channels of the first stage (later stages use 2x, 4x, 8x, 8x).
    input_size : int, default=128
        Height and width of the (square) input; must be a multiple of 32.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.discriminator import VGGDiscriminator
    >>> d = VGGDiscriminator(num_features=8, input_size=64)
    >>> tuple(d(torch.rand(2, 3, 64, 64)).shape)
    (2, 1)
    """

    arch = "VGGDiscriminator"

    def __init__(self, in_channels=3, num_features=64, input_size=128):
        super().__init__()
        if int(input_size) != input_size or input_size < 32 or input_size % 32:
            raise InputError(f"input_size must be a positive multiple of 32, got {input_size!r}")
        if int(num_features) != num_features or num_features < 1:
            raise InputError(f"num_features must be a positive integer, got {num_features!r}")
        self.in_channels = int(in_channels)
        self.num_features = nf = int(num_features)
        self.input_size = int(input_size)
        widths = [nf, nf * 2, nf * 4, nf * 8, nf * 8]

        self.conv0_0 = nn.Conv2d(in_channels, nf, 3, 1, 1, bias=True)
        self.conv0_1 = nn.Conv2d(nf, nf, 4, 2, 1, bias=False)
        self.bn0_1 = nn.BatchNorm2d(nf, affine=True)
        prev = nf
        for i, w in enumerate(widths[1:], start=1):
            setattr(self, f"conv{i}_0", nn.Conv2d(prev, w, 3, 1, 1, bias=False))
            setattr(self, f"bn{i}_0", nn.BatchNorm2d(w, affine=True))
            setattr(self, f"conv{i}_1", nn.Conv2d(w, w, 4, 2, 1, bias=False))
            setattr(self, f"bn{i}_1", nn.BatchNorm2d(w, affine=True))
            prev = w
        side = self.input_size // 32
        self.linear1 = nn.Linear(prev * side * side, 100)
        self.linear2 = nn.Linear(100, 1)

    def config(self):
        """The constructor arguments as a dict."""
        return {"in_channels": self.in_channels, "num_features": self.num_features, "input_size": self.input_size}

    def forward(self, x):
        """Logits (B, 1) for images ``x`` of shape (B, in_channels, input_size, input_size)."""
        s = self.input_size
        if x.dim() != 4 or tuple(x.shape[1:]) != (self.in_channels, s, s) or not x.is_floating_point():
            raise InputError(
                f"expected a float tensor of shape (B, {self.in_channels}, {s}, {s}); "
                f"got shape {tuple(x.shape)} dtype {x.dtype}"
            )
        fea = F.leaky_relu(self.conv0_0(x), 0.2)
        fea = F.leaky_relu(self.bn0_1(self.conv0_1(fea)), 0.2)
        for i in range(1, 5):
            fea = F.leaky_relu(getattr(self, f"bn{i}_0")(getattr(self, f"conv{i}_0")(fea)), 0.2)
            fea = F.leaky_relu(getattr(self, f"bn{i}_1")(getattr(self, f"conv{i}_1")(fea)), 0.2)
        fea = fea.flatten(1)
        return self.linear2(F.leaky_relu(self.linear1(fea), 0.2))
