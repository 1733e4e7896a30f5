"""ddriqa.datasets.live_database.load_live on a miniature LIVE Release 2 tree."""

from __future__ import annotations

import math
import os
import shutil

import numpy as np
import pytest
import scipy.io

from ddriqa.datasets.live_database import LIVE_OFFSETS, LIVE_TOTAL, is_live_root, load_live
from ddriqa.errors import InputError
from ddriqa.io import read_image, write_image

# (class, image number, reference, param): info.txt content; lines are written shuffled
ENTRIES = {
    "jp2k": [(1, "parrots.bmp", 0.9), (2, "bikes.bmp", 0.25), (3, "parrots.bmp", 3.1)],
    "jpeg": [(1, "bikes.bmp", 0.4), (2, "parrots.bmp", 2.5), (10, "bikes.bmp", 1.1)],
    "wn": [(1, "parrots.bmp", 0.05), (2, "bikes.bmp", 1.0)],
    "gblur": [(1, "bikes.bmp", 0.7), (174, "parrots.bmp", 14.0)],
    "fastfading": [(1, "parrots.bmp", 17.5), (2, "bikes.bmp", 24.0)],
}
# undistorted copies of the reference (orgs == 1) in the global 1-based index
ORGS_ONE = {("jp2k", 2), ("jpeg", 10), ("fastfading", 1)}


def _global(cls, k):
    return LIVE_OFFSETS[cls] + k - 1


def build_live(root, with_mat=True):
    rng = np.random.default_rng(0)
    (root / "refimgs").mkdir(parents=True)
    for ref in ("parrots.bmp", "bikes.bmp"):
        write_image(root / "refimgs" / ref, rng.integers(0, 256, (6, 8, 3), dtype=np.uint8))
    for cls, entries in ENTRIES.items():
        folder = root / cls
        folder.mkdir()
        lines = []
        for k, ref, param in entries:
            write_image(folder / f"img{k}.bmp", np.full((6, 8, 3), k % 256, np.uint8))
            lines.append(f"{ref} img{k}.bmp {param}")
        lines = lines[::-1]  # not in image order: the loader must map by name
        text = "\n".join(lines[:1] + ["", "   ", "orphan.bmp"] + lines[1:]) + "\n\n"
        (folder / "info.txt").write_text(text)
    if with_mat:
        dmos = np.arange(LIVE_TOTAL, dtype=np.float64)[None, :] + 0.5  # dmos[i] = i + 0.5
        orgs = np.zeros((1, LIVE_TOTAL))
        for cls, k in ORGS_ONE:
            orgs[0, _global(cls, k)] = 1
        scipy.io.savemat(root / "dmos.mat", {"dmos": dmos, "orgs": orgs})
        names = np.empty((1, LIVE_TOTAL), dtype=object)
        names[:] = "other.bmp"
        for cls, entries in ENTRIES.items():
            for k, ref, _ in entries:
                names[0, _global(cls, k)] = ref
        scipy.io.savemat(root / "refnames_all.mat", {"refnames_all": names})
    return root


@pytest.fixture
def live_root(tmp_path):
    return build_live(tmp_path / "databaserelease2")


def _expected_rows(classes=ENTRIES, with_mat=True):
    rows = []
    for cls in ("jp2k", "jpeg", "wn", "gblur", "fastfading"):
        if cls not in classes:
            continue
        for k, ref, param in sorted(ENTRIES[cls]):
            if with_mat and (cls, k) in ORGS_ONE:
                continue
            dmos = _global(cls, k) + 0.5 if with_mat else math.nan
            rows.append((f"{cls}/img{k}.bmp", cls, ref, param, dmos))
    return rows


def _as_rows(table, root):
    return [
        (os.path.relpath(p, root).replace(os.sep, "/"), d, r, pa, dm)
        for p, d, r, pa, dm in table.itertuples(index=False)
    ]


