"""RRDBNet with DDR guidance: a frozen SR network's degradation embedding modulates every RRDB.

The blind-SR network of the paper's Sec. 5 / Fig. 10. A *frozen* DDR backbone (an SR network
trained on clean data, e.g. the shipped ``srgan_x4_gr``) looks at the LR input; its feature map at
``embed_layer`` is pooled over the positions (mean and standard deviation of each channel) and a
small MLP turns the pooled vector into a degradation embedding ``e``. After each RRDB ``k`` a
:class:`StyleMod` computes a per-channel scale ``s_k(e)`` and bias ``b_k(e)`` and returns
``x * (1 + s_k) + b_k``. The StyleMods start at zero (the network starts as the plain RRDBNet
of the same seed), so the embedding's influence is learned.

Everything else is :class:`ddriqa.models.rrdbnet.RRDBNet` (same module names, same seeded init of
the trunk): ``RRDBNetDDR`` keys = ``RRDBNet`` keys + ``embed.backbone.*`` (the frozen network,
stored with the weights so that a file is self-contained) + ``embed.mlp.*`` + ``style.*``.

The backbone's parameters have ``requires_grad=False`` and it stays in eval mode when the
network is put in training mode; its forward pass runs under ``torch.no_grad()``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ddriqa.errors import InputError
from ddriqa.models.rrdbnet import _SLOPE, RRDBNet
from ddriqa.models.srresnet import _check_input

__all__ = ["DDREmbedding", "RRDBNetDDR", "StyleMod"]


class StyleMod(nn.Module):
    """Per-channel affine modulation from an embedding: ``x * (1 + s(e)) + b(e)``.

    Parameters
    ----------
    embed_dim : int
        Length of the embedding ``e``.
    num_features : int
        Channels of the modulated feature map.

    Notes
    -----
    ``s`` and ``b`` come from one linear layer ``embed_dim -> 2 * num_features`` initialised to
    zero, so a new StyleMod is the identity.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.rrdb_ddr import StyleMod
    >>> mod = StyleMod(5, 3)
    >>> x = torch.rand(2, 3, 4, 4)
    >>> bool(torch.equal(mod(x, torch.rand(2, 5)), x))
    True
    """

    def __init__(self, embed_dim, num_features):
        super().__init__()
        self.num_features = int(num_features)
        self.affine = nn.Linear(int(embed_dim), 2 * self.num_features)
        with torch.no_grad():
            self.affine.weight.zero_()
            self.affine.bias.zero_()

    def forward(self, x, embedding):
        if embedding.dim() != 2 or embedding.shape[0] != x.shape[0]:
            raise InputError(f"StyleMod: embedding of shape {tuple(embedding.shape)} for features {tuple(x.shape)}")
        scale, bias = self.affine(embedding).to(x.dtype).chunk(2, dim=1)
        return x * (1.0 + scale[:, :, None, None]) + bias[:, :, None, None]


def _build_network(spec):
    """A network from ``{"arch": ..., "config": {...}}`` (random weights; the caller loads them)."""
    from ddriqa.models.weights import _architectures

    archs = _architectures()
    arch = spec.get("arch") if isinstance(spec, dict) else None
    if arch not in archs or arch == RRDBNetDDR.arch or not isinstance(spec.get("config"), dict):
        raise InputError(f"embed_backbone must be {{'arch': one of {sorted(a for a in archs if a != 'RRDBNetDDR')}, "
                         f"'config': {{...}}}}, got {spec!r}")
    return archs[arch](**spec["config"])


class DDREmbedding(nn.Module):
    """Frozen backbone -> pooled ``layer`` features (channel means and stds) -> MLP embedding.

    Parameters
    ----------
    backbone : torch.nn.Module
        A network with ``forward_features(x, layer)``; frozen here (``requires_grad=False``,
        always in eval mode).
    layer : str
        Its feature tap, e.g. ``"ResBlock16"``.
    embed_dim : int, default=64
        Length of the embedding (hidden width of the MLP too).
    """

    def __init__(self, backbone, layer, embed_dim=64):
        super().__init__()
        from ddriqa.models.backbones import check_layers

        self.layer = check_layers(backbone, layer)[0]
        self.backbone = backbone.eval().requires_grad_(False)
        with torch.no_grad():
            probe = backbone.forward_features(torch.zeros(1, 3, 8, 8), self.layer)
        channels = int(probe.shape[1])
        self.embed_dim = int(embed_dim)
        self.mlp = nn.Sequential(nn.Linear(2 * channels, self.embed_dim), nn.LeakyReLU(_SLOPE),
                                 nn.Linear(self.embed_dim, self.embed_dim), nn.LeakyReLU(_SLOPE))

    def train(self, mode=True):
        super().train(mode)
        self.backbone.eval()  # frozen: never in training mode
        return self

    def pooled(self, x):
        """The pooled backbone features (B, 2C): per-channel mean, then standard deviation."""
        with torch.no_grad():
            fea = self.backbone.forward_features(x, self.layer).float()
            return torch.cat([fea.mean(dim=(2, 3)), fea.std(dim=(2, 3), unbiased=False)], dim=1)

    def forward(self, x):
        return self.mlp(self.pooled(x))


class RRDBNetDDR(RRDBNet):
    """RRDBNet x4 whose RRDBs are modulated by a DDR embedding of the LR input (StyleMod).

    Parameters
    ----------
    num_features, num_blocks, growth, scale, in_channels, out_channels
        As :class:`ddriqa.models.rrdbnet.RRDBNet`.
    embed_backbone : dict
        ``{"arch": "SRResNet", "config": {...}}``: the architecture of the frozen DDR backbone
        (built with random weights here; :meth:`from_backbone` or :func:`load_weights` fills them).
    embed_layer : str, default="ResBlock16"
        The backbone's feature tap that is pooled.
    embed_dim : int, default=64
    embed_source : str, optional
        Where the backbone's weights came from (a weights name); recorded in :meth:`config`.

    Examples
    --------
    >>> import torch
    >>> from ddriqa.models.rrdb_ddr import RRDBNetDDR
    >>> from ddriqa.models.srresnet import SRResNet
    >>> net = RRDBNetDDR.from_backbone(SRResNet(num_features=4, num_blocks=1), "ResBlock1",
    ...                                num_features=8, num_blocks=2, growth=4, embed_dim=6)
    >>> tuple(net(torch.rand(2, 3, 12, 12)).shape)
    (2, 3, 48, 48)
    >>> any(p.requires_grad for p in net.embed.backbone.parameters())
    False
    """

    arch = "RRDBNetDDR"

    def __init__(self, num_features=64, num_blocks=23, growth=32, scale=4, in_channels=3, out_channels=3, *,
                 embed_backbone=None, embed_layer="ResBlock16", embed_dim=64, embed_source=None):
        if embed_backbone is None:
            raise InputError("RRDBNetDDR needs embed_backbone={'arch': ..., 'config': {...}}")
        if int(embed_dim) != embed_dim or embed_dim < 1:
            raise InputError(f"embed_dim must be a positive integer, got {embed_dim!r}")
        self._embed_spec = {"arch": embed_backbone.get("arch"), "config": dict(embed_backbone.get("config") or {})}
        self._embed_source = embed_source
        backbone = _build_network(self._embed_spec)
        super().__init__(num_features, num_blocks, growth, scale, in_channels, out_channels)
        self.embed = DDREmbedding(backbone, embed_layer, embed_dim)
        self.style = nn.ModuleList([StyleMod(embed_dim, self.num_features) for _ in range(self.num_blocks)])
        self.reset_parameters()

    @classmethod
    def from_backbone(cls, backbone, layer, *, source=None, **kwargs):
        """The network around a loaded backbone module (its weights copied in, then frozen)."""
        spec = {"arch": getattr(backbone, "arch", type(backbone).__name__), "config": backbone.config()}
        net = cls(embed_backbone=spec, embed_layer=layer, embed_source=source, **kwargs)
        net.embed.backbone.load_state_dict(backbone.state_dict(), strict=True)
        return net

    def reset_parameters(self, generator=None):
        """Re-initialise the trunk as :meth:`RRDBNet.reset_parameters` (same draws), then the MLP.

        The frozen backbone is left alone; the StyleMods are set to zero (identity).
        """
        super().reset_parameters(generator)
        if not hasattr(self, "embed"):  # called by RRDBNet.__init__ before the embedding exists
            return self
        with torch.no_grad():
            for layer in self.embed.mlp:
                if isinstance(layer, nn.Linear):
                    nn.init.kaiming_uniform_(layer.weight, a=_SLOPE, generator=generator)
                    layer.bias.zero_()
            for mod in self.style:
                mod.affine.weight.zero_()
                mod.affine.bias.zero_()
        return self

    def config(self):
        return super().config() | {"embed_backbone": self._embed_spec, "embed_layer": self.embed.layer,
                                   "embed_dim": self.embed.embed_dim, "embed_source": self._embed_source}

    def trainable_parameters(self):
        """The parameters that training updates (all but the frozen backbone's)."""
        return [p for p in self.parameters() if p.requires_grad]

    def embedding(self, x):
        """The degradation embedding (B, embed_dim) of an LR batch."""
        _check_input(x, self.in_channels)
        return self.embed(x)

    def _tap_context(self, x, depth):
        return self.embed(x) if depth > 0 else None

    def _run_block(self, index, fea, context):
        return self.style[index](self.body[index](fea), context)

    def forward(self, x):
        """Super-resolve ``x`` (B, in_channels, H, W) -> (B, out_channels, 4H, 4W), unclipped."""
        _check_input(x, self.in_channels)
        emb = self.embed(x)
        fea = self.conv_first(x)
        trunk = fea
        for block, mod in zip(self.body, self.style):
            trunk = mod(block(trunk), emb)
        fea = fea + self.conv_body(trunk)
        fea = F.leaky_relu(self.conv_up1(F.interpolate(fea, scale_factor=2, mode="nearest")), _SLOPE)
        fea = F.leaky_relu(self.conv_up2(F.interpolate(fea, scale_factor=2, mode="nearest")), _SLOPE)
        return self.conv_last(F.leaky_relu(self.conv_hr(fea), _SLOPE))
