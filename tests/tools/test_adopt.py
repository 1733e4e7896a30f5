"""Adopting a run's files into weights/checkpoints with provenance (tiny networks, CPU)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
import torch
from conftest import textured_image

from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import load_generator, sha256_file
from ddriqa.training.data import PatchSampler, make_lr_images
from ddriqa.training.srresnet_trainer import SRResNetTrainer

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))  # tools/ is outside the package

from adopt import adopt_run_outputs, main, read_eval_csv  # noqa: E402
from gpu_run import _collect  # noqa: E402

RUN = "srresnet_x4_nogr"
DATA = ["tiny generated images"]


@pytest.fixture(scope="module")
def brought_back(tmp_path_factory):
    """What gpu_run would bring back after 4 of 8 steps of a tiny woGR run (snapshot at 2, validation at 2, 4)."""
    root = tmp_path_factory.mktemp("adopt")
    pairs = make_lr_images([textured_image(48 + 8 * i, 56, seed=i) for i in range(3)], 4)
    val = make_lr_images([textured_image(40, 40, seed=9)], 4)
    gen = SRResNet(num_features=4, num_blocks=2, global_residual=False).reset_parameters(torch.Generator().manual_seed(0))
    trainer = SRResNetTrainer(gen, PatchSampler(*pairs, lr_patch=8, batch_size=2, seed=0), root / "work" / RUN,
                              iterations=8, val_pairs={"Set5": [("v", val[0][0], val[1][0])]}, val_every=2, snapshot_steps=(0, 2),
                              run_name=RUN)
    trainer.fit(stop_at=4)
    out = root / "out"
    _collect([RUN], root / "work", out, {"runs": {RUN: {}}})
    return root, out


def test_adopt_writes_provenance_for_every_file(brought_back, tmp_path):
    root, out = brought_back
    dest = tmp_path / "checkpoints"
    (dest / "resume").mkdir(parents=True)
    with open(dest / "resume" / "val_log.csv", "w", newline="") as fh:  # another run's rows must survive
        fh.write("run,step,set,psnr,time\nsrresnet_x4_gr,2000,Set5,31.0,1.0\n")
    ev = tmp_path / "bsd.csv"
    ev.write_text("image,psnr_y,psnr_y_bicubic,error\na.png,27.5,26.0,\nmean,27.25,25.75,\n")
    adopt_run_outputs(out, dest, data=DATA, evals={RUN: {"BSD100": ev}}, status_note="test")
    weights = dest / "resume" / f"{RUN}.safetensors"
    files = [weights, dest / "resume" / f"{RUN}.g_optim.safetensors", dest / "snapshots" / f"{RUN}_step2.safetensors"]
    for path in files:
        prov = json.loads(path.with_suffix(".json").read_text())
        # the keys the committed-weights test asks of every file under weights/
        assert prov["sha256"] == sha256_file(path) and prov["data"] == DATA and prov["iterations"] == 8
        assert prov["loss"] == "L1" and prov["config"]["global_residual"] is False
        assert prov["segments"] and prov["segments"][-1]["to_step"] == 4 and "test" in prov["status"]
    main_prov = json.loads(weights.with_suffix(".json").read_text())
    assert main_prov["step"] == 4 and set(main_prov["validation_psnr_y"]) == {"Set5", "BSD100"}
    assert main_prov["validation"]["psnr_y_bicubic"] == {"BSD100": 25.75}
    assert main_prov["optimizer"]["state_file"] == f"{RUN}.g_optim.safetensors"
    assert json.loads((dest / "snapshots" / f"{RUN}_step2.json").read_text())["step"] == 2
    with open(dest / "resume" / "val_log.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [(r["run"], int(r["step"])) for r in rows] == [("srresnet_x4_gr", 2000), (RUN, 2), (RUN, 4)]
    assert not load_generator(weights).global_residual
    assert main_prov["batch_size"] == 2 and main_prov["lr_patch"] == 8  # recorded by the trainer


def test_cli_extra_fields_override(brought_back, tmp_path):
    _, out = brought_back
    dest = tmp_path / "checkpoints"
    assert main([str(out), "--dest", str(dest), "--data", "d", "--set", "batch_size=16", "--set", "note=x y"]) == 0
    prov = json.loads((dest / "resume" / f"{RUN}.json").read_text())
    assert prov["batch_size"] == 16 and prov["note"] == "x y" and prov["data"] == ["d"]


def test_light_outputs_remove_a_stale_optimizer_state(brought_back, tmp_path):
    _, out = brought_back
    dest = tmp_path / "checkpoints"
    adopt_run_outputs(out, dest, data=DATA)
    light = tmp_path / "light"
    light.mkdir()
    for name in (f"{RUN}.safetensors", "val_log.csv"):
        (light / name).write_bytes((out / name).read_bytes())
    adopt_run_outputs(light, dest, data=DATA)
    assert not (dest / "resume" / f"{RUN}.g_optim.safetensors").exists()
    assert not (dest / "resume" / f"{RUN}.g_optim.json").exists()
    prov = json.loads((dest / "resume" / f"{RUN}.json").read_text())
    assert prov["optimizer"]["state_file"] is None and "light" in prov["status"]


def test_bad_inputs_give_clear_errors(brought_back, tmp_path, capsys):
    _, out = brought_back
    with pytest.raises(ValueError, match="no 'mean' row"):
        bad = tmp_path / "bad.csv"
        bad.write_text("image,psnr_y,psnr_y_bicubic,error\n")
        read_eval_csv(bad)
    snap_only = tmp_path / "snaponly"
    snap_only.mkdir()
    (snap_only / "x.safetensors").write_bytes((out / f"{RUN}.snap2.safetensors").read_bytes())
    assert main([str(snap_only), "--dest", str(tmp_path / "d"), "--data", "x"]) == 2
    assert "no train_state metadata" in capsys.readouterr().err
    assert main([str(tmp_path / "empty_dir_that_is_missing"), "--data", "x", "--dest", str(tmp_path / "d")]) == 2


def test_srgan_generator_adopted_with_losses_and_init_from_its_provenance(tmp_path):
    from ddriqa.models.discriminator import VGGDiscriminator
    from ddriqa.training.srgan_trainer import SRGANTrainer

    run = "srgan_x4_gr"
    pairs = make_lr_images([textured_image(48, 56, seed=i) for i in range(2)], 4)
    gen = SRResNet(num_features=4, num_blocks=1).reset_parameters(torch.Generator().manual_seed(0))
    trainer = SRGANTrainer(gen, VGGDiscriminator(num_features=2, input_size=32),
                           PatchSampler(*pairs, lr_patch=8, batch_size=2, seed=0), tmp_path / "work" / run,
                           iterations=4, snapshot_steps=(2,), run_name=run,
                           provenance={"init": "weights/checkpoints/resume/srresnet_x4_gr.safetensors"})
    trainer.fit()
    staged = tmp_path / "staged"
    _collect([run], tmp_path / "work", staged, {"runs": {run: {}}})
    (staged / f"{run}.g_optim.safetensors").unlink()  # a generator without its discriminator is no resume state
    for brought in [*staged.glob(f"{run}.discriminator*.safetensors"), staged / f"{run}.json"]:
        brought.unlink()  # staged by hand from a train-sr folder: generator, snapshots and log only
    dest = tmp_path / "checkpoints"
    with pytest.raises(ValueError, match="needs its provenance JSON"):
        adopt_run_outputs(staged, dest, data=DATA)
    exported = json.loads((tmp_path / "work" / run / "generator.json").read_text())
    (staged / f"{run}.json").write_text(json.dumps(exported))
    adopt_run_outputs(staged, dest, data=DATA)
    prov = json.loads((dest / "resume" / f"{run}.json").read_text())
    assert prov["arch"] == "srgan" and prov["step"] == 4 and prov["init"].endswith("srresnet_x4_gr.safetensors")
    assert prov["loss"] == "0.01 * L1 + 0.005 * vanilla GAN (no perceptual loss)"
    assert "discriminator" in prov and "not a resume state" in prov["status"]
    assert prov["sha256"] == sha256_file(dest / "resume" / f"{run}.safetensors")
    snap = json.loads((dest / "snapshots" / f"{run}_step4.json").read_text())  # the latest one
    assert snap["loss"] == prov["loss"] and snap["step"] == 4
