"""`ddriqa classify/extract --scheduler`: a real Dask LocalCluster on loopback gives the local rows."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import textured_image
from PIL import Image

pytest.importorskip("distributed")

from distributed import LocalCluster  # noqa: E402

from ddriqa.cli import main  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    with LocalCluster(n_workers=2, processes=True, threads_per_worker=1, host="127.0.0.1",
                      dashboard_address=None) as lc:
        yield lc.scheduler_address


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("sched")
    folder = root / "imgs"
    folder.mkdir()
    for i in range(9):
        Image.fromarray(textured_image(40 + 2 * i, 48, seed=i)).save(folder / f"a{i}.png")
    (folder / "b_broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    Image.fromarray(textured_image(12, 12, seed=9)).save(folder / "c_small.png")
    return folder


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _invoke(args):
    result = CliRunner().invoke(main, args)
    # exit statuses come from SystemExit; anything else is a crash, not an exit status
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def test_classify_scheduler_rows_identical(cluster, folder, tmp_path):
    base = ["classify", str(folder), "--model", "brisque", "--batch-size", "2"]
    local = _invoke(base + ["-o", str(tmp_path / "local.csv")])
    remote = _invoke(base + ["-o", str(tmp_path / "remote.csv"), "--scheduler", cluster, "--chunk-size", "3"])
    assert local.exit_code == 1, local.output  # the broken file gives an error row
    assert remote.exit_code == 1, remote.output
    want, got = _rows(tmp_path / "local.csv"), _rows(tmp_path / "remote.csv")
    assert len(want) == 12  # header + 11 images, in the same order
    assert [(r[0], r[1], r[-1]) for r in got] == [(r[0], r[1], r[-1]) for r in want]
    errors = {r[0].rsplit("/", 1)[-1] for r in got[1:] if r[-1]}
    assert errors == {"b_broken.jpg", "c_small.png"}  # not an image; too small for BRISQUE
    # same features and SVM on both sides: scores agree to rounding (tolerance 1e-9)
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose([float(v or "nan") for v in g[2:-1]], [float(v or "nan") for v in w[2:-1]],
                                   rtol=1e-9, atol=1e-9)


def test_classify_scheduler_resume_and_strict(cluster, folder, tmp_path):
    out = tmp_path / "r.csv"
    args = ["classify", str(folder), "--model", "brisque", "-o", str(out), "--scheduler", cluster, "--chunk-size", "2"]
    strict = _invoke(args + ["--strict"])
    assert strict.exit_code == 2 and "b_broken.jpg" in strict.output
    first = _rows(out)
    assert [r[0].rsplit("/", 1)[-1] for r in first[1:]] == [f"a{i}.png" for i in range(9)]  # rows before the bad file
    resumed = _invoke(args + ["--resume"])
    assert resumed.exit_code == 1, resumed.output
    rows = _rows(out)
    assert rows[: len(first)] == first and len(rows) == 12
    assert sorted(r[0] for r in rows[1:]) == sorted({r[0] for r in rows[1:]})  # no duplicates


def test_extract_scheduler_rows_identical(cluster, folder, tmp_path):
    base = ["extract", str(folder), "--features", "ddr", "--weights", "random", "--seed", "3", "--layer", "Conv1",
            "--crop", "16", "--device", "cpu", "--batch-size", "2"]
    local = _invoke(base + ["-o", str(tmp_path / "l.npy")])
    remote = _invoke(base + ["-o", str(tmp_path / "r.npy"), "--scheduler", cluster, "--chunk-size", "4"])
    assert local.exit_code == 1 and remote.exit_code == 1, (local.output, remote.output)
    assert _rows(tmp_path / "l.csv") == _rows(tmp_path / "r.csv")  # index, path, error
    a, b = np.load(tmp_path / "l.npy"), np.load(tmp_path / "r.npy")
    assert a.shape == b.shape == (11, 64 * 16 * 16)
    assert np.array_equal(np.isnan(a), np.isnan(b)) and np.isnan(a).all(axis=1).sum() == 2
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True)


def test_connect_error_names_the_address():
    from ddriqa.errors import InputError
    from ddriqa.jobs.dask_runner import connect

    with pytest.raises(InputError, match="127.0.0.1:9"):
        connect("tcp://127.0.0.1:9", timeout=1)
