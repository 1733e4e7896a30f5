"""Super-resolve whole images with a trained SR network, tile by tile for large inputs.

Tiles overlap by ``overlap`` LR pixels on each side; each tile's output is kept only in its
central part (the overlap margins are dropped), so with an overlap at least as large as the
network's receptive-field radius the tiled result equals the untiled one up to float rounding.
"""

from __future__ import annotations

import numpy as np

from ddriqa.errors import InputError
from ddriqa.io import float_to_uint8

__all__ = ["upscale_image", "upscale_tensor"]


def upscale_tensor(model, x, *, tile=None, overlap=16):
    """Run ``model`` on ``x`` (1, C, H, W), optionally tile by tile; returns (1, C, sH, sW).

    Parameters
    ----------
    model : torch.nn.Module
        An SR network with a ``scale`` attribute (default 4).
    x : torch.Tensor of shape (1, C, H, W)
        Float in [0, 1] on the model's device.
    tile : int, optional
        LR tile side; None runs the whole image at once.
    overlap : int, default=16
        LR pixels of context on each side of a tile.
    """
    import torch

    if x.dim() != 4 or x.shape[0] != 1:
        raise InputError(f"expected a (1, C, H, W) tensor, got shape {tuple(x.shape)}")
    scale = int(getattr(model, "scale", 4))
    h, w = x.shape[-2:]
    with torch.no_grad():
        if tile is None or (h <= tile and w <= tile):
            return model(x)
        if tile < 1 or overlap < 0:
            raise InputError(f"tile must be positive and overlap non-negative, got {tile}, {overlap}")
        out = None
        for y0 in range(0, h, tile):
            for x0 in range(0, w, tile):
                y1, x1 = min(y0 + tile, h), min(x0 + tile, w)
                ya, xa = max(0, y0 - overlap), max(0, x0 - overlap)
                yb, xb = min(h, y1 + overlap), min(w, x1 + overlap)
                piece = model(x[:, :, ya:yb, xa:xb])
                if out is None:
                    out = piece.new_empty((1, piece.shape[1], h * scale, w * scale))
                out[:, :, y0 * scale : y1 * scale, x0 * scale : x1 * scale] = piece[
                    :, :, (y0 - ya) * scale : (y1 - ya) * scale, (x0 - xa) * scale : (x1 - xa) * scale
                ]
        return out


def upscale_image(model, image, *, tile=None, overlap=16, device=None):
    """Super-resolve one uint8 RGB image; returns the uint8 (sH, sW, 3) result.

    Parameters
    ----------
    model : torch.nn.Module
        SR network taking RGB in [0, 1].
    image : numpy.ndarray of shape (H, W, 3), uint8
    tile, overlap : see :func:`upscale_tensor`
    device : torch.device, optional
        Default: the model's device.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.models.srresnet import SRResNet
    >>> from ddriqa.sr.upscale import upscale_image
    >>> net = SRResNet(num_features=4, num_blocks=1).eval()
    >>> upscale_image(net, np.zeros((10, 12, 3), np.uint8)).shape
    (40, 48, 3)
    """
    import torch

    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise InputError(f"expected a uint8 HxWx3 image, got shape {image.shape} dtype {image.dtype}")
    if device is None:
        device = next(model.parameters()).device
    x = torch.from_numpy(np.array(image, copy=True)).to(device).permute(2, 0, 1)[None].float().div_(255.0)
    y = upscale_tensor(model, x, tile=tile, overlap=overlap)
    return float_to_uint8(y[0].float().permute(1, 2, 0).cpu().numpy())
