"""Pickle-free classifier files: round trips and refusals."""

from __future__ import annotations

import json
import pickle

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, LinearSVC

from ddriqa.classification.persistence import load_classifier, save_classifier
from ddriqa.classification.pipelines import make_brisque_classifier, make_ddr_classifier
from ddriqa.errors import InputError, ModelFileError

META = "__ddriqa_classifier__"


def _xy(n_classes=3, n=60, d=40, seed=0):
    rng = np.random.default_rng(seed)
    y = np.array(["jp2k", "jpeg", "wn", "gblur", "fastfading"][:n_classes])[np.arange(n) % n_classes]
    X = rng.normal(size=(n, d))
    for k in range(n_classes):
        X[y == y[k], k] += 2.5
    return X, y


def _assert_same(a, b, X):
    np.testing.assert_array_equal(a.predict(X), b.predict(X))
    np.testing.assert_array_equal(a.decision_function(X), b.decision_function(X))


@pytest.mark.parametrize("n_classes", [2, 3])
def test_round_trip_ddr_pipeline(tmp_path, n_classes):
    X, y = _xy(n_classes)
    model = make_ddr_classifier(n_components=8, features=False).fit(X, y)
    back = load_classifier(save_classifier(model, tmp_path / "ddr"))
    assert (tmp_path / "ddr.npz").is_file()
    _assert_same(model, back, X)
    assert [n for n, _ in back.steps] == ["pca", "scale", "svm"]


def test_round_trip_brisque_grid_search_stores_best_estimator(tmp_path):
    X, y = _xy(3, d=36)
    model = make_brisque_classifier(features=False, C_grid=[1.0, 32.0], gamma_grid=[0.01, 0.5]).fit(X, y)
    path = save_classifier(model, tmp_path / "brisque.npz")
    back = load_classifier(path)
    best = model.named_steps["svm"].best_estimator_
    assert isinstance(back.named_steps["svm"], SVC)
    assert back.named_steps["svm"].get_params() == best.get_params()
    np.testing.assert_array_equal(back.predict(X), model.predict(X))
    np.testing.assert_array_equal(back.decision_function(X), best.decision_function(model[:-1].transform(X)))
    info = json.loads(str(np.load(path, allow_pickle=False)[META][()]))["info"]
    assert list(info["grid_search"].values())[0]["best_params"] == model.named_steps["svm"].best_params_


def test_round_trip_linear_svc_and_standard_scaler(tmp_path):
    X, y = _xy(3)
    model = Pipeline([("scale", StandardScaler()), ("svm", LinearSVC(C=0.5))]).fit(X, y)
    _assert_same(model, load_classifier(save_classifier(model, tmp_path / "lin.npz")), X)


def _saved_ddr_classifier(tmp_path):
    """A paper-head classifier on a tiny SRResNet weights file: (weights, images, model, saved path)."""
    from conftest import textured_image

    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import save_weights

    weights = save_weights(SRResNet(num_features=4, num_blocks=2), tmp_path / "tiny.safetensors")
    images = [textured_image(20, 20, seed=i) for i in range(10)]
    model = make_ddr_classifier(weights=str(weights), layer="ResBlock1", crop=12, n_components=4,
                                device="cpu").fit(images, np.array(["a", "b"] * 5))
    return weights, images, model, save_classifier(model, tmp_path / "full.npz")


def test_round_trip_with_images_and_a_weights_file(tmp_path):
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import save_weights

    weights, images, model, path = _saved_ddr_classifier(tmp_path)
    back = load_classifier(path)
    _assert_same(model, back, images)
    # a weights file changed after training is refused
    save_weights(SRResNet(num_features=4, num_blocks=2), weights)
    with pytest.raises(ModelFileError, match="sha256"):
        load_classifier(path)


