"""What every command shares (CLI.md, "Conventions"): one output option name, one --device default,
one exit status per kind of error, "no images" before any model loads, failed files never dropped
silently, resumes keyed by resolved paths, flag names in error messages."""

from __future__ import annotations

import csv
import inspect
import os

import pytest
from click.testing import CliRunner
from conftest import REPO, textured_image

from ddriqa.cli import main
from ddriqa.io import write_image

COMMANDS = sorted(name for name in main.commands if name != "benchmark")  # benchmark: someone else's


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("imgs")
    for i in range(3):
        write_image(root / f"a{i}.png", textured_image(48, 48, seed=i))
    return root


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def _params(name):
    return {p.name: p for p in main.commands[name].params}


def test_every_output_option_is_o_output():
    """-o/--output everywhere; train-sr and pack-sr-data keep --out as a hidden, deprecated alias."""
    for name in COMMANDS:
        outputs = [p for p in main.commands[name].params if "--output" in getattr(p, "opts", ())]
        if not outputs:
            assert name in ("degrade", "upscale"), name  # their outputs are arguments (OUT_DIR)
            continue
        assert set(outputs[0].opts) == {"-o", "--output"}, name
        aliases = [p for p in main.commands[name].params if "--out" in getattr(p, "opts", ())]
        assert all(p.hidden for p in aliases), name
    for name in ("analyze", "generalization", "train-sr", "pack-sr-data"):
        assert "output" in _params(name) or any("--output" in p.opts for p in main.commands[name].params)


def test_device_defaults_to_auto_on_every_command():
    with_device = [name for name in COMMANDS if "device" in _params(name)]
    assert {"analyze", "generalization", "train", "extract", "train-sr", "upscale", "eval-sr"} <= set(with_device)
    for name in with_device:
        assert _params(name)["device"].default == "auto", name


def test_ddr_defaults_come_from_the_presets():
    """Issue point 4: one place for the DDR defaults; the CLI and the API only read the constants."""
    from ddriqa.classification.pipelines import make_ddr_classifier
    from ddriqa.cli import _common
    from ddriqa.features import presets
    from ddriqa.jobs.extract import build_extractor
    from ddriqa.jobs.train import fit_classifier

    assert (_common.DEFAULT_WEIGHTS, _common.DEFAULT_LAYER, _common.DEFAULT_CROP) == \
        (presets.DEFAULT_WEIGHTS, presets.DEFAULT_LAYER, presets.DEFAULT_CROP)
    for name in ("train", "extract"):
        p = _params(name)
        assert (p["weights"].default, p["layer"].default, p["crop"].default) == \
            (presets.DEFAULT_WEIGHTS, presets.DEFAULT_LAYER, presets.DEFAULT_CROP), name
    for fn in (make_ddr_classifier, build_extractor, fit_classifier):
        sig = inspect.signature(fn).parameters
        assert (sig["weights"].default, sig["layer"].default, sig["crop"].default) == \
            (presets.DEFAULT_WEIGHTS, presets.DEFAULT_LAYER, presets.DEFAULT_CROP), fn.__name__
    for path in ("ddriqa/cli/_common.py", "ddriqa/jobs/extract.py", "ddriqa/jobs/train.py",
                 "ddriqa/classification/pipelines.py"):
        source = (REPO / path).read_text(encoding="utf-8")
        assert '"srgan_x4_gr"' not in source and "=96," not in source.replace(" ", ""), path


@pytest.mark.parametrize("args", [
    ["upscale", "{imgs}", "{tmp}/x4", "--weights", "{tmp}/none.safetensors"],
    ["eval-sr", "--weights", "{tmp}/none.safetensors", "--data", "{imgs}"],
    ["extract", "{imgs}", "-o", "{tmp}/f.npy", "--weights", "{tmp}/none.safetensors"],
    ["analyze", "--weights", "{tmp}/none.safetensors", "--data", "a={imgs}", "-o", "{tmp}/an"],
    ["train-sr", "--arch", "srgan", "--data", "{imgs}", "--iterations", "1", "-o", "{tmp}/run",
     "--init", "{tmp}/none.safetensors"],
])
def test_a_missing_weights_file_is_exit_2_and_named_everywhere(args, folder, tmp_path):
    args = [a.format(imgs=folder, tmp=tmp_path) for a in args]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, (args[0], result.output)
    assert "none.safetensors" in result.stderr and "error:" in result.stderr
    assert "Traceback" not in result.output


@pytest.mark.parametrize("command", ["classify", "extract", "upscale", "eval-sr", "degrade"])
def test_no_images_is_found_before_any_model_and_suggests_recursive_only_with_subfolders(command, tmp_path):
    empty, nested = tmp_path / "empty", tmp_path / "nested"
    empty.mkdir()
    (nested / "sub").mkdir(parents=True)
    write_image(nested / "sub" / "a.png", textured_image(48, 48))
    missing = str(tmp_path / "none.safetensors")  # would fail if it were loaded first
    base = {
        "classify": lambda d: ["classify", str(d), "-m", "brisque"],
        "extract": lambda d: ["extract", str(d), "-o", str(tmp_path / "f.npy"), "--weights", missing],
        "upscale": lambda d: ["upscale", str(d), str(tmp_path / "x4"), "--weights", missing],
        "eval-sr": lambda d: ["eval-sr", "--data", str(d), "--weights", missing],
        "degrade": lambda d: ["degrade", str(d), str(tmp_path / "out")],
    }[command]
    result = CliRunner().invoke(main, base(empty))
    assert result.exit_code == 2 and f"no image files found in {empty}" in result.stderr, result.output
    assert "try --recursive" not in result.stderr and "none.safetensors" not in result.stderr
    assert result.stderr.count("\n") == 1  # degrade: no header line before the error
    result = CliRunner().invoke(main, base(nested))
    assert result.exit_code == 2
    has_recursive = "recursive" in _params(command)
    assert ("(it has sub-folders: try --recursive)" in result.stderr) == has_recursive, result.stderr


