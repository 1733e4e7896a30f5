"""Backbones for DDR: one way to turn a weights reference into a network, and to run its taps.

:func:`build_backbone` is the single place where a ``weights`` argument becomes a network: a
shipped or third-party weights name, a ``.safetensors`` path (architecture from the file's
metadata, see :func:`ddriqa.models.weights.load_generator`), an ``nn.Module``, or ``"random"``
/ ``"random_rrdbnet"`` for a seeded random initialisation of an SRResNet / of the Real-ESRGAN
RRDBNet (:func:`random_backbone`, the paper's random-init control; :func:`random_twin` names the
control of a given backbone).
:func:`check_layers` validates feature-tap names against a network and :func:`forward_layers`
runs the network up to the deepest requested tap, for every extractor and analysis tool.
"""

from __future__ import annotations

import copy
import os

from ddriqa.errors import InputError

__all__ = ["RANDOM", "RANDOM_RRDBNET", "build_backbone", "check_layers", "forward_layers", "is_random",
           "layer_names", "random_backbone", "random_twin"]

#: The ``weights`` value that asks for a seeded random SRResNet.
RANDOM = "random"
#: The ``weights`` value that asks for a seeded random RRDBNet (Real-ESRGAN x4plus architecture).
RANDOM_RRDBNET = "random_rrdbnet"
_RRDBNET_WEIGHTS = ("realesrgan_x4plus",)


def is_random(weights):
    """True for the ``weights`` values that ask for a random initialisation (any case)."""
    return isinstance(weights, str) and weights.lower() in (RANDOM, RANDOM_RRDBNET)


def random_twin(weights):
    """The random-init control of a backbone: same architecture, seeded random weights.

    ``"random_rrdbnet"`` for Real-ESRGAN (and any RRDBNet module), ``"random"`` (an SRResNet)
    otherwise.

    Examples
    --------
    >>> random_twin("realesrgan_x4plus"), random_twin("srgan_x4_gr")
    ('random_rrdbnet', 'random')
    """
    if isinstance(weights, str) and (weights.lower() in _RRDBNET_WEIGHTS or weights.lower() == RANDOM_RRDBNET):
        return RANDOM_RRDBNET
    if getattr(weights, "arch", None) == "RRDBNet":
        return RANDOM_RRDBNET
    return RANDOM


def random_backbone(seed=0, *, global_residual=True, num_blocks=16, num_features=64, scale=4, arch="SRResNet"):
    """A randomly initialised SRResNet (Kaiming normal x 0.1, as MSRResNet) or RRDBNet, seeded.

    Parameters
    ----------
    seed : int, default=0
        Seed of the ``torch.Generator`` used for the initialisation.
    global_residual : bool, default=True
        With ("wGR") or without ("woGR") the global residual (SRResNet only).
    num_blocks, num_features, scale : int
        Architecture (see :class:`ddriqa.models.srresnet.SRResNet`); ignored for ``"RRDBNet"``,
        which is always Real-ESRGAN x4plus's (23 blocks, 64 channels, growth 32).
    arch : {"SRResNet", "RRDBNet"}, default="SRResNet"
        ``"RRDBNet"`` initialises it as BasicSR does (:meth:`RRDBNet.reset_parameters`).

    Returns
    -------
    SRResNet or RRDBNet
        In eval mode.

    Examples
    --------
    >>> from ddriqa.models.backbones import random_backbone
    >>> net = random_backbone(0, num_blocks=2, num_features=8)
    >>> net.layer_names(net.num_blocks)
    ['Conv1', 'ResBlock1', 'ResBlock2']
    """
    import torch

    if arch == "RRDBNet":
        from ddriqa.models.rrdbnet import RRDBNet

        return RRDBNet().reset_parameters(generator=torch.Generator().manual_seed(int(seed))).eval()
    if arch != "SRResNet":
        raise InputError(f"arch must be 'SRResNet' or 'RRDBNet', got {arch!r}")
    from ddriqa.models.srresnet import SRResNet

    net = SRResNet(num_features=num_features, num_blocks=num_blocks, scale=scale, global_residual=global_residual)
    net.reset_parameters(generator=torch.Generator().manual_seed(int(seed)))
    return net.eval()