def test_weights_rewritten_with_the_same_tensors_still_load_and_other_tensors_are_refused(tmp_path):
    """The classifier checks its backbone by the tensors, not the file bytes (another safetensors
    version, or other metadata, writes other bytes for the same network)."""
    import json as _json

    import torch
    from safetensors.torch import load_file, save_file

    from ddriqa.models.weights import sha256_file, tensor_sha256

    weights, images, model, path = _saved_ddr_classifier(tmp_path)
    with np.load(path) as z:
        doc = str(z["__ddriqa_classifier__"])
    assert tensor_sha256(weights) in doc and sha256_file(weights) in doc
    # same tensors, other bytes: extra metadata and another tensor order
    from safetensors import safe_open

    with safe_open(str(weights), framework="pt") as f:
        meta = dict(f.metadata())
    tensors = load_file(str(weights))
    before = sha256_file(weights)
    save_file(dict(reversed(list(tensors.items()))), str(weights), metadata={**meta, "note": _json.dumps("rewritten")})
    assert sha256_file(weights) != before
    _assert_same(model, load_classifier(path), images)
    # other tensors: refused, naming the reason
    first = sorted(tensors)[0]
    tensors[first] = tensors[first] + torch.ones_like(tensors[first])
    save_file(tensors, str(weights), metadata=meta)
    with pytest.raises(ModelFileError, match="tensor sha256 mismatch"):
        load_classifier(path)


def test_unstorable_models_are_refused(tmp_path):
    from conftest import textured_image

    from ddriqa.models.srresnet import SRResNet

    images = [textured_image(12, 12, seed=i) for i in range(6)]
    y = np.array(["a", "b"] * 3)
    model = make_ddr_classifier(weights=SRResNet(num_features=4, num_blocks=1), layer="ResBlock1", crop=8,
                                n_components=2, device="cpu").fit(images, y)
    with pytest.raises(InputError, match="save_weights"):
        save_classifier(model, tmp_path / "m.npz")
    from sklearn.neighbors import KNeighborsClassifier

    X, y = _xy(2)
    with pytest.raises(InputError, match="not a supported estimator"):
        save_classifier(KNeighborsClassifier().fit(X, y), tmp_path / "knn.npz")
    assert not (tmp_path / "m.npz").exists() and not (tmp_path / "knn.npz").exists()


def _rewrite(src, dst, edit_meta=None, edit_arrays=None):
    with np.load(src, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files}
    meta = json.loads(str(members.pop(META)[()]))
    if edit_meta:
        edit_meta(meta)
    if edit_arrays:
        edit_arrays(members, meta)
    np.savez(dst, **{META: np.array(json.dumps(meta))}, **members)
    return dst


def _find_record(record, cls):
    if isinstance(record, dict):
        if record.get("class") == cls:
            return record
        for v in record.values():
            found = _find_record(v, cls)
            if found:
                return found
    if isinstance(record, list):
        for v in record:
            found = _find_record(v, cls)
            if found:
                return found
    return None


@pytest.fixture
def saved(tmp_path):
    X, y = _xy(3)
    return save_classifier(make_ddr_classifier(n_components=5, features=False).fit(X, y), tmp_path / "ok.npz")


def test_pickle_and_foreign_files_are_refused(tmp_path, saved):
    bad = tmp_path / "evil.npz"
    bad.write_bytes(pickle.dumps({"a": 1}))
    with pytest.raises(ModelFileError, match="evil.npz"):
        load_classifier(bad)
    def object_array(members, meta):  # an archive member that would need pickle to read
        members["a0"] = np.array([{"x": 1}], dtype=object)

    obj = _rewrite(saved, tmp_path / "obj.npz", edit_arrays=object_array)
    with pytest.raises(ModelFileError, match="without pickle"):
        load_classifier(obj)
    plain = tmp_path / "plain.npz"
    np.savez(plain, x=np.zeros(3))
    with pytest.raises(ModelFileError, match="not a ddriqa classifier"):
        load_classifier(plain)
    with pytest.raises(ModelFileError, match="no such classifier"):
        load_classifier(tmp_path / "missing.npz")


def test_tampered_json_is_refused(tmp_path, saved):
    def unknown_class(meta):
        _find_record(meta["model"], "SVC")["class"] = "os.system"

    def unknown_param(meta):
        _find_record(meta["model"], "SVC")["params"]["evil"] = 1

    def unknown_attr(meta):
        _find_record(meta["model"], "SVC")["fitted"]["__class__"] = 1

    def bad_version(meta):
        meta["version"] = 99

    for edit, pattern in [(unknown_class, "not allowed"), (unknown_param, "unknown parameters"),
                          (unknown_attr, "not allowed for SVC"), (bad_version, "version 99")]:
        path = _rewrite(saved, tmp_path / f"{edit.__name__}.npz", edit_meta=edit)
        with pytest.raises(ModelFileError, match=pattern):
            load_classifier(path)
    broken = tmp_path / "broken.npz"
    with np.load(saved, allow_pickle=False) as z:
        members = {k: z[k] for k in z.files if k != META}
    np.savez(broken, **{META: np.array("{not json")}, **members)
    with pytest.raises(ModelFileError, match="not valid JSON"):
        load_classifier(broken)


