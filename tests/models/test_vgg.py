"""Tests of the optional VGG19 perceptual feature extractor."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from ddriqa.errors import ModelFileError
from ddriqa.models.vgg import VGG19Features


def test_vgg_loads_torchvision_layout_and_rejects_others(tmp_path):
    torch.manual_seed(0)
    src = VGG19Features(layer="conv3_4")
    tensors = {k: v.clone() for k, v in src.state_dict().items() if k.startswith("features.")}
    tensors["classifier.0.weight"] = torch.zeros(2, 2)  # other torchvision keys are ignored
    save_file(tensors, str(tmp_path / "vgg.safetensors"))
    vgg = VGG19Features(tmp_path / "vgg.safetensors", layer="conv3_4")
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(vgg(x), src(x), rtol=0, atol=0)
    assert not any(p.requires_grad for p in vgg.parameters()) and not vgg.train().training
    # conv3_4 output is taken before its ReLU: negative values occur
    assert float(vgg(x).min()) < 0
    del tensors["features.16.weight"]
    save_file(tensors, str(tmp_path / "bad.safetensors"))
    with pytest.raises(ModelFileError, match="bad.safetensors"):
        VGG19Features(tmp_path / "bad.safetensors", layer="conv3_4")


def test_srgan_step_with_perceptual_loss(tmp_path):
    from conftest import textured_image

    from ddriqa.models.discriminator import VGGDiscriminator
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.training.data import PatchSampler, make_lr_images
    from ddriqa.training.srgan_trainer import SRGANTrainer

    torch.manual_seed(0)
    sampler = PatchSampler(*make_lr_images([textured_image(48, 48, seed=1)]), lr_patch=8, batch_size=2, seed=0)
    t = SRGANTrainer(SRResNet(num_features=4, num_blocks=1), VGGDiscriminator(num_features=2, input_size=32), sampler,
                     tmp_path, iterations=1, perceptual=VGG19Features(layer="conv3_4"))
    loss = float(t.train_step())
    pix_gan = float(t.last_losses_["pix"] + t.last_losses_["gan"])
    assert loss > pix_gan > 0  # the perceptual term adds a positive L1 of features
    assert "VGG19" in t._provenance_extra()["loss"]
