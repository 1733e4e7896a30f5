"""`ddriqa train` on a tiny generated LIVE-layout set, then `ddriqa classify` with the result."""

from __future__ import annotations

import csv

import numpy as np
from _cli_data import make_tiny_live
from click.testing import CliRunner

from ddriqa.classification.persistence import load_classifier
from ddriqa.cli import main
from ddriqa.datasets.folders import load_dataset


def test_train_brisque_and_classify(tmp_path):
    data = make_tiny_live(tmp_path / "live", n_refs=4, per_ref=2)
    out = tmp_path / "brisque_tiny.npz"
    result = CliRunner().invoke(main, ["train", str(data), "--features", "brisque", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "training set: 24 images, 3 classes, 4 reference images" in result.output
    model = load_classifier(out)
    table = load_dataset(data)
    acc = np.mean(model.predict(table["path"].tolist()) == table["distortion"].to_numpy())
    assert acc >= 0.9  # strong, easy distortions: the training set itself is learnt

    res = tmp_path / "res.csv"
    result = CliRunner().invoke(main, ["classify", str(data / "wn"), "-m", str(out), "-o", str(res)])
    assert result.exit_code == 0, result.output
    with open(res, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8 and sum(r["distortion"] == "wn" for r in rows) >= 7


def test_train_ddr_random_backbone_and_classify(tmp_path):
    """A DDR pipeline (random seeded backbone, Conv1, 16x16 crop) saved without pickle and reused."""
    data = make_tiny_live(tmp_path / "live", n_refs=3, per_ref=2)
    out = tmp_path / "ddr_tiny.npz"
    args = ["train", str(data), "--features", "ddr", "--weights", "random", "--layer", "Conv1",
            "--crop", "16", "--n-components", "5", "--device", "cpu", "-o", str(out)]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "folds grouped by reference image" in result.output and "chosen C = " in result.output
    model = load_classifier(out)
    from ddriqa.classification.persistence import classifier_info
    from ddriqa.classification.pipelines import PAPER_C_GRID

    search = list(classifier_info(out)["grid_search"].values())[0]
    assert search["best_params"]["C"] == model.named_steps["svm"].C and model.named_steps["svm"].C in PAPER_C_GRID
    assert [c["C"] for c in search["candidates"]] == list(PAPER_C_GRID) and search["n_splits"] == 3
    res = tmp_path / "res.csv"
    result = CliRunner().invoke(main, ["classify", str(data), "-r", "-m", str(out), "-o", str(res)])
    assert result.exit_code == 0, result.output
    with open(res, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 6 + 3  # distorted images + the 3 references (refimgs/)
    paths = [r["path"] for r in rows]
    np.testing.assert_array_equal([r["distortion"] for r in rows], model.predict(paths))


def test_train_needs_two_classes(tmp_path):
    data = make_tiny_live(tmp_path / "live", n_refs=2, per_ref=1)
    for kind in ("jpeg", "wn"):
        for p in (data / kind).iterdir():
            p.unlink()
        (data / kind).rmdir()
    result = CliRunner().invoke(main, ["train", str(data), "--features", "brisque", "-o", str(tmp_path / "m.npz")])
    assert result.exit_code == 2 and "at least two classes" in result.output
    assert not (tmp_path / "m.npz").exists()