def test_mismatched_arrays_are_refused(tmp_path, saved):
    def key_of(meta, cls, attr):
        return _find_record(meta["model"], cls)["fitted"][attr]["__array__"]

    def short_support_vectors(members, meta):
        k = key_of(meta, "SVC", "support_vectors_")
        members[k] = members[k][:-1]

    def wrong_components(members, meta):
        k = key_of(meta, "CappedStreamingPCA", "components_")
        members[k] = members[k][:, :-1]

    def missing_array(members, meta):
        del members[key_of(meta, "SVC", "dual_coef_")]

    for edit, pattern in [(short_support_vectors, "support"), (wrong_components, "mean_ shape"),
                          (missing_array, "missing array")]:
        path = _rewrite(saved, tmp_path / f"{edit.__name__}.npz", edit_arrays=edit)
        with pytest.raises(ModelFileError, match=pattern):
            load_classifier(path)


def test_shipped_name_lookup(tmp_path, monkeypatch, saved):
    folder = tmp_path / "weights" / "classifiers"
    folder.mkdir(parents=True)
    (folder / "toy_model.npz").write_bytes(saved.read_bytes())
    monkeypatch.setenv("DDRIQA_WEIGHTS_DIR", str(tmp_path / "weights"))
    assert load_classifier("toy_model").named_steps["pca"].n_components_ == 5
    with pytest.raises(ModelFileError, match="toy_model"):
        load_classifier("brisque_kodak_nonexistent")


def test_random_backbone_is_stored_by_seed(tmp_path):
    from conftest import textured_image

    images = [textured_image(10, 10, seed=i) for i in range(6)]
    y = np.array(["a", "b"] * 3)
    model = make_ddr_classifier(weights="random", layer="Conv1", crop=6, n_components=3, device="cpu",
                                random_state=7).fit(images, y)
    back = load_classifier(save_classifier(model, tmp_path / "rnd.npz"))
    assert back.named_steps["pca"].extractor.random_state == 7
    _assert_same(model, back, images)
    unseeded = make_ddr_classifier(weights="random", layer="Conv1", crop=6, n_components=3, device="cpu",
                                   random_state=None).fit(images, y)
    with pytest.raises(InputError, match="integer random_state"):
        save_classifier(unseeded, tmp_path / "unseeded.npz")


# ------------------------------------------------------------------ DDRExtractor parameters
@pytest.fixture(scope="module")
def tiny_rrdb_weights(tmp_path_factory):
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.weights import save_weights

    net = RRDBNet(num_features=4, num_blocks=8, growth=4)
    return save_weights(net, tmp_path_factory.mktemp("w") / "tiny_rrdb.safetensors")


@pytest.mark.parametrize(
    "options",
    [
        dict(layer=("RRDB4", "RRDB8"), crops="center", pooling="none", aggregate="mean"),
        dict(layer=["Conv1", "RRDB8"], crops="grid", n_crops=4, pooling="stats", aggregate="none"),
        dict(layer=("RRDB4",), crops="random", n_crops=3, pooling="stats", aggregate="mean", random_state=5),
        dict(layer="RRDB8", crops="tiles", pooling="stats", aggregate="mean", pad="reflect"),
    ],
    ids=["tuple-center", "list-grid-none", "random", "tiles"],
)
def test_ddr_extractor_parameters_round_trip(tmp_path, tiny_rrdb_weights, options):
    from conftest import textured_image

    from ddriqa.features.ddr import DDRExtractor

    ddr = DDRExtractor(weights=str(tiny_rrdb_weights), crop=8, device="cpu", batch_size=2, **options).fit()
    back = load_classifier(save_classifier(ddr, tmp_path / "ddr.npz"))
    assert isinstance(back, DDRExtractor)
    params, loaded = ddr.get_params(), back.get_params()
    loaded["weights"] = str(loaded["weights"])
    assert loaded == params
    assert type(back.layer) is type(ddr.layer)  # a tuple comes back a tuple, a list a list
    assert back.layers_ == ddr.layers_
    images = [textured_image(20, 24, seed=i) for i in range(3)]
    np.testing.assert_array_equal(back.transform(images), ddr.transform(images))


