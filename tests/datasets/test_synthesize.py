"""make_live_like: layout, labels vs info.txt, reproducibility, bad references."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import textured_image

from ddriqa.datasets.synthesize import assign_references, make_live_like
from ddriqa.degradations.live_preset import LIVE_CLASSES, LIVE_RANGES
from ddriqa.errors import InputError
from ddriqa.io import read_image, write_image


@pytest.fixture
def refs(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    write_image(folder / "alpha.png", textured_image(40, 56, seed=1))
    write_image(folder / "beta.bmp", textured_image(48, 48, seed=2))
    write_image(folder / "gamma.png", textured_image(36, 52, seed=3, channels=1))  # gray -> RGB
    return folder


def _read_info(path):
    return [line.split() for line in path.read_text().splitlines() if line.strip()]


def test_layout_and_labels_agree_with_info(refs, tmp_path):
    out = tmp_path / "out"
    res = make_live_like(refs, out, per_class=4, seed=7)
    assert sorted(p.name for p in (out / "refimgs").iterdir()) == ["alpha.bmp", "beta.bmp", "gamma.bmp"]
    ref = read_image(out / "refimgs" / "gamma.bmp")
    assert ref.shape == (36, 52, 3)
    labels = pd.read_csv(out / "labels.csv")
    assert list(labels.columns) == ["path", "distortion", "reference", "param"]
    assert len(labels) == 4 * len(LIVE_CLASSES) and res.skipped == [] and res.failed == []
    for cls in LIVE_CLASSES:
        info = _read_info(out / cls / "info.txt")
        # round-robin over the 3 sorted references: alpha, beta, gamma, alpha
        assert [r[0] for r in info] == ["alpha.bmp", "beta.bmp", "gamma.bmp", "alpha.bmp"]
        assert [r[1] for r in info] == [f"img{k}.bmp" for k in range(1, 5)]
        sub = labels[labels.distortion == cls]
        assert sub["path"].tolist() == [f"{cls}/{r[1]}" for r in info]
        assert sub["reference"].tolist() == [r[0] for r in info]
        np.testing.assert_allclose(sub["param"].to_numpy(), [float(r[2]) for r in info], rtol=1e-12)
        lo, hi = LIVE_RANGES[cls]
        assert ((sub["param"] >= lo) & (sub["param"] <= hi)).all()
        for r in info:
            img = read_image(out / cls / r[1])
            src = read_image(out / "refimgs" / r[0])
            assert img.shape == src.shape
    pd.testing.assert_frame_equal(labels, res.labels)


def test_load_live_reads_the_output(refs, tmp_path):
    from ddriqa.datasets.live_database import load_live

    make_live_like(refs, tmp_path / "o", per_class=2, seed=1, classes=("wn", "jpeg"))
    table = load_live(tmp_path / "o")
    assert sorted(table["distortion"].unique()) == ["jpeg", "wn"] and len(table) == 4


def test_reproducible_and_order_independent(refs, tmp_path):
    a = make_live_like(refs, tmp_path / "a", per_class=3, seed=11)
    b = make_live_like(refs, tmp_path / "b", per_class=3, seed=11, classes=("fastfading", "wn"))
    c = make_live_like(refs, tmp_path / "c", per_class=3, seed=12, classes=("wn",))
    for cls in ("fastfading", "wn"):
        for k in range(1, 4):
            np.testing.assert_array_equal(
                read_image(tmp_path / "a" / cls / f"img{k}.bmp"), read_image(tmp_path / "b" / cls / f"img{k}.bmp")
            )
    pd.testing.assert_frame_equal(
        a.labels[a.labels.distortion == "wn"].reset_index(drop=True),
        b.labels[b.labels.distortion == "wn"].reset_index(drop=True),
    )
    assert not np.allclose(c.labels["param"], a.labels[a.labels.distortion == "wn"]["param"])


def test_bad_reference_is_skipped(refs, tmp_path, capsys):
    (refs / "broken.png").write_bytes(b"not an image at all")
    res = make_live_like(refs, tmp_path / "o", per_class=3, seed=0, classes=("gblur",))
    assert [p for p, _ in res.skipped] == [str(refs / "broken.png")]
    assert "broken.png" in capsys.readouterr().err
    assert res.references == ["alpha.bmp", "beta.bmp", "gamma.bmp"] and len(res.labels) == 3


def test_list_of_paths_and_duplicate_stems(tmp_path):
    p1 = write_image(tmp_path / "x.png", textured_image(32, 32, seed=1))
    sub = tmp_path / "d"
    sub.mkdir()
    p2 = write_image(sub / "x.png", textured_image(32, 32, seed=2))
    res = make_live_like([p2, p1], tmp_path / "o", per_class=2, seed=0, classes=["wn"])
    assert res.references == ["x.bmp", "x_2.bmp"]
    assert res.labels["reference"].tolist() == ["x.bmp", "x_2.bmp"]


def test_assignment_and_errors(refs, tmp_path):
    assert assign_references(144, 24) == [k % 24 for k in range(144)]
    assert np.bincount(assign_references(144, 24)).tolist() == [6] * 24
    assert np.bincount(assign_references(7, 3)).tolist() == [3, 2, 2]
    with pytest.raises(InputError, match="unknown classes"):
        make_live_like(refs, tmp_path / "o", per_class=1, seed=0, classes=("blur",))
    with pytest.raises(InputError, match="per_class"):
        make_live_like(refs, tmp_path / "o", per_class=0, seed=0)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(InputError, match="no image files"):
        make_live_like(empty, tmp_path / "o", per_class=1, seed=0)
    (empty / "bad.png").write_bytes(b"xx")
    with pytest.raises(InputError, match="could be read"):
        make_live_like(empty, tmp_path / "o", per_class=1, seed=0)
