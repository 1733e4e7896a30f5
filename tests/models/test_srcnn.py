"""Tests of the shallow SRCNN-style networks for the depth study."""

import pytest
import torch
import torch.nn.functional as F

from ddriqa.errors import InputError
from ddriqa.models.srcnn import SRCNN


@pytest.mark.parametrize("layers", [3, 5, 13])
def test_shapes_and_layer_names(layers):
    net = SRCNN(num_layers=layers, num_features=4).eval()
    x = torch.rand(2, 3, 6, 7)
    with torch.inference_mode():
        assert tuple(net(x).shape) == (2, 3, 24, 28)
        names = SRCNN.layer_names(layers)
        assert names == [f"Conv{k}" for k in range(1, layers)]
        assert tuple(net.forward_features(x, names[-1]).shape) == (2, 4, 6, 7)
    n_convs = sum(isinstance(m, torch.nn.Conv2d) for m in net.modules())
    assert n_convs == layers


def test_taps_equal_manual_forward():
    torch.manual_seed(0)
    net = SRCNN(num_layers=4, num_features=5).eval()
    x = torch.rand(1, 3, 8, 8)
    with torch.inference_mode():
        h1 = F.relu(net.conv_first(x))
        h2 = F.relu(net.body[0](h1))
        h3 = F.relu(net.body[1](h2))
        torch.testing.assert_close(net.forward_features(x, "Conv1"), h1, rtol=0, atol=0)
        torch.testing.assert_close(net.forward_features(x, "Conv3"), h3, rtol=0, atol=0)
        out = F.pixel_shuffle(net.conv_last(h3), 4) + F.interpolate(x, scale_factor=4, mode="bilinear", align_corners=False)
        torch.testing.assert_close(net(x), out, rtol=0, atol=1e-6)


def test_config_and_errors():
    net = SRCNN(num_layers=3, num_features=4, global_residual=False)
    assert SRCNN(**net.config()).config() == net.config()
    with pytest.raises(InputError):
        SRCNN(num_layers=2)
    with pytest.raises(InputError):
        SRCNN(num_layers=14)
    with pytest.raises(InputError, match="Conv3"):
        net.forward_features(torch.rand(1, 3, 4, 4), "Conv3")