def test_ddr_pipeline_with_multi_layer_extractor_round_trips(tmp_path, tiny_rrdb_weights):
    from conftest import textured_image

    from ddriqa.classification.pca import StreamingPCA
    from ddriqa.features.ddr import DDRExtractor

    ddr = DDRExtractor(weights=str(tiny_rrdb_weights), layer=("RRDB4", "RRDB8"), crop=8, crops="grid",
                       n_crops=4, pooling="stats", aggregate="mean", device="cpu")
    model = Pipeline([("pca", StreamingPCA(n_components=3, extractor=ddr)), ("svm", LinearSVC())])
    images = [textured_image(16, 16, seed=i) for i in range(8)]
    model.fit(images, np.array(["a", "b"] * 4))
    back = load_classifier(save_classifier(model, tmp_path / "multi.npz"))
    assert back.named_steps["pca"].extractor.layer == ("RRDB4", "RRDB8")
    assert back.named_steps["pca"].extractor.crops == "grid"
    _assert_same(model, back, images)


# ------------------------------------------------------------------ LogisticRegression head
@pytest.mark.parametrize("n_classes", [2, 3])
def test_round_trip_logistic_regression(tmp_path, n_classes):
    from sklearn.linear_model import LogisticRegression

    X, y = _xy(n_classes)
    model = Pipeline([("scale", StandardScaler()), ("clf", LogisticRegression(C=0.5, max_iter=200))]).fit(X, y)
    back = load_classifier(save_classifier(model, tmp_path / "logreg.npz"))
    assert isinstance(back.named_steps["clf"], LogisticRegression)
    assert back.named_steps["clf"].get_params() == model.named_steps["clf"].get_params()
    _assert_same(model, back, X)
    np.testing.assert_array_equal(back.predict_proba(X), model.predict_proba(X))
    np.testing.assert_array_equal(back.named_steps["clf"].n_iter_, model.named_steps["clf"].n_iter_)


def test_logistic_regression_with_wrong_coef_is_refused(tmp_path):
    from sklearn.linear_model import LogisticRegression

    X, y = _xy(3)
    path = save_classifier(LogisticRegression().fit(X, y), tmp_path / "lr.npz")

    def drop_a_class_row(members, meta):
        k = meta["model"]["fitted"]["coef_"]["__array__"]
        members[k] = members[k][:-1]

    def no_coef(meta):
        del meta["model"]["fitted"]["coef_"]

    bad = _rewrite(path, tmp_path / "rows.npz", edit_arrays=drop_a_class_row)
    with pytest.raises(ModelFileError, match=r"model: inconsistent fitted arrays: coef_ has shape \(2, 40\)"):
        load_classifier(bad)
    with pytest.raises(ModelFileError, match=r"missing \['coef_'\]"):
        load_classifier(_rewrite(path, tmp_path / "nocoef.npz", edit_meta=no_coef))


# ------------------------------------------------------------------ the allow-list table
def test_every_allowed_class_is_importable_and_checked():
    import importlib

    from ddriqa.classification.persistence import ALLOWED_CLASSES, AllowedClass

    for name, entry in ALLOWED_CLASSES.items():
        assert isinstance(entry, AllowedClass), name
        assert hasattr(importlib.import_module(entry.module), name), name
        assert callable(entry.check), name
        assert entry.fitted is None or isinstance(entry.fitted, tuple), name


def test_unfitted_estimator_in_a_file_is_refused(tmp_path):
    X, y = _xy(2)
    path = save_classifier(LinearSVC().fit(X, y), tmp_path / "svc.npz")

    def unfit(meta):
        meta["model"]["fitted"] = {}

    with pytest.raises(ModelFileError, match="LinearSVC has no fitted attributes"):
        load_classifier(_rewrite(path, tmp_path / "unfit.npz", edit_meta=unfit))
