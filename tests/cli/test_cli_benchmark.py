"""`ddriqa benchmark` on a tiny generated LIVE-layout set."""

from __future__ import annotations

import pandas as pd
from _cli_data import make_tiny_live
from click.testing import CliRunner

from ddriqa.cli import main
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import save_weights


def test_benchmark_methods_and_outputs(tmp_path):
    import torch

    data = make_tiny_live(tmp_path / "live", n_refs=5, per_ref=2)
    net = SRResNet(num_features=8, num_blocks=2)
    with torch.no_grad():
        net.reset_parameters(torch.Generator().manual_seed(1))
    save_weights(net, tmp_path / "tinynet.safetensors")
    out = tmp_path / "bench"
    args = ["benchmark", str(data), "--splits", "3", "--test-size", "0.2", "--seed", "0", "-o", str(out),
            "--layer", "Conv1", "--crop", "16", "--n-components", "50", "--device", "cpu"]
    result = CliRunner().invoke(main, args + ["--methods", "brisque,ddr,ddr-random"])
    assert result.exit_code == 0, result.output
    assert "ddr: skipped, no trained DDR backbone is shipped yet" in result.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary["method"])) == ["brisque", "ddr-random"]
    assert summary[summary["class"] == "ALL"]["n_splits"].tolist() == [3, 3]
    splits = pd.read_csv(out / "splits.csv")
    assert set(splits["split"]) == {0, 1, 2}
    n_test = splits[(splits["class"] == "ALL")]["n_test"]
    assert (n_test == 6).all()  # 1 of 5 references held out: 3 classes x 2 images
    md = (out / "summary.md").read_text()
    assert "| brisque |" in md and "PCA dimension capped at 23" in md
    assert "| brisque |" in result.output  # the table is printed too

    # an explicit backbone; the cached features of the other methods are reused
    result = CliRunner().invoke(main, args + ["--methods", "ddr,ddr-random", "--weights",
                                              str(tmp_path / "tinynet.safetensors")])
    assert result.exit_code == 0, result.output
    assert "ddr-random: features from cache" in result.output
    summary = pd.read_csv(out / "summary.csv")
    assert list(dict.fromkeys(summary["method"])) == ["ddr:tinynet", "ddr-random"]


def test_benchmark_needs_references(tmp_path):
    import numpy as np
    from PIL import Image

    for cls in ("a", "b"):
        (tmp_path / "lab" / cls).mkdir(parents=True)
        Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(tmp_path / "lab" / cls / "x.png")
    result = CliRunner().invoke(main, ["benchmark", str(tmp_path / "lab"), "-o", str(tmp_path / "b")])
    assert result.exit_code == 2 and "reference" in result.output
