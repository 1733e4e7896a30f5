"""Feature maps of several layers of an SR network, in one forward pass, for analysis.

:func:`extract_layer_features` runs a network's ``forward_features(x, [layers...])`` (which
stops at the deepest requested layer and captures the shallower ones on the way) over a list of
equally sized images, batched, under ``torch.inference_mode`` with channels-last memory, and
returns the flattened float32 feature of every image at every layer. :func:`load_backbone` builds
the network: a shipped or user weights file, or a seeded random initialisation (the paper's
"random init" control).
"""

from __future__ import annotations

import os

import numpy as np

from ddriqa.errors import InputError

__all__ = ["extract_layer_features", "load_backbone", "random_backbone"]


def random_backbone(seed=0, *, global_residual=True, num_blocks=16, num_features=64, scale=4):
    """A randomly initialised SRResNet (Kaiming normal x 0.1, as MSRResNet), seeded.

    Parameters
    ----------
    seed : int, default=0
        Seed of the ``torch.Generator`` used for the initialisation.
    global_residual : bool, default=True
        With ("wGR") or without ("woGR") the global residual.
    num_blocks, num_features, scale : int
        Architecture (see :class:`ddriqa.models.srresnet.SRResNet`).

    Returns
    -------
    SRResNet
        In eval mode.

    Examples
    --------
    >>> from ddriqa.analysis.features import random_backbone
    >>> net = random_backbone(0, num_blocks=2, num_features=8)
    >>> net.layer_names(net.num_blocks)
    ['Conv1', 'ResBlock1', 'ResBlock2']
    """
    import torch

    from ddriqa.models.srresnet import SRResNet

    net = SRResNet(
        num_features=num_features, num_blocks=num_blocks, scale=scale, global_residual=global_residual
    )
    gen = torch.Generator().manual_seed(int(seed))
    net.reset_parameters(generator=gen)
    return net.eval()


def load_backbone(weights, *, seed=0, global_residual=True, num_blocks=16, num_features=64, device="cpu"):
    """The network to analyse: ``"random"``, a shipped weights name, a ``.safetensors`` path, or a module.

    Parameters
    ----------
    weights : str, os.PathLike or torch.nn.Module
        ``"random"`` builds :func:`random_backbone` (with ``seed``, ``global_residual``,
        ``num_blocks``, ``num_features``); a name or path is loaded with
        :func:`ddriqa.models.weights.load_generator` (architecture from the file's metadata);
        a module is returned as is (in eval mode).
    device : str, default="cpu"

    Returns
    -------
    torch.nn.Module
    """
    import torch

    if isinstance(weights, torch.nn.Module):
        return weights.to(device).eval()
    if isinstance(weights, str) and weights.lower() == "random":
        return random_backbone(
            seed, global_residual=global_residual, num_blocks=num_blocks, num_features=num_features
        ).to(device)
    if not isinstance(weights, (str, os.PathLike)):
        raise InputError(f"weights must be 'random', a name, a path or an nn.Module; got {type(weights).__name__}")
    from ddriqa.models.weights import load_generator

    return load_generator(weights, device=device).eval()


def _layer_names(model):
    if hasattr(model, "layer_names"):
        nb = getattr(model, "num_blocks", None)
        try:
            return list(model.layer_names(nb) if nb is not None else model.layer_names())
        except TypeError:
            return list(model.layer_names())
    return None


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
    >>> from ddriqa.analysis.features import extract_layer_features, random_backbone
    >>> net = random_backbone(0, num_blocks=2, num_features=8)
    >>> imgs = np.random.default_rng(0).integers(0, 256, (5, 16, 16, 3), dtype=np.uint8)
    >>> feats = extract_layer_features(net, imgs, ["Conv1", "ResBlock2"])
    >>> {k: v.shape for k, v in feats.items()}
    {'Conv1': (5, 2048), 'ResBlock2': (5, 2048)}
    """
    import torch

    from ddriqa.features._inputs import as_image_list, describe_item, load_item

    layers = [layers] if isinstance(layers, str) else list(layers)
    if not layers:
        raise InputError("no layer requested")
    if len(set(layers)) != len(layers):
        raise InputError(f"layers repeat: {layers}")
    if not hasattr(model, "forward_features"):
        raise InputError(f"{type(model).__name__} has no forward_features(x, layer) method")
    known = _layer_names(model)
    if known is not None:
        bad = [name for name in layers if name not in known]
        if bad:
            raise InputError(f"unknown layer(s) {bad}; this network has {known}")
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
            res = model.forward_features(x, layers)
            if isinstance(res, torch.Tensor):  # a network that takes one layer at a time
                res = {layers[0]: res}
                for name in layers[1:]:
                    res[name] = model.forward_features(x, name)
            if out is None:
                out = {name: np.empty((n, int(np.prod(res[name].shape[1:]))), dtype=dtype) for name in layers}
            for name in layers:
                t = res[name].float().contiguous()  # NCHW order for the flattening
                out[name][start:start + len(chunk)] = t.reshape(t.shape[0], -1).cpu().numpy()
    return out
