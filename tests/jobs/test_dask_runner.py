"""ddriqa.jobs.dask_runner without a cluster: chunking, the worker-side model cache, the task functions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image
from PIL import Image

from ddriqa.jobs import dask_runner as cluster
from ddriqa.errors import InputError


def test_chunk_ranges_cover_in_order():
    assert cluster.chunk_ranges(7, 3) == [(0, 3), (3, 6), (6, 7)]
    assert cluster.chunk_ranges(0, 3) == []
    with pytest.raises(InputError, match="chunk_size"):
        cluster.chunk_ranges(3, 0)


def test_worker_cache_builds_once_per_key(tmp_path, monkeypatch):
    monkeypatch.setattr(cluster, "_CACHE", type(cluster._CACHE)())
    calls = []

    def build(tag):
        calls.append(tag)
        return object()

    model = tmp_path / "m.npz"
    model.write_bytes(b"1")
    key = ("classify",) + cluster._file_key(str(model))
    a = cluster._cached(key, lambda: build("a"))
    b = cluster._cached(key, lambda: build("b"))
    assert a is b and calls == ["a"]
    model.write_bytes(b"22")  # a retrained model at the same path: new size -> new key -> reloaded
    key2 = ("classify",) + cluster._file_key(str(model))
    assert key2 != key and cluster._cached(key2, lambda: build("c")) is not a and calls == ["a", "c"]
    for i in range(cluster._CACHE_SIZE + 2):  # bounded
        cluster._cached(("k", i), lambda: build("x"))
    assert len(cluster._CACHE) == cluster._CACHE_SIZE


def test_classify_task_matches_local_predictions(tmp_path):
    from ddriqa.classification.named import load_named_classifier, resolve_model_name
    from ddriqa.io import read_image
    from ddriqa.jobs.classify import predict_scores

    paths = []
    for i in range(3):
        p = tmp_path / f"a{i}.png"
        Image.fromarray(textured_image(48, 56, seed=i)).save(p)
        paths.append(str(p))
    paths.append(str(tmp_path / "missing.png"))
    out = cluster.classify_task(resolve_model_name("brisque"), paths, batch_size=2)
    assert len(out) == 4
    assert out[3][0] is None and "missing.png" not in out[3][1] and out[3][1]  # reason only, like a CSV row
    model = load_named_classifier("brisque")
    labels, scores = predict_scores(model, [read_image(p) for p in paths[:3]])
    for (value, err), lab, sc in zip(out[:3], labels, scores):
        assert err is None and value[0] == lab
        np.testing.assert_allclose(value[1], sc, rtol=1e-9, atol=1e-12)
