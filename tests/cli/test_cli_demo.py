"""The demo's core (ddriqa.jobs.demo.run_demo) on a tiny subset, with a tiny classifier fitted here."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from ddriqa.cli import main
from ddriqa.jobs.demo import demo_photos, per_class_table, run_demo


def test_demo_without_scikit_image_says_what_to_install(monkeypatch):
    import sys

    from ddriqa.errors import InputError

    monkeypatch.setitem(sys.modules, "skimage", None)  # makes `import skimage` fail
    monkeypatch.setitem(sys.modules, "skimage.data", None)
    with pytest.raises(InputError, match=r"pip install ddriqa\[demo\]"):
        demo_photos()


def test_demo_photos_are_rgb_and_shrunk():
    pytest.importorskip("skimage")
    photos = demo_photos(["astronaut.png", "camera.png"], max_side=64)
    assert list(photos) == ["astronaut", "camera"]
    for img in photos.values():
        assert img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3 and max(img.shape[:2]) == 64


def test_per_class_table_counts():
    t = per_class_table(["wn", "wn", "jpeg", "jpeg"], ["wn", "jpeg", "jpeg", ""], ["jpeg", "wn"])
    assert t.loc["wn", "recall"] == 0.5 and t.loc["wn", "precision"] == 1.0
    assert t.loc["jpeg", "recall"] == 0.5 and t.loc["jpeg", "precision"] == 0.5
    assert t.loc["ALL", "accuracy"] == 0.5 and t.loc["ALL", "n"] == 4


def test_run_demo_tiny(tmp_path):
    pytest.importorskip("skimage")
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_brisque_classifier
    from ddriqa.datasets.live_database import load_live
    from ddriqa.datasets.synthesize import make_live_like

    classes = ("wn", "gblur")
    # a tiny classifier trained on other photos than the demo uses below
    train_refs = demo_photos(["coffee.png", "rocket.jpg", "chelsea.png"], max_side=96)
    from ddriqa.io import write_image

    refs = [write_image(tmp_path / f"{k}.png", v) for k, v in train_refs.items()]
    make_live_like(refs, tmp_path / "train", per_class=6, seed=1, classes=classes)
    data = load_live(tmp_path / "train")
    model = make_brisque_classifier(cv=2, C_grid=[1.0, 10.0], gamma_grid=[0.05, 0.5])
    model.fit(data["path"].tolist(), data["distortion"].to_numpy())
    save_classifier(model, tmp_path / "m.npz")

    table, results = run_demo(tmp_path / "demo", model=str(tmp_path / "m.npz"), per_class=4, seed=0,
                              names=["astronaut.png", "camera.png"], max_side=96, classes=classes)
    assert len(results) == 8 and (results["error"] == "").all()
    assert list(table.index) == ["wn", "gblur", "ALL"]
    assert table.loc["ALL", "n"] == 8
    assert table.loc["ALL", "accuracy"] == pytest.approx(np.mean(results["true"] == results["distortion"]))
    assert table.loc["ALL", "accuracy"] >= 0.75  # noise vs strong blur is easy
    assert (tmp_path / "demo" / "per_class.csv").is_file()


def test_demo_with_an_unshipped_model_says_so(tmp_path, monkeypatch):
    from ddriqa.classification import named

    monkeypatch.setitem(named.MODEL_ALIASES, "ddr", None)
    result = CliRunner().invoke(main, ["demo", "--model", "ddr", "--output", str(tmp_path / "d")])
    assert result.exit_code == 2
    assert "no classifier named 'ddr' is shipped yet" in result.output


@pytest.mark.parametrize("with_matplotlib", [True, False])
def test_demo_writes_the_confusion_matrix_and_per_class_pictures(tmp_path, monkeypatch, with_matplotlib):
    """Issue point 10: with -o and matplotlib, confusion_matrix.png and per_class.png; without
    matplotlib a note, and the CSV files."""
    import sys

    pytest.importorskip("skimage")
    if with_matplotlib:
        pytest.importorskip("matplotlib")
    else:
        monkeypatch.setitem(sys.modules, "matplotlib", None)  # makes `import matplotlib...` fail
        monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    out = tmp_path / "demo"
    res = CliRunner().invoke(main, ["demo", "--per-class", "1", "--model", "brisque", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert "confusion matrix" in res.stdout
    for name in ("results.csv", "per_class.csv", "confusion_matrix.csv"):
        assert (out / name).is_file(), name
    pngs = [out / "confusion_matrix.png", out / "per_class.png"]
    if with_matplotlib:
        for png in pngs:
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
        assert "confusion_matrix.png, per_class.png" in res.stderr
    else:
        assert not any(p.exists() for p in pngs)
        assert "note: matplotlib is not installed" in res.stderr and "pip install 'ddriqa[plots]'" in res.stderr


def test_demo_output_folder_is_refused_without_overwrite_and_says_what_it_measures(tmp_path):
    """Items 3 and 15: `demo --output` on an existing demo folder is refused (nothing touched);
    --overwrite replaces the demo's files only; stdout says what the figures are and why they
    differ from the README's headline."""
    pytest.importorskip("skimage")
    out = tmp_path / "demo"
    args = ["demo", "--per-class", "1", "--model", "brisque", "-o", str(out)]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    lines = res.stdout.splitlines()
    assert lines[0].startswith("demo: 5 distorted images (1 per class, LIVE parameter ranges) made from "
                               "scikit-image's sample photos (this model has no pristine class")
    assert "precision and recall per class on this one small set, macro precision" in lines[0]
    assert "unlike the training data" in lines[1] and "0.88 macro precision is the median over 20 " \
        "content-disjoint splits of a LIVE-like Kodak24 set" in lines[1]
    (out / "mine.txt").write_text("mine")
    files = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2
    assert res.stderr.startswith(f"error: {out / 'live'} exists; pass --overwrite to replace the earlier demo")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == files
    res = CliRunner().invoke(main, args + ["--per-class", "2", "--overwrite"])
    assert res.exit_code == 0, res.output
    assert (out / "mine.txt").read_text() == "mine"
    import pandas as pd

    assert len(pd.read_csv(out / "live" / "labels.csv")) == 10 and len(pd.read_csv(out / "results.csv")) == 10
    assert (tmp_path / "demo_file").write_text("x") and CliRunner().invoke(
        main, ["demo", "-o", str(tmp_path / "demo_file")]).exit_code == 2
