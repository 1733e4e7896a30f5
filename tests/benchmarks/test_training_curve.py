"""The training-curve script's validation Y-PSNR columns: eval-sr's measure, cached per point."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # benchmarks/ is outside the package

import training_curve  # noqa: E402


@pytest.fixture()
def hr_folder(tmp_path):
    from ddriqa.io import write_image

    rng = np.random.default_rng(0)
    folder = tmp_path / "hr"
    folder.mkdir()
    for i in range(2):
        img = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
        write_image(folder / f"im{i}.png", img)
    return folder


def test_psnr_columns_are_eval_sr_means_and_are_cached(hr_folder, tmp_path):
    from ddriqa.jobs.sr import evaluate_sr
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import load_generator, save_weights

    weights = save_weights(SRResNet(num_blocks=1, num_features=8), tmp_path / "tiny.safetensors")
    sets = training_curve._psnr_sets([f"tiny={hr_folder}"])
    assert [Path(p).name for p in sets["tiny"]] == ["im0.png", "im1.png"]
    cache = tmp_path / "cache"
    got = training_curve._psnr(weights, sets, cache)
    (mean, _), (mean_bicubic, _) = evaluate_sr(load_generator(weights).requires_grad_(False), sets["tiny"]).means()
    np.testing.assert_allclose(got["tiny"], (mean, mean_bicubic), atol=1e-9)
    assert len(list(cache.glob("psnr_tiny_*.npy"))) == 1
    # a second call reads the cache: the same numbers without the network
    assert training_curve._psnr(weights, sets, cache) == got


def test_psnr_set_needs_name_and_existing_folder(tmp_path):
    with pytest.raises(SystemExit, match="NAME=FOLDER"):
        training_curve._psnr_sets([str(tmp_path)])
    with pytest.raises(SystemExit, match="NAME=FOLDER"):
        training_curve._psnr_sets([f"x={tmp_path / 'missing'}"])


def test_srgan_init_step_comes_from_provenance(tmp_path):
    import json

    weights = tmp_path / "g.safetensors"
    weights.write_bytes(b"")
    with pytest.raises(SystemExit, match="missing provenance"):
        training_curve._init_step(weights)
    weights.with_suffix(".json").write_text(json.dumps({"init_detail": {"step": 20000}}))
    assert training_curve._init_step(weights) == 20000
    weights.with_suffix(".json").write_text(json.dumps({"init": "somewhere"}))
    with pytest.raises(SystemExit, match="init_detail.step"):
        training_curve._init_step(weights)


def test_shipped_srgan_points_start_from_8214():
    for label, kind, _, weights in training_curve.POINTS:
        if kind == "srgan" and Path(weights).is_file():
            assert training_curve._init_step(weights) == 8214, label
