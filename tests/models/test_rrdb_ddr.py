"""Tests of RRDBNet-DDR: StyleMod shapes, the frozen embedding backbone, weights round trip (tiny nets)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from ddriqa.errors import InputError
from ddriqa.models.rrdb_ddr import DDREmbedding, RRDBNetDDR, StyleMod
from ddriqa.models.rrdbnet import RRDBNet
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import load_generator, save_weights

SIZE = {"num_features": 8, "num_blocks": 2, "growth": 4}


def _backbone(seed=3):
    return SRResNet(num_features=4, num_blocks=2).reset_parameters(torch.Generator().manual_seed(seed))


def _net(seed=0, **kw):
    net = RRDBNetDDR.from_backbone(_backbone(), "ResBlock2", embed_dim=6, **(SIZE | kw))
    return net.reset_parameters(torch.Generator().manual_seed(seed))


def test_stylemod_shapes_and_per_channel_affine():
    mod = StyleMod(5, 3)
    x, e = torch.rand(2, 3, 4, 6), torch.rand(2, 5)
    assert torch.equal(mod(x, e), x)  # zero-initialised: the identity
    with torch.no_grad():
        mod.affine.weight.normal_()
        mod.affine.bias.normal_()
    out = mod(x, e)
    assert out.shape == x.shape
    scale, bias = mod.affine(e).chunk(2, dim=1)
    # one scale and one bias per sample and channel, the same at every position
    expected = x * (1 + scale[:, :, None, None]) + bias[:, :, None, None]
    torch.testing.assert_close(out, expected, rtol=1e-6, atol=1e-6)
    with pytest.raises(InputError, match="embedding of shape"):
        mod(x, torch.rand(3, 5))


def test_network_shapes_taps_and_embedding():
    net = _net().eval()
    x = torch.rand(2, 3, 10, 12)
    assert tuple(net(x).shape) == (2, 3, 40, 48)
    assert tuple(net.embedding(x).shape) == (2, 6)
    assert tuple(net.embed.pooled(x).shape) == (2, 8)  # mean and std of the 4 backbone channels
    taps = net.forward_features(x, ["Conv1", "RRDB1", "RRDB2"])
    assert {k: tuple(v.shape) for k, v in taps.items()} == {k: (2, 8, 10, 12) for k in ("Conv1", "RRDB1", "RRDB2")}
    assert len(net.style) == 2 and all(tuple(m.affine.weight.shape) == (16, 6) for m in net.style)


def test_starts_as_the_plain_rrdbnet_of_the_same_seed():
    ddr = _net(seed=5).eval()
    plain = RRDBNet(**SIZE).reset_parameters(torch.Generator().manual_seed(5)).eval()
    x = torch.rand(1, 3, 9, 9)
    torch.testing.assert_close(ddr(x), plain(x), rtol=0, atol=0)
    # ... but the embedding is live once the StyleMods have learned something
    with torch.no_grad():
        ddr.style[0].affine.weight.fill_(0.5)
    assert not torch.allclose(ddr(x), plain(x))


def test_embedding_backbone_is_frozen_and_unchanged_by_a_step():
    net = _net().train()
    assert not net.embed.backbone.training  # stays in eval mode
    before = {k: v.clone() for k, v in net.embed.backbone.state_dict().items()}
    trainable = net.trainable_parameters()
    assert all(p.requires_grad for p in trainable)
    assert not any(p.requires_grad for p in net.embed.backbone.parameters())
    n_backbone = sum(p.numel() for p in net.embed.backbone.parameters())
    assert sum(p.numel() for p in trainable) == sum(p.numel() for p in net.parameters()) - n_backbone
    # all parameters in the optimizer, to show a step cannot move the backbone even so
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    with torch.no_grad():
        for m in net.style:
            m.affine.weight.normal_(0, 0.1)  # so that gradients reach the MLP
    loss = F.l1_loss(net(torch.rand(2, 3, 8, 8)), torch.rand(2, 3, 32, 32))
    loss.backward()
    assert all(p.grad is None for p in net.embed.backbone.parameters())
    assert all(p.grad is not None for p in net.embed.mlp.parameters())
    opt.step()
    after = net.embed.backbone.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_weights_round_trip_rebuilds_the_backbone(tmp_path):
    net = _net(seed=1)
    with torch.no_grad():
        for m in net.style:
            m.affine.weight.normal_(0, 0.1)
    path = save_weights(net, tmp_path / "ddr.safetensors")
    back = load_generator(path)
    assert type(back) is RRDBNetDDR and back.config() == net.config()
    x = torch.rand(1, 3, 8, 8)
    torch.testing.assert_close(back(x), net.eval()(x), rtol=0, atol=0)
    assert not any(p.requires_grad for p in back.embed.backbone.parameters())


def test_bad_configurations_are_refused():
    with pytest.raises(InputError, match="embed_backbone"):
        RRDBNetDDR(**SIZE)
    with pytest.raises(InputError, match="embed_backbone"):
        RRDBNetDDR(embed_backbone={"arch": "Nope", "config": {}}, **SIZE)
    with pytest.raises(InputError, match="unknown layer"):
        DDREmbedding(_backbone(), "ResBlock9")
