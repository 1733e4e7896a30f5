"""BRISQUE beside DDR: one feature row per crop, for the crop-vote head.

:class:`FusedCropFeatures` joins a :class:`~ddriqa.features.ddr.DDRExtractor` with
``aggregate="none"`` (``n_crops`` blocks of per-crop features) and a
:class:`~ddriqa.features.brisque.BRISQUEExtractor` (36 numbers of the whole image): each crop's
block is followed by the image's BRISQUE features, so that a
:class:`~ddriqa.classification.voting.CropVoteClassifier` sees both on every crop. The two
feature sets fail on different classes (DDR: jp2k vs fast fading; BRISQUE: jpeg and pristine),
which is why the fusion wins in ``benchmarks/results/identification.md`` (method ``brisque+ddr``).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.utils.validation import check_is_fitted

from ddriqa.errors import InputError

__all__ = ["FusedCropFeatures", "fuse_crop_features"]


def fuse_crop_features(ddr, brisque, n_crops):
    """``(n, n_crops * d)`` per-crop DDR rows and ``(n, b)`` image rows -> ``(n, n_crops * (d + b))``.

    Examples
    --------
    >>> fuse_crop_features(np.arange(4.0).reshape(1, 4), np.array([[9.0]]), 2).tolist()
    [[0.0, 1.0, 9.0, 2.0, 3.0, 9.0]]
    """
    ddr, brisque = np.asarray(ddr), np.asarray(brisque)
    if ddr.ndim != 2 or brisque.ndim != 2 or len(ddr) != len(brisque) or ddr.shape[1] % n_crops:
        raise InputError(f"cannot fuse DDR rows {ddr.shape} ({n_crops} crops) with BRISQUE rows {brisque.shape}")
    per_crop = ddr.reshape(len(ddr), n_crops, -1)
    tiled = np.repeat(brisque[:, None, :].astype(per_crop.dtype), n_crops, axis=1)
    return np.concatenate([per_crop, tiled], axis=2).reshape(len(ddr), -1)


class FusedCropFeatures(TransformerMixin, BaseEstimator):
    """Per-crop DDR features, each followed by the image's BRISQUE features.

    Parameters
    ----------
    ddr : DDRExtractor
        With ``aggregate="none"`` (one block per crop).
    brisque : BRISQUEExtractor

    Attributes
    ----------
    ddr_, brisque_ : the fitted (stateless) extractors
    n_crops_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.features.brisque import BRISQUEExtractor
    >>> from ddriqa.features.ddr import DDRExtractor
    >>> from ddriqa.models.srresnet import SRResNet
    >>> ddr = DDRExtractor(weights=SRResNet(num_features=4, num_blocks=1), layer="Conv1", crop=16,
    ...                    crops="grid", n_crops=4, pooling="stats", aggregate="none", device="cpu")
    >>> images = np.random.default_rng(0).integers(0, 256, (2, 48, 48, 3), dtype=np.uint8)
    >>> FusedCropFeatures(ddr, BRISQUEExtractor()).fit(images).transform(images).shape
    (2, 192)
    """

    def __init__(self, ddr=None, brisque=None):
        self.ddr = ddr
        self.brisque = brisque

    def fit(self, X=None, y=None):
        """Validate and load both extractors (images are not read by the DDR part)."""
        if self.ddr is None or self.brisque is None:
            raise InputError("FusedCropFeatures needs a ddr and a brisque extractor")
        if getattr(self.ddr, "aggregate", None) != "none":
            raise InputError("FusedCropFeatures needs the DDRExtractor's aggregate='none' (one block per crop)")
        self.ddr_ = clone(self.ddr).fit()
        self.brisque_ = clone(self.brisque).fit(X if X is not None else [np.zeros((8, 8, 3), np.uint8)])
        self.n_crops_ = int(self.ddr_.n_crops_)
        return self

    def transform(self, X):
        """``(n_images, n_crops * (DDR per crop + 36))`` float32 rows."""
        check_is_fitted(self, "ddr_")
        return fuse_crop_features(self.ddr_.transform(X), self.brisque_.transform(X), self.n_crops_)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        return tags
