"""No head collapses to one class on features at the scale of real DDR maps.

A flattened ResBlock16 map of a 96x96 crop is 589,824 values with a large norm, most of whose
variance is content (what the picture shows), while the distortion classes differ along
directions of much smaller variance. The toy below has that geometry: 10^5 features, per-entry
means of ~30, a content part of per-reference factors ~70 times larger than the class offsets,
a majority class (``jpeg``, half the images), and classes that are separable along their own
directions. A head whose
regulariser is fixed on the global scale (the paper head's old ``C = 1`` after
``GlobalScaler``) predicts a single class on it; every shipped head must predict every class
on held-out references.
"""

from __future__ import annotations

import numpy as np
import pytest

from ddriqa.classification.pipelines import (
    PAPER_C_GRID,
    ddr_svm,
    make_brisque_classifier,
    make_ddr_classifier,
    make_pooled_ddr_classifier,
    pooled_svm,
)
from ddriqa.classification.voting import CropVoteClassifier

CLASSES = np.array(["gblur", "jpeg", "wn"])
N_REFS, PER = 10, (1, 3, 2)  # 10 references x (1 gblur, 3 jpeg, 2 wn): jpeg is the majority


def map_like_features(d, seed=0, content=3000.0, offset=30.0, noise=0.05):
    """``(X, y, refs)``: 60 rows of ``d`` float32 features that look like flattened maps.

    Each row: a shared per-feature mean (20-40: row norms of ~30 * sqrt(d), 9,500 for 10^5
    features), a content part (5 factors per reference, each spread ``content`` / sqrt(d) per
    entry: norms of ~``content`` * sqrt(5)), the class offset (``offset`` * sqrt(d) / 100 along a
    unit direction of its own: 95 for the defaults, ~70 times smaller than the content part)
    and isotropic noise.
    """
    rng = np.random.default_rng(seed)
    y = np.tile(np.repeat(CLASSES, PER), N_REFS)
    refs = np.repeat(np.arange(N_REFS), sum(PER))
    mean = rng.uniform(20, 40, d)
    basis = rng.normal(size=(5, d)) * (content / np.sqrt(d))
    factors = rng.normal(size=(N_REFS, 5))
    directions = rng.normal(size=(len(CLASSES), d))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    X = mean + factors[refs] @ basis + rng.normal(scale=noise, size=(y.size, d))
    X += offset * np.sqrt(d) / 100 * directions[np.searchsorted(CLASSES, y)]
    return X.astype(np.float32), y, refs


def _held_out(X, y, refs, fit):
    """Fit on references 0-7, predict references 8 and 9."""
    train, test = refs < 8, refs >= 8
    model = fit(X[train], y[train], refs[train])
    return model.predict(X[test]), y[test]


def _assert_every_class(pred, truth, min_accuracy=0.9):
    assert sorted(set(pred)) == sorted(CLASSES), f"predicted only {sorted(set(pred))}"
    assert np.mean(pred == truth) >= min_accuracy


@pytest.fixture(scope="module")
def flattened():
    return map_like_features(100_000)


def test_toy_collapses_the_fixed_c_head(flattened):
    """The toy reproduces the failure, so the tests below can fail: the paper head with a fixed
    C = 1 predicts one class on held-out references (the tuned head separates them, below)."""
    X, y, refs = flattened
    assert np.linalg.norm(X.astype(np.float64), axis=1).min() > 1e4  # large norms, as real maps
    pred, truth = _held_out(X, y, refs, lambda X, y, g: make_ddr_classifier(features=False, C=1.0).fit(X, y))
    assert len(set(pred)) == 1


