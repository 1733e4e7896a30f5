"""Tests of the DDR representation options: pooling, several layers, crop layouts, aggregation."""

import numpy as np
import pytest
import torch
from conftest import textured_image
from sklearn.base import clone
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ddriqa.errors import InputError
from ddriqa.features.ddr import DDRExtractor
from ddriqa.features.pooling import ChannelStats, channel_stats, crop_boxes
from ddriqa.models.srresnet import SRResNet

CROP = 10


def _net(seed=0):
    return SRResNet(num_features=4, num_blocks=2).reset_parameters(torch.Generator().manual_seed(seed)).eval()


def _images(n=4, h=30, w=34):
    return [textured_image(h + i, w + 2 * i, seed=i) for i in range(n)]


def _maps(net, patch, layers):
    x = torch.from_numpy(patch.astype(np.float32) / 255.0).permute(2, 0, 1)[None]
    with torch.no_grad():
        return {name: net.forward_features(x, name)[0].numpy() for name in layers}


def _stats(m):  # (C, H, W) -> mean, std, absmean per channel, numpy float64
    flat = m.reshape(m.shape[0], -1).astype(np.float64)
    return np.concatenate([flat.mean(1), flat.std(1), np.abs(flat).mean(1)])


def test_channel_stats_values_and_module():
    x = torch.randn(2, 3, 5, 6, generator=torch.Generator().manual_seed(0))
    got = channel_stats(x).numpy()
    want = np.stack([_stats(x[i].numpy()) for i in range(2)])
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    assert torch.equal(ChannelStats()(x), channel_stats(x))
    np.testing.assert_allclose(channel_stats(x, ("std",)).numpy(), want[:, 3:6], rtol=1e-5)
    with pytest.raises(InputError, match="unknown statistic"):
        channel_stats(x, ("median",))
    with pytest.raises(InputError, match=r"\(B, C, H, W\)"):
        channel_stats(x[0])


def test_crop_boxes_layouts():
    assert crop_boxes(30, 40, 10) == [(10, 15)]
    grid = crop_boxes(30, 40, 10, "grid", 9)
    assert len(grid) == 9 and grid[0] == (0, 0) and grid[-1] == (20, 30) and grid[4] == (10, 15)
    tiles = crop_boxes(35, 41, 10, "tiles")
    assert len(tiles) == 3 * 4 and tiles[0] == (2, 0)
    r1, r2 = crop_boxes(30, 40, 10, "random", 5, seed=3), crop_boxes(30, 40, 10, "random", 5, seed=3)
    assert r1 == r2 and r1 != crop_boxes(30, 40, 10, "random", 5, seed=4)
    assert all(0 <= t <= 20 and 0 <= l <= 30 for t, l in r1)
    with pytest.raises(InputError, match="square number"):
        crop_boxes(30, 40, 10, "grid", 5)
    with pytest.raises(InputError, match="smaller than"):
        crop_boxes(8, 40, 10)


def test_pooled_grid_equals_manual_mean_of_crop_statistics():
    net, images = _net(), _images()
    layers = ("Conv1", "ResBlock2")
    ext = DDRExtractor(weights=net, layer=layers, crop=CROP, crops="grid", n_crops=4, pooling="stats",
                       device="cpu", batch_size=3).fit()
    got = ext.transform(images)
    assert got.shape == (4, 2 * 3 * 4) and ext.n_features_per_crop_ == 24
    for i, img in enumerate(images):
        rows = []
        for t, l in crop_boxes(*img.shape[:2], CROP, "grid", 4):
            maps = _maps(net, img[t:t + CROP, l:l + CROP], layers)
            rows.append(np.concatenate([_stats(maps[name]) for name in layers]))
        np.testing.assert_allclose(got[i], np.mean(rows, axis=0), rtol=1e-4, atol=1e-5)


