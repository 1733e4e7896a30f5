"""The prepared GPU script, run on the CPU with tiny networks (--allow-cpu --tiny)."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import pytest
from conftest import textured_image

from ddriqa.io import write_image
from ddriqa.training.data import pack_images

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tools"))  # tools/ is outside the package

from gpu_run import _prepare, main  # noqa: E402


@pytest.fixture()
def packs(tmp_path):
    for i in range(3):
        (tmp_path / "hr").mkdir(exist_ok=True)
        write_image(tmp_path / "hr" / f"{i}.png", textured_image(48, 56, seed=i))
    (tmp_path / "val").mkdir()
    write_image(tmp_path / "val" / "v.png", textured_image(40, 40, seed=9))
    pack_images([tmp_path / "hr"], tmp_path / "train.npz")
    pack_images([tmp_path / "val"], tmp_path / "val.npz", groups=["Set5"])
    return ["--pack", str(tmp_path / "train.npz"), "--val-pack", str(tmp_path / "val.npz"), "--allow-cpu", "--tiny",
            "--val-every", "3", "--log-every", "2", "--threads", "1", "--minutes", "5"]


@pytest.mark.slow
def test_gpu_run_writes_at_most_8_small_files_and_resumes(packs, tmp_path):
    out1 = tmp_path / "out1"
    assert main(packs + ["--iterations", "6", "--snapshot-steps", "0,3", "--out", str(out1)]) == 0
    files = sorted(p.name for p in out1.iterdir())
    sizes = [(out1 / f).stat().st_size for f in files]
    assert len(files) <= 8 and sum(sizes) <= 64 * 2**20 and max(sizes) <= 16 * 2**20
    assert {"srresnet_x4_gr.safetensors", "srresnet_x4_nogr.g_optim.safetensors", "srresnet_x4_gr.snap6.safetensors",
            "srresnet_x4_nogr.snap6.safetensors", "val_log.csv", "gpu_run_report.json"} <= set(files)
    report = json.loads((out1 / "gpu_run_report.json").read_text())
    # two runs' resume states + logs leave room for the two newest snapshots; the step-3 ones are named instead
    assert len(files) == 8 and sorted(Path(n.split(" ")[0]).name for n in report["not_copied"]) == [
        "generator_step0000003.safetensors"] * 2
    assert not any(f.endswith(".snap0.safetensors") for f in files)  # step 0 is re-made from the seed
    assert all(r["returncode"] == 0 and r["summary"]["step"] == 6 for r in report["runs"].values())
    # a second session: the files brought back seed the work folders (exact resume of gr)
    work = tmp_path / "work"
    assert _prepare("srresnet_x4_gr", work, out1) == "exact resume"
    (out1 / "srresnet_x4_nogr.g_optim.safetensors").unlink()
    assert _prepare("srresnet_x4_nogr", work, out1).startswith("light resume")
    assert (work / "srresnet_x4_gr" / "checkpoint" / "g_optim.safetensors").is_file()
    with open(work / "srresnet_x4_gr" / "val_log.csv", newline="") as fh:
        assert [int(r["step"]) for r in csv.DictReader(fh)] == [3, 6]
    assert _prepare("srresnet_x4_gr", tmp_path / "w2", None) == "new"


@pytest.mark.parametrize("arch", ["srresnet", "srgan"])
def test_bench_measures_either_trainer(arch):
    from gpu_run import bench

    r = bench(0.01, device="cpu", batch_size=2, lr_patch=8, amp=False, channels_last=False, arch=arch)
    assert r["arch"] == arch and r["iterations"] >= 1 and r["it_per_s"] > 0 and r["device"] == "cpu"
    with pytest.raises(ValueError, match="arch must be"):
        bench(0.01, device="cpu", arch="esrgan")


def test_collect_brings_every_snapshot_of_one_run_within_the_limits(tmp_path):
    from gpu_run import MAX_FILE, _collect

    run, work = "srresnet_x4_gr", tmp_path / "work"
    (work / run / "checkpoint").mkdir(parents=True)
    (work / run / "snapshots").mkdir()
    (work / run / "checkpoint" / "generator.safetensors").write_bytes(b"g" * 100)
    (work / run / "checkpoint" / "g_optim.safetensors").write_bytes(b"o" * (MAX_FILE + 1))  # too large to come back
    for step in (0, 15000, 20000):
        (work / run / "snapshots" / f"generator_step{step:07d}.safetensors").write_bytes(b"s" * 10)
    report = {"runs": {run: {}}}
    written = _collect([run], work, tmp_path / "out", report)
    assert written == [f"{run}.safetensors", f"{run}.snap20000.safetensors", f"{run}.snap15000.safetensors"]
    assert [n.split(" ")[0].endswith("g_optim.safetensors") for n in report["not_copied"]] == [True]
    assert (tmp_path / "out" / f"{run}.snap15000.safetensors").read_bytes() == b"s" * 10


@pytest.mark.slow
def test_gpu_run_srgan_comes_back_compact_resumes_and_is_adopted(packs, tmp_path):
    from adopt import adopt_run_outputs

    from ddriqa.models.weights import sha256_file

    out0 = tmp_path / "out0"
    assert main(packs + ["--runs", "srresnet_x4_gr", "--iterations", "6", "--out", str(out0)]) == 0
    init = out0 / "srresnet_x4_gr.safetensors"
    gan = packs + ["--runs", "srgan_x4_gr", "--srgan-iterations", "6", "--srgan-snapshot-steps", "2"]
    # refused before anything runs: no init for a new run, a second run beside it, a missing init file
    assert main(gan + ["--out", str(tmp_path / "x")]) == 2
    assert main(packs + ["--runs", "srgan_x4_gr,srresnet_x4_gr", "--srgan-init", str(init),
                         "--out", str(tmp_path / "x")]) == 2
    assert main(gan + ["--srgan-init", str(tmp_path / "none.safetensors"), "--out", str(tmp_path / "x")]) == 2
    assert not (tmp_path / "x").exists()

    out1 = tmp_path / "out1"
    assert main(gan + ["--srgan-init", str(init), "--stop-at", "3", "--out", str(out1)]) == 0
    files = sorted(p.name for p in out1.iterdir())
    assert {"srgan_x4_gr.safetensors", "srgan_x4_gr.g_optim.safetensors", "srgan_x4_gr.discriminator.safetensors",
            "srgan_x4_gr.json", "srgan_x4_gr.snap2.safetensors", "val_log.csv", "gpu_run_report.json"} == set(files)
    detail = json.loads((out1 / "srgan_x4_gr.json").read_text())["init_detail"]
    assert detail == {"path": str(init), "sha256": sha256_file(init), "step": 6, "run": "srresnet_x4_gr"}

    # a second sitting from what came back; the init file moving on does not change the record
    init.write_bytes(b"moved on")
    (tmp_path / "nod").mkdir()
    (tmp_path / "nod" / "srgan_x4_gr.safetensors").write_bytes((out1 / "srgan_x4_gr.safetensors").read_bytes())
    assert main(gan + ["--resume-from", str(tmp_path / "nod"), "--out", str(tmp_path / "x")]) == 2  # no discriminator
    out2 = tmp_path / "out2"
    assert main(gan + ["--resume-from", str(out1), "--out", str(out2)]) == 0
    report = json.loads((out2 / "gpu_run_report.json").read_text())
    run = report["runs"]["srgan_x4_gr"]
    assert run["summary"]["step"] == 6 and "compact discriminator" in run["mode"]
    prov = json.loads((out2 / "srgan_x4_gr.json").read_text())
    assert prov["init_detail"] == detail and prov["init"] == str(init) and prov["step"] == 6

    dest = tmp_path / "checkpoints"
    adopt_run_outputs(out2, dest, data=["tiny"], runs=["srgan_x4_gr"])
    d = dest / "resume" / "srgan_x4_gr.discriminator.safetensors"
    d_prov = json.loads(d.with_suffix(".json").read_text())
    assert d_prov["sha256"] == sha256_file(d) and d_prov["step"] == 6 and d_prov["dtype"] == "bfloat16"
    g_prov = json.loads((dest / "resume" / "srgan_x4_gr.json").read_text())
    assert g_prov["init_detail"] == detail and "resume state" in g_prov["status"]
    assert "inexact for the discriminator" in g_prov["discriminator"]
