"""Multi-layer feature extraction in one pass, and the seeded random backbone."""

import numpy as np
import pytest
import torch

from ddriqa.errors import InputError
from ddriqa.features.layers import extract_layer_features
from ddriqa.models.backbones import build_backbone, random_backbone


def _images(n=5, size=12, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (n, size, size, 3), dtype=np.uint8)


def test_matches_forward_features_per_layer():
    net = random_backbone(3, num_blocks=3, num_features=8)
    imgs = _images()
    feats = extract_layer_features(net, list(imgs), ["Conv1", "ResBlock2", "ResBlock3"], batch_size=2)
    assert list(feats) == ["Conv1", "ResBlock2", "ResBlock3"]
    x = torch.from_numpy(imgs.astype(np.float32) / 255.0).permute(0, 3, 1, 2)
    with torch.no_grad():
        for layer, arr in feats.items():
            assert arr.shape == (5, 8 * 12 * 12) and arr.dtype == np.float32
            ref = net.forward_features(x, layer).reshape(5, -1).numpy()
            np.testing.assert_allclose(arr, ref, rtol=1e-4, atol=1e-5)


def test_random_backbone_is_seeded():
    a = random_backbone(1, num_blocks=1, num_features=4)
    b = random_backbone(1, num_blocks=1, num_features=4)
    c = random_backbone(2, num_blocks=1, num_features=4)
    wa, wb, wc = (m.conv_first.weight.detach() for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert not random_backbone(0, num_blocks=1, num_features=4, global_residual=False).global_residual
    assert build_backbone("random", seed=1, num_blocks=1, num_features=4).conv_first.weight.equal(wa)


def test_errors():
    net = random_backbone(0, num_blocks=1, num_features=4)
    with pytest.raises(InputError, match="unknown layer"):
        extract_layer_features(net, _images(2), ["ResBlock9"])
    mixed = [_images(1, 12)[0], _images(1, 16)[0]]
    with pytest.raises(InputError, match="differs"):
        extract_layer_features(net, mixed, ["Conv1"])
    with pytest.raises(InputError):
        build_backbone(3.5)
