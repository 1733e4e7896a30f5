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


# ----------------------------------------------------------------------------- issue 32


def _set_files(out):
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_degrade_into_an_existing_set_is_refused_replaced_whole_or_added_to(tmp_path):
    """Item 2: `degrade photos live_small --per-class 2` into an existing set: refused (nothing
    touched); --overwrite replaces the set whole (no orphan image, no reference of the old run);
    --add appends without renumbering and keeps info.txt / labels.csv consistent; the references
    (inputs) are never touched; unknown files stop both."""
    from ddriqa.datasets.live_database import load_live

    refs = _refs(tmp_path)
    photos = tmp_path / "photos"
    photos.mkdir()
    write_image(photos / "p0.png", textured_image(44, 44, seed=9))
    inputs = {p: p.read_bytes() for d in (refs, photos) for p in d.iterdir()}
    out = tmp_path / "live_small"
    base = ["--classes", "wn,gblur", "--min-size", "16", "--seed", "0"]
    res = CliRunner().invoke(main, ["degrade", str(refs), str(out), "--per-class", "6"] + base)
    assert res.exit_code == 0, res.output
    first = _set_files(out)
    assert len([k for k in first if k.endswith(".bmp") and not k.startswith("refimgs/")]) == 12

    res = CliRunner().invoke(main, ["degrade", str(photos), str(out), "--per-class", "2"] + base)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {out}: holds {len(first)} files already")
    assert "pass --overwrite to replace the set it holds, or --add to add images to it" in res.stderr
    assert _set_files(out) == first

    res = CliRunner().invoke(main, ["degrade", str(photos), str(out), "--per-class", "2", "--overwrite"] + base)
    assert res.exit_code == 0, res.output
    files = _set_files(out)
    assert sorted(k for k in files if k.endswith(".bmp")) == [
        "gblur/img1.bmp", "gblur/img2.bmp", "refimgs/p0.bmp", "wn/img1.bmp", "wn/img2.bmp"]
    live = load_live(out)
    assert set(live["reference"]) == {"p0.bmp"} and len(live) == 4

    res = CliRunner().invoke(main, ["degrade", str(refs), str(out), "--per-class", "3", "--add"] + base)
    assert res.exit_code == 0, res.output
    assert "added 6 distorted images" in res.stdout
    after = _set_files(out)
    assert all(after[k] == v for k, v in files.items() if k.endswith(".bmp"))  # nothing rewritten
    labels = pd.read_csv(out / "labels.csv")
    assert labels["path"].tolist() == ["wn/img1.bmp", "wn/img2.bmp", "gblur/img1.bmp", "gblur/img2.bmp",
                                       "wn/img3.bmp", "wn/img4.bmp", "wn/img5.bmp",
                                       "gblur/img3.bmp", "gblur/img4.bmp", "gblur/img5.bmp"]
    live = load_live(out)
    assert len(live) == 10 and set(live["reference"]) == {"p0.bmp", "r0.bmp", "r1.bmp"}
    info = (out / "wn" / "info.txt").read_text().splitlines()
    assert [line.split()[1] for line in info] == [f"img{k}.bmp" for k in range(1, 6)]

    (out / "wn" / "mine.txt").write_text("not the set's")
    for flag in ("--overwrite", "--add"):
        res = CliRunner().invoke(main, ["degrade", str(refs), str(out), "--per-class", "2", flag] + base)
        assert res.exit_code == 2 and "files that no degrade run recorded (wn/mine.txt)" in res.stderr
    assert (out / "wn" / "mine.txt").read_text() == "not the set's"
    assert {p: p.read_bytes() for d in (refs, photos) for p in d.iterdir()} == inputs
    res = CliRunner().invoke(main, ["degrade", str(refs), str(refs / "out"), "--per-class", "2"] + base)
    assert res.exit_code == 2 and "lies inside the input folder" in res.stderr


def test_degrade_add_continues_the_round_robin_of_a_fresh_run(tmp_path):
    """Item 2: adding 2 images per class to a 3-per-class set gives the images a 5-per-class run makes."""
    refs = _refs(tmp_path)
    base = ["--classes", "wn", "--min-size", "16", "--seed", "3"]
    assert CliRunner().invoke(main, ["degrade", str(refs), str(tmp_path / "a"), "-n", "3"] + base).exit_code == 0
    assert CliRunner().invoke(main, ["degrade", str(refs), str(tmp_path / "a"), "-n", "2", "--add"] + base).exit_code == 0
    assert CliRunner().invoke(main, ["degrade", str(refs), str(tmp_path / "b"), "-n", "5"] + base).exit_code == 0
    assert _set_files(tmp_path / "a") == _set_files(tmp_path / "b")
