"""`ddriqa generalization`: one CSV row per model, a failing model does not lose the others."""

import io

import numpy as np
import pandas as pd
from click.testing import CliRunner
from conftest import textured_image

from ddriqa.cli import main


def _folders(root, n=8):
    from ddriqa.io import write_image

    rng = np.random.default_rng(1)
    for label in ("clean", "noise"):
        (root / label).mkdir(parents=True)
    for i in range(n):
        img = textured_image(32, 32, seed=i)
        write_image(root / "clean" / f"{i}.png", img)
        write_image(root / "noise" / f"{i}.png",
                    np.clip(img + rng.normal(0, 30, img.shape), 0, 255).astype(np.uint8))
    return ["--data", f"clean={root / 'clean'}", "--data", f"noise={root / 'noise'}"]


def test_generalization_csv_and_failure(tmp_path):
    data = _folders(tmp_path)
    args = ["generalization", "--weights", "random", "--weights", str(tmp_path / "missing.safetensors"),
            "--random-blocks", "2", "--random-features", "8", "--layer", "ResBlock2",
            "--runs", "2", "--tsne-iter", "250", *data]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 1  # the missing file is an error ...
    assert "missing.safetensors" in res.stderr
    table = pd.read_csv(io.StringIO(res.stdout))  # ... but the random model's row is printed
    assert list(table["weights"]) == ["random"]
    row = table.iloc[0]
    assert row["layer"] == "ResBlock2" and row["sets"] == "clean,noise"
    assert row["n_samples"] == 16 and row["n_runs"] == 2
    assert np.isfinite(row["chi_mean"]) and row["chi_mean"] >= 0 and row["chi_std"] >= 0

    out = tmp_path / "g.csv"
    res = CliRunner().invoke(main, args[:3] + args[5:] + ["--output", str(out)])
    assert res.exit_code == 0, res.output
    again = pd.read_csv(out)
    assert abs(again["chi_mean"][0] - row["chi_mean"]) < 1e-6 * max(1.0, row["chi_mean"])


def test_generalization_needs_two_sets(tmp_path):
    data = _folders(tmp_path, n=2)
    res = CliRunner().invoke(main, ["generalization", "--weights", "random", *data[:2]])
    assert res.exit_code == 2 and "two" in res.output


def test_weights_file_equals_same_random_net(tmp_path):
    from ddriqa.models.backbones import random_backbone
    from ddriqa.models.weights import save_weights

    data = _folders(tmp_path / "d", n=6)
    path = save_weights(random_backbone(4, num_blocks=2, num_features=8), tmp_path / "tiny.safetensors")
    common = ["--layer", "ResBlock2", "--runs", "2", "--tsne-iter", "250", "--seed", "4", *data]
    res = CliRunner().invoke(main, ["generalization", "--weights", str(path), "--weights", "random",
                                    "--random-blocks", "2", "--random-features", "8", *common])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(io.StringIO(res.stdout))
    assert len(table) == 2
    assert abs(table["chi_mean"][0] - table["chi_mean"][1]) <= 1e-6 * max(1.0, table["chi_mean"][0])
