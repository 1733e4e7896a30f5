"""CLI tests of train-sr, upscale, eval-sr and pack-sr-data on tiny generated data."""

from __future__ import annotations

import csv
import io
import json
import os

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


def _sha(path):
    import hashlib

    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_train_sr_refuses_a_folder_that_holds_a_run(trained):
    """Issue point 1: no --resume / --overwrite: refused, naming the folder and both flags."""
    root, _ = trained
    run = root / "run"
    before = _sha(run / "generator.safetensors")
    res = CliRunner().invoke(main, ["train-sr", "--data", str(root / "hr"), "--iterations", "3", "-o", str(run),
                                    "--tiny", "--lr-patch", "8", "--batch-size", "2", "--snapshot-steps", ""])
    assert res.exit_code == 2, res.output
    assert f"error: {run} already holds a training run" in res.stderr
    assert "--resume" in res.stderr and "--overwrite" in res.stderr and "resume=True" not in res.stderr
    assert _sha(run / "generator.safetensors") == before


def test_train_sr_short_run_log_progress_lines_and_file_modes(tmp_path):
    """Issue point 8: a run shorter than --log-every still writes train_log.csv (its final row);
    a progress line every --log-every steps; files 0644 under umask 022 (never safetensors' 0600)."""
    import os
    import stat

    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(2):
        write_image(hr / f"im{i}.png", textured_image(40, 40, seed=i))
    base = ["train-sr", "--data", str(hr), "--tiny", "--lr-patch", "8", "--batch-size", "2", "--snapshot-steps", "0"]
    old = os.umask(0o022)
    try:
        res = CliRunner().invoke(main, base + ["--iterations", "3", "-o", str(tmp_path / "short")])
        assert res.exit_code == 0, res.output
        assert "deprecated" not in res.stderr
        rows = list(csv.DictReader(open(tmp_path / "short" / "train_log.csv", newline="")))
        assert [r["step"] for r in rows] == ["3"]  # --log-every is 100
        files = [p for p in (tmp_path / "short").rglob("*") if p.is_file()]
        assert {"generator.safetensors", "generator.json", "train_log.csv"} <= {p.name for p in files}
        assert any(p.parent.name == "checkpoint" for p in files) and any(p.parent.name == "snapshots" for p in files)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in files}
        assert set(modes.values()) == {0o644}, modes
        res = CliRunner().invoke(main, base + ["--iterations", "4", "--log-every", "2", "--out", str(tmp_path / "long")])
        assert res.exit_code == 0, res.output
        assert "warning: --out is deprecated, use -o/--output" in res.stderr
        assert "step 2/4:" in res.stderr and "step 4/4:" in res.stderr and "step 3/4:" not in res.stderr
    finally:
        os.umask(old)


def test_upscale_counts_written_kept_and_failed(trained, tmp_path):
    """Issue point 5: a rerun that keeps every output does not say it wrote them."""
    root, _ = trained
    weights = str(root / "run" / "generator.safetensors")
    args = ["upscale", str(root / "hr"), str(tmp_path / "x4"), "--weights", weights]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1
    assert res.stderr.splitlines()[-1] == f"4 images: 3 written to {tmp_path / 'x4'}, 1 failed"
    res = CliRunner().invoke(main, args)
    assert res.stderr.splitlines()[-1] == (f"4 images: 0 written to {tmp_path / 'x4'}, 3 kept (already in "
                                           f"{tmp_path / 'x4'}; --overwrite replaces them), 1 failed")
    assert "\n\n" not in res.stderr
    res = CliRunner().invoke(main, args + ["--overwrite"])
    assert res.stderr.splitlines()[-1] == f"4 images: 3 written to {tmp_path / 'x4'}, 1 failed"