def build_backbone(weights, *, seed=0, device="cpu", copy_module=False, **random_kwargs):
    """The network behind a ``weights`` reference, in eval mode on ``device``.

    Parameters
    ----------
    weights : str, os.PathLike or torch.nn.Module
        ``"random"`` (any case) builds :func:`random_backbone` with ``seed`` and
        ``random_kwargs``; ``"random_rrdbnet"`` a seeded random RRDBNet; a shipped or third-party name or a ``.safetensors`` path is loaded
        with :func:`ddriqa.models.weights.load_generator` (checked against its sha256 when it is
        shipped); a module is used as it is (or copied, see ``copy_module``).
    seed : int, default=0
        Seed of the random initialisation (ignored otherwise).
    device : str or torch.device, default="cpu"
    copy_module : bool, default=False
        Deep-copy a module given as ``weights`` rather than moving the caller's own object.
    **random_kwargs
        ``global_residual``, ``num_blocks``, ``num_features``, ``scale`` of the random network.

    Returns
    -------
    torch.nn.Module

    Raises
    ------
    InputError
        ``weights`` of another type.
    ddriqa.errors.ModelFileError
        A missing, unknown or tampered weights file.

    Examples
    --------
    >>> from ddriqa.models.backbones import build_backbone
    >>> build_backbone("random", seed=1, num_blocks=2, num_features=8).num_blocks
    2
    """
    import torch

    if isinstance(weights, torch.nn.Module):
        model = copy.deepcopy(weights) if copy_module else weights
        return model.to(device).eval()
    if isinstance(weights, str) and weights.lower() == RANDOM:
        return random_backbone(int(seed), **random_kwargs).to(device)
    if isinstance(weights, str) and weights.lower() == RANDOM_RRDBNET:
        return random_backbone(int(seed), arch="RRDBNet").to(device)
    if isinstance(weights, (str, os.PathLike)):
        from ddriqa.models.weights import load_generator

        return load_generator(weights, device=device).eval()
    raise InputError(
        "weights must be a shipped name, a .safetensors path, 'random' or an nn.Module; "
        f"got {type(weights).__name__} {weights!r:.60}"
    )


def layer_names(model):
    """The feature taps a network declares (``model.layer_names(...)``), or None when it does not say."""
    if not hasattr(model, "layer_names"):
        return None
    depth = getattr(model, "num_blocks", getattr(model, "num_layers", None))
    try:
        return list(model.layer_names(depth) if depth is not None else model.layer_names())
    except TypeError:
        return list(model.layer_names())


def check_layers(model, layers):
    """Validate feature-tap names for ``model``; returns them as a list.

    Parameters
    ----------
    model : torch.nn.Module
        A network with ``forward_features(x, layer)``.
    layers : str or sequence of str

    Returns
    -------
    list of str

    Raises
    ------
    InputError
        No ``forward_features``, no layer, a repeated layer, or a name the network does not have
        (the message lists the names it has).

    Examples
    --------
    >>> from ddriqa.models.backbones import check_layers, random_backbone
    >>> check_layers(random_backbone(0, num_blocks=2, num_features=4), "ResBlock2")
    ['ResBlock2']
    """
    layers = [layers] if isinstance(layers, str) else list(layers)
    if not hasattr(model, "forward_features"):
        raise InputError(f"{type(model).__name__} has no forward_features(x, layer) method")
    if not layers:
        raise InputError("no layer requested")
    if len(set(layers)) != len(layers):
        raise InputError(f"layers repeat: {layers}")
    known = layer_names(model)
    if known is not None:
        bad = [name for name in layers if name not in known]
        if bad:
            what = f"unknown layer {bad[0]!r}" if len(bad) == 1 else f"unknown layers {bad}"
            raise InputError(f"{what}; this network has {known}")
    return layers


def forward_layers(model, x, layers):
    """Feature maps ``{layer: (B, C, H, W)}`` of a batch, one forward pass up to the deepest tap.

    Networks whose ``forward_features`` takes one layer at a time are called once per layer.

    Parameters
    ----------
    model : torch.nn.Module
    x : torch.Tensor of shape (B, C, H, W)
    layers : list of str
        Checked names (:func:`check_layers`).

    Returns
    -------
    dict of str -> torch.Tensor
    """
    import torch

    res = model.forward_features(x, layers if len(layers) > 1 else layers[0])
    if isinstance(res, torch.Tensor):
        res = {layers[0]: res}
        for name in layers[1:]:
            res[name] = model.forward_features(x, name)
    return res
