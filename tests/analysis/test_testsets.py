"""Aligned degraded test sets: reproducible, right shapes, right degradations."""

import numpy as np
import pytest
from conftest import textured_image

from ddriqa.analysis.testsets import expand_sets, make_test_sets, write_test_sets
from ddriqa.errors import InputError


def _hr(n=3):
    return [textured_image(176, 200, seed=s) for s in range(n)]


def test_expand_sets():
    assert expand_sets("clean,blur,noise") == ("clean", "blur", "noise")
    assert expand_sets("noise{5,10,30},blur{1,4}") == ("noise5", "noise10", "noise30", "blur1", "blur4")
    assert expand_sets(["noise{10,20}"]) == ("noise10", "noise20")
    with pytest.raises(InputError, match="unknown test set"):
        expand_sets("jpeg")
    with pytest.raises(InputError, match="repeat"):
        expand_sets("noise10,noise{10,30}")


def test_shapes_labels_and_params():
    ts = make_test_sets(_hr(), "clean,blur,noise", seed=0)
    assert len(ts) == 9
    assert all(im.shape == (32, 32, 3) and im.dtype == np.uint8 for im in ts.images)
    assert list(ts.labels) == ["clean"] * 3 + ["blur"] * 3 + ["noise"] * 3
    assert ts.sources == ["img0", "img1", "img2"] * 3
    assert np.isnan(ts.params[:3]).all()
    assert ((ts.params[3:6] >= 2) & (ts.params[3:6] <= 4)).all()
    assert ((ts.params[6:] >= 5) & (ts.params[6:] <= 30)).all()
    whole = make_test_sets(_hr(1), "clean", patch=None)
    assert whole.images[0].shape == (44, 50, 3)  # 176x200 / 4


def test_degradations_are_applied_to_the_clean_lr():
    from ddriqa.degradations.resize import bicubic_downsample

    hr = _hr(2)
    ts = make_test_sets(hr, "clean,blur4,noise30", seed=1)
    lr = bicubic_downsample(hr[0], 4)
    np.testing.assert_array_equal(ts.images[0], lr[6:38, 9:41])  # centre crop of 44x50
    clean, blur, noise = (ts.images[i].astype(float) for i in (0, 2, 4))
    # blur removes high frequencies, noise adds them (horizontal gradient energy)
    grad = lambda im: np.abs(np.diff(im, axis=1)).mean()  # noqa: E731
    assert grad(blur) < 0.6 * grad(clean)
    assert grad(noise) > 1.5 * grad(clean)
    assert abs((noise - clean).std() - 30) < 6  # sigma 30 on 0..255 (clipping lowers it a little)


def test_reproducible_and_independent_of_other_sets():
    a = make_test_sets(_hr(), "clean,noise", seed=5)
    b = make_test_sets(_hr(), "noise", seed=5)
    c = make_test_sets(_hr(), "noise", seed=6)
    for x, y in zip(a.images[3:], b.images):
        np.testing.assert_array_equal(x, y)
    np.testing.assert_array_equal(a.params[3:], b.params)
    assert not np.array_equal(b.params, c.params)


def test_too_small_and_write(tmp_path):
    with pytest.raises(InputError, match="smaller than the 32x32 patch"):
        make_test_sets([textured_image(64, 64)], "clean")
    ts = make_test_sets(_hr(2), "clean,blur1", seed=0)
    folders = write_test_sets(ts, tmp_path)
    assert set(folders) == {"clean", "blur1"}
    from ddriqa.io import read_image

    back = read_image(folders["blur1"] / "img1.png")
    np.testing.assert_array_equal(back, ts.images[3])
