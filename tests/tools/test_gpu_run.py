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


@pytest.mark.slow
def test_gpu_run_writes_at_most_8_small_files_and_resumes(tmp_path):
    for i in range(3):
        (tmp_path / "hr").mkdir(exist_ok=True)
        write_image(tmp_path / "hr" / f"{i}.png", textured_image(48, 56, seed=i))
    (tmp_path / "val").mkdir()
    write_image(tmp_path / "val" / "v.png", textured_image(40, 40, seed=9))
    pack_images([tmp_path / "hr"], tmp_path / "train.npz")
    pack_images([tmp_path / "val"], tmp_path / "val.npz", groups=["Set5"])
    common = ["--pack", str(tmp_path / "train.npz"), "--val-pack", str(tmp_path / "val.npz"), "--allow-cpu", "--tiny",
              "--iterations", "6", "--val-every", "3", "--snapshot-steps", "0,3", "--log-every", "2", "--threads", "1"]
    out1 = tmp_path / "out1"
    assert main(common + ["--out", str(out1), "--minutes", "5"]) == 0
    files = sorted(p.name for p in out1.iterdir())
    assert len(files) <= 8 and all((out1 / f).stat().st_size <= 16 * 2**20 for f in files)
    assert {"srresnet_x4_gr.safetensors", "srresnet_x4_nogr.g_optim.safetensors", "srresnet_x4_gr.snap6.safetensors",
            "val_log.csv", "gpu_run_report.json"} <= set(files)
    report = json.loads((out1 / "gpu_run_report.json").read_text())
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