def test_dangling_and_looping_links_get_an_error_row_and_a_warning(folder, tmp_path):
    """Issue point 3: every image-named entry of the folder gets a row."""
    d = tmp_path / "links"
    d.mkdir()
    for name in ("a0.png", "a1.png"):
        (d / name).write_bytes((folder / name).read_bytes())
    os.symlink("nothere.png", d / "dangling.png")
    os.symlink("loop2.png", d / "loop1.png")
    os.symlink("loop1.png", d / "loop2.png")
    out = tmp_path / "res.csv"
    result = CliRunner().invoke(main, ["classify", str(d), "-m", "brisque", "-o", str(out)])
    assert result.exit_code == 1, result.output
    rows = {os.path.basename(r["path"]): r for r in _rows(out)}
    assert sorted(rows) == ["a0.png", "a1.png", "dangling.png", "loop1.png", "loop2.png"]
    assert "dangling symbolic link" in rows["dangling.png"]["error"]
    assert "symbolic link loop" in rows["loop1.png"]["error"] and "symbolic link loop" in rows["loop2.png"]["error"]
    for name in ("dangling.png", "loop1.png", "loop2.png"):
        assert f"warning: {d / name}: " in result.stderr, name
    feats = tmp_path / "f.npy"
    result = CliRunner().invoke(main, ["extract", str(d), "--features", "brisque", "-o", str(feats)])
    assert result.exit_code == 1 and f"warning: {d / 'dangling.png'}: dangling symbolic link" in result.stderr
    assert len(_rows(tmp_path / "f.csv")) == 5


def test_resume_from_another_working_directory_adds_no_row(folder, tmp_path, monkeypatch):
    """Issue point 2: rows are keyed by the resolved absolute path."""
    out = tmp_path / "res.csv"
    monkeypatch.chdir(folder.parent)
    first = CliRunner().invoke(main, ["classify", folder.name, "-m", "brisque", "-o", str(out)])
    assert first.exit_code == 0, first.output
    before = out.read_text()
    other = tmp_path / "elsewhere"
    other.mkdir()
    monkeypatch.chdir(other)
    relative = os.path.relpath(folder, other)
    again = CliRunner().invoke(main, ["classify", relative, "-m", "brisque", "-o", str(out), "--resume"])
    assert again.exit_code == 0, again.output
    assert "0 classified" in again.stderr and "3 already in" in again.stderr
    os.symlink(folder, other / "alias")
    again = CliRunner().invoke(main, ["classify", "alias", "-m", "brisque", "-o", str(out), "--resume"])
    assert again.exit_code == 0 and "3 already in" in again.stderr
    assert out.read_text() == before  # not one duplicate row


def test_refusals_use_flag_names_and_a_text_model_file_is_named(folder, tmp_path):
    """Issue point 6."""
    out = tmp_path / "res.csv"
    out.write_text("keep\n")
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", "brisque", "-o", str(out)])
    assert result.exit_code == 2
    assert f"error: {out} exists; pass --resume to continue it or pass --overwrite to replace it" in result.stderr
    assert "=True" not in result.stderr
    notes = tmp_path / "notes.txt"
    notes.write_text("just some text\n")
    for model in (notes, tmp_path / "notes.npz"):
        if model.suffix == ".npz":
            model.write_text("hello")
        result = CliRunner().invoke(main, ["classify", str(folder), "-m", str(model)])
        assert result.exit_code == 2
        assert f"error: {model}: not a ddriqa classifier file" in result.stderr
        assert "allow_pickle" not in result.output
    feats = tmp_path / "f.npy"
    assert CliRunner().invoke(main, ["extract", str(folder), "--features", "brisque", "-o", str(feats)]).exit_code == 0
    before = feats.read_bytes()
    result = CliRunner().invoke(main, ["extract", str(folder), "--features", "brisque", "-o", str(feats)])
    assert result.exit_code == 2 and f"error: {feats} exists; pass --overwrite to replace it" in result.stderr
    assert feats.read_bytes() == before
    result = CliRunner().invoke(main, ["extract", str(folder), "--features", "brisque", "-o", str(feats), "--overwrite"])
    assert result.exit_code == 0, result.output


def test_progress_bars_leave_nothing_in_a_redirected_log_and_counts_are_singular(folder, tmp_path):
    """Issue point 7: no bar label when stderr is not a terminal; "1 image", not "1 images"."""
    one = tmp_path / "one"
    one.mkdir()
    (one / "a.png").write_bytes((folder / "a0.png").read_bytes())
    result = CliRunner().invoke(main, ["classify", str(one), "-m", "brisque", "-o", str(tmp_path / "r.csv")])
    assert result.exit_code == 0
    assert "classifying 1 image with brisque" in result.stderr and "1 images" not in result.stderr
    assert "classify  [" not in result.stderr and "%" not in result.stderr
    assert result.stderr.splitlines()[-1] == "done: 1 classified, 0 errors"  # skipped ones are counted with --resume only


def test_generalization_names_a_failed_model_once(folder, tmp_path):
    result = CliRunner().invoke(main, ["generalization", "--weights", str(tmp_path / "none.safetensors"),
                                       "--data", f"a={folder}", "--data", f"b={folder}", "--runs", "1"])
    assert result.exit_code == 1
    line = next(l for l in result.stderr.splitlines() if l.startswith("error:"))
    assert line == f"error: {tmp_path / 'none.safetensors'}: no such weights file"
