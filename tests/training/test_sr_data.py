"""Tests of ddriqa.training.data: packs and the on-device patch sampler."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import textured_image

from ddriqa.errors import InputError, ModelFileError
from ddriqa.io import write_image
from ddriqa.training.data import PatchSampler, load_pack, make_lr_images, pack_images


def _pairs(n=3, seed=0):
    images = [textured_image(40 + 4 * i, 48 + 8 * i, seed=seed + i) for i in range(n)]
    return make_lr_images(images, 4)


def test_pack_roundtrip_png_and_verbatim_jpeg(tmp_path):
    a, b = textured_image(37, 45, seed=1), textured_image(32, 32, seed=2)
    (tmp_path / "src").mkdir()
    write_image(tmp_path / "src" / "a.png", a)
    write_image(tmp_path / "src" / "b.jpg", b, quality=90)
    (tmp_path / "src" / "broken.png").write_bytes(b"not an image")
    skipped = []
    summary = pack_images([tmp_path / "src"], tmp_path / "p.npz", on_error=lambda p, e: skipped.append(p))
    assert summary["n_images"] == 2 and summary["n_verbatim_jpeg"] == 1 and summary["n_png"] == 1
    assert len(skipped) == 1 and summary["skipped"][0].endswith("broken.png")
    data = load_pack(tmp_path / "p.npz")
    assert data["names"] == ["a.png", "b.jpg"] and data["n_mismatched"] == 0
    np.testing.assert_array_equal(data["images"][0], a)  # PNG is lossless
    from ddriqa.io import read_image

    np.testing.assert_array_equal(data["images"][1], read_image(tmp_path / "src" / "b.jpg"))
    assert load_pack(tmp_path / "p.npz", groups=["src"])["names"] == ["a.png", "b.jpg"]
    with pytest.raises(InputError, match="no images in groups"):
        load_pack(tmp_path / "p.npz", groups=["Set5"])


def test_load_pack_rejects_other_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.zeros(3))
    with pytest.raises(ModelFileError, match="x.npz"):
        load_pack(tmp_path / "x.npz")
    with pytest.raises(ModelFileError, match="no such"):
        load_pack(tmp_path / "missing.npz")


def test_make_lr_images_crops_to_multiple_of_scale():
    (hr,), (lr,) = make_lr_images([textured_image(43, 50, seed=3)], 4)
    assert hr.shape == (40, 48, 3) and lr.shape == (10, 12, 3) and lr.dtype == np.uint8


def test_sampler_reproducible_from_seed_and_state():
    hr, lr = _pairs()
    a = PatchSampler(hr, lr, lr_patch=8, batch_size=4, seed=7)
    b = PatchSampler(hr, lr, lr_patch=8, batch_size=4, seed=7)
    c = PatchSampler(hr, lr, lr_patch=8, batch_size=4, seed=8)
    first = [a.sample() for _ in range(3)]
    for x, y in zip(first, [b.sample() for _ in range(3)]):
        assert torch.equal(x[0], y[0]) and torch.equal(x[1], y[1])
    assert not torch.equal(first[0][1], c.sample()[1])
    state = a.state_dict()
    nxt = a.sample()
    d = PatchSampler(hr, lr, lr_patch=8, batch_size=4, seed=0)
    d.load_state_dict(state)
    again = d.sample()
    assert torch.equal(nxt[0], again[0]) and torch.equal(nxt[1], again[1])


def _reference_patch(image, y, x, p, code):
    patch = image[y : y + p, x : x + p]
    if code & 4:
        patch = patch.transpose(1, 0, 2)
    if code & 2:
        patch = patch[::-1]
    if code & 1:
        patch = patch[:, ::-1]
    return patch


def test_sampler_gather_matches_numpy_crops_and_flips():
    hr, lr = _pairs(seed=5)
    s = PatchSampler(hr, lr, lr_patch=6, batch_size=16, seed=3)
    state = s.state_dict()
    idx, y, x, code = s.draw()
    s.load_state_dict(state)
    lr_b, hr_b = s.sample()
    assert lr_b.shape == (16, 3, 6, 6) and hr_b.shape == (16, 3, 24, 24)
    assert float(lr_b.min()) >= 0.0 and float(hr_b.max()) <= 1.0
    assert len(set(code.tolist())) > 1  # augmentation used
    for k in range(16):
        ref_lr = _reference_patch(lr[idx[k]], y[k], x[k], 6, code[k])
        ref_hr = _reference_patch(hr[idx[k]], 4 * y[k], 4 * x[k], 24, code[k])
        got_lr = (lr_b[k].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        got_hr = (hr_b[k].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        np.testing.assert_array_equal(got_lr, ref_lr)
        np.testing.assert_array_equal(got_hr, ref_hr)


def test_sampler_skips_small_images_and_checks_pairs():
    hr, lr = make_lr_images([textured_image(16, 16, seed=1), textured_image(48, 48, seed=2)])
    s = PatchSampler(hr, lr, lr_patch=8, batch_size=2)
    assert s.n_images_ == 1 and s.n_skipped_ == 1
    with pytest.raises(InputError, match="pair"):
        PatchSampler([hr[1]], [hr[1]], lr_patch=8)
