"""Tests of the blind-SR training parts: the b+n patch sampler and RRDB / RRDB-DDR runs (tiny, CPU)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import textured_image

from ddriqa.degradations.blur import gaussian_blur
from ddriqa.degradations.resize import bicubic_downsample
from ddriqa.errors import InputError
from ddriqa.io import write_image
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import load_generator, save_weights
from ddriqa.training.config import TINY_NETWORKS, TrainConfig, build_trainer
from ddriqa.training.data import PatchSampler, make_lr_images
from ddriqa.training.degrade import BlurNoiseSampler


@pytest.fixture(scope="module")
def pairs():
    return make_lr_images([textured_image(64 + 8 * i, 72, seed=20 + i) for i in range(3)], 4)


def _bn(pairs, seed=0, **kw):
    return BlurNoiseSampler(PatchSampler(*pairs, lr_patch=12, batch_size=4, seed=seed), **kw)


def test_bn_sampler_is_seeded_and_resumable(pairs):
    a, b = _bn(pairs), _bn(pairs)
    for _ in range(3):
        (la, ha), (lb, hb) = a.sample(), b.sample()
        assert torch.equal(la, lb) and torch.equal(ha, hb)
    state = json.loads(json.dumps(a.state_dict()))  # JSON, as in a checkpoint
    nxt = a.sample()
    c = _bn(pairs, seed=7)
    with pytest.raises(InputError, match="other blur\\+noise settings"):
        c.load_state_dict(state)  # another seed is another stream
    c = _bn(pairs)
    c.load_state_dict(state)
    again = c.sample()
    assert torch.equal(again[0], nxt[0]) and torch.equal(again[1], nxt[1])
    other = _bn(pairs, seed=1).sample()
    assert not torch.equal(other[0], nxt[0])


def test_bn_lr_is_blur_then_matlab_bicubic_then_noise(pairs):
    s = _bn(pairs)
    hr_u8 = textured_image(48, 48, seed=3)
    hr = torch.from_numpy(hr_u8).permute(2, 0, 1)[None].float() / 255.0
    zero = np.zeros((1, 3, 12, 12), np.float32)
    for sigma in (0.0, 0.8, 2.5):
        lr = s.degrade(hr, np.array([sigma]), np.array([0.0]), zero)[0].permute(1, 2, 0).numpy() * 255
        ref = hr_u8.astype(np.float64) / 255.0
        ref = gaussian_blur(ref, sigma) if sigma else ref
        ref = np.clip(np.round(bicubic_downsample(ref, 4) * 255), 0, 255)
        assert np.abs(lr - ref).max() <= 1.0  # the package's blur + MATLAB bicubic, to 8-bit rounding
    field = np.random.default_rng(0).standard_normal((1, 3, 12, 12)).astype(np.float32)
    clean = s.degrade(hr, np.array([0.0]), np.array([0.0]), zero) * 255
    noisy = s.degrade(hr, np.array([0.0]), np.array([20.0]), field) * 255
    diff = (noisy - clean).numpy()
    assert np.all(diff == np.round(diff))  # 8-bit values
    inside = (clean > 40) & (clean < 215)  # away from clipping
    assert 17.0 < diff[inside.numpy()].std() < 23.0


def test_bn_sampler_mixes_clean_blurred_and_noisy_patches(pairs):
    s = _bn(pairs)
    blur, noise, _ = s.draw_degradations(4000)
    assert 0.47 < (blur > 0).mean() < 0.53 and 0.47 < (noise > 0).mean() < 0.53
    assert 0.22 < ((blur == 0) & (noise == 0)).mean() < 0.28
    assert blur[blur > 0].min() >= 0.2 and blur.max() <= 3.0 and noise.max() <= 25.0


def _images(folder):
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", textured_image(80, 72 + 8 * i, seed=i))
    return folder


def _config(tmp_path, arch, out, **kw):
    backbone = tmp_path / "backbone.safetensors"
    if not backbone.exists():
        save_weights(SRResNet(num_features=4, num_blocks=2).reset_parameters(torch.Generator().manual_seed(4)),
                     backbone)
    data = tmp_path / "hr"
    if not data.exists():
        _images(data)
    options = {"data": [data], "iterations": 6, "output": tmp_path / out, "arch": arch, "lr_patch": 8,
               "batch_size": 2, "snapshot_steps": (), "log_every": 2, "degrade": "bn",
               "ddr_weights": str(backbone), "ddr_layer": "ResBlock2", "embed_dim": 4} | TINY_NETWORKS
    return TrainConfig(**(options | kw))


@pytest.mark.parametrize("arch", ["rrdb", "rrdb-ddr"])
def test_rrdb_runs_resume_exactly(tmp_path, arch):
    full = build_trainer(_config(tmp_path, arch, "full"))
    full.fit()
    part = build_trainer(_config(tmp_path, arch, "part"))
    assert part.fit(stop_at=3)["step"] == 3
    resumed = build_trainer(_config(tmp_path, arch, "part", resume=True))
    assert resumed.step == 3
    assert resumed.fit()["step"] == 6
    sa, sb = full.generator.state_dict(), resumed.generator.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    oa, ob = full.g_optimizer.state_dict()["state"], resumed.g_optimizer.state_dict()["state"]
    assert oa.keys() == ob.keys() and all(torch.equal(oa[i]["exp_avg"], ob[i]["exp_avg"]) for i in oa)
    prov = json.loads((tmp_path / "part" / "generator.json").read_text(encoding="utf-8"))
    assert prov["arch"] == arch and prov["train_lr"]["kind"] == "bn"
    assert type(load_generator(tmp_path / "part" / "generator.safetensors")).__name__ == (
        "RRDBNet" if arch == "rrdb" else "RRDBNetDDR")


def test_rrdb_ddr_training_leaves_the_backbone_as_loaded(tmp_path):
    trainer = build_trainer(_config(tmp_path, "rrdb-ddr", "run"))
    trainer.fit()
    net = trainer.generator
    assert not net.embed.backbone.training and net.training
    loaded = load_generator(tmp_path / "backbone.safetensors").state_dict()
    after = net.embed.backbone.state_dict()
    assert all(torch.equal(loaded[k], after[k]) for k in loaded)
    # the optimizer holds exactly the trainable parameters, and they moved
    n_opt = sum(p.numel() for g in trainer.g_optimizer.param_groups for p in g["params"])
    assert n_opt == sum(p.numel() for p in net.parameters() if p.requires_grad)
    prov = json.loads((tmp_path / "run" / "generator.json").read_text(encoding="utf-8"))
    assert prov["ddr_backbone"]["frozen"] and len(prov["ddr_backbone"]["sha256"]) == 64


def test_resume_refuses_another_degradation(tmp_path):
    build_trainer(_config(tmp_path, "rrdb", "run")).fit(stop_at=2)
    with pytest.raises(InputError, match="degraded LR patches"):
        build_trainer(_config(tmp_path, "rrdb", "run", resume=True, degrade="none"))


def test_rrdb_and_rrdb_ddr_start_from_the_same_trunk(tmp_path):
    a = build_trainer(_config(tmp_path, "rrdb", "a")).generator.state_dict()
    b = build_trainer(_config(tmp_path, "rrdb-ddr", "b")).generator.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_global_residual_flag_is_refused_for_rrdb(tmp_path):
    with pytest.raises(InputError, match="not to an RRDBNet"):
        _config(tmp_path, "rrdb", "run", global_residual=True)
