"""Tests of the SRResNet backbone: shapes, layer taps, global residual, init, config."""

import pytest
import torch
import torch.nn.functional as F

from ddriqa.errors import InputError
from ddriqa.models.srresnet import SRResNet


def _tiny(**kw):
    torch.manual_seed(0)
    return SRResNet(num_features=8, num_blocks=3, **kw).eval()


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_output_shape(scale):
    net = SRResNet(num_features=8, num_blocks=1, scale=scale).eval()
    with torch.inference_mode():
        out = net(torch.rand(2, 3, 7, 5))
    assert tuple(out.shape) == (2, 3, 7 * scale, 5 * scale)


def test_default_parameter_count_and_names():
    net = SRResNet()
    # MSRResNet x4, 64 features, 16 blocks: 1,517,571 parameters (computed from the layer shapes)
    n = 3 * 64 * 9 + 64 + 16 * 2 * (64 * 64 * 9 + 64) + 2 * (64 * 256 * 9 + 256) + (64 * 64 * 9 + 64) + (64 * 3 * 9 + 3)
    assert sum(p.numel() for p in net.parameters()) == n == 1517571
    keys = set(net.state_dict())
    for k in ["conv_first.weight", "body.15.conv2.bias", "upconv1.weight", "upconv2.weight", "hr_conv.weight", "conv_last.bias"]:
        assert k in keys


def test_layer_taps_equal_hooked_intermediates():
    net = _tiny()
    captured = {}
    net.conv_first.register_forward_hook(lambda m, i, o: captured.__setitem__("Conv1", F.leaky_relu(o, 0.1)))
    for k, block in enumerate(net.body, start=1):
        block.register_forward_hook(lambda m, i, o, k=k: captured.__setitem__(f"ResBlock{k}", o))
    x = torch.rand(2, 3, 9, 11, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        net(x)
        for name in SRResNet.layer_names(3):
            tap = net.forward_features(x, name)
            assert tuple(tap.shape) == (2, 8, 9, 11)
            torch.testing.assert_close(tap, captured[name], rtol=0, atol=1e-6)
        many = net.forward_features(x, ["ResBlock2", "Conv1"])
    assert set(many) == {"ResBlock2", "Conv1"}
    torch.testing.assert_close(many["ResBlock2"], captured["ResBlock2"], rtol=0, atol=1e-6)


def test_forward_features_runs_only_needed_blocks():
    net = _tiny()
    calls = []
    for k, block in enumerate(net.body, start=1):
        block.register_forward_hook(lambda m, i, o, k=k: calls.append(k))
    with torch.inference_mode():
        net.forward_features(torch.rand(1, 3, 6, 6), "ResBlock2")
    assert calls == [1, 2]


def test_global_residual_changes_only_the_output_path():
    wgr = _tiny(global_residual=True)
    wogr = SRResNet(num_features=8, num_blocks=3, global_residual=False).eval()
    wogr.load_state_dict(wgr.state_dict())
    x = torch.rand(1, 3, 8, 10, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        diff = wgr(x) - wogr(x)
        up = F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        torch.testing.assert_close(diff, up, rtol=0, atol=1e-6)
        torch.testing.assert_close(wgr.forward_features(x, "ResBlock3"), wogr.forward_features(x, "ResBlock3"), rtol=0, atol=0)


def test_init_is_scaled_kaiming_and_seedable():
    a = SRResNet(num_features=64, num_blocks=1).reset_parameters(torch.Generator().manual_seed(3))
    b = SRResNet(num_features=64, num_blocks=1).reset_parameters(torch.Generator().manual_seed(3))
    torch.testing.assert_close(a.body[0].conv1.weight, b.body[0].conv1.weight, rtol=0, atol=0)
    w = a.body[0].conv1.weight.detach()
    # kaiming normal fan_in, a=0: std = sqrt(2 / fan_in); x 0.1
    expected = 0.1 * (2.0 / (64 * 9)) ** 0.5
    assert abs(float(w.std()) - expected) / expected < 0.03
    assert float(a.body[0].conv1.bias.detach().abs().max()) == 0.0


def test_random_init_output_is_close_to_bilinear():
    # with 0.1-scaled init and GR, the untrained net is nearly the bilinear upsampler (paper Fig. 8)
    net = SRResNet(num_features=16, num_blocks=2).eval()
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        err = (net(x) - F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)).abs().max()
    assert float(err) < 0.05


def test_config_roundtrip():
    net = SRResNet(num_features=8, num_blocks=2, scale=2, global_residual=False)
    again = SRResNet(**net.config())
    assert again.config() == net.config()
    assert {k: v.shape for k, v in again.state_dict().items()} == {k: v.shape for k, v in net.state_dict().items()}


def test_bad_inputs_are_reported_with_shape():
    net = _tiny()
    with pytest.raises(InputError, match=r"\(2, 4, 5, 5\)"):
        net(torch.rand(2, 4, 5, 5))
    with pytest.raises(InputError, match="uint8"):
        net(torch.zeros(1, 3, 5, 5, dtype=torch.uint8))
    with pytest.raises(InputError, match="ResBlock9"):
        net.forward_features(torch.rand(1, 3, 5, 5), "ResBlock9")
    with pytest.raises(InputError):
        SRResNet(scale=5)
    with pytest.raises(InputError):
        SRResNet(in_channels=1, out_channels=3, global_residual=True)


def test_channels_last_gives_same_features():
    net = _tiny()
    x = torch.rand(2, 3, 12, 12)
    with torch.inference_mode():
        ref = net.forward_features(x, "ResBlock3")
        net_cl = _tiny().to(memory_format=torch.channels_last)
        out = net_cl.forward_features(x.contiguous(memory_format=torch.channels_last), "ResBlock3")
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
