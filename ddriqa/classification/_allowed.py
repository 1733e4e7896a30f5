"""The allow-list of :mod:`ddriqa.classification.persistence`: which classes a classifier file
may hold, which fitted attributes each may set, and the checks that refuse inconsistent arrays.

Adding a class: write its checker here (``def _check_foo(est, c)``), add one line to
:data:`ALLOWED_CLASSES`, and a round-trip test (see the persistence module's docstring).
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import numpy as np

__all__ = ["ALLOWED_CLASSES", "AllowedClass"]


class AllowedClass(NamedTuple):
    """One entry of :data:`ALLOWED_CLASSES`.

    ``module``: where the class is imported from on load. ``fitted``: the fitted attributes a
    file may set (``()`` for a container such as a pipeline; None for a stateless extractor,
    rebuilt from its parameters). ``check``: ``check(est, c)``, called on load after the fitted
    attributes are set, with ``c`` a :class:`_Check`; it refuses inconsistent arrays
    (``c.require``, ``c.need``) and may normalise dtypes.
    """

    module: str
    fitted: tuple | None
    check: Callable


# ---------------------------------------------------------------------------------- checkers
class _Check:
    """What a checker gets: the fitted attributes read from the file, and ways to refuse them."""

    def __init__(self, decoder, where, fitted):
        self.decoder = decoder
        self.where = where
        self.fitted = fitted

    def need(self, cond, reason):
        if not cond:
            self.decoder.fail(f"{self.where}: inconsistent fitted arrays: {reason}")

    def require(self, *attrs):
        missing = [a for a in attrs if a not in self.fitted]
        self.need(not missing, f"missing {missing}")

    def fail(self, reason):
        self.decoder.fail(f"{self.where}: {reason}")


def _shape(est, attr):
    v = getattr(est, attr, None)
    return None if v is None else np.shape(v)


def _out_dim(step):
    if hasattr(step, "n_components_"):
        return int(step.n_components_)
    if hasattr(step, "n_features_out_"):
        return int(step.n_features_out_)
    if hasattr(step, "scale_") and hasattr(step, "n_features_in_"):  # scalers keep the dimension
        return int(step.n_features_in_)
    return None


def _check_pipeline(est, c):
    steps = getattr(est, "steps", None)
    c.need(isinstance(steps, list) and steps, "a pipeline needs steps")
    for item in steps:
        c.need(isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str),
               "pipeline steps must be (name, estimator) pairs")
    dims = [_out_dim(s) for _, s in steps]
    for i in range(1, len(steps)):
        n_in = getattr(steps[i][1], "n_features_in_", None)
        if dims[i - 1] is not None and n_in is not None:
            c.need(dims[i - 1] == n_in,
                   f"step {steps[i - 1][0]!r} outputs {dims[i - 1]} features but step {steps[i][0]!r} expects {n_in}")


def _per_feature(est, c, attrs):
    """Every stored attribute among ``attrs`` is a vector of ``n_features_in_`` values."""
    d = getattr(est, "n_features_in_", None)
    for attr in attrs:
        if attr in c.fitted:
            c.need(_shape(est, attr) == (d,), f"{attr} has shape {_shape(est, attr)}, expected ({d},)")


def _check_standard_scaler(est, c):
    c.require("scale_", "n_features_in_")
    _per_feature(est, c, ("mean_", "var_", "scale_"))


def _check_min_max_scaler(est, c):
    c.require("min_", "scale_", "n_features_in_")
    _per_feature(est, c, ("scale_", "min_", "data_min_", "data_max_", "data_range_"))


def _check_global_scaler(est, c):
    c.require("scale_", "n_features_in_")
    c.need(isinstance(est.scale_, float) and np.isfinite(est.scale_) and est.scale_ > 0,
           f"scale_ must be a positive number, got {est.scale_!r}")


def _check_svc(est, c):
    c.require("classes_", "support_", "support_vectors_", "_n_support", "dual_coef_", "intercept_",
              "_dual_coef_", "_intercept_", "_probA", "_probB", "_gamma", "shape_fit_", "class_weight_",
              "fit_status_", "_sparse", "n_features_in_")
    d = getattr(est, "n_features_in_", None)
    n_sv, n_cls = _shape(est, "support_vectors_"), len(est.classes_)
    c.need(len(n_sv) == 2 and n_sv[1] == d, f"support_vectors_ shape {n_sv} vs n_features_in_={d}")
    c.need(_shape(est, "support_") == (n_sv[0],), "support_ does not match support_vectors_")
    c.need(int(np.sum(est._n_support)) == n_sv[0] and len(est._n_support) == n_cls,
           "_n_support does not match the support vectors / classes")
    for attr in ("dual_coef_", "_dual_coef_"):
        c.need(_shape(est, attr) == (max(n_cls - 1, 1), n_sv[0]), f"{attr} has shape {_shape(est, attr)}")
    n_pairs = max(n_cls * (n_cls - 1) // 2, 1)
    for attr in ("intercept_", "_intercept_"):
        c.need(_shape(est, attr) == (n_pairs,), f"{attr} has shape {_shape(est, attr)}")
    c.need(est.kernel in ("linear", "rbf", "poly", "sigmoid"), f"kernel {est.kernel!r}")
    # libsvm reads these buffers directly: give it the dtypes and layout it expects
    est.dual_coef_ = np.ascontiguousarray(est.dual_coef_, dtype=np.float64)
    est._dual_coef_ = np.ascontiguousarray(est._dual_coef_, dtype=np.float64)
    est.support_vectors_ = np.ascontiguousarray(est.support_vectors_, dtype=np.float64)
    est.support_ = np.ascontiguousarray(est.support_, dtype=np.int32)
    est._n_support = np.ascontiguousarray(est._n_support, dtype=np.int32)


def _check_linear_model(est, c):
    """LinearSVC, LogisticRegression: ``coef_`` is one row per class (one row for two classes)."""
    c.require("classes_", "coef_", "intercept_", "n_features_in_")
    d = getattr(est, "n_features_in_", None)
    n_cls = len(est.classes_)
    rows = 1 if n_cls == 2 else n_cls
    c.need(_shape(est, "coef_") == (rows, d), f"coef_ has shape {_shape(est, 'coef_')}, expected ({rows}, {d})")
    c.need(_shape(est, "intercept_") == (rows,), f"intercept_ has shape {_shape(est, 'intercept_')}")


def _check_streaming_pca(est, c):
    c.require("components_", "mean_", "n_components_", "singular_values_")
    comp = _shape(est, "components_")
    c.need(len(comp) == 2 and comp[0] == est.n_components_,
           f"components_ shape {comp} vs n_components_={est.n_components_}")
    c.need(_shape(est, "mean_") == (comp[1],), f"mean_ shape {_shape(est, 'mean_')} vs components_ {comp}")
    c.need(_shape(est, "singular_values_") == (comp[0],), "singular_values_ does not match components_")
    if est.extractor is None:
        est.extractor_ = None
    else:
        c.need(getattr(est, "extractor_", None) is not None, "the fitted extractor_ is missing")


def _rebuild_stateless(est, c):
    """Stateless extractors are rebuilt from their parameters; ``fit`` only validates them."""
    try:
        est.fit([np.zeros((8, 8, 3), dtype=np.uint8)])
    except Exception as exc:  # noqa: BLE001 - any failure here is a bad file for the user
        c.fail(f"cannot rebuild {type(est).__name__}: {exc}")


def _check_crop_vote(est, c):
    c.require("estimator_", "classes_", "n_features_in_")
    n, d = est.n_crops, est.n_features_in_
    c.need(isinstance(n, int) and n >= 1 and d % n == 0,
           f"n_features_in_={d} does not split into n_crops={n} blocks")
    inner = getattr(est.estimator_, "n_features_in_", None)
    c.need(inner is None or inner * n == d, f"estimator_ takes {inner} features per crop, expected {d // max(n, 1)}")
    inner_classes = getattr(est.estimator_, "classes_", None)
    c.need(inner_classes is not None and list(inner_classes) == list(est.classes_),
           "classes_ differ from the estimator_'s")


# ---------------------------------------------------------------------------------- the table
_SVC_FITTED = (
    "classes_", "support_", "support_vectors_", "_n_support", "dual_coef_", "intercept_",
    "_dual_coef_", "_intercept_", "_probA", "_probB", "fit_status_", "shape_fit_", "_gamma",
    "class_weight_", "n_iter_", "_num_iter", "_sparse", "_effective_probability",
    "n_features_in_", "feature_names_in_",
)
_LINEAR_FITTED = ("classes_", "coef_", "intercept_", "n_iter_", "n_features_in_", "feature_names_in_")
_STANDARD_FITTED = ("mean_", "var_", "scale_", "n_samples_seen_", "n_features_in_", "feature_names_in_")
_MIN_MAX_FITTED = ("min_", "scale_", "data_min_", "data_max_", "data_range_", "n_samples_seen_",
                   "n_features_in_", "feature_names_in_")
_PCA_FITTED = ("components_", "mean_", "explained_variance_", "explained_variance_ratio_",
               "singular_values_", "n_components_", "n_samples_", "n_features_in_",
               "feature_names_in_", "extractor_")

#: class name -> :class:`AllowedClass` (module, fitted attributes that may be stored, checker)
ALLOWED_CLASSES = {
    "Pipeline": AllowedClass("sklearn.pipeline", (), _check_pipeline),
    "StandardScaler": AllowedClass("sklearn.preprocessing", _STANDARD_FITTED, _check_standard_scaler),
    "MinMaxScaler": AllowedClass("sklearn.preprocessing", _MIN_MAX_FITTED, _check_min_max_scaler),
    "GlobalScaler": AllowedClass("ddriqa.classification.scaling", ("scale_", "n_features_in_", "feature_names_in_"),
                                 _check_global_scaler),
    "SVC": AllowedClass("sklearn.svm", _SVC_FITTED, _check_svc),
    "LinearSVC": AllowedClass("sklearn.svm", _LINEAR_FITTED, _check_linear_model),
    "LogisticRegression": AllowedClass("sklearn.linear_model", _LINEAR_FITTED, _check_linear_model),
    "StreamingPCA": AllowedClass("ddriqa.classification.pca", _PCA_FITTED, _check_streaming_pca),
    "CappedStreamingPCA": AllowedClass("ddriqa.classification.pipelines", _PCA_FITTED, _check_streaming_pca),
    "CropVoteClassifier": AllowedClass("ddriqa.classification.voting", ("estimator_", "classes_", "n_features_in_"),
                                       _check_crop_vote),
    "DDRExtractor": AllowedClass("ddriqa.features.ddr", None, _rebuild_stateless),
    "BRISQUEExtractor": AllowedClass("ddriqa.features.brisque", None, _rebuild_stateless),
    "FusedCropFeatures": AllowedClass("ddriqa.features.fusion", None, _rebuild_stateless),
}
