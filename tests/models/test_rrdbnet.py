"""Tests of the RRDBNet (ESRGAN / Real-ESRGAN) backbone: shapes, taps, layer errors, init, config."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from ddriqa.errors import InputError
from ddriqa.models.rrdbnet import RRDBNet
from ddriqa.models.weights import load_generator, read_metadata, save_weights


def _tiny(seed=0, **kw):
    kw = {"num_features": 8, "num_blocks": 3, "growth": 4, **kw}
    return RRDBNet(**kw).reset_parameters(torch.Generator().manual_seed(seed)).eval()


def _reference_forward(sd, x, num_blocks):
    """ESRGAN's RRDBNet written out with functional ops from a state_dict (BasicSR's forward)."""

    def conv(name, t):
        return F.conv2d(t, sd[name + ".weight"], sd[name + ".bias"], padding=1)

    def rdb(prefix, t):
        feats = [t]
        for k in range(1, 5):
            feats.append(F.leaky_relu(conv(f"{prefix}.conv{k}", torch.cat(feats, 1)), 0.2))
        return conv(f"{prefix}.conv5", torch.cat(feats, 1)) * 0.2 + t

    feat = conv("conv_first", x)
    body = feat
    for i in range(num_blocks):
        out = body
        for j in (1, 2, 3):
            out = rdb(f"body.{i}.rdb{j}", out)
        body = out * 0.2 + body
    feat = feat + conv("conv_body", body)
    feat = F.leaky_relu(conv("conv_up1", F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
    feat = F.leaky_relu(conv("conv_up2", F.interpolate(feat, scale_factor=2, mode="nearest")), 0.2)
    return conv("conv_last", F.leaky_relu(conv("conv_hr", feat), 0.2))


def _randomised(net, seed=1):
    """Give every parameter (biases included) O(1) random values so that every path matters."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (0.5 / max(1, p[0].numel()) ** 0.5 if p.dim() > 1 else 0.1))
    return net


def test_output_shape_and_no_clipping():
    net = _randomised(_tiny())
    x = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        out = net(x)
    assert tuple(out.shape) == (2, 3, 28, 20)
    with torch.inference_mode():
        big = net(x * 50)  # far outside [0, 1]: the network itself does not clip
    assert float(big.abs().max()) > 1.0


