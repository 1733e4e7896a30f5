"""`ddriqa analyze` on a tiny random network and tiny generated images."""

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import textured_image

from ddriqa.cli import main

TINY = ["--weights", "random", "--random-blocks", "2", "--random-features", "8",
        "--runs", "2", "--tsne-iter", "250"]


def _labelled_folders(root, n=8):
    from ddriqa.io import write_image

    rng = np.random.default_rng(0)
    for label in ("clean", "noise"):
        (root / label).mkdir(parents=True)
    for i in range(n):
        img = textured_image(36, 40, seed=i)
        write_image(root / "clean" / f"{i:02d}.png", img)
        noisy = np.clip(img + rng.normal(0, 30, img.shape), 0, 255).astype(np.uint8)
        write_image(root / "noise" / f"{i:02d}.png", noisy)
    return [f"clean={root / 'clean'}", f"noise={root / 'noise'}"]


def test_analyze_data_folders(tmp_path):
    pytest.importorskip("matplotlib")
    data = _labelled_folders(tmp_path / "in")
    (tmp_path / "in" / "noise" / "zz_broken.png").write_bytes(b"garbage")
    out = tmp_path / "out"
    args = ["analyze", *TINY, "--layer", "Conv1", "--layer", "ResBlock2", "--output", str(out)]
    for d in data:
        args += ["--data", d]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and "zz_broken.png" in res.output  # reported, not fatal
    m = pd.read_csv(out / "metrics.csv")
    assert list(m["layer"]) == ["Conv1", "ResBlock2"]
    assert {"wd_mean", "wd_std", "bd_mean", "bd_std", "chi_mean", "chi_std"} <= set(m.columns)
    assert (m["n_samples"] == 16).all() and (m["n_classes"] == 2).all()
    assert len(pd.read_csv(out / "runs.csv")) == 4
    assert len(pd.read_csv(out / "images.csv")) == 16
    for layer in ("Conv1", "ResBlock2"):
        png = out / f"{layer}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size < 200_000


def test_analyze_from_hr(tmp_path):
    from ddriqa.io import write_image

    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(6):
        write_image(hr / f"h{i}.png", textured_image(136, 144, seed=10 + i))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["analyze", *TINY, "--from-hr", str(hr), "--sets", "clean,blur,noise",
                                    "--limit", "5", "--no-plots", "--layer", "ResBlock2", "--output", str(out)])
    assert res.exit_code == 0, res.output
    m = pd.read_csv(out / "metrics.csv")
    assert list(m["layer"]) == ["ResBlock2"]
    assert (m["n_samples"] == 15).all() and (m["n_classes"] == 3).all()
    assert not list(out.glob("*.png"))


def test_analyze_usage_errors(tmp_path):
    runner = CliRunner()
    res = runner.invoke(main, ["analyze", *TINY, "--output", str(tmp_path / "o")])
    assert res.exit_code == 2 and "--data" in res.output
    res = runner.invoke(main, ["analyze", *TINY, "--layer", "Conv1", "--data", "nolabel", "--output", str(tmp_path / "o")])
    assert res.exit_code == 2 and "LABEL=DIR" in res.output
    data = _labelled_folders(tmp_path / "in", n=2)
    res = runner.invoke(main, ["analyze", *TINY, "--layer", "ResBlock9", "--data", data[0], "--data", data[1],
                               "--output", str(tmp_path / "o")])
    assert res.exit_code == 2 and "unknown layer" in res.output


def test_analyze_from_hr_skips_a_too_small_image_naming_its_file(tmp_path):
    """Issue point 5: a too small (or unreadable) HR image is skipped with a warning naming the
    file path (never `<array #i>`), and the run goes on."""
    from ddriqa.io import write_image

    hr = tmp_path / "hr"
    hr.mkdir()
    for i in range(4):
        write_image(hr / f"h{i}.png", textured_image(136, 144, seed=20 + i))
    write_image(hr / "small.png", textured_image(40, 40, seed=1))
    (hr / "broken.png").write_bytes(b"xx")
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["analyze", *TINY, "--from-hr", str(hr), "--no-plots", "--method", "pca",
                                    "--layer", "Conv1", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"warning: skipped {hr / 'small.png'}: its x4 LR image (10x10) is smaller than the 32x32 patch" in res.stderr
    assert f"warning: skipped {hr / 'broken.png'}: " in res.stderr
    assert "<array" not in res.output
    assert "from 4 HR images" in res.stderr
    assert (pd.read_csv(out / "metrics.csv")["n_samples"] == 12).all()


def test_analyze_warns_on_few_images_prints_the_spread_and_refuses_an_earlier_output(tmp_path):
    """Item 9: with few images (8 per class, below 50) a warning says CHI is unstable, and each
    CHI comes with its bootstrap interval; an output holding an earlier analysis is refused
    without --overwrite (item 3)."""
    data = _labelled_folders(tmp_path / "d")
    args = ["analyze", *TINY, "--layer", "Conv1", "--no-plots", "-o", str(tmp_path / "out")]
    for d in data:
        args += ["--data", d]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    assert ("warning: few images: 8 in the smallest class, below 50; CHI grows with the number of images and "
            "varies strongly between samples at this size") in res.stderr
    line = [x for x in res.stderr.splitlines() if x.startswith("Conv1: CHI ")][0]
    assert "(std over 2 runs); 90% bootstrap interval over the images " in line
    assert "(200 stratified resamples of the projected points, t-SNE not rerun)" in line
    lo, hi = (float(v) for v in line.split("over the images ")[1].split(" (")[0].split(" to "))
    chi = pd.read_csv(tmp_path / "out" / "metrics.csv")["chi_mean"].iloc[0]
    assert lo < hi and lo <= chi * 1.5 and hi >= chi / 1.5  # an interval around the measured CHI
    before = (tmp_path / "out" / "metrics.csv").read_bytes()
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 2 and "pass --overwrite to replace the earlier analysis" in res.stderr
    assert (tmp_path / "out" / "metrics.csv").read_bytes() == before
    assert CliRunner().invoke(main, args + ["--overwrite"]).exit_code == 0


def test_bootstrap_chi_interval_narrows_with_more_images():
    from ddriqa.analysis.dispersion import bootstrap_chi, dispersion

    rng = np.random.default_rng(0)

    def sample(n):
        pts = np.concatenate([rng.normal(0, 1, (n, 2)), rng.normal(2, 1, (n, 2))])
        return pts, [0] * n + [1] * n

    small, big = sample(10), sample(200)
    lo_s, hi_s = bootstrap_chi(*small)
    lo_b, hi_b = bootstrap_chi(*big)
    chi_b = dispersion(*big).chi
    assert lo_b < chi_b < hi_b
    assert (hi_b - lo_b) / chi_b < (hi_s - lo_s) / dispersion(*small).chi  # relative spread shrinks
