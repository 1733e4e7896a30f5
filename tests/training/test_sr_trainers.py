"""Tests of the SRResNet / SRGAN trainers and their checkpoints (tiny networks, CPU)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import textured_image

from ddriqa.models.discriminator import VGGDiscriminator
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import load_generator
from ddriqa.training.checkpoint import load_tensor_file, save_tensor_file
from ddriqa.training.data import PatchSampler, make_lr_images
from ddriqa.training.schedules import StepSchedule
from ddriqa.training.srgan_trainer import SRGANTrainer
from ddriqa.training.srresnet_trainer import SRResNetTrainer

ITER = 8


@pytest.fixture(scope="module")
def pairs():
    return make_lr_images([textured_image(48 + 8 * i, 56, seed=10 + i) for i in range(3)], 4)


def _gen(seed=0, gr=True):
    return SRResNet(num_features=4, num_blocks=2, global_residual=gr).reset_parameters(torch.Generator().manual_seed(seed))


def _disc(seed=0):
    torch.manual_seed(seed)
    return VGGDiscriminator(num_features=2, input_size=32)


def _srresnet(pairs, out, seed=0, **kw):
    sampler = PatchSampler(*pairs, lr_patch=8, batch_size=2, seed=seed)
    return SRResNetTrainer(_gen(seed), sampler, out, iterations=ITER, log_every=2, **kw)


def _srgan(pairs, out, seed=0, **kw):
    sampler = PatchSampler(*pairs, lr_patch=8, batch_size=2, seed=seed)
    return SRGANTrainer(_gen(seed), _disc(seed), sampler, out, iterations=ITER, log_every=2, **kw)


def _assert_same_params(a, b):
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k


def test_one_step_lowers_the_loss_on_a_fixed_batch(pairs, tmp_path):
    t = _srresnet(pairs, tmp_path, schedule=StepSchedule(2e-4))
    batch = t.sampler.sample()
    t.sampler.sample = lambda: batch
    with torch.no_grad():
        before = float(F.l1_loss(t.generator(batch[0]), batch[1]))
    loss = float(t.train_step())
    with torch.no_grad():
        after = float(F.l1_loss(t.generator(batch[0]), batch[1]))
    assert loss == pytest.approx(before, rel=1e-6)
    assert after < before - 1e-7  # ~7e-7 expected; float32 resolution here ~4e-9
    assert t.step == 1


def test_srresnet_resume_reproduces_uninterrupted_run(pairs, tmp_path):
    full = _srresnet(pairs, tmp_path / "full")
    full.fit()
    part = _srresnet(pairs, tmp_path / "part")
    assert part.fit(stop_at=3)["step"] == 3
    # a fresh process: new objects with a different seed, everything comes from the checkpoint
    resumed = _srresnet(pairs, tmp_path / "part", seed=99)
    assert resumed.resume() == 3
    summary = resumed.fit()
    assert summary["finished"] and summary["step"] == ITER
    _assert_same_params(full.generator, resumed.generator)
    sa, sb = full.g_optimizer.state_dict()["state"], resumed.g_optimizer.state_dict()["state"]
    assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)


def test_resumed_run_records_one_segment_per_session(pairs, tmp_path):
    import json

    part = _srresnet(pairs, tmp_path)
    part.fit(stop_at=3)
    resumed = _srresnet(pairs, tmp_path)
    resumed.resume()
    resumed.fit(stop_at=5)
    segs = resumed.segments()
    assert [(s["from_step"], s["to_step"]) for s in segs] == [(0, 3), (3, 5)]
    assert all(s["device"].startswith("cpu") and s["amp"] is False for s in segs)
    # the segments travel in the checkpoint and land in the exported provenance
    again = _srresnet(pairs, tmp_path)
    again.resume()
    assert [(s["from_step"], s["to_step"]) for s in again.segments()] == [(0, 3), (3, 5)]
    prov = json.loads((tmp_path / "generator.json").read_text(encoding="utf-8"))
    assert [(s["from_step"], s["to_step"]) for s in prov["segments"]] == [(0, 3), (3, 5)]


def test_srgan_resume_reproduces_uninterrupted_run(pairs, tmp_path):
    full = _srgan(pairs, tmp_path / "full")
    full.fit()
    part = _srgan(pairs, tmp_path / "part")
    part.fit(stop_at=5)
    resumed = _srgan(pairs, tmp_path / "part", seed=42)
    assert resumed.resume() == 5
    resumed.fit()
    _assert_same_params(full.generator, resumed.generator)
    _assert_same_params(full.discriminator, resumed.discriminator)  # incl. batch-norm running stats
    assert set(full.last_losses_) == {"pix", "gan", "d_real", "d_fake"}
    # the loss terms are logged; the resumed log has the same rows as the uninterrupted one
    import csv

    with open(tmp_path / "full" / "train_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["step", "loss", "lr", "time", "pix", "gan", "d_real", "d_fake"]
    assert [int(r["step"]) for r in rows] == [2, 4, 6, 8]
    for r in rows:  # the generator loss is the sum of its terms (no perceptual loss); BCE terms > 0
        assert float(r["loss"]) == pytest.approx(float(r["pix"]) + float(r["gan"]), abs=2e-6)
        assert float(r["d_real"]) > 0 and float(r["d_fake"]) > 0
    with open(tmp_path / "part" / "train_log.csv", newline="") as fh:
        resumed_rows = list(csv.DictReader(fh))
    # the first session ends with a row at step 5 (steps 5); after the resume, the row at step 6
    # averages step 6 alone (uninterrupted: steps 5-6); every other row is the same
    def same(rs):
        return [{k: v for k, v in r.items() if k != "time"} for r in rs if r["step"] not in ("5", "6")]

    assert [r["step"] for r in resumed_rows] == ["2", "4", "5", "6", "8"] and same(resumed_rows) == same(rows)


def test_train_log_begun_by_an_older_version_keeps_its_columns(pairs, tmp_path):
    _srgan(pairs, tmp_path).fit(stop_at=2)
    (tmp_path / "train_log.csv").write_text("step,loss,lr,time\n2,0.5,0.0001,1.0\n")  # an older layout
    again = _srgan(pairs, tmp_path)
    again.resume()
    again.fit(stop_at=4)
    lines = (tmp_path / "train_log.csv").read_text().splitlines()
    assert lines[0] == "step,loss,lr,time" and len(lines) == 3 and lines[2].count(",") == 3
    assert lines[2].startswith("4,")


def test_compact_discriminator_checkpoint_and_light_resume(pairs, tmp_path):
    t = _srgan(pairs, tmp_path, d_dtype="bfloat16", save_d_optimizer=False, max_file_mib=1)
    t.fit(stop_at=2)
    ck = tmp_path / "checkpoint"
    names = sorted(p.name for p in ck.iterdir())
    assert "discriminator.safetensors" in names and "discriminator_optim.safetensors" not in names
    d_tensors, _ = load_tensor_file(ck / "discriminator")
    assert d_tensors["conv0_0.weight"].dtype == torch.bfloat16
    (ck / "g_optim.safetensors").unlink()  # a "light" resume: weights and state only
    again = _srgan(pairs, tmp_path, seed=3)
    messages = []
    again._log = messages.append
    assert again.resume() == 2
    assert "inexact" in messages[-1]
    torch.testing.assert_close(again.generator.conv_first.weight, t.generator.conv_first.weight, rtol=0, atol=0)


def test_tensor_files_are_sharded_below_the_limit(tmp_path):
    tensors = {f"t{i}": torch.full((100_000,), float(i)) for i in range(5)}  # 400 kB each
    paths = save_tensor_file(tensors, tmp_path / "big", {"k": "v"}, max_file_mib=1.0)
    assert len(paths) == 3 and all(p.stat().st_size <= 2**20 for p in paths)
    back, meta = load_tensor_file(tmp_path / "big")
    assert meta["k"] == "v" and all(torch.equal(back[k], tensors[k]) for k in tensors)


def test_exports_load_as_weights_and_ddr_extractor(pairs, tmp_path):
    t = _srresnet(pairs, tmp_path, snapshot_steps=(0, 4), val_pairs={"tiny": [("a", pairs[0][0], pairs[1][0])]}, val_every=4)
    summary = t.fit()
    net = load_generator(summary["weights"])
    _assert_same_params(net, t.generator)
    assert (tmp_path / "generator.json").is_file()
    assert sorted(p.name for p in (tmp_path / "snapshots").iterdir()) == [
        "generator_step0000000.safetensors", "generator_step0000004.safetensors", "generator_step0000008.safetensors"]
    snap0 = load_generator(tmp_path / "snapshots" / "generator_step0000000.safetensors")
    torch.testing.assert_close(snap0.conv_first.weight, _gen().conv_first.weight, rtol=1e-3, atol=1e-6)  # fp16
    rows = (tmp_path / "val_log.csv").read_text().splitlines()
    assert [r.split(",")[1] for r in rows[1:]] == ["4", "8"]
    assert 10 < float(rows[-1].split(",")[3]) < 60
    from ddriqa.features.ddr import DDRExtractor

    images = np.stack([textured_image(20, 20, seed=s) for s in range(2)])
    feats = DDRExtractor(weights=summary["weights"], layer="ResBlock2", crop=8, device="cpu").fit_transform(images)
    assert feats.shape == (2, 4 * 8 * 8) and np.isfinite(feats).all()


def test_srgan_resume_warns_when_the_loss_weights_change(pairs, tmp_path):
    _srgan(pairs, tmp_path, pixel_weight=1.0).fit(stop_at=2)
    for weight, warned in ((1.0, False), (1e-2, True)):
        again = _srgan(pairs, tmp_path, pixel_weight=weight)
        messages = []
        again._log = messages.append
        assert again.resume() == 2
        assert any("loss weights" in m for m in messages) is warned, messages
