"""`ddriqa classify` end to end: the bad-input corpus, --strict, --resume after SIGKILL."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest
from click.testing import CliRunner
from conftest import REPO, easy_degrade, make_bad_input_corpus, textured_image
from PIL import Image

from ddriqa.cli import main
from ddriqa.io import read_image

# ----------------------------------------------------------------------------- helpers



def fit_tiny_brisque_model(path):
    """A BRISQUE classifier (3 classes) fitted on 24 generated 48x48 images, saved to ``path``."""
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_brisque_classifier

    rng = np.random.default_rng(0)
    X, y = [], []
    for i in range(8):
        ref = textured_image(48, 48, seed=100 + i)
        for kind in ("gblur", "wn", "jpeg"):
            X.append(easy_degrade(ref, kind, rng))
            y.append(kind)
    model = make_brisque_classifier(cv=2, C_grid=[1.0, 10.0], gamma_grid=[0.1, 1.0]).fit(X, y)
    save_classifier(model, path)
    return model


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    path = tmp_path_factory.mktemp("model") / "tiny_brisque.npz"
    model = fit_tiny_brisque_model(path)
    return model, str(path)


@pytest.fixture(scope="module")
def tiny_ddr_model(tmp_path_factory):
    """A DDR pipeline: seeded random SRResNet, Conv1 of a 16x16 central crop, PCA 5, linear SVM."""
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_ddr_classifier

    rng = np.random.default_rng(1)
    X, y = [], []
    for i in range(4):
        ref = textured_image(40, 40, seed=500 + i)
        for kind in ("gblur", "wn", "jpeg"):
            X.append(easy_degrade(ref, kind, rng))
            y.append(kind)
    model = make_ddr_classifier(weights="random", layer="Conv1", crop=16, n_components=5,
                                device="cpu", random_state=0).fit(X, y)
    path = tmp_path_factory.mktemp("ddr") / "tiny_ddr.npz"
    save_classifier(model, path)
    return model, str(path)


def read_rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], [dict(zip(rows[0], r)) for r in rows[1:]]


def _alone(model, path):
    """Prediction and decision values of one image classified alone."""
    from ddriqa.jobs.classify import predict_scores

    labels, scores = predict_scores(model, [read_image(path)])
    return labels[0], scores[0]


# ----------------------------------------------------------------------------- tests


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow's, for bomb.png
@pytest.mark.parametrize("which", ["brisque", "ddr"])
def test_classify_bad_input_corpus(tmp_path, which, request):
    model, model_path = request.getfixturevalue("tiny_model" if which == "brisque" else "tiny_ddr_model")
    folder = tmp_path / "corpus"
    good, bad = make_bad_input_corpus(folder)
    out = tmp_path / "res.csv"
    result = CliRunner().invoke(main, ["classify", str(folder), "--model", model_path, "--recursive",
                                       "--batch-size", "4", "--output", str(out)])
    assert result.exit_code == 1, result.output  # finished, with error rows
    header, rows = read_rows(out)
    assert header == ["path", "distortion", "decision_gblur", "decision_jpeg", "decision_wn", "error"]
    by_name = {os.path.relpath(r["path"], folder): r for r in rows}
    assert len(by_name) == len(rows) == len(good) + len(bad)  # no duplicates (symlink loop)
    assert sorted(by_name) == sorted(good + list(bad))
    for name in good:
        r = by_name[name]
        assert r["error"] == "", (name, r["error"])
        label, scores = _alone(model, folder / name)
        assert r["distortion"] == label
        # BRISQUE is float64 per image: batching changes nothing; the DDR network runs in float32,
        # where the batch composition moves the last bits of the features (seen: 2.5e-9)
        atol = 1e-9 if which == "brisque" else 1e-6
        np.testing.assert_allclose([float(r[c]) for c in header[2:5]], scores, rtol=0, atol=atol)
    for name, fragment in bad.items():
        r = by_name[name]
        assert r["distortion"] == "" and r["error"] != "", name
        fragments = (fragment,) if isinstance(fragment, str) else fragment
        assert any(f in r["error"].lower() for f in fragments), (name, r["error"])
        assert all(r[c] == "" for c in header[2:5])


def test_classify_strict_fails_fast(tmp_path, tiny_model):
    _, model_path = tiny_model
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(textured_image(40, 40, seed=i)).save(folder / f"a{i}.png")
    (folder / "b_empty.png").write_bytes(b"")
    Image.fromarray(textured_image(40, 40, seed=9)).save(folder / "c.png")
    out = tmp_path / "res.csv"
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model_path, "-o", str(out),
                                       "--strict"])
    assert result.exit_code == 2
    assert "b_empty.png" in result.output and "empty" in result.output
    _, rows = read_rows(out)
    assert [os.path.basename(r["path"]) for r in rows] == ["a0.png", "a1.png", "a2.png"]


def test_classify_usage_errors(tmp_path, tiny_model, monkeypatch):
    from ddriqa.classification import named

    _, model_path = tiny_model
    folder = tmp_path / "imgs"
    folder.mkdir()
    runner = CliRunner()
    # a short name whose classifier is not shipped: clear message, exit 2, never a random-weight default
    monkeypatch.setitem(named.MODEL_ALIASES, "ddr", None)
    Image.fromarray(textured_image(40, 40)).save(folder / "a.png")
    result = runner.invoke(main, ["classify", str(folder)])
    assert result.exit_code == 2
    assert "no classifier named 'ddr' is shipped yet" in result.output
    monkeypatch.undo()
    # missing model file
    result = runner.invoke(main, ["classify", str(folder), "-m", str(tmp_path / "nope.npz")])
    assert result.exit_code == 2 and "nope.npz" in result.output
    # existing output without --resume/--overwrite is not replaced
    out = tmp_path / "res.csv"
    out.write_text("keep me\n")
    result = runner.invoke(main, ["classify", str(folder), "-m", model_path, "-o", str(out)])
    assert result.exit_code == 2 and "exists" in result.output
    assert out.read_text() == "keep me\n"
    # empty folder
    (tmp_path / "empty").mkdir()
    result = runner.invoke(main, ["classify", str(tmp_path / "empty"), "-m", model_path])
    assert result.exit_code == 2 and "no image files" in result.output
    # stdout output, all fine -> exit 0
    result = runner.invoke(main, ["classify", str(folder), "-m", model_path])
    assert result.exit_code == 0, result.output
    assert "path,distortion,decision_gblur" in result.stdout
    assert runner.invoke(main, ["classify", str(folder), "-m", model_path, "--resume"]).exit_code == 2
    # a pixel limit below the image size makes it an error row naming the limit
    result = runner.invoke(main, ["classify", str(folder), "-m", model_path, "--max-pixels", "1000"])
    assert result.exit_code == 1
    assert "over the limit of 1000 pixels" in result.stdout


def test_classify_resume_after_sigkill(tmp_path, tiny_model):
    _, model_path = tiny_model
    folder = tmp_path / "imgs"
    folder.mkdir()
    n = 30
    for i in range(n):
        Image.fromarray(textured_image(40, 48, seed=200 + i)).save(folder / f"img{i:02d}.png")
    (folder / "img15_bad.png").write_bytes(b"broken")
    n += 1
    cmd = [sys.executable, "-m", "ddriqa.cli", "classify", str(folder), "-m", model_path, "--batch-size", "2"]
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    # reference: one uninterrupted run
    ref = tmp_path / "ref.csv"
    done = subprocess.run(cmd + ["-o", str(ref)], env=env, capture_output=True, timeout=300)
    assert done.returncode == 1, done.stderr.decode()
    _, ref_rows = read_rows(ref)
    assert len(ref_rows) == n

    # a slow run (the test slows the row writer down: 0.2 s per row) killed with SIGKILL after some rows
    out = tmp_path / "out.csv"
    slow = ("import sys, time; import ddriqa.jobs.classify as job; write = job.write_row; "
            "job.write_row = lambda f, row: (write(f, row), time.sleep(0.2)); "
            "from ddriqa.cli import main; sys.argv[0] = 'ddriqa'; main()")
    proc = subprocess.Popen([sys.executable, "-c", slow] + cmd[3:] + ["-o", str(out)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if out.exists() and out.read_bytes().count(b"\n") >= 6:  # header + 5 rows
                break
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    _, partial = read_rows(out)
    assert 5 <= len(partial) < n  # really interrupted

    resumed = subprocess.run(cmd + ["-o", str(out), "--resume"], env=env, capture_output=True, timeout=300)
    assert resumed.returncode in (0, 1), resumed.stderr.decode()
    header, rows = read_rows(out)
    paths = [r["path"] for r in rows]
    assert len(paths) == len(set(paths)) == n  # nothing lost, nothing duplicated
    got = {r["path"]: r for r in rows}
    for r in ref_rows:
        g = got[r["path"]]
        assert (g["distortion"], g["error"]) == (r["distortion"], r["error"])
        for c in header[2:5]:
            if r[c]:
                assert abs(float(g[c]) - float(r[c])) < 1e-9


def test_shipped_brisque_classifier(tmp_path):
    """`--model brisque` resolves to the shipped file, whose provenance records its sha256."""
    import hashlib
    import re

    from ddriqa.classification.persistence import classifiers_dir

    npz = classifiers_dir() / "brisque_kodak.npz"
    md = classifiers_dir() / "brisque_kodak.md"
    digest = hashlib.sha256(npz.read_bytes()).hexdigest()
    assert re.search(r"sha256 `([0-9a-f]{64})`", md.read_text()).group(1) == digest
    pytest.importorskip("skimage")
    from ddriqa.jobs.demo import demo_photos

    folder = tmp_path / "imgs"
    folder.mkdir()
    ref = demo_photos(["coffee.png"], max_side=256)["coffee"]  # real photo, not a Kodak image
    rng = np.random.default_rng(3)
    Image.fromarray(np.clip(ref + rng.normal(0, 20, ref.shape), 0, 255).astype(np.uint8)).save(folder / "noisy.png")
    Image.fromarray(cv2.GaussianBlur(ref, (0, 0), 3.0)).save(folder / "blurred.png")
    Image.fromarray(ref).save(folder / "blocky.jpg", quality=10)
    result = CliRunner().invoke(main, ["classify", str(folder), "--model", "brisque"])
    assert result.exit_code == 0, result.output
    lines = result.stdout.strip().splitlines()
    assert lines[0] == ("path,distortion,decision_fastfading,decision_gblur,decision_jp2k,"
                        "decision_jpeg,decision_wn,error")
    got = {os.path.basename(line.split(",")[0]): line.split(",")[1] for line in lines[1:]}
    assert got == {"blurred.png": "gblur", "noisy.png": "wn", "blocky.jpg": "jpeg"}  # strong distortions


# ----------------------------------------------------------------------------- issue 32


def _one_image_folder(tmp_path, name="imgs", n=1):
    folder = tmp_path / name
    folder.mkdir()
    for i in range(n):
        Image.fromarray(textured_image(40, 40, seed=70 + i)).save(folder / f"a{i}.png")
    return folder


def test_classify_output_path_is_checked_before_any_work(tmp_path, tiny_model):
    """Item 4: `-o photos` (a folder of images) and `-o /proc/out.csv`: one error line naming the
    path, exit 2, no traceback, nothing classified, the folder untouched, with or without --overwrite."""
    _, model_path = tiny_model
    photos = _one_image_folder(tmp_path, "photos", n=2)
    for extra in ([], ["--overwrite"], ["--resume"]):
        result = CliRunner().invoke(main, ["classify", str(photos), "-m", model_path, "-o", str(photos)] + extra)
        assert result.exit_code == 2, result.output
        assert result.stderr == f"error: {photos}: is a folder; name the file to write\n"
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert sorted(p.name for p in photos.iterdir()) == ["a0.png", "a1.png"]
    if os.path.isdir("/proc/self"):  # Linux: a virtual file system where no file can be created
        result = CliRunner().invoke(main, ["classify", str(photos), "-m", model_path, "-o", "/proc/out.csv"])
        assert result.exit_code == 2
        assert result.stderr.startswith("error: /proc/out.csv: cannot write there (")
        assert "classifying" not in result.stderr and "Traceback" not in result.output


def _tiny_pooled_model(tmp_path):
    """A pooled crop-vote DDR classifier (as the shipped ddr and fast: pad='reflect' saved) on a tiny net."""
    import torch

    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_pooled_ddr_classifier
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import save_weights

    net = SRResNet(num_features=4, num_blocks=2)
    with torch.no_grad():
        net.reset_parameters(torch.Generator().manual_seed(2))
    weights = save_weights(net, tmp_path / "tiny_net.safetensors") or tmp_path / "tiny_net.safetensors"
    rng = np.random.default_rng(3)
    X, y = [], []
    for i in range(4):
        ref = textured_image(40, 40, seed=600 + i)
        for kind in ("gblur", "wn"):
            X.append(easy_degrade(ref, kind, rng))
            y.append(kind)
    model = make_pooled_ddr_classifier(weights=str(weights), layer="ResBlock2", crop=16, crops="grid", n_crops=4,
                                       C=1.0, device="cpu").fit(X, y)
    assert model[0].pad == "reflect"
    return str(save_classifier(model, tmp_path / "pooled.npz"))


def test_classify_too_small_images_get_an_error_row_unless_padding_is_asked(tmp_path):
    """Item 5: a model whose crops are 16x16 (pad='reflect' saved) gives 1x1, 2x2 and 8x8 images an
    error row saying "too small"; `--pad reflect` is the explicit opt-in to label them."""
    model = _tiny_pooled_model(tmp_path)
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(textured_image(40, 40, seed=1)).save(folder / "big.png")
    for side in (1, 2, 8):
        Image.fromarray(textured_image(side, side, seed=side)).save(folder / f"s{side}.png")
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model, "-o", str(out)])
    assert result.exit_code == 1, result.output
    _, rows = read_rows(out)
    by = {os.path.basename(r["path"]): r for r in rows}
    assert by["big.png"]["distortion"] and not by["big.png"]["error"]
    for side in (1, 2, 8):
        r = by[f"s{side}.png"]
        assert r["distortion"] == "" and "too small" in r["error"], r
        assert f"{side}x{side} (width x height), smaller than the 16x16 DDR crop" in r["error"]
        assert "pass --pad reflect to mirror-pad it" in r["error"] and "pad='reflect'" not in r["error"]
        assert f"warning: {folder / f's{side}.png'}: image too small" in result.stderr
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model, "-o", str(out), "--overwrite",
                                       "--pad", "reflect"])
    assert result.exit_code == 0, result.output
    _, rows = read_rows(out)
    assert all(r["distortion"] and not r["error"] for r in rows)


def test_classify_resume_with_another_model_is_refused(tmp_path, tiny_model):
    """Item 6: the model (name, file, sha256) is recorded beside the CSV, which pandas still reads;
    --resume with another model of the same classes is refused and the CSV is left as it was."""
    import json

    import pandas as pd

    from ddriqa.models.weights import sha256_file

    _, model_path = tiny_model
    other = tmp_path / "other.npz"
    from ddriqa.classification.persistence import load_classifier, save_classifier

    m = load_classifier(model_path)  # the same classes, another model (another C): another file
    m[-1].set_params(C=2.0)
    save_classifier(m, other)
    folder = _one_image_folder(tmp_path, n=2)
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model_path, "-o", str(out)])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "r.csv.model.json").read_text())
    assert record == {"model": model_path, "file": os.path.abspath(model_path), "sha256": sha256_file(model_path)}
    assert list(pd.read_csv(out).columns) == ["path", "distortion", "decision_gblur", "decision_jpeg",
                                              "decision_wn", "error"]
    before = out.read_bytes()
    Image.fromarray(textured_image(40, 40, seed=99)).save(folder / "new.png")
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", str(other), "-o", str(out), "--resume"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {out}: cannot resume: its rows come from model {model_path} (")
    assert "write to a new file, or replace it" in result.stderr and "classifying" not in result.stderr
    assert out.read_bytes() == before
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model_path, "-o", str(out), "--resume"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[-1] == f"done: 1 classified, 0 errors, 2 already in {out}"


def test_classify_names_the_classes_of_its_model(tmp_path, tiny_model):
    """Item 8: the first line on stderr names the model's classes and says when there is no pristine."""
    _, model_path = tiny_model
    folder = _one_image_folder(tmp_path)
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", "brisque"])
    assert result.exit_code == 0, result.output
    assert result.stderr.splitlines()[0] == ("model brisque (brisque_kodak): classes fastfading, gblur, jp2k, jpeg, wn "
                                             "(no pristine class: every image gets a distortion)")
    assert "no pristine class" in CliRunner().invoke(main, ["classify", "--help"]).output


