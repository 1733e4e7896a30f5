"""ddriqa.datasets.folders: labelled folders, plain image folders, layout detection."""

from __future__ import annotations

import os

import numpy as np
import pytest

from ddriqa.datasets.folders import load_dataset, load_image_folder, load_labelled_folder
from ddriqa.errors import InputError
from ddriqa.io import write_image


def _img(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    write_image(path, np.zeros((4, 5, 3), np.uint8))


def test_load_labelled_folder(tmp_path):
    _img(tmp_path / "wn" / "b.png")
    _img(tmp_path / "wn" / "a.bmp")
    _img(tmp_path / "jpeg" / "nested" / "c.jpg")
    _img(tmp_path / ".hidden" / "h.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "jpeg" / "readme.txt").write_text("x")
    table = load_labelled_folder(tmp_path)
    assert list(table.columns) == ["path", "distortion", "reference", "param", "dmos"]
    rel = [os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in table["path"]]
    assert rel == ["jpeg/nested/c.jpg", "wn/a.bmp", "wn/b.png"]
    assert table["distortion"].tolist() == ["jpeg", "wn", "wn"]
    assert all(os.path.isabs(p) for p in table["path"])
    for column in ("reference", "param", "dmos"):
        assert table[column].isna().all()
    assert table["param"].dtype == np.float64


def test_load_labelled_folder_warns_on_loose_images(tmp_path):
    _img(tmp_path / "gblur" / "a.png")
    _img(tmp_path / "loose.png")
    with pytest.warns(UserWarning, match="loose.png"):
        table = load_labelled_folder(tmp_path)
    assert len(table) == 1


def test_load_labelled_folder_errors(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        load_labelled_folder(tmp_path / "absent")
    (tmp_path / "cls").mkdir()
    with pytest.raises(InputError, match="no images found") as info:
        load_labelled_folder(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_load_image_folder(tmp_path):
    _img(tmp_path / "b.png")
    _img(tmp_path / "sub" / "a.jpg")
    (tmp_path / "c.txt").write_text("x")
    rec = load_image_folder(tmp_path)
    assert list(rec.columns) == ["path"]
    assert [os.path.relpath(p, tmp_path).replace(os.sep, "/") for p in rec["path"]] == ["b.png", "sub/a.jpg"]
    flat = load_image_folder(tmp_path, recursive=False)
    assert [os.path.basename(p) for p in flat["path"]] == ["b.png"]
    with pytest.raises(InputError, match="no such folder"):
        load_image_folder(tmp_path / "missing")
    (tmp_path / "emptydir").mkdir()
    with pytest.raises(InputError, match="no image files"):
        load_image_folder(tmp_path / "emptydir")
    with pytest.raises(InputError, match="is not a folder"):
        load_image_folder(tmp_path / "b.png")


def test_load_dataset_detects_live(tmp_path):
    _img(tmp_path / "wn" / "img1.bmp")
    _img(tmp_path / "wn" / "img2.bmp")
    (tmp_path / "wn" / "info.txt").write_text("ref.bmp img2.bmp 0.3\nref.bmp img1.bmp 0.1\n")
    _img(tmp_path / "refimgs" / "ref.bmp")
    table = load_dataset(tmp_path)
    assert table["param"].tolist() == [0.1, 0.3]  # from info.txt: the LIVE loader ran
    assert table["reference"].tolist() == ["ref.bmp", "ref.bmp"]
    assert "refimgs" not in set(table["distortion"])


def test_load_dataset_labelled(tmp_path):
    _img(tmp_path / "wn" / "img1.bmp")  # a LIVE class name, but no info.txt: a labelled folder
    _img(tmp_path / "blocky" / "x.png")
    table = load_dataset(tmp_path)
    assert table["distortion"].tolist() == ["blocky", "wn"]
    assert table["param"].isna().all()


def test_a_folder_of_images_without_class_folders_is_one_clear_error_and_no_warning(tmp_path):
    """Issue point 7: a one-class folder (images only, no sub-folder) gets a clear message, no raw warning."""
    import warnings

    _img(tmp_path / "a.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        with pytest.raises(InputError, match=r"1 image lies directly in the folder \(e.g. a.png\).*no class sub-folder"):
            load_labelled_folder(tmp_path)
    _img(tmp_path / "wn" / "b.png")
    with pytest.warns(UserWarning, match="1 image directly in the folder has no class sub-folder and was skipped"):
        assert load_labelled_folder(tmp_path)["distortion"].tolist() == ["wn"]
