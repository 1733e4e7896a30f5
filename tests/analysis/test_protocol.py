"""The whole protocol on a tiny random network: layers, saving callback, folders with bad files."""

import numpy as np
import pytest
from conftest import textured_image

from ddriqa.analysis.protocol import analyze_layers, generalization_score, load_patch_folders
from ddriqa.errors import InputError
from ddriqa.models.backbones import random_backbone


def _data(n=10):
    rng = np.random.default_rng(0)
    clean = [textured_image(16, 16, seed=s) for s in range(n)]
    noisy = [np.clip(c + rng.normal(0, 40, c.shape), 0, 255).astype(np.uint8) for c in clean]
    return clean + noisy, np.array(["clean"] * n + ["noise"] * n)


def test_analyze_layers_rows_and_callback():
    net = random_backbone(0, num_blocks=2, num_features=8)
    images, labels = _data()
    seen = []
    res = analyze_layers(net, images, labels, ["Conv1", "ResBlock2"], runs=2, seed=0, max_iter=250,
                         on_layer=lambda layer, proj, s: seen.append((layer, proj.points.shape)))
    assert seen == [("Conv1", (2, 20, 2)), ("ResBlock2", (2, 20, 2))]
    assert list(res.metrics["layer"]) == ["Conv1", "ResBlock2"]
    assert (res.metrics["n_samples"] == 20).all() and (res.metrics["n_runs"] == 2).all()
    assert len(res.runs) == 4
    assert np.isfinite(res.metrics[["wd_mean", "bd_mean", "chi_mean"]].to_numpy()).all()
    again = analyze_layers(net, images, labels, ["Conv1", "ResBlock2"], runs=2, seed=0, max_iter=250)
    np.testing.assert_allclose(again.metrics["chi_mean"], res.metrics["chi_mean"], rtol=1e-6)
    s = generalization_score(net, images, labels, "ResBlock2", runs=2, seed=0, max_iter=250)
    assert s.chi_mean == pytest.approx(res.metrics["chi_mean"][1], rel=1e-6)


def test_single_label_refused():
    net = random_backbone(0, num_blocks=1, num_features=4)
    images, _ = _data(4)
    with pytest.raises(InputError, match="two degradation labels"):
        analyze_layers(net, images, ["clean"] * 8, ["Conv1"])


def test_load_patch_folders_skips_bad_files(tmp_path):
    from ddriqa.io import write_image

    for label in ("a", "b"):
        (tmp_path / label).mkdir()
        for i in range(3):
            write_image(tmp_path / label / f"{i}.png", textured_image(40, 48, seed=i))
    write_image(tmp_path / "a" / "small.png", textured_image(20, 20))
    (tmp_path / "b" / "broken.png").write_bytes(b"not a png")
    skipped_seen = []
    images, labels, paths, skipped = load_patch_folders(
        {"a": tmp_path / "a", "b": tmp_path / "b"}, patch=32, on_skip=lambda p, r: skipped_seen.append(p))
    assert len(images) == 6 and all(im.shape == (32, 32, 3) for im in images)
    assert list(labels) == ["a"] * 3 + ["b"] * 3
    assert sorted(p.split("/")[-1] for p, _ in skipped) == ["broken.png", "small.png"]
    assert len(skipped_seen) == 2
    np.testing.assert_array_equal(images[0], textured_image(40, 48, seed=0)[4:36, 8:40])
    images, labels, _, _ = load_patch_folders([("a", tmp_path / "a")], patch=32, limit=2)
    assert len(images) == 2