def test_classify_ctrl_c_exits_130_and_keeps_the_rows(tmp_path, tiny_model):
    """Item 10: SIGINT (Ctrl-C) after some rows: exit 130, an `interrupted` line, the rows kept and
    completed by --resume."""
    _, model_path = tiny_model
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(30):
        Image.fromarray(textured_image(40, 40, seed=300 + i)).save(folder / f"img{i:02d}.png")
    out = tmp_path / "out.csv"
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    slow = ("import sys, time; import ddriqa.jobs.classify as job; write = job.write_row; "
            "job.write_row = lambda f, row: (write(f, row), time.sleep(1.0)); "
            "from ddriqa.cli import main; sys.argv[0] = 'ddriqa'; main()")
    proc = subprocess.Popen([sys.executable, "-c", slow, "classify", str(folder), "-m", model_path, "-o", str(out),
                             "-b", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not (out.exists() and out.read_bytes().count(b"\n") >= 4):
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err.decode()
    assert "interrupted (Ctrl-C): what was written so far is kept; continue with --resume" in err.decode()
    assert "Traceback" not in err.decode()
    _, rows = read_rows(out)
    assert 3 <= len(rows) < 30
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model_path, "-o", str(out), "--resume"])
    assert result.exit_code == 0
    _, rows = read_rows(out)
    assert sorted(os.path.basename(r["path"]) for r in rows) == [f"img{i:02d}.png" for i in range(30)]


