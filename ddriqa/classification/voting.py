"""Crop voting: one classifier for every crop of an image, decisions averaged over the crops.

:class:`CropVoteClassifier` takes the rows of a
:class:`~ddriqa.features.ddr.DDRExtractor` with ``aggregate="none"`` (``n_crops`` blocks of
per-crop features side by side), fits its estimator on the crops as separate samples (each
crop carries its image's label, so the head sees ``n_crops`` times more examples), and predicts
an image's class from the mean of its crops' decision values: the head of the ``ddr`` presets
(:mod:`ddriqa.features.presets`; figures in ``benchmarks/results/identification.md``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from ddriqa.errors import InputError

__all__ = ["CropVoteClassifier"]


class CropVoteClassifier(ClassifierMixin, BaseEstimator):
    """Classify each crop, average the decisions over an image's crops.

    Parameters
    ----------
    estimator : estimator
        A classifier with ``decision_function`` (e.g.
        :func:`ddriqa.classification.pipelines.pooled_svm`), cloned at fit.
    n_crops : int, default=4
        Number of equal blocks in each row (the extractor's ``n_crops``).

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone, on ``n_samples * n_crops`` crops.
    classes_ : ndarray of str
    n_features_in_ : int
        ``n_crops`` times the features of one crop.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.svm import LinearSVC
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat(["a", "b", "c"], 10)
    >>> X = rng.normal(size=(30, 4, 5)); X[y == "b", :, 0] += 3; X[y == "c", :, 1] += 3
    >>> clf = CropVoteClassifier(LinearSVC(), n_crops=4).fit(X.reshape(30, -1), y)
    >>> clf.predict(X.reshape(30, -1)[[0, 10, 20]]).tolist()
    ['a', 'b', 'c']
    >>> clf.decision_function(X.reshape(30, -1)).shape
    (30, 3)
    """

    def __init__(self, estimator=None, n_crops=4):
        self.estimator = estimator
        self.n_crops = n_crops

    def _crops(self, X, fitting=False):
        n = self.n_crops
        if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
            raise InputError(f"n_crops must be a positive integer, got {n!r}")
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2:
            raise InputError(f"expected a 2-D feature array, got shape {X.shape}")
        if X.shape[1] % n:
            raise InputError(f"{X.shape[1]} features do not split into n_crops={n} equal blocks")
        if not fitting and X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} features, the classifier was fitted with {self.n_features_in_}")
        return X.reshape(len(X) * n, X.shape[1] // n)

    def fit(self, X, y):
        """Fit the estimator on every crop, labelled with its image's class.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_crops * n_features_per_crop)
        y : array-like of shape (n_samples,)

        Returns
        -------
        self
        """
        if self.estimator is None:
            raise InputError("CropVoteClassifier needs an estimator")
        if not hasattr(self.estimator, "decision_function"):
            raise InputError(f"{type(self.estimator).__name__} has no decision_function to average over crops")
        y = np.asarray(y)
        X = np.asarray(X)
        if len(y) != len(X):
            raise InputError(f"X has {len(X)} rows but y has {len(y)} labels")
        self.n_features_in_ = int(X.shape[1]) if X.ndim == 2 else 0
        Z = self._crops(X, fitting=True)
        self.estimator_ = clone(self.estimator).fit(Z, np.repeat(y, int(self.n_crops)))
        self.classes_ = self.estimator_.classes_
        return self

    def decision_function(self, X):
        """Mean over its crops of each image's decision values: ``(n_samples, n_classes)``
        (``(n_samples,)`` for two classes, as scikit-learn's binary classifiers)."""
        check_is_fitted(self, "estimator_")
        Z = self._crops(X)
        d = np.asarray(self.estimator_.decision_function(Z))
        return d.reshape(len(Z) // int(self.n_crops), int(self.n_crops), *d.shape[1:]).mean(axis=1)

    def predict(self, X):
        """The class with the largest mean decision value."""
        d = self.decision_function(X)
        if d.ndim == 1:
            return self.classes_[(d > 0).astype(int)]
        return self.classes_[np.argmax(d, axis=1)]
