"""The run folder of a trainer: never overwritten by accident, always a train log, progress lines,
the normal file modes (tiny networks, CPU)."""

from __future__ import annotations

import csv
import os
import stat

import pytest
import torch
from conftest import textured_image

from ddriqa.errors import InputError
from ddriqa.models.srresnet import SRResNet
from ddriqa.training.data import PatchSampler, make_lr_images
from ddriqa.training.run_folder import TrainLog, check_run_folder, remove_run_files, run_files
from ddriqa.training.schedules import StepSchedule
from ddriqa.training.srresnet_trainer import SRResNetTrainer
from ddriqa.training.trainer import Trainer


@pytest.fixture(scope="module")
def pairs():
    return make_lr_images([textured_image(48 + 8 * i, 56, seed=20 + i) for i in range(2)], 4)


def _trainer(pairs, out, iterations=4, **kw):
    gen = SRResNet(num_features=4, num_blocks=1).reset_parameters(torch.Generator().manual_seed(0))
    kw.setdefault("log_every", 2)
    sampler = PatchSampler(*pairs, lr_patch=8, batch_size=2, seed=0)
    return SRResNetTrainer(gen, sampler, out, iterations=iterations, **kw)


def _rows(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_a_folder_holding_a_run_is_refused_then_overwritten_only_when_asked(pairs, tmp_path):
    val = {"v": [("a", pairs[0][0], pairs[1][0])]}
    _trainer(pairs, tmp_path, val_pairs=val, val_every=2, snapshot_steps=(2,)).fit()
    before = (tmp_path / "checkpoint" / "generator.safetensors").read_bytes()
    with pytest.raises(InputError) as err:
        _trainer(pairs, tmp_path, iterations=3).fit()
    message = str(err.value)
    assert str(tmp_path) in message and "--resume" in message and "--overwrite" in message
    assert "checkpoint/" in message and "train_log.csv" in message
    assert (tmp_path / "checkpoint" / "generator.safetensors").read_bytes() == before  # untouched
    assert [r["step"] for r in _rows(tmp_path / "val_log.csv")] == ["2", "4"]
    (tmp_path / "notes.txt").write_text("the user's own file")
    messages = []
    summary = _trainer(pairs, tmp_path, iterations=3, log=messages.append, overwrite=True).fit()
    assert summary["step"] == 3 and any("removed the earlier run" in m for m in messages)
    assert [r["step"] for r in _rows(tmp_path / "train_log.csv")] == ["2", "3"]  # the new run's rows only
    assert not (tmp_path / "val_log.csv").exists() and not (tmp_path / "snapshots").exists()
    assert (tmp_path / "notes.txt").read_text() == "the user's own file"


def test_check_run_folder_modes(tmp_path):
    assert check_run_folder(tmp_path / "new") == "new" and check_run_folder(tmp_path, resume=True) == "new"
    (tmp_path / "checkpoint").mkdir()  # empty: no run yet (tools/gpu_run.py prepares it so)
    assert check_run_folder(tmp_path) == "new"
    (tmp_path / "train_log.csv").write_text("step,loss,lr,time\n1,0.5,0.0002,1.0\n")
    assert check_run_folder(tmp_path, resume=True) == "restart"  # stopped before its first checkpoint
    assert check_run_folder(tmp_path, overwrite=True) == "overwrite"
    with pytest.raises(InputError, match="--resume.*--overwrite"):
        check_run_folder(tmp_path)
    with pytest.raises(InputError, match="exclude each other"):
        check_run_folder(tmp_path, resume=True, overwrite=True)
    (tmp_path / "checkpoint" / "generator.safetensors").write_bytes(b"")
    assert check_run_folder(tmp_path, resume=True) == "resume"
    assert run_files(tmp_path) == ["checkpoint/", "train_log.csv"]
    assert remove_run_files(tmp_path) == ["checkpoint/", "train_log.csv"] and run_files(tmp_path) == []


def test_a_run_shorter_than_log_every_still_writes_its_train_log(pairs, tmp_path):
    t = _trainer(pairs, tmp_path, iterations=3, log_every=100)
    t.fit()
    rows = _rows(tmp_path / "train_log.csv")
    assert [r["step"] for r in rows] == ["3"] and list(rows[0]) == ["step", "loss", "lr", "time"]
    assert 0 < float(rows[0]["loss"]) < 1 and float(rows[0]["lr"]) == pytest.approx(t.schedule.lr_at(2), rel=1e-3)


def test_every_log_interval_prints_a_progress_line(pairs, tmp_path):
    messages = []
    _trainer(pairs, tmp_path, iterations=5, log=messages.append, schedule=StepSchedule(2e-4)).fit()
    progress = [m for m in messages if "it/s" in m and "loss" in m]
    assert [m.split(":")[0].split()[-1] for m in progress] == ["2/5", "4/5", "5/5"]
    assert all("lr 0.0002" in m for m in progress), progress
    rows = _rows(tmp_path / "train_log.csv")
    assert [r["step"] for r in rows] == ["2", "4", "5"]
    # the printed loss is the logged one (4 significant digits)
    assert float(progress[0].split("loss ")[1].split(",")[0]) == pytest.approx(float(rows[0]["loss"]), rel=1e-3)


def test_resuming_from_an_older_checkpoint_drops_the_later_log_rows(pairs, tmp_path):
    _trainer(pairs, tmp_path, iterations=8, checkpoint_every=2).fit(stop_at=2)
    log = TrainLog(tmp_path / "train_log.csv", ["step", "loss", "lr", "time"])
    log.write({"step": 3, "loss": "9", "lr": "1", "time": "1"})  # a row written after the checkpoint
    again = _trainer(pairs, tmp_path, iterations=8)
    assert again.resume() == 2
    assert [r["step"] for r in _rows(tmp_path / "train_log.csv")] == ["2"]
    again.fit(stop_at=4)
    assert [r["step"] for r in _rows(tmp_path / "train_log.csv")] == ["2", "4"]


def test_written_files_get_the_normal_mode(pairs, tmp_path):
    old = os.umask(0o022)
    try:
        _trainer(pairs, tmp_path / "a", snapshot_steps=(0, 2)).fit()
        os.umask(0o002)
        _trainer(pairs, tmp_path / "b", snapshot_steps=(0, 2)).fit()
    finally:
        os.umask(old)
    for folder, expected in (("a", 0o644), ("b", 0o664)):
        files = [p for p in (tmp_path / folder).rglob("*") if p.is_file()]
        assert {"generator.safetensors", "g_optim.safetensors", "generator_step0000002.safetensors",
                "generator.json", "train_log.csv"} <= {p.name for p in files}
        modes = {p.relative_to(tmp_path).as_posix(): oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
        assert set(modes.values()) == {oct(expected)}, modes
        assert not [p for p in (tmp_path / folder).rglob("*.tmp")]


def test_a_subclass_adds_only_its_update(pairs, tmp_path):
    class MSETrainer(Trainer):
        arch = "srresnet"  # a checkpoint the SRResNet trainer can resume
        default_schedule = SRResNetTrainer.default_schedule
        loss_columns = ("mse",)

        def update(self, lr, hr):
            loss = torch.nn.functional.mse_loss(self._forward_g(lr), hr)
            self.g_optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.g_optimizer.step()
            return loss.detach(), {"mse": loss.detach()}

        def loss_description(self):
            return "MSE"

    gen = SRResNet(num_features=4, num_blocks=1)
    t = MSETrainer(gen, PatchSampler(*pairs, lr_patch=8, batch_size=2, seed=0), tmp_path, iterations=2, log_every=1)
    assert t.fit()["finished"]
    rows = _rows(tmp_path / "train_log.csv")
    assert list(rows[0]) == ["step", "loss", "lr", "time", "mse"] and rows[0]["loss"] == rows[0]["mse"]
    assert '"loss": "MSE"' in (tmp_path / "generator.json").read_text()
    with pytest.raises(NotImplementedError, match="update"):
        Trainer(gen, t.sampler, tmp_path / "x", iterations=1, schedule=t.schedule).train_step()
