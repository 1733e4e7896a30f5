"""CLI tests of train-sr, upscale, eval-sr and pack-sr-data on tiny generated data."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from conftest import textured_image

from ddriqa.cli import main
from ddriqa.io import read_image, write_image


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A folder of tiny HR images and a 3-iteration train-sr run on them."""
    root = tmp_path_factory.mktemp("sr")
    (root / "hr").mkdir()
    for i in range(3):
        write_image(root / "hr" / f"im{i}.png", textured_image(40 + 4 * i, 48, seed=i))
    (root / "hr" / "broken.png").write_bytes(b"\x89PNG garbage")
    runner = CliRunner()
    res = runner.invoke(main, ["train-sr", "--data", str(root / "hr"), "--iterations", "3", "--out", str(root / "run"),
                               "--tiny", "--lr-patch", "8", "--batch-size", "2", "--val-root", str(root),
                               "--val-sets", "hr", "--val-every", "2", "--log-every", "1", "--snapshot-steps", "0"])
    return root, res


def test_train_sr_runs_end_to_end(trained):
    root, res = trained
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["step"] == 3 and summary["finished"] and "hr" in summary["validation"]
    assert "skipped" in res.stderr and "broken.png" in res.stderr
    run = root / "run"
    for name in ("generator.safetensors", "generator.json", "checkpoint/generator.safetensors",
                 "checkpoint/g_optim.safetensors", "val_log.csv", "train_log.csv",
                 "snapshots/generator_step0000000.safetensors", "snapshots/generator_step0000003.safetensors"):
        assert (run / name).is_file(), name
    prov = json.loads((run / "generator.json").read_text())
    assert prov["step"] == 3 and prov["loss"] == "L1" and len(prov["sha256"]) == 64


def test_train_sr_resume_continues_and_srgan_needs_init(trained, tmp_path):
    root, _ = trained
    runner = CliRunner()
    cont = ["train-sr", "--data", str(root / "hr"), "--iterations", "5", "--out", str(root / "run"),
            "--resume", "--lr-patch", "8", "--batch-size", "2", "--log-every", "1", "--snapshot-steps", ""]
    res = runner.invoke(main, cont + ["--stop-at", "4"])  # stop early, e.g. to match a twin run's step
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.splitlines()[-1])
    assert "resumed at step 3" in res.stderr and summary["step"] == 4 and not summary["finished"]
    res = runner.invoke(main, cont)
    assert res.exit_code == 0, res.output
    assert "resumed at step 4" in res.stderr and json.loads(res.stdout.splitlines()[-1])["step"] == 5
    res = runner.invoke(main, ["train-sr", "--arch", "srgan", "--data", str(root / "hr"), "--iterations", "2",
                               "--out", str(tmp_path / "gan")])
    assert res.exit_code == 2 and "--init" in res.stderr
    gan = ["train-sr", "--arch", "srgan", "--data", str(root / "hr"), "--iterations", "2",
           "--out", str(tmp_path / "gan"), "--init", str(root / "run" / "generator.safetensors"),
           "--lr-patch", "8", "--batch-size", "2", "--tiny", "--snapshot-steps", ""]
    res = runner.invoke(main, gan + ["--no-global-residual"])  # the init has a global residual
    assert res.exit_code == 2 and "global_residual=True" in res.stderr and not (tmp_path / "gan").exists()
    res = runner.invoke(main, gan + ["--global-residual"])
    assert res.exit_code == 0, res.output
    assert "WITHOUT the perceptual loss" in res.stderr
    # without a perceptual loss the pixel L1 carries the content: weight 1, not the paper's 1e-2
    assert json.loads((tmp_path / "gan" / "generator.json").read_text())["loss"] == \
        "1 * L1 + 0.005 * vanilla GAN (no perceptual loss)"
    assert "pixel L1 weight 1, GAN weight 0.005" in res.stderr


def test_upscale_and_eval_sr(trained, tmp_path):
    root, _ = trained
    weights = str(root / "run" / "generator.safetensors")
    runner = CliRunner()
    res = runner.invoke(main, ["upscale", str(root / "hr"), str(tmp_path / "x4"), "--weights", weights, "--tile", "24"])
    assert res.exit_code == 1, res.output  # one bad file, reported and skipped
    assert "broken.png" in res.stderr
    out = read_image(tmp_path / "x4" / "im1.png")
    assert out.shape == (4 * 44, 4 * 48, 3)
    res = runner.invoke(main, ["eval-sr", "--weights", weights, "--data", str(root / "hr")])
    assert res.exit_code == 1
    rows = list(csv.DictReader(io.StringIO(res.stdout)))
    assert [r["image"] for r in rows] == ["broken.png", "im0.png", "im1.png", "im2.png", "mean"]
    assert rows[0]["error"] and all(15 < float(r["psnr_y"]) < 60 for r in rows[1:])
    assert 15 < float(rows[-1]["psnr_y_bicubic"]) < 60
    res = runner.invoke(main, ["eval-sr", "--weights", str(tmp_path / "none.safetensors"), "--data", str(root / "hr")])
    assert res.exit_code == 2 and "none.safetensors" in res.stderr


def test_pack_sr_data(trained, tmp_path):
    root, _ = trained
    res = CliRunner().invoke(main, ["pack-sr-data", str(root / "hr"), "--out", str(tmp_path / "p.npz")])
    assert res.exit_code == 1  # the broken file is skipped
    assert json.loads(res.stdout)["n_images"] == 3 and (tmp_path / "p.npz").is_file()