def test_default_parameter_count_and_names():
    net = RRDBNet()
    assert sum(p.numel() for p in net.parameters()) == 16_697_987
    convs = [name for name, m in net.named_modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 351
    assert convs[:3] == ["conv_first", "body.0.rdb1.conv1", "body.0.rdb1.conv2"]
    assert convs[-6:] == ["body.22.rdb3.conv5", "conv_body", "conv_up1", "conv_up2", "conv_hr", "conv_last"]
    assert tuple(net.body[0].rdb2.conv5.weight.shape) == (64, 192, 3, 3)
    assert tuple(net.body[0].rdb2.conv4.weight.shape) == (32, 160, 3, 3)
    assert net.arch == "RRDBNet" and net.scale == 4


def test_forward_matches_functional_reference():
    net = _randomised(_tiny())
    x = torch.rand(2, 3, 6, 9, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        torch.testing.assert_close(net(x), _reference_forward(net.state_dict(), x, 3), rtol=1e-5, atol=1e-5)


def test_layer_taps_equal_hooked_intermediates():
    net = _randomised(_tiny())
    captured = {}
    net.conv_first.register_forward_hook(lambda m, i, o: captured.__setitem__("Conv1", o))  # raw: no activation
    for k, block in enumerate(net.body, start=1):
        block.register_forward_hook(lambda m, i, o, k=k: captured.__setitem__(f"RRDB{k}", o))
    x = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        net(x)
        assert float(captured["Conv1"].min()) < 0  # the Conv1 tap keeps negative values
        for name in RRDBNet.layer_names(3):
            tap = net.forward_features(x, name)
            assert tuple(tap.shape) == (2, 8, 9, 11)
            torch.testing.assert_close(tap, captured[name], rtol=0, atol=1e-6)
        many = net.forward_features(x, ("RRDB2", "Conv1"))
    assert set(many) == {"RRDB2", "Conv1"}
    torch.testing.assert_close(many["RRDB2"], captured["RRDB2"], rtol=0, atol=1e-6)
    torch.testing.assert_close(many["Conv1"], captured["Conv1"], rtol=0, atol=1e-6)


def test_forward_features_runs_only_needed_blocks():
    net = _tiny()
    calls = []
    for k, block in enumerate(net.body, start=1):
        block.register_forward_hook(lambda m, i, o, k=k: calls.append(k))
    net.conv_body.register_forward_hook(lambda m, i, o: calls.append("conv_body"))
    with torch.inference_mode():
        net.forward_features(torch.rand(1, 3, 6, 6), "RRDB2")
        net.forward_features(torch.rand(1, 3, 6, 6), "Conv1")
    assert calls == [1, 2]


def test_layer_names():
    assert RRDBNet.layer_names(2) == ["Conv1", "RRDB1", "RRDB2"]
    assert RRDBNet.layer_names()[-1] == "RRDB23" and len(RRDBNet.layer_names()) == 24
    assert RRDBNet.layer_names(0) == ["Conv1"]


@pytest.mark.parametrize("layer", ["RRDB4", "RRDB0", "ResBlock1", "Conv2", "rrdb1", "RRDB1 ", 3])
def test_unknown_layers_are_refused_with_the_valid_names(layer):
    net = _tiny()
    with pytest.raises(InputError, match=r"unknown layer .*'Conv1', 'RRDB1', 'RRDB2', 'RRDB3'"):
        net.forward_features(torch.rand(1, 3, 5, 5), [layer] if isinstance(layer, int) else layer)


def test_empty_layer_sequence_is_refused():
    with pytest.raises(InputError, match="empty"):
        _tiny().forward_features(torch.rand(1, 3, 5, 5), [])


def test_bad_inputs_are_reported_with_shape():
    net = _tiny()
    with pytest.raises(InputError, match=r"\(2, 4, 5, 5\)"):
        net(torch.rand(2, 4, 5, 5))
    with pytest.raises(InputError, match="uint8"):
        net.forward_features(torch.zeros(1, 3, 5, 5, dtype=torch.uint8), "Conv1")
    with pytest.raises(InputError, match="ndarray"):
        net(np.zeros((1, 3, 5, 5), np.float32))


@pytest.mark.parametrize(
    "kw, match",
    [
        ({"scale": 2}, "scale must be 4"),
        ({"num_features": 0}, "num_features"),
        ({"growth": 1.5}, "growth"),
        ({"num_blocks": -1}, "num_blocks"),
        ({"in_channels": 0}, "in_channels"),
    ],
)
def test_bad_constructor_arguments(kw, match):
    with pytest.raises(InputError, match=match):
        RRDBNet(**{"num_features": 8, "num_blocks": 1, "growth": 4, **kw})


def test_zero_blocks_and_other_channel_counts():
    net = RRDBNet(num_features=4, num_blocks=0, growth=2, in_channels=1, out_channels=2).eval()
    with torch.inference_mode():
        assert tuple(net(torch.rand(1, 1, 3, 4)).shape) == (1, 2, 12, 16)
        assert tuple(net.forward_features(torch.rand(1, 1, 3, 4), "Conv1").shape) == (1, 4, 3, 4)


def test_init_is_esrgan_like_and_seedable():
    a = RRDBNet(num_features=64, num_blocks=1).reset_parameters(torch.Generator().manual_seed(3))
    b = RRDBNet(num_features=64, num_blocks=1).reset_parameters(torch.Generator().manual_seed(3))
    for (k, va), vb in zip(a.state_dict().items(), b.state_dict().values()):
        torch.testing.assert_close(va, vb, rtol=0, atol=0, msg=k)
    w = a.body[0].rdb1.conv5.weight.detach()
    expected = 0.1 * (2.0 / (192 * 9)) ** 0.5  # Kaiming normal (fan_in, a=0) x 0.1
    assert abs(float(w.std()) - expected) / expected < 0.03
    assert float(a.body[0].rdb3.conv1.bias.detach().abs().max()) == 0.0
    # outer convs: PyTorch's default Conv2d init, |w| and |b| <= 1/sqrt(fan_in)
    bound = 1.0 / (64 * 9) ** 0.5
    assert float(a.conv_body.weight.detach().abs().max()) <= bound
    assert 0 < float(a.conv_body.bias.detach().abs().max()) <= bound


def test_config_roundtrip_through_weights_file(tmp_path):
    net = _randomised(_tiny(num_blocks=2, in_channels=3, out_channels=3))
    assert RRDBNet(**net.config()).config() == net.config()
    path = save_weights(net, tmp_path / "rrdb.safetensors", metadata={"note": "tiny"})
    meta = read_metadata(path)
    assert meta["arch"] == "RRDBNet"
    assert meta["config"] == {"num_features": 8, "num_blocks": 2, "growth": 4, "scale": 4, "in_channels": 3, "out_channels": 3}
    gen = load_generator(path)
    assert isinstance(gen, RRDBNet) and not gen.training and gen.config() == net.config()
    x = torch.rand(1, 3, 6, 7, generator=torch.Generator().manual_seed(5))
    with torch.inference_mode():
        torch.testing.assert_close(gen(x), net(x), rtol=0, atol=0)
        torch.testing.assert_close(gen.forward_features(x, "RRDB2"), net.forward_features(x, "RRDB2"), rtol=0, atol=0)


def test_channels_last_gives_same_features():
    net = _randomised(_tiny())
    x = torch.rand(2, 3, 12, 12, generator=torch.Generator().manual_seed(6))
    with torch.inference_mode():
        ref = net.forward_features(x, "RRDB3")
        net_cl = _randomised(_tiny()).to(memory_format=torch.channels_last)
        out = net_cl.forward_features(x.contiguous(memory_format=torch.channels_last), "RRDB3")
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)


def test_ddr_extractor_accepts_rrdbnet():
    from ddriqa.features.ddr import DDRExtractor

    net = _tiny(num_features=4, num_blocks=2, growth=2)
    images = np.random.default_rng(0).integers(0, 256, (2, 12, 14, 3), dtype=np.uint8)
    ddr = DDRExtractor(weights=net, layer="RRDB2", crop=8, device="cpu")
    assert ddr.fit_transform(images).shape == (2, 4 * 8 * 8)
    with pytest.raises(InputError, match="RRDB3"):
        DDRExtractor(weights=net, layer="RRDB3", crop=8, device="cpu").fit()


def test_random_rrdbnet_control_is_seeded_and_named():
    import torch

    from ddriqa.models.backbones import build_backbone, is_random, random_twin

    a = build_backbone("random_rrdbnet", seed=3)
    b = build_backbone("RANDOM_RRDBNET", seed=3)
    c = build_backbone("random_rrdbnet", seed=4)
    assert type(a).__name__ == "RRDBNet" and a.num_blocks == 23
    assert torch.equal(a.body[0].rdb1.conv1.weight, b.body[0].rdb1.conv1.weight)
    assert not torch.equal(a.body[0].rdb1.conv1.weight, c.body[0].rdb1.conv1.weight)
    assert random_twin("realesrgan_x4plus") == "random_rrdbnet" and random_twin("srgan_x4_gr") == "random"
    assert is_random("random_rrdbnet") and not is_random("realesrgan_x4plus")
