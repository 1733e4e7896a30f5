"""`ddriqa extract`: .npy of features + sidecar CSV, bad files as NaN rows."""

from __future__ import annotations

import csv

import numpy as np
from click.testing import CliRunner
from conftest import textured_image
from PIL import Image

from ddriqa.cli import main
from ddriqa.features.brisque import brisque_features
from ddriqa.io import read_image


def _folder(tmp_path):
    folder = tmp_path / "imgs"
    folder.mkdir()
    for i in range(4):
        Image.fromarray(textured_image(40, 48, seed=i)).save(folder / f"a{i}.png")
    (folder / "b_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.fromarray(textured_image(12, 12, seed=9)).save(folder / "c_small.png")
    return folder


def _sidecar(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_extract_brisque(tmp_path):
    folder = _folder(tmp_path)
    out = tmp_path / "feat.npy"
    result = CliRunner().invoke(main, ["extract", str(folder), "--features", "brisque", "-o", str(out),
                                       "--batch-size", "3"])
    assert result.exit_code == 1, result.output  # finished with error rows
    feats = np.load(out, allow_pickle=False)
    side = _sidecar(tmp_path / "feat.csv")
    assert feats.shape == (6, 36) and len(side) == 6
    for i, row in enumerate(side):
        assert int(row["index"]) == i
        if row["path"].endswith(("b_broken.jpg", "c_small.png")):
            assert row["error"] and np.all(np.isnan(feats[i]))
        else:
            assert row["error"] == ""
            np.testing.assert_allclose(feats[i], brisque_features(read_image(row["path"])), rtol=1e-6, atol=1e-6)


def test_extract_ddr_random_pad(tmp_path):
    folder = _folder(tmp_path)
    base = ["extract", str(folder), "--features", "ddr", "--weights", "random", "--seed", "3",
            "--layer", "Conv1", "--crop", "16", "--device", "cpu"]
    r1 = CliRunner().invoke(main, base + ["-o", str(tmp_path / "e.npy")])
    assert r1.exit_code == 1, r1.output
    side = _sidecar(tmp_path / "e.csv")
    errors = {row["path"].rsplit("/", 1)[-1]: row["error"] for row in side if row["error"]}
    assert set(errors) == {"b_broken.jpg", "c_small.png"}
    assert "12" in errors["c_small.png"]  # names the size that does not fit the crop
    r2 = CliRunner().invoke(main, base + ["--pad", "reflect", "-o", str(tmp_path / "r.npy")])
    assert r2.exit_code == 1
    f1, f2 = np.load(tmp_path / "e.npy"), np.load(tmp_path / "r.npy")
    assert f1.shape == f2.shape == (6, 64 * 16 * 16)
    ok = [i for i, row in enumerate(side) if not row["error"]]
    np.testing.assert_allclose(f1[ok], f2[ok], rtol=0, atol=1e-6)  # same seed, same features
    small = [i for i, row in enumerate(side) if row["path"].endswith("c_small.png")][0]
    assert np.all(np.isfinite(f2[small]))


def test_extract_unknown_weights(tmp_path):
    folder = _folder(tmp_path)
    result = CliRunner().invoke(main, ["extract", str(folder), "-o", str(tmp_path / "x.npy"),
                                       "--weights", "no_such_backbone"])
    assert result.exit_code == 2 and "no_such_backbone" in result.output


def test_extract_default_weights_resolve(tmp_path):
    """Issue point 4: without --weights, extract uses presets.DEFAULT_WEIGHTS, which resolves."""
    from ddriqa.features.presets import DEFAULT_CROP, DEFAULT_WEIGHTS
    from ddriqa.models.weights import resolve_weights

    assert resolve_weights(DEFAULT_WEIGHTS).is_file()
    folder = tmp_path / "big"
    folder.mkdir()
    Image.fromarray(textured_image(DEFAULT_CROP + 4, DEFAULT_CROP + 8, seed=1)).save(folder / "a.png")
    result = CliRunner().invoke(main, ["extract", str(folder), "-o", str(tmp_path / "d.npy"), "--device", "cpu"])
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "d.npy").shape == (1, 64 * DEFAULT_CROP * DEFAULT_CROP)
