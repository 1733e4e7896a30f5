"""Tests of ddriqa.jobs.batches: streaming, fault-isolating batch jobs (stand-in reader and model)."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler
from sklearn.svm import LinearSVC

from ddriqa.errors import ImageReadError, InputError
from ddriqa.jobs._csv import read_done_paths
from ddriqa.jobs.batches import StrictModeError, map_batches
from ddriqa.jobs.classify import classify_files, predict_scores
from ddriqa.jobs.extract import extract_files


def _stats(images):
    """Mean and std per channel; refuses images smaller than 4x4 (like a crop that does not fit)."""
    rows = []
    for im in images:
        if min(im.shape[:2]) < 4:
            raise InputError(f"image of shape {im.shape} is smaller than the 4x4 crop")
        im = np.asarray(im, dtype=np.float64)
        rows.append(np.concatenate([im.mean(axis=(0, 1)), im.std(axis=(0, 1))]))
    return np.array(rows)


def _reader(path):
    """Stand-in for read_image: .npy arrays, 'bad' in the name -> ImageReadError."""
    path = str(path)
    if os.path.basename(path).startswith("bad"):
        raise ImageReadError(path, "not an image (stand-in)")
    return np.load(path)


def _toy_model():
    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 80, (8, 8, 3)).astype(np.uint8) for _ in range(10)]
    imgs += [rng.integers(120, 255, (8, 8, 3)).astype(np.uint8) for _ in range(10)]
    imgs += [np.clip(rng.normal(128, 60, (8, 8, 3)), 0, 255).astype(np.uint8) for _ in range(10)]
    y = ["dark"] * 10 + ["bright"] * 10 + ["noisy"] * 10
    model = Pipeline([("f", FunctionTransformer(_stats)), ("s", StandardScaler()), ("c", LinearSVC())])
    return model.fit(imgs, y)


@pytest.fixture
def corpus(tmp_path):
    rng = np.random.default_rng(1)
    paths = []
    for i in range(11):
        p = tmp_path / f"img{i:02d}.npy"
        lo = [0, 120, 40][i % 3]
        np.save(p, rng.integers(lo, lo + 100, (6 + i, 7, 3)).astype(np.uint8))
        paths.append(str(p))
    small = tmp_path / "small.npy"
    np.save(small, np.zeros((2, 2, 3), np.uint8))
    paths.insert(3, str(small))
    paths.insert(7, str(tmp_path / "bad file.npy"))
    return paths


def _rows(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.reader(f))


def _assert_same_rows(got, want, atol=1e-9):
    """Same header, paths, labels and errors; scores equal within atol (batch order changes the last bits)."""
    assert got[0] == want[0]
    assert [(r[0], r[1], r[-1]) for r in got] == [(r[0], r[1], r[-1]) for r in want]
    for g, w in zip(got[1:], want[1:]):
        np.testing.assert_allclose([float(v or "nan") for v in g[2:-1]], [float(v or "nan") for v in w[2:-1]],
                                   rtol=0, atol=atol)


def test_map_batches_isolates_bad_items_and_keeps_order(corpus):
    items = list(map_batches(corpus, _stats, batch_size=4, read=_reader))
    assert [it.index for it in items] == list(range(len(corpus)))
    assert [it.path for it in items] == corpus
    errors = {it.path: it.error for it in items if it.error}
    assert set(errors) == {corpus[3], corpus[7]}
    assert "smaller than the 4x4 crop" in errors[corpus[3]]
    assert errors[corpus[7]] == "not an image (stand-in)"
    for it in items:
        if it.error is None:  # batched result == the image alone
            np.testing.assert_allclose(it.value, _stats([_reader(it.path)])[0], rtol=0, atol=1e-12)


def test_map_batches_strict_stops_at_first_bad(corpus):
    seen = []
    with pytest.raises(StrictModeError) as info:
        for it in map_batches(corpus, _stats, batch_size=2, read=_reader, strict=True):
            seen.append(it.index)
    assert info.value.path == corpus[3]
    assert seen == [0, 1, 2]  # every item before the bad one


def test_map_batches_rejects_bad_batch_size():
    with pytest.raises(InputError, match="batch_size"):
        list(map_batches(["a"], _stats, batch_size=0))


def test_predict_scores_matches_model():
    model = _toy_model()
    rng = np.random.default_rng(5)
    imgs = [rng.integers(0, 255, (8, 8, 3)).astype(np.uint8) for _ in range(6)]
    labels, scores = predict_scores(model, imgs)
    np.testing.assert_array_equal(labels, model.predict(imgs))
    np.testing.assert_allclose(scores, model.decision_function(imgs), rtol=0, atol=1e-12)
    assert scores.shape == (6, 3)


def test_classify_files_rows_errors_and_resume(tmp_path, corpus):
    model = _toy_model()
    out = tmp_path / "res.csv"
    summary = classify_files(model, corpus, out, batch_size=3, read=_reader)
    assert (summary.n_ok, summary.n_errors, summary.n_skipped) == (len(corpus) - 2, 2, 0)
    rows = _rows(out)
    assert rows[0] == ["path", "distortion", "decision_bright", "decision_dark", "decision_noisy", "error"]
    body = rows[1:]
    assert [r[0] for r in body] == corpus
    for r in body:
        if r[0] in (corpus[3], corpus[7]):
            assert r[1] == "" and r[-1] != ""
        else:
            img = _reader(r[0])
            assert r[1] == model.predict([img])[0] and r[-1] == ""
            np.testing.assert_allclose([float(v) for v in r[2:5]], model.decision_function([img])[0], atol=1e-9)

    # existing output is never replaced silently
    with pytest.raises(InputError, match="exists"):
        classify_files(model, corpus, out, read=_reader)

    # simulate a run killed while writing its 6th row: keep 5 rows + half a row
    text = out.read_text(encoding="utf-8")
    lines = text.splitlines(keepends=True)
    out.write_text("".join(lines[:6]) + lines[6][: len(lines[6]) // 2], encoding="utf-8")
    assert read_done_paths(out, rows[0]) == {str((tmp_path / p).resolve()) for p in corpus[:5]}
    summary = classify_files(model, corpus, out, batch_size=3, read=_reader, resume=True)
    assert summary.n_skipped == 5 and summary.n_ok + summary.n_errors == len(corpus) - 5
    _assert_same_rows(_rows(out), rows)  # nothing lost, nothing duplicated, same results

    # resume against another model's file is refused
    other = Pipeline([("f", FunctionTransformer(_stats)), ("c", LinearSVC())]).fit(
        [_reader(p) for p in corpus if os.path.basename(p).startswith("img")], ["a", "b"] * 5 + ["a"]
    )
    with pytest.raises(InputError, match="header"):
        classify_files(other, corpus, out, read=_reader, resume=True)


def test_classify_files_overwrite_and_strict(tmp_path, corpus):
    model = _toy_model()
    out = tmp_path / "res.csv"
    out.write_text("old\n")
    with pytest.raises(StrictModeError):
        classify_files(model, corpus, out, batch_size=4, read=_reader, overwrite=True, strict=True)
    rows = _rows(out)
    assert [r[0] for r in rows[1:]] == corpus[:3]  # rows before the bad file are kept


def test_extract_files_writes_memmap_and_sidecar(tmp_path, corpus):
    # the first item fails too: the array shape comes from the first good one
    paths = [str(tmp_path / "bad0.npy")] + corpus
    summary, sidecar = extract_files(_stats, paths, tmp_path / "feat.npy", batch_size=4, read=_reader)
    feats = np.load(tmp_path / "feat.npy", allow_pickle=False)
    assert feats.shape == (len(paths), 6) and feats.dtype == np.float32
    side = _rows(sidecar)
    assert side[0] == ["index", "path", "error"] and len(side) == len(paths) + 1
    bad = {0, 4, 8}
    for i, p in enumerate(paths):
        assert side[i + 1][:2] == [str(i), p]
        if i in bad:
            assert np.all(np.isnan(feats[i])) and side[i + 1][2] != ""
        else:
            np.testing.assert_allclose(feats[i], _stats([_reader(p)])[0], rtol=1e-6)
    assert (summary.n_ok, summary.n_errors) == (len(paths) - 3, 3)


def test_extract_files_all_bad_raises(tmp_path):
    with pytest.raises(InputError, match="no image could be processed"):
        extract_files(_stats, [str(tmp_path / "bad.npy")], tmp_path / "f.npy", read=_reader)