def test_aggregate_none_keeps_crop_blocks_in_order():
    net, images = _net(), _images(3)
    kw = dict(weights=net, layer="ResBlock2", crop=CROP, crops="grid", n_crops=4, pooling="stats", device="cpu")
    mean = DDRExtractor(**kw).fit().transform(images)
    blocks = DDRExtractor(**kw, aggregate="none").fit()
    X = blocks.transform(images)
    assert X.shape == (3, 4 * 12)
    np.testing.assert_allclose(X.reshape(3, 4, 12).mean(axis=1), mean, rtol=1e-5, atol=1e-6)
    names = blocks.get_feature_names_out()
    assert names[0] == "crop0_ddr_ResBlock2_mean_0" and names[12] == "crop1_ddr_ResBlock2_mean_0"
    assert len(names) == X.shape[1]


def test_flat_multi_layer_and_tiles():
    net, images = _net(), _images(2)
    flat = DDRExtractor(weights=net, layer=("Conv1", "ResBlock2"), crop=CROP, device="cpu").fit()
    X = flat.transform(images)
    assert X.shape == (2, 2 * 4 * CROP * CROP)
    img = images[0]
    t, l = (img.shape[0] - CROP) // 2, (img.shape[1] - CROP) // 2
    maps = _maps(net, img[t:t + CROP, l:l + CROP], ("Conv1", "ResBlock2"))
    np.testing.assert_allclose(X[0], np.concatenate([maps["Conv1"].ravel(), maps["ResBlock2"].ravel()]),
                               rtol=1e-4, atol=1e-5)
    tiles = DDRExtractor(weights=net, layer="ResBlock2", crop=CROP, crops="tiles", pooling="stats",
                         device="cpu").fit()
    assert tiles.n_crops_ is None and tiles.transform(images).shape == (2, 12)


def test_random_crops_are_seeded_and_sklearn_compatible():
    net, images = _net(), _images(3)
    ext = DDRExtractor(weights=net, layer="ResBlock2", crop=CROP, crops="random", n_crops=3, pooling="stats",
                       device="cpu", random_state=7)
    a = ext.fit_transform(images)
    b = clone(ext).fit_transform(images)
    np.testing.assert_array_equal(a, b)
    c = clone(ext).set_params(random_state=8).fit_transform(images)
    assert not np.allclose(a, c)
    pipe = make_pipeline(clone(ext), StandardScaler()).set_output(transform="pandas")
    df = pipe.fit_transform(images)
    assert list(df.columns[:2]) == ["ddr_ResBlock2_mean_0", "ddr_ResBlock2_mean_1"] and df.shape == (3, 12)


@pytest.mark.parametrize("kwargs, match", [
    (dict(crops="ring"), "crops must be one of"),
    (dict(crops="grid", n_crops=3), "square n_crops"),
    (dict(n_crops=0), "n_crops must be a positive integer"),
    (dict(pooling="max"), "pooling must be one of"),
    (dict(aggregate="vote"), "aggregate must be one of"),
    (dict(crops="tiles", aggregate="none"), "number of crops"),
    (dict(layer=("ResBlock2", 3)), "layer must be"),
    (dict(layer=("ResBlock2", "ResBlock2")), "repeat"),
])
def test_option_validation(kwargs, match):
    with pytest.raises(InputError, match=match):
        DDRExtractor(weights=_net(), crop=CROP, device="cpu", **{"layer": "ResBlock2", **kwargs}).fit()


def test_default_cpu_batch_holds_the_pixels_of_two_96px_crops_and_does_not_change_the_features():
    from ddriqa.features.ddr import cpu_batch_size

    assert [cpu_batch_size(c) for c in (96, 200, 64, 32, 8)] == [2, 2, 4, 18, 288]
    imgs = _images(n=5)
    kw = dict(weights=_net(), layer=("ResBlock1", "ResBlock2"), crop=8, crops="grid", n_crops=4, pooling="stats",
              aggregate="none", device="cpu")
    auto = DDRExtractor(**kw).fit()
    assert auto.batch_size_ == 288
    np.testing.assert_allclose(auto.transform(imgs), DDRExtractor(**kw, batch_size=1).fit().transform(imgs),
                               rtol=1e-5, atol=1e-6)
