"""The classifier factories: structure, fitting on small stand-in data, sklearn conventions."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import textured_image
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.preprocessing import MinMaxScaler
from sklearn.svm import SVC

from ddriqa.classification.pca import StreamingPCA
from ddriqa.classification.pipelines import make_brisque_classifier, make_ddr_classifier
from ddriqa.errors import InputError


def noisy_and_clean_images(n_per_class=8, size=24, seed=0):
    """Two separable classes of generated images: clean and strongly noisy."""
    rng = np.random.default_rng(seed)
    images, labels = [], []
    for i in range(n_per_class):
        img = textured_image(size, size, seed=seed + i)
        images.append(img)
        labels.append("clean")
        noisy = np.clip(img + rng.normal(0, 40, img.shape), 0, 255).astype(np.uint8)
        images.append(noisy)
        labels.append("wn")
    return images, np.array(labels)


def test_ddr_factory_structure():
    pipe = make_ddr_classifier(weights="random", layer="ResBlock8", crop=48, n_components=30, C=2.0,
                               device="cpu", random_state=5)
    assert pipe.steps[0][0] == "pca"
    pca, svm = pipe.named_steps["pca"], pipe.named_steps["svm"]
    assert isinstance(pca, StreamingPCA) and pca.n_components == 30 and pca.solver == "exact"
    ex = pca.extractor
    assert (ex.weights, ex.layer, ex.crop, ex.device, ex.random_state) == ("random", "ResBlock8", 48, "cpu", 5)
    assert [n for n, _ in pipe.steps] == ["pca", "scale", "svm"]
    assert isinstance(svm, SVC) and svm.kernel == "linear" and svm.C == 2.0 and svm.class_weight is None
    assert make_ddr_classifier().named_steps["pca"].n_components == 120
    bare = make_ddr_classifier(features=False)
    assert bare.named_steps["pca"].extractor is None
    assert clone(pipe).get_params()["pca__extractor__layer"] == "ResBlock8"


def test_ddr_pipeline_equals_the_unstreamed_computation():
    from sklearn.decomposition import PCA

    from ddriqa.features.ddr import DDRExtractor
    from ddriqa.models.srresnet import SRResNet

    net = SRResNet(num_features=4, num_blocks=2)
    images, y = noisy_and_clean_images()
    pipe = make_ddr_classifier(weights=net, layer="ResBlock2", crop=16, n_components=6, device="cpu",
                               chunk_size=3)
    pipe.fit(images, y)
    pca = pipe.named_steps["pca"]
    assert pca.components_.shape == (6, 4 * 16 * 16) and pca.components_.dtype == np.float32
    # reference: all features at once -> sklearn PCA -> the same scaler + SVM
    F = DDRExtractor(weights=net, layer="ResBlock2", crop=16, device="cpu").fit_transform(images).astype(np.float64)
    Z = PCA(n_components=6, svd_solver="full").fit_transform(F)
    np.testing.assert_allclose(np.abs(pipe[:1].transform(images)), np.abs(Z), rtol=1e-3, atol=1e-4)
    ref = clone(pipe[1:]).fit(Z * np.sign(np.sum(Z * pipe[:1].transform(images), axis=0)), y)
    np.testing.assert_allclose(pipe.decision_function(images), ref.decision_function(pipe[:1].transform(images)),
                               rtol=1e-3, atol=1e-3)
    assert pipe.predict(images[:3]).shape == (3,)


def test_precomputed_ddr_pipeline():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(45, 400))
    y = np.repeat(["jp2k", "jpeg", "wn"], 15)
    X[y == "wn", :4] += 4
    X[y == "jpeg", 4:8] += 4
    pipe = make_ddr_classifier(n_components=10, features=False).fit(X, y)
    assert pipe.score(X, y) == 1.0
    assert pipe.decision_function(X).shape == (45, 3)


def test_brisque_factory_structure_and_grid():
    pipe = make_brisque_classifier(cv=4, random_state=3)
    assert [name for name, _ in pipe.steps] == ["brisque", "scale", "svm"]
    scale, search = pipe.named_steps["scale"], pipe.named_steps["svm"]
    assert isinstance(scale, MinMaxScaler) and scale.feature_range == (-1, 1)
    assert isinstance(search, GridSearchCV) and search.estimator.kernel == "rbf"
    assert isinstance(search.cv, StratifiedKFold) and search.cv.n_splits == 4 and search.cv.random_state == 3
    np.testing.assert_allclose(np.log2(search.param_grid["C"]), np.arange(-5, 16, 2))
    np.testing.assert_allclose(np.log2(search.param_grid["gamma"]), np.arange(-15, 4, 2))
    assert [n for n, _ in make_brisque_classifier(features=False).steps] == ["scale", "svm"]
    with pytest.raises(InputError):
        make_brisque_classifier(cv=1)


def test_brisque_pipeline_fits_on_images():
    images, y = noisy_and_clean_images(n_per_class=6, size=48)
    pipe = make_brisque_classifier(cv=2, C_grid=[1.0, 16.0], gamma_grid=[0.1, 1.0])
    pipe.fit(images, y)
    assert pipe.score(images, y) >= 0.9
    assert set(pipe.named_steps["svm"].best_params_) == {"C", "gamma"}


def test_ddr_classifier_cross_validates_on_folds_smaller_than_n_components(tmp_path):
    """Issue point 4: the PCA dimension is capped at what each training fold allows (n - 1)."""
    from sklearn.model_selection import cross_val_score

    from ddriqa.classification.persistence import load_classifier, save_classifier

    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 400))
    y = np.repeat(["a", "b"], 10)
    X[y == "b", :5] += 4
    pipe = make_ddr_classifier(features=False)  # n_components=120 > any fold here
    scores = cross_val_score(pipe, X, y, cv=StratifiedKFold(4, shuffle=True, random_state=0))
    assert scores.mean() > 0.8
    fitted = clone(pipe).fit(X[:15], np.repeat(["a", "b"], [8, 7]))
    assert fitted.named_steps["pca"].n_components_ == 14 and fitted.named_steps["pca"].n_components == 120
    assert isinstance(fitted.named_steps["pca"], StreamingPCA)
    # saved and loaded like any DDR classifier (stored as a StreamingPCA record)
    back = load_classifier(save_classifier(fitted, tmp_path / "m.npz"))
    np.testing.assert_array_equal(back.predict(X), fitted.predict(X))
    # a set large enough keeps what was asked
    assert make_ddr_classifier(features=False, n_components=5).fit(X, y).named_steps["pca"].n_components_ == 5


def test_brisque_grid_search_folds_are_grouped_by_reference_when_groups_are_given():
    """Issue point 9: like `ddriqa train`, no reference image is on both sides of an inner fold."""
    rng = np.random.default_rng(1)
    refs = np.repeat([f"ref{i}" for i in range(6)], 6)
    y = np.tile(["a", "b"], 18)
    X = rng.normal(size=(36, 36))
    X[y == "b"] += 2
    pipe = make_brisque_classifier(features=False, cv=4, C_grid=[1.0], gamma_grid=[0.1])
    search = pipe.named_steps["svm"]
    for train, test in search.cv.split(X, y, refs):
        assert not set(refs[train]) & set(refs[test])
    assert search.cv.get_n_splits(X, y, refs) == 4
    pipe.fit(X, y, svm__groups=refs)
    assert pipe.named_steps["svm"].n_splits_ == 4
    # three references: three folds; without groups: stratified folds as before
    few = np.repeat(["r1", "r2", "r3"], 12)
    assert search.cv.get_n_splits(X, y, few) == 3 and search.cv.get_n_splits() == 4
    with pytest.raises(InputError, match="at least two groups"):
        list(search.cv.split(X, y, np.repeat("r1", 36)))
