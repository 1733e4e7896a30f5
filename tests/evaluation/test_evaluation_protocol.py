"""Benchmark protocol: content-disjoint splits, metrics and their summary.

The Gram matrix and its PCA scores are tested in tests/classification/test_gram.py.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.model_selection import GroupKFold
from sklearn.svm import SVC

from ddriqa.classification.pipelines import make_brisque_classifier
from ddriqa.errors import InputError
from ddriqa.evaluation.protocol import (
    ALL,
    GramFeatures,
    content_disjoint_splits,
    run_benchmark,
    split_metrics,
    summarize,
    summary_markdown,
)


def test_splits_are_content_disjoint_and_seeded():
    groups = np.repeat([f"ref{i}" for i in range(29)], 27)
    splits = content_disjoint_splits(groups, n_splits=50, test_size=0.2, seed=3)
    assert len(splits) == 50
    seen_test_sets = set()
    for train, test in splits:
        assert not set(groups[train]) & set(groups[test])
        assert len(set(groups[test])) == 6 and len(set(groups[train])) == 23
        assert len(train) + len(test) == groups.size
        seen_test_sets.add(frozenset(groups[test]))
    assert len(seen_test_sets) > 40  # random, not one repeated split
    again = content_disjoint_splits(groups, n_splits=50, test_size=0.2, seed=3)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, again))
    with pytest.raises(InputError, match="2 distinct"):
        content_disjoint_splits(["a"] * 5)


def test_split_metrics_by_hand():
    y_true = ["a", "a", "a", "b", "b", "c"]
    y_pred = ["a", "a", "b", "b", "b", "a"]
    rows = {r["class"]: r for r in split_metrics(y_true, y_pred, ["a", "b", "c"])}
    assert rows["a"]["precision"] == pytest.approx(2 / 3) and rows["a"]["recall"] == pytest.approx(2 / 3)
    assert rows["b"]["precision"] == pytest.approx(2 / 3) and rows["b"]["recall"] == pytest.approx(1.0)
    assert rows["c"]["precision"] == 0.0 and rows["c"]["recall"] == 0.0  # never predicted: counts 0
    assert rows[ALL]["precision"] == pytest.approx((2 / 3 + 2 / 3 + 0) / 3)  # every class counts
    assert rows[ALL]["recall"] == pytest.approx((2 / 3 + 1 + 0) / 3)
    assert rows[ALL]["accuracy"] == pytest.approx(4 / 6)


def test_split_metrics_class_absent_from_test_side():
    # "c" has no test image and is not predicted: it takes no part; "d" has none but is predicted: 0
    rows = {r["class"]: r for r in split_metrics(["a", "b"], ["a", "d"], ["a", "b", "c", "d"])}
    assert np.isnan(rows["c"]["precision"]) and np.isnan(rows["c"]["recall"])
    assert rows["d"]["precision"] == 0.0 and np.isnan(rows["d"]["recall"])
    assert rows["b"]["precision"] == 0.0
    assert rows[ALL]["precision"] == pytest.approx((1 + 0 + 0) / 3)
    assert rows[ALL]["recall"] == pytest.approx((1 + 0) / 2)


def test_never_predicted_class_lowers_macro_precision():
    # a method that never says "c" no longer gets the mean precision of the classes it does say
    y_true = ["a"] * 4 + ["b"] * 4 + ["c"] * 4
    y_pred = ["a"] * 4 + ["b"] * 4 + ["a", "a", "b", "b"]
    macro = {r["class"]: r for r in split_metrics(y_true, y_pred, ["a", "b", "c"])}[ALL]["precision"]
    assert macro == pytest.approx((4 / 6 + 4 / 6 + 0) / 3)


def test_summary_median_iqr_by_hand():
    per_split = pd.DataFrame({
        "method": ["M"] * 8,
        "split": [0, 1, 2, 3, 0, 1, 2, 3],
        "class": ["x"] * 4 + [ALL] * 4,
        "precision": [0.5, 0.7, 0.9, 1.0, 0.6, 0.6, np.nan, 0.9],
        "recall": [1.0, 1.0, 1.0, 1.0, 0.2, 0.4, 0.6, 0.8],
        "accuracy": [np.nan] * 4 + [0.1, 0.2, 0.3, 0.4],
        "n_test": [5] * 8,
    })
    s = summarize(per_split).set_index("class")
    # x precision: sorted 0.5 0.7 0.9 1.0 -> median 0.8; q25 = 0.5 + 0.75*0.2 = 0.65, q75 = 0.9 + 0.25*0.1 = 0.925
    assert s.loc["x", "precision_median"] == pytest.approx(0.8)
    assert s.loc["x", "precision_iqr"] == pytest.approx(0.275)
    assert s.loc["x", "recall_median"] == 1.0 and s.loc["x", "recall_iqr"] == 0.0
    # ALL precision ignores the NaN: 0.6 0.6 0.9 -> median 0.6, q25 0.6, q75 0.75
    assert s.loc[ALL, "precision_median"] == pytest.approx(0.6)
    assert s.loc[ALL, "precision_iqr"] == pytest.approx(0.15)
    # recall 0.2 .. 0.8 -> median 0.5, q25 0.35, q75 0.65
    assert s.loc[ALL, "recall_median"] == pytest.approx(0.5) and s.loc[ALL, "recall_iqr"] == pytest.approx(0.3)
    assert s.loc[ALL, "accuracy_median"] == pytest.approx(0.25) and s.loc[ALL, "accuracy_iqr"] == pytest.approx(0.15)
    assert np.isnan(s.loc["x", "accuracy_median"])
    assert (s["n_splits"] == 4).all()
    md = summary_markdown(summarize(per_split))
    assert "| M | 0.80 (0.28) | 0.60 (0.15) |" in md
    assert "| M | 1.00 (0.00) | 0.50 (0.30) | 0.25 (0.15) |" in md


def _toy_dataset(seed=0):
    rng = np.random.default_rng(seed)
    classes = np.array(["gblur", "jpeg", "wn"])
    groups = np.repeat(np.arange(10), 6)
    y = np.tile(np.repeat(classes, 2), 10)
    code = np.searchsorted(classes, y)
    X = rng.normal(size=(60, 300))
    X[:, :3] += 3.0 * np.eye(3)[code]
    F = rng.normal(size=(60, 6)) + 5.0 * np.eye(3, 6)[code]
    return X, F, y, groups


def test_run_benchmark_end_to_end(tmp_path):
    X, F, y, groups = _toy_dataset()
    models = {
        "DDR": SVC(kernel="linear"),
        "BRISQUE": make_brisque_classifier(features=False, cv=GroupKFold(n_splits=3), C_grid=[1.0, 8.0], gamma_grid=[0.1]),
    }
    per_split, summary = run_benchmark(
        {"DDR": GramFeatures(X @ X.T, n_components=5), "BRISQUE": F}, y, groups,
        models=models, n_splits=4, test_size=0.2, seed=1, out_dir=tmp_path,
    )
    assert set(per_split["method"]) == {"DDR", "BRISQUE"}
    assert len(per_split) == 2 * 4 * 4  # methods x splits x (3 classes + ALL)
    assert list(summary["class"][:4]) == ["gblur", "jpeg", "wn", ALL]
    all_rows = summary[summary["class"] == ALL].set_index("method")
    assert all_rows.loc["DDR", "accuracy_median"] > 0.8  # separable toy data
    assert all_rows.loc["BRISQUE", "accuracy_median"] > 0.8
    for name in ("summary.csv", "summary.md", "splits.csv"):
        assert (tmp_path / name).is_file()
    assert len(pd.read_csv(tmp_path / "splits.csv")) == len(per_split)
    assert "| DDR |" in (tmp_path / "summary.md").read_text()
    # the same splits for every method: identical test sizes per split index
    sizes = per_split[per_split["class"] == ALL].pivot(index="split", columns="method", values="n_test")
    assert (sizes["DDR"] == sizes["BRISQUE"]).all()


def test_run_benchmark_validates_shapes():
    X, F, y, groups = _toy_dataset()
    with pytest.raises(InputError, match="BRISQUE"):
        run_benchmark({"BRISQUE": F[:10]}, y, groups)
    with pytest.raises(InputError, match="Gram"):
        run_benchmark({"DDR": GramFeatures(np.eye(5))}, y, groups)


def test_random_splits_are_stratified_and_share_content():
    import numpy as np

    from ddriqa.evaluation.protocol import content_disjoint_splits, random_splits

    y = np.repeat(["a", "b", "c"], 20)
    groups = np.tile(np.arange(10), 6)
    splits = random_splits(y, n_splits=5, test_size=0.2, seed=1)
    assert all(np.bincount(np.unique(y, return_inverse=True)[1][te]).tolist() == [4, 4, 4] for _, te in splits)
    # image-level splits put versions of a reference on both sides; content-disjoint ones never do
    assert any(np.intersect1d(groups[tr], groups[te]).size for tr, te in splits)
    assert not any(np.intersect1d(groups[tr], groups[te]).size
                   for tr, te in content_disjoint_splits(groups, n_splits=5, seed=1))
    assert [te.tolist() for _, te in random_splits(y, 2, seed=1)] == [te.tolist() for _, te in splits[:2]]