def test_load_live_with_mat_files(live_root):
    table = load_live(live_root)
    assert list(table.columns) == ["path", "distortion", "reference", "param", "dmos"]
    assert table["param"].dtype == np.float64 and table["dmos"].dtype == np.float64
    assert all(os.path.isabs(p) and isinstance(p, str) for p in table["path"])
    got = _as_rows(table, live_root)
    expected = _expected_rows()
    assert [r[:4] for r in got] == [r[:4] for r in expected]
    np.testing.assert_allclose(table["dmos"], [r[4] for r in expected], rtol=0, atol=1e-12)
    assert len(table) == sum(len(v) for v in ENTRIES.values()) - len(ORGS_ONE)
    # spot checks of the offset arithmetic: jpeg img2 -> index 228, gblur img174 -> 807
    row = table[table["path"].str.endswith(os.path.join("jpeg", "img2.bmp"))]
    assert row["dmos"].item() == 228.5
    row = table[table["path"].str.endswith(os.path.join("gblur", "img174.bmp"))]
    assert row["dmos"].item() == 807.5
    assert read_image(table["path"].iloc[0]).shape == (6, 8, 3)


def test_load_live_without_mat_files(live_root):
    os.remove(live_root / "dmos.mat")
    os.remove(live_root / "refnames_all.mat")
    table = load_live(live_root)
    assert _as_rows(table, live_root)[0][:4] == _expected_rows(with_mat=False)[0][:4]
    assert [r[:4] for r in _as_rows(table, live_root)] == [r[:4] for r in _expected_rows(with_mat=False)]
    assert len(table) == sum(len(v) for v in ENTRIES.values())  # nothing dropped
    assert table["dmos"].dtype == np.float64 and table["dmos"].isna().all()


@pytest.mark.parametrize("with_mat", [True, False])
def test_load_live_two_class_folders(live_root, with_mat):
    for cls in ("jp2k", "wn", "fastfading"):
        shutil.rmtree(live_root / cls)
    if not with_mat:
        os.remove(live_root / "dmos.mat")
    table = load_live(live_root)
    assert table["distortion"].unique().tolist() == ["jpeg", "gblur"]
    expected = _expected_rows(classes={"jpeg", "gblur"}, with_mat=with_mat)
    assert [r[:4] for r in _as_rows(table, live_root)] == [r[:4] for r in expected]
    np.testing.assert_allclose(table["dmos"], [r[4] for r in expected], rtol=0, atol=1e-12)


def test_load_live_synthetic_counts_without_mat(tmp_path):
    # a synthetic set may have more images per class than the real database
    root = tmp_path / "synth"
    (root / "wn").mkdir(parents=True)
    lines = []
    for k in range(1, 300):
        write_image(root / "wn" / f"img{k}.bmp", np.zeros((2, 2, 3), np.uint8))
        lines.append(f"ref{k % 3}.bmp img{k}.bmp {k / 100}")
    (root / "wn" / "info.txt").write_text("\n".join(lines))
    table = load_live(root)
    assert len(table) == 299
    assert [os.path.basename(p) for p in table["path"][:3]] == ["img1.bmp", "img2.bmp", "img3.bmp"]
    assert table["path"].iloc[-1].endswith("img299.bmp")  # numeric, not string, order
    # the same set with a dmos.mat is refused, because img175+ has no LIVE index
    scipy.io.savemat(root / "dmos.mat", {"dmos": np.zeros((1, LIVE_TOTAL)), "orgs": np.zeros((1, LIVE_TOTAL))})
    with pytest.raises(InputError, match="img175.bmp"):
        load_live(root)


def test_wrong_size_dmos_mat(live_root):
    scipy.io.savemat(live_root / "dmos.mat", {"dmos": np.zeros((1, 100)), "orgs": np.zeros((1, 100))})
    with pytest.raises(InputError, match=r"dmos\.mat.*100 entries, expected 982"):
        load_live(live_root)


