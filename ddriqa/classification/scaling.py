"""One global scale factor for a feature table: makes an SVM's ``C`` independent of units."""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, OneToOneFeatureMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data

__all__ = ["GlobalScaler"]


class GlobalScaler(OneToOneFeatureMixin, TransformerMixin, BaseEstimator):
    """Divide every feature by one number: the RMS distance of the training rows to their mean.

    Unlike :class:`~sklearn.preprocessing.StandardScaler` it keeps the geometry (all distances
    and angles scale alike), so a linear SVM on PCA scores stays the paper's classifier, while
    its ``C`` no longer depends on the magnitude of the network's activations (which differs by
    orders of magnitude between layers, backbones and a random-init control). After fitting,
    the training rows have a mean squared distance of 1 to their mean.

    Attributes
    ----------
    scale_ : float
        ``sqrt(mean_i ||x_i - mean||^2)`` (1.0 when the data are constant).
    n_features_in_ : int

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [300.0, 400.0]])
    >>> GlobalScaler().fit(X).scale_
    250.0
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags

    def fit(self, X, y=None):
        """Compute :attr:`scale_` from ``X`` of shape (n_samples, n_features); returns ``self``."""
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=True)
        centred = X - X.mean(axis=0, dtype=np.float64)
        rms = float(np.sqrt(np.mean(np.sum(centred * centred, axis=1))))
        self.scale_ = rms if rms > 0 and np.isfinite(rms) else 1.0
        return self

    def transform(self, X):
        """Return ``X / scale_``."""
        check_is_fitted(self, "scale_")
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return X / X.dtype.type(self.scale_)

    def inverse_transform(self, X):
        """Return ``X * scale_``."""
        check_is_fitted(self, "scale_")
        X = np.asarray(X)
        return X * X.dtype.type(self.scale_)
