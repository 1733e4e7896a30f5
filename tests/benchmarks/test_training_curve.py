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


def test_shipped_srgan_points_start_from_their_srresnet_state():
    # 500 and 947 come from the 8,214-step SRResNet; the 1k / 2.5k / 5k snapshots from the 20k state
    for label, kind, _, weights in training_curve.POINTS:
        if kind == "srgan" and Path(weights).is_file():
            assert training_curve._init_step(weights) == (8214 if "8,214" in label else 20000), label


def test_resume_points_read_steps_from_provenance(tmp_path, monkeypatch):
    import json

    monkeypatch.setattr(training_curve, "C", tmp_path)
    assert training_curve._resume_points() == []
    (tmp_path / "resume").mkdir()
    for run, step in (("srresnet_x4_gr", 20000), ("srgan_x4_gr", 2345)):
        (tmp_path / "resume" / f"{run}.safetensors").write_bytes(b"")
        (tmp_path / "resume" / f"{run}.json").write_text(json.dumps({"step": step}))
    got = training_curve._resume_points()
    assert [(label, kind, step) for label, kind, step, _ in got] == [
        ("SRResNet 20,000 (resume state)", "srresnet", 20000), ("SRGAN 2,345 (resume state)", "srgan", 2345)]
    assert got[1][3] == tmp_path / "resume" / "srgan_x4_gr.safetensors"


def test_chi_names_follow_analysis_ddr(tmp_path):
    import pandas as pd

    rows = [("SRResNet-wGR random init (seed 0)", 0.1), ("SRResNet-wGR L1 step 20000 (CPU run)", 2.0),
            ("SRGAN-wGR step 500 (CPU run, no perceptual loss)", 3.0),
            ("SRGAN-wGR step 1000 from L1 step 20000 (CPU run, no perceptual loss)", 4.0)]
    csv = tmp_path / "cross.csv"
    pd.DataFrame([{"model": m, "layer": layer, "chi_mean": v, "chi_std": v / 10}
                  for m, v in rows for layer in ("ResBlock8", "ResBlock16")]).to_csv(csv, index=False)
    assert training_curve._chi(csv, 0, "srresnet") == (0.1, 0.01)
    assert training_curve._chi(csv, 20000, "srresnet") == (2.0, 0.2)
    assert training_curve._chi(csv, 500, "srgan", 8214) == (3.0, 0.3)
    assert training_curve._chi(csv, 1000, "srgan", 20000) == (4.0, 0.4)
    assert np.isnan(training_curve._chi(csv, 1000, "srgan", 8214)[0])  # another run's step: not measured
    assert np.isnan(training_curve._chi(tmp_path / "missing.csv", 0, "srresnet")[0])
