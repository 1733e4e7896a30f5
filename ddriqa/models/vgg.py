"""VGG19 feature extractor for SRGAN's perceptual loss (conv5_4 before its ReLU).

The layers follow torchvision's ``vgg19().features`` numbering, so a safetensors file of a
torchvision VGG19 ``state_dict`` (keys ``features.<i>.weight`` / ``.bias``; other keys are
ignored) loads as is. No ImageNet weights ship with ddriqa or can be downloaded here: the
perceptual term is used only when the user gives such a file.
"""

from __future__ import annotations

import os

from torch import nn

from ddriqa.errors import ModelFileError

__all__ = ["VGG19_CFG", "VGG19Features"]

#: Channels of the 16 convs of VGG19, "M" = 2x2 max pooling.
VGG19_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M")
_LAST_INDEX = {"conv5_4": 34, "conv4_4": 25, "conv3_4": 16}


def _layers(last):
    layers, c = [], 3
    for v in VGG19_CFG:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, 1, 1), nn.ReLU(inplace=False)]
            c = v
    return layers[: last + 1]


class VGG19Features(nn.Module):
    """Frozen VGG19 features up to ``layer`` (before its ReLU), ImageNet-normalised input.

    Parameters
    ----------
    weights : str or os.PathLike, optional
        torchvision-layout VGG19 safetensors file; None leaves random weights (tests only).
    layer : {"conv5_4", "conv4_4", "conv3_4"}

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.vgg import VGG19Features
    >>> tuple(VGG19Features(layer="conv3_4")(torch.rand(1, 3, 32, 32)).shape)
    (1, 256, 8, 8)
    """

    def __init__(self, weights=None, layer="conv5_4"):
        import torch

        super().__init__()
        if layer not in _LAST_INDEX:
            raise ValueError(f"layer must be one of {sorted(_LAST_INDEX)}, got {layer!r}")
        self.features = nn.Sequential(*_layers(_LAST_INDEX[layer]))
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        if weights is not None:
            self._load(weights)
        self.requires_grad_(False)
        self.eval()

    def _load(self, path):
        from safetensors.torch import load_file

        try:
            tensors = load_file(os.fspath(path))
        except Exception as exc:
            raise ModelFileError(path, f"not a readable safetensors file ({type(exc).__name__}: {exc})") from None
        tensors = {(k if k.startswith("features.") else "features." + k): v for k, v in tensors.items()}
        expected = {k: v for k, v in self.state_dict().items() if k.startswith("features.")}
        missing = [k for k in expected if k not in tensors]
        bad = [k for k in expected if k in tensors and tuple(tensors[k].shape) != tuple(expected[k].shape)]
        if missing or bad:
            raise ModelFileError(path, f"not a VGG19 (torchvision layout): missing {missing[:3]}, wrong shape {bad[:3]}")
        self.load_state_dict({k: tensors[k].float() for k in expected}, strict=False)

    def train(self, mode=True):  # always stays in eval mode (no dropout/BN anyway)
        return super().train(False)

    def forward(self, x):
        """Features of RGB ``x`` in [0, 1], shape (B, 3, H, W)."""
        return self.features((x - self.mean) / self.std)