def test_eval_sr_leaves_identical_images_out_of_the_mean(trained, tmp_path):
    """Issue point 5: a flat image is reproduced exactly by bicubic (PSNR inf); the mean stays finite."""
    import numpy as np

    root, _ = trained
    data = tmp_path / "hr"
    data.mkdir()
    write_image(data / "flat.png", np.full((48, 48, 3), 120, np.uint8))
    write_image(data / "photo.png", textured_image(48, 48, seed=3))
    res = CliRunner().invoke(main, ["eval-sr", "--weights", str(root / "run" / "generator.safetensors"),
                                    "--data", str(data)])
    assert res.exit_code == 0, res.output
    rows = {r["image"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert rows["flat.png"]["psnr_y_bicubic"] == "inf"
    assert rows["mean"]["psnr_y_bicubic"] == rows["photo.png"]["psnr_y_bicubic"] != "inf"
    assert "psnr_y_bicubic 1 of 2" in rows["mean"]["error"] and "left out of the means" in res.stderr
    assert "inf dB" not in res.stderr


# ----------------------------------------------------------------------------- issue 32


def test_upscale_refuses_an_output_folder_overlapping_the_input(trained, tmp_path):
    """Item 1: OUTPUT_DIR = INPUT_DIR (with --overwrite too), inside it, or holding it: refused
    before anything is read or written; the input photo is untouched."""
    root, _ = trained
    weights = str(root / "run" / "generator.safetensors")
    same = tmp_path / "same"
    same.mkdir()
    write_image(same / "a.png", textured_image(20, 20, seed=4))
    photo = (same / "a.png").read_bytes()
    cases = [(same, same, "is the input folder"), (same, same / "x4", "lies inside the input folder"),
             (same, tmp_path, "contains the input folder")]
    for src, dst, how in cases:
        for extra in ([], ["--overwrite"]):
            res = CliRunner().invoke(main, ["upscale", str(src), str(dst), "--weights", weights] + extra)
            assert res.exit_code == 2, res.output
            assert res.stderr == f"error: {dst}: {how} {src}; choose an output folder outside it\n"
    assert (same / "a.png").read_bytes() == photo and sorted(p.name for p in same.iterdir()) == ["a.png"]


def test_upscale_says_when_nothing_was_upscaled(trained, tmp_path):
    """Item 1: a rerun that finds every output in place says "nothing upscaled" (exit 0, documented)."""
    root, _ = trained
    weights = str(root / "run" / "generator.safetensors")
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", textured_image(20, 20, seed=4))
    args = ["upscale", str(src), str(tmp_path / "out"), "--weights", weights]
    assert CliRunner().invoke(main, args).exit_code == 0
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0
    assert res.stderr.splitlines()[-2:] == [
        f"nothing upscaled: the outputs of 1 image exist in {tmp_path / 'out'} already (an earlier run made them; "
        "pass --overwrite to make them again)",
        f"1 image: 0 written to {tmp_path / 'out'}, 1 kept (already in {tmp_path / 'out'}; --overwrite replaces "
        "them), 0 failed"]


def test_eval_sr_refuses_an_existing_output_without_overwrite(trained, tmp_path):
    """Items 3 and 4: `eval-sr -o existing.csv` is refused without --overwrite; a folder or an
    unwritable -o is one error line before the network loads."""
    root, _ = trained
    args = ["eval-sr", "--weights", str(root / "run" / "generator.safetensors"), "--data", str(root / "hr")]
    out = tmp_path / "existing.csv"
    out.write_text("mine\n")
    res = CliRunner().invoke(main, args + ["-o", str(out)])
    assert res.exit_code == 2 and res.stderr == f"error: {out} exists; pass --overwrite to replace it\n"
    assert out.read_text() == "mine\n"
    res = CliRunner().invoke(main, args + ["-o", str(out), "--overwrite"])
    assert res.exit_code == 1  # broken.png
    assert out.read_text().startswith("image,psnr_y,psnr_y_bicubic,error\n")
    res = CliRunner().invoke(main, args + ["-o", str(tmp_path), "--overwrite"])  # click's own check
    assert res.exit_code == 2 and "is a directory" in res.stderr and "Traceback" not in res.output
    if os.path.isdir("/proc/self"):
        res = CliRunner().invoke(main, args + ["-o", "/proc/out.csv"])
        assert res.exit_code == 2 and res.stderr.startswith("error: /proc/out.csv: cannot write there (")


def test_train_sr_resume_with_fewer_iterations_than_done_is_refused(tmp_path):
    """Item 7: a run at step 6 resumed with --iterations 3: exit 2, a clear message, run_config.json
    and the logs untouched."""
    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(2):
        write_image(hr / f"im{i}.png", textured_image(40, 40, seed=i))
    base = ["train-sr", "--data", str(hr), "-o", str(tmp_path / "run"), "--tiny", "--lr-patch", "8",
            "--batch-size", "2", "--snapshot-steps", "", "--val-root", str(tmp_path), "--val-sets", "hr"]
    res = CliRunner().invoke(main, base + ["--iterations", "6"])
    assert res.exit_code == 0, res.output
    files = {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()}
    res = CliRunner().invoke(main, base + ["--iterations", "3", "--resume"])
    assert res.exit_code == 2, res.output
    assert (f"error: {tmp_path / 'run'}: the run is at step 6, past the 3 iterations asked: nothing would be "
            "trained; to continue it, ask for more than 6 iterations (it was started for 6)") in res.stderr
    assert "finished" not in res.output
    assert {p: p.read_bytes() for p in (tmp_path / "run").rglob("*") if p.is_file()} == files
    assert json.loads((tmp_path / "run" / "run_config.json").read_text())["iterations"] == 6