def test_classify_hints_name_the_flags(tmp_path, tiny_ddr_model):
    """Item 11: the pixel limit and the padding hints name --max-pixels and --pad, not max_pixels= or pad=."""
    _, model_path = tiny_ddr_model
    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(textured_image(40, 40, seed=1)).save(folder / "big.png")
    Image.fromarray(textured_image(8, 8, seed=2)).save(folder / "small.png")
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model_path, "--max-pixels", "1000"])
    assert result.exit_code == 1
    assert ("image has 40x40 = 1600 pixels, over the limit of 1000 pixels (possible decompression bomb; pass "
            "--max-pixels 0 (no limit) or a larger --max-pixels to read it)") in result.stdout
    assert "image too small: 8x8 (width x height), smaller than the 16x16 DDR crop; use a larger image, or pass " \
           "--pad reflect to mirror-pad it" in result.stdout
    assert "max_pixels=" not in result.output and "pad='reflect'" not in result.output
    from ddriqa.errors import hint

    assert hint("pad") == "pass pad='reflect' to mirror-pad it"  # Python's words outside a command
    help_text = CliRunner().invoke(main, ["classify", "--help"]).output
    assert "67108864" in help_text


def test_classify_unknown_model_and_a_model_saved_without_extension(tmp_path, monkeypatch):
    """Item 12: an unknown --model lists the short names and the shipped classifiers; `train -o
    noext_model` writes noext_model.npz, which `--model noext_model` finds."""
    from _cli_data import make_tiny_live

    folder = _one_image_folder(tmp_path)
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", "nosuch"])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: nosuch: no such model: not a short name (ddr, fusion, fast, brisque), "
                                    "a shipped classifier (brisque_kodak, ")
    data = make_tiny_live(tmp_path / "live", n_refs=4, per_ref=2)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["train", str(data), "--features", "brisque", "-o", "noext_model"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "noext_model.npz").is_file() and not (tmp_path / "noext_model").exists()
    assert result.stderr.splitlines()[-1] == "saved noext_model.npz"
    result = CliRunner().invoke(main, ["classify", str(folder), "--model", "noext_model"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(main, ["train", str(data), "--features", "brisque", "-o", "noext_model"])
    assert result.exit_code == 2 and "noext_model.npz exists; pass --overwrite" in result.stderr


def test_classify_to_stdout_ends_without_a_resume_count(tmp_path, tiny_model):
    """Item 13: to stdout the last line counts what was done, not "0 already in stdout"."""
    _, model_path = tiny_model
    folder = _one_image_folder(tmp_path)
    result = CliRunner().invoke(main, ["classify", str(folder), "-m", model_path])
    assert result.exit_code == 0
    assert result.stderr.splitlines()[-1] == "done: 1 classified, 0 errors"
