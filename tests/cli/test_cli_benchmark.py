"""`ddriqa benchmark` on a tiny generated LIVE-layout set (tiny networks stand in for the presets)."""

from __future__ import annotations

import pandas as pd
import pytest
from _cli_data import make_tiny_live
from click.testing import CliRunner

from ddriqa.cli import main
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import save_weights


@pytest.fixture()
def tiny(tmp_path, monkeypatch):
    """A tiny LIVE-like set with refimgs, a tiny saved SRResNet, and the pooled presets pointed at it."""
    import torch

    from ddriqa.features import presets

    data = make_tiny_live(tmp_path / "live", n_refs=5, per_ref=2)
    net = SRResNet(num_features=8, num_blocks=2)
    with torch.no_grad():
        net.reset_parameters(torch.Generator().manual_seed(1))
    path = tmp_path / "tinynet.safetensors"
    save_weights(net, path)
    tiny_preset = {"extractor": {"weights": str(path), "layer": ("Conv1", "ResBlock2"), "crop": 16, "crops": "grid",
                                 "n_crops": 4, "pooling": "stats", "aggregate": "none"},
                   "head": "crop-vote", "about": "test"}
    monkeypatch.setitem(presets.PRESETS, "ddr", tiny_preset)
    return data, path


def test_benchmark_methods_protocols_and_outputs(tiny, tmp_path):
    data, path = tiny
    out = tmp_path / "bench"
    args = ["benchmark", str(data), "--splits", "3", "--test-size", "0.2", "--seed", "0", "-o", str(out),
            "--layer", "Conv1", "--crop", "16", "--n-components", "50", "--device", "cpu"]
    result = CliRunner().invoke(main, args + ["--methods", "brisque,paper-random,ddr,ddr-random,brisque+ddr",
                                              "--weights", str(path)])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary["method"])) == ["brisque", "paper-random", "ddr", "ddr-random", "brisque+ddr"]
    assert set(summary["protocol"]) == {"content", "random"}
    allrows = summary[summary["class"] == "ALL"]
    assert allrows["n_splits"].tolist() == [3] * 10
    # six classes: the three distortions plus pristine (refimgs/), on both protocols
    assert set(summary["class"]) == {"gblur", "jpeg", "wn", "pristine", "ALL"}
    splits = pd.read_csv(out / "splits.csv")
    content = splits[(splits["protocol"] == "content") & (splits["class"] == "ALL")]
    assert (content["n_test"] == 7).all()  # 1 of 5 references held out: 3 classes x 2 images + its pristine
    speed = pd.read_csv(out / "speed.csv")
    assert speed["method"].tolist() == ["brisque", "paper-random", "ddr", "ddr-random", "brisque+ddr"]
    assert (speed["images_per_s"] > 0).all()
    cm = pd.read_csv(out / "confusion" / "content_ddr.csv", index_col=0)
    assert int(cm.to_numpy().sum()) == 3 * 7  # every test image of every split counted once
    assert (out / "confusion" / "content_ddr.png").stat().st_size > 1000
    md = (out / "summary.md").read_text()
    assert "### content-disjoint" in md and "### image-level random" in md and "PCA dimension capped" in md
    # the paper head's C is chosen on each split's train side (grouped inner folds) and reported
    paper = splits[(splits["method"] == "paper-random") & (splits["class"] == "ALL")]
    assert paper["chosen"].str.fullmatch(r"C=[0-9.e+-]+").all()
    assert "paper-random, content: chosen on the train side by the inner grid search: C=" in md
    assert "| brisque+ddr |" in result.output

    # issue 32 item 3: a rerun into the same -o is refused without --overwrite, nothing touched
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()}
    result = CliRunner().invoke(main, args + ["--methods", "brisque+ddr", "--protocols", "content"])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {out}") and "pass --overwrite" in result.stderr
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*") if p.is_file()} == before

    # with --overwrite: the earlier reports go (no stale confusion PNG beside the new ones); a
    # rerun reuses every cached feature (the fusion reuses the BRISQUE and ddr parts)
    (out / "notes.txt").write_text("mine")  # not the benchmark's: left alone
    result = CliRunner().invoke(main, args + ["--methods", "brisque+ddr", "--protocols", "content", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert "brisque: features from cache" in result.output and "features from cache" in result.output
    assert set(pd.read_csv(out / "summary.csv")["protocol"]) == {"content"}
    assert sorted(p.name for p in (out / "confusion").iterdir()) == [
        "content_brisque_ddr.csv", "content_brisque_ddr.png", "content_brisque_ddr_per_class.png"]
    assert (out / "notes.txt").read_text() == "mine" and any((out / "cache").iterdir())
    assert f"wrote {out / 'summary.csv'}," in result.stderr and "//" not in result.stderr


def test_benchmark_cross_set_and_no_pristine(tiny, tmp_path):
    data, path = tiny
    other = make_tiny_live(tmp_path / "other", n_refs=3, per_ref=1, seed=5)
    out = tmp_path / "cross"
    result = CliRunner().invoke(main, ["benchmark", str(data), "--test-data", str(other), "--splits", "2",
                                       "--methods", "ddr,paper", "--weights", str(path), "--layer", "Conv1",
                                       "--crop", "16", "--protocols", "content", "--no-pristine", "-o", str(out),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    summary = pd.read_csv(out / "summary.csv")
    cross = summary[(summary["protocol"] == "cross") & (summary["class"] == "ALL")]
    # every method on the same footing: the paper head too (a Gram matrix over both sets)
    assert cross["method"].tolist() == ["ddr", "paper:tinynet"]
    assert (cross["n_splits"] == 1).all()
    assert "pristine" not in set(summary["class"])
    assert "cross-set Gram matrix over the" in (out / "summary.md").read_text()
    splits = pd.read_csv(out / "splits.csv")
    n_test = splits[(splits["protocol"] == "cross") & (splits["class"] == "ALL")]["n_test"]
    assert (n_test == 9).all()  # 3 references x 3 distortions x 1 image, no pristine
    for method in ("ddr", "paper_tinynet"):  # per-class figures and a confusion matrix for each
        cm = pd.read_csv(out / "confusion" / f"cross_{method}.csv", index_col=0)
        assert int(cm.to_numpy().sum()) == 9


def test_benchmark_needs_references(tmp_path):
    import numpy as np
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "lab" / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "lab" / cls / "x.png")
    result = CliRunner().invoke(main, ["benchmark", str(tmp_path / "lab"), "-o", str(tmp_path / "b")])
    assert result.exit_code == 2 and "reference" in result.output


def test_benchmark_unknown_method_is_a_usage_error(tiny, tmp_path):
    data, _ = tiny
    result = CliRunner().invoke(main, ["benchmark", str(data), "--methods", "nope", "-o", str(tmp_path / "b")])
    assert result.exit_code == 2 and "unknown method 'nope'" in result.output


def test_train_with_a_preset_and_pristine_then_classify(tiny, tmp_path):
    """`ddriqa train --preset ddr --pristine` fits the crop-vote head on 4 classes; classify uses it."""
    data, _ = tiny
    model = tmp_path / "m.npz"
    result = CliRunner().invoke(main, ["train", str(data), "--preset", "ddr", "--pristine", "-o", str(model),
                                       "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert "pristine: 5" in result.output and "preset ddr" in result.output
    out = tmp_path / "r.csv"
    result = CliRunner().invoke(main, ["classify", str(data / "refimgs"), "-m", str(model), "-o", str(out)])
    assert result.exit_code == 0, result.output
    rows = pd.read_csv(out)
    assert len(rows) == 5 and "decision_pristine" in rows.columns
    assert set(rows["distortion"]) <= {"gblur", "jpeg", "wn", "pristine"} and (rows["error"].isna()).all()
    result = CliRunner().invoke(main, ["train", str(data), "--preset", "ddr", "--features", "brisque",
                                       "-o", str(tmp_path / "x.npz")])
    assert result.exit_code == 2 and "--preset is a DDR preset" in result.output
