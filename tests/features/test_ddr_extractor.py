"""Tests of the DDR feature extractor (tiny networks, generated images)."""

import numpy as np
import pytest
import torch
from conftest import textured_image
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.exceptions import NotFittedError
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ddriqa.errors import ImageReadError, InputError
from ddriqa.features.ddr import DDRExtractor, central_crop
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import save_weights

CROP = 12


def _net(seed=0):
    return SRResNet(num_features=4, num_blocks=2).reset_parameters(torch.Generator().manual_seed(seed)).eval()


def _images(n=5, h=20, w=26):
    return [textured_image(h + i, w + 2 * i, seed=i) for i in range(n)]


def _manual(net, images, layer="ResBlock2", crop=CROP):
    rows = []
    for img in images:
        h, w = img.shape[:2]
        top, left = (h - crop) // 2, (w - crop) // 2
        patch = img[top:top + crop, left:left + crop].astype(np.float32) / 255.0
        x = torch.from_numpy(patch).permute(2, 0, 1)[None]
        with torch.no_grad():
            rows.append(net.forward_features(x, layer).reshape(-1).numpy())
    return np.stack(rows)


def _ddr(net, **kw):
    kw.setdefault("layer", "ResBlock2")
    kw.setdefault("crop", CROP)
    kw.setdefault("device", "cpu")
    return DDRExtractor(weights=net, **kw)


def test_equals_manual_forward_features_of_central_crop():
    net = _net()
    images = _images()
    got = _ddr(net, batch_size=2).fit().transform(images)
    assert got.dtype == np.float32 and got.shape == (5, 4 * CROP * CROP)
    np.testing.assert_allclose(got, _manual(net, images), rtol=0, atol=1e-5)
    # a different layer and the float input give the same rows as the uint8 input
    got1 = _ddr(net, layer="Conv1").fit().transform([im.astype(np.float32) / 255 for im in images])
    np.testing.assert_allclose(got1, _manual(net, images, layer="Conv1"), rtol=0, atol=1e-5)


def test_weights_file_and_module_agree(tmp_path):
    net = _net(1)
    path = save_weights(net, tmp_path / "tiny.safetensors")
    images = _images(3)
    a = _ddr(net).fit().transform(images)
    b = _ddr(str(path)).fit().transform(images)
    np.testing.assert_array_equal(a, b)


def test_user_module_is_not_modified():
    net = _net()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    ddr = _ddr(net).fit()
    assert ddr.model_ is not net
    assert net.conv_first.weight.requires_grad
    for k, v in net.state_dict().items():
        torch.testing.assert_close(v, before[k], rtol=0, atol=0)


def test_iter_transform_streams_all_rows():
    net = _net()
    images = _images(7)
    ddr = _ddr(net, batch_size=2).fit()
    full = ddr.transform(images)
    blocks = list(ddr.iter_transform(images, chunk_size=3))
    assert [(s, len(b)) for s, b in blocks] == [(0, 3), (3, 3), (6, 1)]
    np.testing.assert_array_equal(np.concatenate([b for _, b in blocks]), full)


def test_deterministic_and_random_init_seeded():
    images = _images(2)
    net = _net()
    ddr = _ddr(net).fit()
    np.testing.assert_array_equal(ddr.transform(images), ddr.transform(images))
    r1 = DDRExtractor(weights="random", random_state=3, layer="Conv1", crop=8, device="cpu").fit()
    r2 = DDRExtractor(weights="random", random_state=3, layer="Conv1", crop=8, device="cpu").fit()
    r3 = DDRExtractor(weights="random", random_state=4, layer="Conv1", crop=8, device="cpu").fit()
    a, b, c = (r.transform(images) for r in (r1, r2, r3))
    assert a.shape == (2, 64 * 8 * 8)
    np.testing.assert_array_equal(a, b)
    assert np.abs(a - c).max() > 1e-3


def test_pipeline_clone_and_pandas_output():
    net = _net()
    images = _images(6)
    y = np.array([0, 1, 0, 1, 0, 1])
    pipe = make_pipeline(_ddr(net), StandardScaler(), PCA(n_components=3, random_state=0))
    z = pipe.fit(images, y).transform(images)
    assert z.shape == (6, 3)
    twin = clone(pipe)
    np.testing.assert_allclose(twin.fit_transform(images), z, rtol=1e-4, atol=1e-4)
    ddr = _ddr(net).set_output(transform="pandas")
    df = ddr.fit_transform(images)
    assert list(df.columns[:2]) == ["ddr_ResBlock2_0", "ddr_ResBlock2_1"]
    assert df.shape == (6, 4 * CROP * CROP) and df.columns[-1] == f"ddr_ResBlock2_{4 * CROP * CROP - 1}"
    np.testing.assert_array_equal(df.to_numpy(), _ddr(net).fit().transform(images))


def test_small_image_error_names_it_and_reflect_pads(tmp_path):
    net = _net()
    small = textured_image(8, 10, seed=9)
    with pytest.raises(InputError, match=r"<array #1>.*10x8"):
        _ddr(net).fit().transform([_images(1)[0], small])
    padded = _ddr(net, pad="reflect").fit().transform([small])
    ref_img = np.pad(small, ((2, 2), (1, 1), (0, 0)), mode="reflect")
    np.testing.assert_allclose(padded, _manual(net, [ref_img]), rtol=0, atol=1e-5)
    tiny = textured_image(3, 2, seed=1)  # needs repeated reflection
    assert central_crop(tiny, CROP, pad="reflect").shape == (CROP, CROP, 3)


def test_small_file_error_names_the_file(tmp_path):
    pytest.importorskip("ddriqa.io")
    import cv2

    path = tmp_path / "small.png"
    cv2.imwrite(str(path), textured_image(9, 7, seed=2))
    with pytest.raises(ImageReadError, match=r"small\.png.*7x9"):
        _ddr(_net()).fit().transform([str(path)])


def test_bad_file_in_a_later_batch_is_reported(tmp_path):
    pytest.importorskip("ddriqa.io")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not an image")
    images = _images(4) + [str(bad)]
    with pytest.raises(ImageReadError, match="broken.png"):
        _ddr(_net(), batch_size=2).fit().transform(images)


def test_parameter_validation():
    net = _net()
    with pytest.raises(NotFittedError):
        _ddr(net).transform(_images(1))
    for kw, match in [
        ({"crop": 0}, "crop"),
        ({"pad": "zeros"}, "pad"),
        ({"layer": "ResBlock16"}, "ResBlock16"),
        ({"batch_size": 0}, "batch_size"),
        ({"autocast": "bfloat16"}, "only supported on CUDA"),
        ({"device": "tpu9"}, "device"),
    ]:
        with pytest.raises(InputError, match=match):
            _ddr(net, **kw).fit()
    with pytest.raises(InputError, match="weights"):
        DDRExtractor(weights=3.5, device="cpu").fit()
    with pytest.raises(InputError, match="chunk_size"):
        list(_ddr(net).fit().iter_transform(_images(1), chunk_size=0))