def test_paper_head_predicts_every_class(flattened):
    X, y, refs = flattened

    def fit(X, y, g):
        model = make_ddr_classifier(features=False)
        model.fit(X, y, svm__groups=g)
        assert model.named_steps["svm"].best_params_["C"] in PAPER_C_GRID
        assert model.named_steps["svm"].n_splits_ == 5  # grouped: 8 references, 5 folds
        assert model.named_steps["svm"].best_params_["C"] > 1.0  # the fixed C = 1 collapses (above)
        return model

    pred, truth = _held_out(X, y, refs, fit)
    _assert_every_class(pred, truth)


def test_benchmark_gram_head_predicts_every_class(flattened):
    """The benchmark's route: Gram PCA per split, then its default model for Gram features."""
    from ddriqa.evaluation.protocol import GramFeatures, run_benchmark

    X, y, refs = flattened
    X64 = X.astype(np.float64)
    splits = [(np.flatnonzero(refs < 8), np.flatnonzero(refs >= 8))]
    predictions = {}
    per_split, _ = run_benchmark({"paper": GramFeatures(X64 @ X64.T, 47)}, y, refs, splits=splits,
                                 predictions=predictions)
    test, pred = predictions["paper"][0]
    _assert_every_class(pred, y[test])
    chosen = per_split["chosen"].iloc[0]
    assert chosen.startswith("C=") and float(chosen[2:]) in PAPER_C_GRID


@pytest.mark.parametrize("head", ["pooled_svm", "crop_vote", "crop_vote_search"])
def test_pooled_heads_predict_every_class(head):
    X, y, refs = map_like_features(4 * 1152, seed=1)  # 4 crops x 1,152 statistics, as the ddr preset

    def fit(X, y, g):
        if head == "pooled_svm":
            return pooled_svm().fit(X, y)
        if head == "crop_vote":
            return CropVoteClassifier(pooled_svm(1.0), n_crops=4).fit(X, y)
        return make_pooled_ddr_classifier(features=False).fit(X, y, vote__groups=g)

    _assert_every_class(*_held_out(X, y, refs, fit))


def test_brisque_head_predicts_every_class():
    X, y, refs = map_like_features(36, seed=2, content=100.0, offset=300.0)  # 36 numbers, as BRISQUE
    _assert_every_class(*_held_out(X, y, refs, lambda X, y, g: make_brisque_classifier(features=False)
                                   .fit(X, y, svm__groups=g)))


def test_fixed_c_is_still_available():
    head = ddr_svm(10.0)
    assert head.named_steps["svm"].C == 10.0
    with pytest.raises(Exception, match="positive number or 'cv'"):
        ddr_svm("auto")


def test_saved_paper_head_records_the_chosen_c(tmp_path, flattened):
    from ddriqa.classification.persistence import classifier_info, load_classifier, save_classifier

    X, y, refs = flattened
    model = make_ddr_classifier(features=False, n_components=20).fit(X, y, svm__groups=refs)
    path = save_classifier(model, tmp_path / "paper.npz")
    back = load_classifier(path)
    chosen = model.named_steps["svm"].best_params_["C"]
    assert back.named_steps["svm"].C == chosen  # the refitted SVC, stored pickle-free
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    search = classifier_info(path)["grid_search"]["model.steps[2][1]"]
    assert search["best_params"] == {"C": chosen} and len(search["mean_test_score"]) == len(PAPER_C_GRID)


def test_c_search_folds_adapt_to_one_reference_and_small_classes():
    from ddriqa.classification.pipelines import StratifiedOrGroupKFold
    from ddriqa.errors import InputError

    y = np.array(["a", "b", "c"] * 3)
    one_ref = np.zeros(9)
    assert StratifiedOrGroupKFold(5, adapt=True).get_n_splits(y=y, groups=one_ref) == 3  # 3 images per class
    assert StratifiedOrGroupKFold(5, adapt=True).get_n_splits(y=y, groups=np.arange(9) % 4) == 4  # grouped
    with pytest.raises(InputError, match="at least two groups"):
        list(StratifiedOrGroupKFold(5).split(np.zeros((9, 1)), y, one_ref))
