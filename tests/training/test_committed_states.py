"""The resume states committed in weights/checkpoints/resume/ still load and continue (CPU).

The SRResNet states are exact (weights + Adam moments + sampler + RNG); the SRGAN files are
generators only. Their steps are read from the files, not written here: the states move on.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from conftest import textured_image

from ddriqa.models.backbones import build_backbone
from ddriqa.models.discriminator import VGGDiscriminator
from ddriqa.training.checkpoint import load_tensor_file, read_train_state
from ddriqa.training.data import PatchSampler, make_lr_images
from ddriqa.training.srgan_trainer import SRGANTrainer
from ddriqa.training.srresnet_trainer import SRResNetTrainer

RESUME = Path(__file__).resolve().parents[2] / "weights" / "checkpoints" / "resume"


@pytest.fixture(scope="module")
def sampler():
    pairs = make_lr_images([textured_image(48, 56, seed=3)], 4)
    return lambda batch_size=1: PatchSampler(*pairs, lr_patch=8, batch_size=batch_size, seed=99)


SHIPPED = RESUME.parents[1]  # weights/: the SRGAN generator of the paper preset ships there


def _committed(name):
    path = RESUME / f"{name}.safetensors"
    if not path.is_file() and (SHIPPED / f"{name}.safetensors").is_file():
        path = SHIPPED / f"{name}.safetensors"
    if not path.is_file():
        pytest.skip(f"{path} is not in this checkout")
    return path


@pytest.mark.parametrize("run", ["srresnet_x4_gr", "srresnet_x4_nogr"])
def test_committed_srresnet_state_resumes_exactly_and_continues(run, sampler, tmp_path):
    weights = _committed(run)
    optim = RESUME / f"{run}.g_optim.safetensors"
    ck = tmp_path / "checkpoint"
    ck.mkdir()
    shutil.copyfile(weights, ck / "generator.safetensors")
    if optim.is_file():
        shutil.copyfile(optim, ck / "g_optim.safetensors")
    saved = read_train_state(weights)
    step = json.loads(weights.with_suffix(".json").read_text(encoding="utf-8"))["step"]
    messages = []
    t = SRResNetTrainer(build_backbone(weights), sampler(), tmp_path, iterations=saved["user"]["iterations"],
                        log=messages.append)
    assert t.resume() == step == saved["step"]
    assert ("inexact" in messages[-1]) is not optim.is_file(), messages
    file_weights, _ = load_tensor_file(ck / "generator")
    for key, value in t.generator.state_dict().items():
        assert torch.equal(value, file_weights[key]), key
    if optim.is_file():
        moments, _ = load_tensor_file(ck / "g_optim")
        state = t.g_optimizer.state_dict()["state"]
        assert moments and all(torch.equal(state[int(k.split(".")[1])][k.split(".")[2]], v) for k, v in moments.items())
    assert t.sampler.state_dict()["batches_drawn"] == saved["user"]["sampler"]["batches_drawn"]
    assert t.segments() == saved["user"]["segments"]
    # one more step, and the new checkpoint has the same layout (plus any newer fields)
    assert t.fit(stop_at=step + 1)["step"] == step + 1
    again = read_train_state(ck / "generator.safetensors")
    assert set(again) == set(saved) and set(saved["user"]) <= set(again["user"])
    assert again["user"]["segments"][:-1] == saved["user"]["segments"]


@pytest.mark.parametrize("run", ["srgan_x4_gr", "srgan_x4_nogr"])
def test_committed_srgan_generator_loads_and_fine_tunes(run, sampler, tmp_path):
    weights = _committed(run)
    generator = build_backbone(weights)
    assert read_train_state(weights)["user"]["arch"] == "srgan"
    nogr = run.endswith("nogr")
    assert generator.global_residual is not nogr
    t = SRGANTrainer(generator, VGGDiscriminator(num_features=2, input_size=32), sampler(2), tmp_path,
                     iterations=2, pixel_weight=1.0)
    summary = t.fit(stop_at=1)
    assert summary["step"] == 1 and torch.isfinite(torch.stack(list(t.last_losses_.values()))).all()