def test_dmos_mat_missing_variable(live_root):
    scipy.io.savemat(live_root / "dmos.mat", {"dmos": np.zeros((1, LIVE_TOTAL))})
    with pytest.raises(InputError, match="orgs"):
        load_live(live_root)


def test_missing_root_and_no_class_folder(tmp_path):
    with pytest.raises(InputError, match="no such folder"):
        load_live(tmp_path / "absent")
    (tmp_path / "refimgs").mkdir()
    with pytest.raises(InputError, match="no LIVE class folder") as info:
        load_live(tmp_path)
    assert str(tmp_path) in str(info.value)
    assert not is_live_root(tmp_path)


def test_class_folder_without_info_txt(live_root):
    os.remove(live_root / "wn" / "info.txt")
    with pytest.raises(InputError, match=r"wn.info\.txt: missing"):
        load_live(live_root)


def test_bad_param_names_file_and_line(live_root):
    with open(live_root / "jpeg" / "info.txt", "a") as fh:
        fh.write("bikes.bmp img3.bmp high\n")
    with pytest.raises(InputError, match=r"jpeg.info\.txt, line \d+: .*'high'"):
        load_live(live_root)


def test_missing_image_is_skipped_with_warning(live_root):
    os.remove(live_root / "wn" / "img2.bmp")
    with pytest.warns(UserWarning, match="1 image"):
        table = load_live(live_root)
    assert not table["path"].str.endswith(os.path.join("wn", "img2.bmp")).any()
    assert len(table) == len(_expected_rows()) - 1


def test_refnames_mismatch_warns(live_root):
    names = np.empty((1, LIVE_TOTAL), dtype=object)
    names[:] = "elsewhere.bmp"
    scipy.io.savemat(live_root / "refnames_all.mat", {"refnames_all": names})
    with pytest.warns(UserWarning, match="refnames_all"):
        table = load_live(live_root)
    assert set(table["reference"]) == {"parrots.bmp", "bikes.bmp"}  # info.txt wins


def test_is_live_root(live_root):
    assert is_live_root(live_root)


def test_info_txt_with_bom_crlf_tabs_and_header(live_root):
    before = load_live(live_root)
    lines = [f"{ref}\t img{k}.bmp\t{param}" for k, ref, param in ENTRIES["wn"]]
    text = "\ufeff" + "\r\n".join(lines) + "\r\nrefname imgname param\r\n"  # BOM before a data line
    (live_root / "wn" / "info.txt").write_bytes(text.encode("utf-8"))
    after = load_live(live_root)
    assert after.equals(before)


def test_with_pristine_adds_the_references_as_a_class(tmp_path):
    import numpy as np
    import pytest

    from ddriqa.datasets.live_database import PRISTINE, load_live, with_pristine
    from ddriqa.errors import InputError
    from ddriqa.io import write_image

    for sub in ("wn", "refimgs"):
        (tmp_path / sub).mkdir()
    for k, ref in enumerate(["a.bmp", "b.bmp", "a.bmp"], start=1):
        write_image(tmp_path / "wn" / f"img{k}.bmp", np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "wn" / "info.txt").write_text("a.bmp img1.bmp 1\nb.bmp img2.bmp 1\na.bmp img3.bmp 1\n")
    write_image(tmp_path / "refimgs" / "a.bmp", np.zeros((8, 8, 3), np.uint8))
    with pytest.warns(UserWarning, match="1 reference.*missing, e.g. b.bmp"):
        table = with_pristine(load_live(tmp_path), tmp_path)
    pristine = table[table["distortion"] == PRISTINE]
    assert pristine["reference"].tolist() == ["a.bmp"] and len(table) == 4
    (tmp_path / "refimgs" / "a.bmp").unlink()
    with pytest.raises(InputError, match="none of the 2 reference images"):
        with_pristine(load_live(tmp_path), tmp_path)
