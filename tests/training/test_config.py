"""TrainConfig and build_trainer: the settings of a run become its trainer (tiny networks, CPU)."""

from __future__ import annotations

import csv

import pytest
import torch
from conftest import textured_image

from ddriqa.errors import InputError
from ddriqa.io import write_image
from ddriqa.models.backbones import random_backbone
from ddriqa.training.config import TINY_NETWORKS, TrainConfig, build_trainer
from ddriqa.training.srgan_trainer import SRGANTrainer
from ddriqa.training.srresnet_trainer import SRResNetTrainer


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    root = tmp_path_factory.mktemp("hr")
    for i in range(2):
        write_image(root / f"{i}.png", textured_image(48, 56, seed=30 + i))
    return root


def _config(images, output, **kw):
    base = dict(data=[images], iterations=4, output=output, lr_patch=8, batch_size=2, snapshot_steps=(),
                log_every=1, **TINY_NETWORKS)
    return TrainConfig(**(base | kw))


def _steps(path):
    with open(path, newline="", encoding="utf-8") as fh:
        return [int(r["step"]) for r in csv.DictReader(fh)]


def test_config_checks_its_fields_and_names_the_run(images, tmp_path):
    with pytest.raises(InputError) as err:
        TrainConfig(data=[images], iterations=0, output=tmp_path, arch="esrgan", amp="maybe")
    assert "arch must be one of" in str(err.value) and "amp must be" in str(err.value)
    assert "iterations must be positive" in str(err.value)
    (tmp_path / "run").mkdir()
    config = TrainConfig(data=[images], iterations=1, output=tmp_path / "x", init=tmp_path / "run")
    assert config.name == "x" and config.init == str(tmp_path / "run" / "generator.safetensors")
    assert config.provenance() == {"data": [str(images)], "seed": 0, "batch_size": 16, "lr_patch": 32,
                                   "init": config.init}


def test_a_new_run_starts_from_the_seeded_backbone(images, tmp_path):
    messages = []
    trainer = build_trainer(_config(images, tmp_path / "run", seed=3), log=messages.append)
    assert isinstance(trainer, SRResNetTrainer) and trainer.step == 0 and trainer.run_name == "run"
    expected = random_backbone(3, num_blocks=1, num_features=4)
    for key, value in expected.state_dict().items():
        assert torch.equal(trainer.generator.state_dict()[key], value), key
    assert any("2 training images on cpu" in m for m in messages)
    assert not (tmp_path / "run").exists()  # nothing is written before fit()


def test_resume_overwrite_and_refusal(images, tmp_path):
    out = tmp_path / "run"
    build_trainer(_config(images, out)).fit(stop_at=2)
    with pytest.raises(InputError, match="already holds a training run.*--resume.*--overwrite"):
        build_trainer(_config(images, out))
    resumed = build_trainer(_config(images, out, resume=True))
    assert resumed.step == 2 and resumed.fit()["step"] == 4
    assert _steps(out / "train_log.csv") == [1, 2, 3, 4]
    with pytest.raises(InputError, match="global_residual=True, but --no-global-residual"):
        build_trainer(_config(images, out, resume=True, global_residual=False))
    again = build_trainer(_config(images, out, overwrite=True, iterations=3))
    assert again.step == 0 and (out / "checkpoint").is_dir()  # removed by fit(), not before
    again.fit()
    assert _steps(out / "train_log.csv") == [1, 2, 3]


def test_resume_of_a_run_without_checkpoint_starts_it_again(images, tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    (out / "train_log.csv").write_text("step,loss,lr,time\n1,0.5,0.0002,1.0\n2,0.4,0.0002,2.0\n")
    messages = []
    trainer = build_trainer(_config(images, out, resume=True), log=messages.append)
    assert trainer.step == 0 and any("starting it again from step 0" in m for m in messages)
    trainer.fit(stop_at=1)
    assert _steps(out / "train_log.csv") == [1]


def test_srgan_needs_an_init_and_keeps_its_residual(images, tmp_path):
    with pytest.raises(InputError, match="needs --init"):
        build_trainer(_config(images, tmp_path / "gan", arch="srgan"))
    build_trainer(_config(images, tmp_path / "l1", global_residual=False)).fit(stop_at=1)
    with pytest.raises(InputError, match="global_residual=False, but --global-residual"):
        build_trainer(_config(images, tmp_path / "gan", arch="srgan", init=tmp_path / "l1", global_residual=True))
    messages = []
    gan = build_trainer(_config(images, tmp_path / "gan", arch="srgan", init=tmp_path / "l1"), log=messages.append)
    assert isinstance(gan, SRGANTrainer) and not gan.generator.global_residual
    assert gan.pixel_weight == 1.0 and gan.discriminator.input_size == 32
    assert any("WITHOUT the perceptual loss" in m for m in messages)
    assert gan.provenance["init"] == str(tmp_path / "l1" / "generator.safetensors")


def test_srgan_records_its_init_and_keeps_the_record_when_resumed(images, tmp_path):
    import json

    from ddriqa.models.weights import sha256_file
    from ddriqa.training.config import describe_init

    build_trainer(_config(images, tmp_path / "l1", run_name="l1run")).fit(stop_at=2)
    ck = tmp_path / "l1" / "checkpoint" / "generator.safetensors"
    detail = describe_init(ck)  # a checkpoint: step and run from its train state
    assert detail == {"path": str(ck), "sha256": sha256_file(ck), "step": 2, "run": "l1run"}
    exported = tmp_path / "l1" / "generator.safetensors"  # exported weights: from the metadata / provenance
    assert describe_init(exported)["step"] == 2 and describe_init(exported)["run"] == "l1run"
    gan = build_trainer(_config(images, tmp_path / "gan", arch="srgan", init=ck))
    gan.fit(stop_at=1)
    assert json.loads((tmp_path / "gan" / "generator.json").read_text())["init_detail"] == detail
    build_trainer(_config(images, tmp_path / "l1", resume=True)).fit(stop_at=3)  # the init file moves on
    resumed = build_trainer(_config(images, tmp_path / "gan", arch="srgan", resume=True))  # no --init this time
    assert resumed.init_detail == detail and resumed.provenance["init"] == str(ck)
    resumed.fit(stop_at=2)
    prov = json.loads((tmp_path / "gan" / "generator.json").read_text())
    assert prov["init_detail"] == detail and prov["init"] == str(ck) and prov["step"] == 2
