"""Feature maps of several layers of an SR network, in one forward pass, for analysis.

:func:`extract_layer_features` runs a network up to the deepest requested layer
(:func:`ddriqa.models.backbones.forward_layers`, which captures the shallower ones on the way)
over a list of equally sized images, batched, under ``torch.inference_mode`` with channels-last
memory, and returns the flattened float32 feature of every image at every layer. The network
comes from :func:`ddriqa.models.backbones.build_backbone`.
"""

from __future__ import annotations

import numpy as np

from ddriqa.errors import InputError

__all__ = ["extract_layer_features"]


def extract_layer_features(model, images, layers, *, batch_size=64, device=None, dtype=np.float32):
    """Flattened feature maps of every image at every requested layer, one forward pass per batch.

    Parameters
    ----------
    model : torch.nn.Module
        A network with ``forward_features(x, layers)`` that returns ``{layer: (B, C, H, W)}`` for
        a list of layer names (as :class:`ddriqa.models.srresnet.SRResNet`).
    images : list of paths or uint8 / float HxWx3 arrays, or an NxHxWx3 array
        All of the same size (e.g. the 32x32 LR patches of :func:`~ddriqa.analysis.testsets.make_test_sets`).
    layers : str or sequence of str
        Layer names, e.g. ``["Conv1", "ResBlock4", "ResBlock8", "ResBlock16"]``.
    batch_size : int, default=64
    device : str or torch.device, optional
        Defaults to the device of the model's parameters.
    dtype : numpy dtype, default=float32

    Returns
    -------
    dict
        ``{layer: ndarray of shape (n_images, C * H * W)}`` in the order of ``layers``.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.features.layers import extract_layer_features
    >>> from ddriqa.models.backbones import random_backbone
    >>> net = random_backbone(0, num_blocks=2, num_features=8)
    >>> imgs = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    >>> feats = extract_layer_features(net, imgs, ["Conv1", "ResBlock2"])
    >>> {k: v.shape for k, v in feats.items()}
    {'Conv1': (5, 2048), 'ResBlock2': (5, 2048)}
    """
    import torch

    from ddriqa.features._inputs import as_image_list, describe_item, load_item
    from ddriqa.models.backbones import check_layers, forward_layers

    layers = check_layers(model, layers)
    batch_size = int(batch_size)
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1; got {batch_size}")
    items = as_image_list(images)
    if device is None:
        try:
            device = next(model.parameters()).device
        except StopIteration:
            device = torch.device("cpu")
    model = model.eval()

    out = None
    shape0 = None
    n = len(items)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            chunk = items[start:start + batch_size]
            arrs = []
            for j, it in enumerate(chunk):
                a = load_item(it, dtype="float32")
                if shape0 is None:
                    shape0 = a.shape
                elif a.shape != shape0:
                    raise InputError(
                        f"{describe_item(it, start + j)}: image of shape {a.shape} differs from the first "
                        f"image's {shape0}; analysis needs equally sized images (crop them first)"
                    )
                arrs.append(a)
            x = torch.from_numpy(np.stack(arrs)).permute(0, 3, 1, 2)
            x = x.to(device).contiguous(memory_format=torch.channels_last)
            res = forward_layers(model, x, layers)
            if out is None:
                out = {name: np.empty((n, int(np.prod(res[name].shape[1:]))), dtype=dtype) for name in layers}
            for name in layers:
                t = res[name].float().contiguous()  # NCHW order for the flattening
                out[name][start:start + len(chunk)] = t.reshape(t.shape[0], -1).cpu().numpy()
    return out
