"""Tests of the VGG-style discriminator."""

import pytest
import torch

from ddriqa.errors import InputError
from ddriqa.models.discriminator import VGGDiscriminator


def _count(nf, size, c=3):
    widths = [nf, 2 * nf, 4 * nf, 8 * nf, 8 * nf]
    n = c * nf * 9 + nf + nf * nf * 16 + 2 * nf  # conv0_0 (bias), conv0_1 (no bias), bn0_1
    prev = nf
    for w in widths[1:]:
        n += prev * w * 9 + 2 * w + w * w * 16 + 2 * w
        prev = w
    s = size // 32
    return n + prev * s * s * 100 + 100 + 100 + 1


def test_parameter_count_128():
    d = VGGDiscriminator()
    n = sum(p.numel() for p in d.parameters())
    assert n == _count(64, 128) == 14499401  # ~14.5M, as SRGAN/BasicSR's 128x128 discriminator


@pytest.mark.parametrize("size", [64, 96])
def test_output_shape_and_param_count(size):
    d = VGGDiscriminator(num_features=8, input_size=size).eval()
    with torch.no_grad():
        out = d(torch.rand(3, 3, size, size))
    assert tuple(out.shape) == (3, 1)
    assert torch.isfinite(out).all()
    assert sum(p.numel() for p in d.parameters()) == _count(8, size)


def test_bad_size_and_input():
    with pytest.raises(InputError):
        VGGDiscriminator(input_size=100)
    d = VGGDiscriminator(num_features=4, input_size=32)
    with pytest.raises(InputError, match=r"\(1, 3, 64, 64\)"):
        d(torch.rand(1, 3, 64, 64))


def test_train_step_changes_logits():
    torch.manual_seed(0)
    d = VGGDiscriminator(num_features=4, input_size=32)
    x = torch.rand(4, 3, 32, 32)
    opt = torch.optim.SGD(d.parameters(), lr=0.1)
    before = d(x).mean().item()
    loss = torch.nn.functional.binary_cross_entropy_with_logits(d(x), torch.ones(4, 1))
    loss.backward()
    opt.step()
    assert d(x).mean().item() > before
