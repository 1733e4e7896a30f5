"""The blind-SR benchmark: its test degradations, SSIM, and the stages end to end (tiny models)."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import textured_image

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # benchmarks/ is outside the package

import blind_sr  # noqa: E402


def test_degradations_follow_the_stated_recipe():
    from ddriqa.degradations.blur import gaussian_blur
    from ddriqa.degradations.resize import bicubic_downsample

    hr = textured_image(64, 48, seed=1)
    lrs = blind_sr.degraded_lr(hr, np.random.default_rng([0, 0, 0]))
    assert {k: v.shape for k, v in lrs.items()} == {k: (16, 12, 3) for k in blind_sr.DEGRADATIONS}
    assert np.array_equal(lrs["clean"], bicubic_downsample(hr, 4))
    assert np.array_equal(lrs["blur2"], bicubic_downsample(gaussian_blur(hr, 2.0), 4))
    # the same noise field on both noisy sets, sigma 20 on 0-255 (away from clipping)
    d1 = lrs["noise20"].astype(float) - lrs["clean"]
    d2 = lrs["blur2_noise20"].astype(float) - lrs["blur2"]
    inside = (lrs["clean"] > 50) & (lrs["clean"] < 205) & (lrs["blur2"] > 50) & (lrs["blur2"] < 205)
    assert np.abs(d1[inside] - d2[inside]).max() <= 1.0
    assert 15.0 < d1[inside].std() < 25.0
    again = blind_sr.degraded_lr(hr, np.random.default_rng([0, 0, 0]))
    assert all(np.array_equal(again[k], lrs[k]) for k in lrs)


def test_ssim_is_one_for_identical_images_and_falls_with_noise():
    hr = textured_image(48, 48, seed=2)
    assert blind_sr.ssim_y(hr, hr) == pytest.approx(1.0, abs=1e-12)
    rng = np.random.default_rng(0)
    noisy = [np.clip(hr + rng.normal(0, s, hr.shape), 0, 255).astype(np.uint8) for s in (5, 20)]
    s5, s20 = (blind_sr.ssim_y(n, hr) for n in noisy)
    assert 1.0 > s5 > s20 > 0.0


def test_stages_end_to_end(tmp_path):
    import torch

    from ddriqa.io import write_image
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.weights import save_weights

    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(3):
        write_image(hr / f"im{i}.png", textured_image(64, 56, seed=i))
    net = RRDBNet(num_features=4, num_blocks=1, growth=2).reset_parameters(torch.Generator().manual_seed(0))
    weights = save_weights(net, tmp_path / "tiny.safetensors")
    out = tmp_path / "out"
    args = ["--out", str(out), "--set", f"S={hr}", "--model", f"tiny={weights}", "--diff", "tiny-bicubic",
            "--picture", "S/im1:8,8"]
    blind_sr.main(["sets"] + args)
    blind_sr.main(["eval"] + args)
    blind_sr.main(["picture"] + args)
    blind_sr.main(["report"] + args)
    assert sorted(p.name for p in (out / "sets" / "S").iterdir()) == sorted(blind_sr.DEGRADATIONS)
    assert len(list((out / "chi" / "noise20").iterdir())) == 3
    with open(out / "table.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert {(r["model"], r["degradation"]) for r in rows} == {
        (m, d) for m in ("bicubic", "tiny") for d in blind_sr.DEGRADATIONS}
    bic = {r["degradation"]: float(r["psnr"]) for r in rows if r["model"] == "bicubic"}
    assert bic["clean"] > bic["blur2_noise20"]  # degradations cost bicubic PSNR
    assert (out / "crops.png").is_file()
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "tiny - bicubic" in text and "RRDB-DDR (b+n)" in text
    # a second eval has nothing left to do and keeps the rows
    blind_sr.main(["eval"] + args)
    with open(out / "eval" / "tiny.csv", newline="", encoding="utf-8") as fh:
        assert len(list(csv.DictReader(fh))) == 12
