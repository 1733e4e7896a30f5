"""``ddriqa degrade`` through click's CliRunner."""

from __future__ import annotations

import pandas as pd
from click.testing import CliRunner
from conftest import textured_image

from ddriqa.cli import main
from ddriqa.io import write_image


def _refs(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"r{i}.png", textured_image(40, 48, seed=i))
    return folder


def test_degrade_writes_dataset(tmp_path):
    refs = _refs(tmp_path)
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main, ["degrade", str(refs), str(out), "--per-class", "3", "--seed", "5", "--classes", "wn,gblur,jp2k", "--min-size", "16"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 9 distorted images" in result.stdout
    labels = pd.read_csv(out / "labels.csv")
    assert labels["distortion"].tolist() == ["wn"] * 3 + ["gblur"] * 3 + ["jp2k"] * 3
    assert (out / "gblur" / "img3.bmp").is_file() and not (out / "jpeg").exists()


def test_degrade_bad_class_and_bad_reference(tmp_path):
    refs = _refs(tmp_path)
    runner = CliRunner()
    result = runner.invoke(main, ["degrade", str(refs), str(tmp_path / "o"), "--classes", "wn,blur"])
    assert result.exit_code == 2 and "blur" in result.stderr
    (refs / "zz.png").write_bytes(b"garbage")
    result = runner.invoke(main, ["degrade", str(refs), str(tmp_path / "o2"), "-n", "2", "--classes", "wn", "--min-size", "16"])
    assert result.exit_code == 1, result.output
    assert "1 reference skipped" in result.stdout and "zz.png" in result.stderr
    assert len(pd.read_csv(tmp_path / "o2" / "labels.csv")) == 2


def test_degrade_refuses_small_references_before_writing(tmp_path):
    refs = _refs(tmp_path)  # 48x40: below the 96-pixel default
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["degrade", str(refs), str(out), "-n", "2", "--classes", "wn"])
    assert result.exit_code == 2
    assert "r0.png (48x40)" in result.stderr and "--min-size" in result.stderr
    assert not out.exists()
