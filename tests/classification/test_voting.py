"""CropVoteClassifier: crops as samples, decisions averaged; saved and loaded without pickle."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.svm import LinearSVC

from ddriqa.classification.voting import CropVoteClassifier
from ddriqa.errors import InputError


def _data(n_per=12, n_crops=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n_per)
    X = rng.normal(size=(len(y), n_crops, d))
    X[y == "b", :, 0] += 2.5
    X[y == "c", :, 1] += 2.5
    return X, y


def test_fit_uses_every_crop_as_a_sample_and_averages_decisions():
    X, y = _data()
    clf = CropVoteClassifier(LinearSVC(), n_crops=3).fit(X.reshape(len(X), -1), y)
    inner = clf.estimator_
    assert inner.n_features_in_ == 4 and clf.n_features_in_ == 12
    # the decision is exactly the mean of the per-crop decisions (tolerance: float64 rounding)
    per_crop = inner.decision_function(X.reshape(-1, 4)).reshape(len(X), 3, 3)
    np.testing.assert_allclose(clf.decision_function(X.reshape(len(X), -1)), per_crop.mean(axis=1), atol=1e-12)
    assert np.mean(clf.predict(X.reshape(len(X), -1)) == y) > 0.9
    assert list(clf.classes_) == ["a", "b", "c"]


def test_binary_decision_is_one_column():
    X, y = _data()
    keep = y != "c"
    clf = CropVoteClassifier(LinearSVC(), n_crops=3).fit(X[keep].reshape(keep.sum(), -1), y[keep])
    d = clf.decision_function(X[keep].reshape(keep.sum(), -1))
    assert d.shape == (keep.sum(),)
    assert set(clf.predict(X[keep].reshape(keep.sum(), -1))) <= {"a", "b"}


def test_checks_say_what_they_saw():
    X, y = _data()
    with pytest.raises(InputError, match="do not split into n_crops=5"):
        CropVoteClassifier(LinearSVC(), n_crops=5).fit(X.reshape(len(X), -1), y)
    with pytest.raises(InputError, match="needs an estimator"):
        CropVoteClassifier(None).fit(X.reshape(len(X), -1), y)
    clf = CropVoteClassifier(LinearSVC(), n_crops=3).fit(X.reshape(len(X), -1), y)
    with pytest.raises(InputError, match="fitted with 12"):
        clf.predict(np.zeros((2, 9)))
    assert clone(clf).get_params()["n_crops"] == 3


def test_vote_pipeline_round_trip(tmp_path):
    """A pooled crop-vote DDR pipeline (tiny saved network) is saved as JSON + arrays and predicts the same."""
    from conftest import textured_image

    from ddriqa.classification.persistence import load_classifier, save_classifier
    from ddriqa.classification.pipelines import make_pooled_ddr_classifier
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import save_weights

    import torch

    net = SRResNet(num_features=4, num_blocks=2)
    with torch.no_grad():
        net.reset_parameters(torch.Generator().manual_seed(3))
    save_weights(net, tmp_path / "net.safetensors")
    images = [textured_image(40, 40, seed=i) for i in range(8)]
    images[4:] = [np.clip(im.astype(int) // 3, 0, 255).astype(np.uint8) for im in images[4:]]
    y = np.repeat(["bright", "dark"], 4)
    clf = make_pooled_ddr_classifier(weights=str(tmp_path / "net.safetensors"), layer=("Conv1", "ResBlock2"),
                                     crop=16, n_crops=4, C=1.0, device="cpu").fit(images, y)
    assert clf.named_steps["ddr"].aggregate == "none"
    save_classifier(clf, tmp_path / "m.npz")
    loaded = load_classifier(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.decision_function(images), clf.decision_function(images), atol=1e-6)
    assert loaded.named_steps["vote"].estimator_.steps[-1][1].coef_.shape == (1, 2 * 3 * 4)


def test_fused_brisque_ddr_vote_pipeline_round_trip(tmp_path):
    """BRISQUE beside each crop's DDR block, crop vote; saved without pickle, same decisions after load."""
    import torch
    from conftest import textured_image
    from sklearn.pipeline import Pipeline

    from ddriqa.classification.persistence import load_classifier, save_classifier
    from ddriqa.classification.pipelines import pooled_svm
    from ddriqa.features.brisque import BRISQUEExtractor
    from ddriqa.features.ddr import DDRExtractor
    from ddriqa.features.fusion import FusedCropFeatures
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import save_weights

    net = SRResNet(num_features=4, num_blocks=1)
    with torch.no_grad():
        net.reset_parameters(torch.Generator().manual_seed(5))
    save_weights(net, tmp_path / "net.safetensors")
    ddr = DDRExtractor(weights=str(tmp_path / "net.safetensors"), layer="Conv1", crop=16, crops="grid", n_crops=4,
                       pooling="stats", aggregate="none", device="cpu")
    images = [textured_image(48, 48, seed=i) for i in range(8)]
    images[4:] = [np.clip(im.astype(int) // 3, 0, 255).astype(np.uint8) for im in images[4:]]
    y = np.repeat(["bright", "dark"], 4)
    clf = Pipeline([("features", FusedCropFeatures(ddr, BRISQUEExtractor())),
                    ("vote", CropVoteClassifier(pooled_svm(1.0), n_crops=4))]).fit(images, y)
    assert clf.named_steps["vote"].n_features_in_ == 4 * (12 + 36)
    save_classifier(clf, tmp_path / "f.npz")
    loaded = load_classifier(tmp_path / "f.npz")
    np.testing.assert_allclose(loaded.decision_function(images), clf.decision_function(images), atol=1e-6)
