"""DDR defaults and named extractor presets (one place for the settings that name a method).

A preset is a set of :class:`~ddriqa.features.ddr.DDRExtractor` parameters plus the name of the
head that goes on top of it (:func:`ddriqa.classification.pipelines.make_preset_classifier`
builds the whole classifier). The presets:

``paper``
    Liu et al.'s distortion-identification head: the flattened ``ResBlock16`` map
    (64 x 96 x 96 = 589,824 values) of the central 96 x 96 crop of our SRGAN generator
    (``srgan_x4_gr``) -> PCA(120) -> linear SVM.
``ddr``
    The default: per-channel statistics (mean, standard deviation, mean absolute value) of the
    ``RRDB4`` and ``RRDB8`` maps of Real-ESRGAN x4plus on a 3 x 3 grid of 64 x 64 crops,
    averaged over the crops -> standardisation -> linear SVM (a few kilobytes of head).
``ddr-fast``
    The same statistics of ``RRDB4`` alone on the central 64 x 64 crop: about four times faster.

:data:`DEFAULT_WEIGHTS`, :data:`DEFAULT_LAYER` and :data:`DEFAULT_CROP` are what the extractor,
the CLI and the pipeline factories use when nothing is named (the paper's settings).
"""

from __future__ import annotations

from ddriqa.errors import InputError

__all__ = ["DEFAULT_CROP", "DEFAULT_LAYER", "DEFAULT_PRESET", "DEFAULT_WEIGHTS", "PRESETS", "preset_params"]

#: the backbone used when none is named (our SRGAN generator, shipped in ``weights/``)
DEFAULT_WEIGHTS = "srgan_x4_gr"
#: the feature tap of the paper's distortion-identification head
DEFAULT_LAYER = "ResBlock16"
#: side of the paper's central crop
DEFAULT_CROP = 96

#: name -> {"extractor": DDRExtractor parameters, "head": head name, "about": one line}
PRESETS = {
    "paper": {
        "extractor": {"weights": DEFAULT_WEIGHTS, "layer": DEFAULT_LAYER, "crop": DEFAULT_CROP,
                      "crops": "center", "n_crops": 1, "pooling": "none", "aggregate": "mean"},
        "head": "pca-linear-svm",
        "about": "flattened ResBlock16 of the central 96x96 crop, PCA(120), linear SVM (Liu et al.)",
    },
    "ddr": {
        "extractor": {"weights": "realesrgan_x4plus", "layer": ("RRDB4", "RRDB8"), "crop": 64,
                      "crops": "grid", "n_crops": 9, "pooling": "stats", "aggregate": "mean"},
        "head": "scaled-linear-svm",
        "about": "Real-ESRGAN RRDB4+RRDB8 channel statistics, 3x3 grid of 64x64 crops, linear SVM",
    },
    "ddr-fast": {
        "extractor": {"weights": "realesrgan_x4plus", "layer": "RRDB4", "crop": 64,
                      "crops": "center", "n_crops": 1, "pooling": "stats", "aggregate": "mean"},
        "head": "scaled-linear-svm",
        "about": "Real-ESRGAN RRDB4 channel statistics of the central 64x64 crop, linear SVM",
    },
}

#: the preset of the shipped default classifier
DEFAULT_PRESET = "ddr"


def preset_params(name, **overrides):
    """The extractor parameters of a preset, with some replaced.

    Parameters
    ----------
    name : str
        A key of :data:`PRESETS`.
    **overrides
        DDRExtractor parameters to change (``weights="random_rrdbnet"`` for the control, ...).

    Returns
    -------
    dict

    Examples
    --------
    >>> preset_params("paper")["layer"]
    'ResBlock16'
    >>> preset_params("ddr-fast", weights="random_rrdbnet")["weights"]
    'random_rrdbnet'
    """
    if name not in PRESETS:
        raise InputError(f"unknown preset {name!r}; choose from {', '.join(PRESETS)}")
    params = dict(PRESETS[name]["extractor"])
    params.update(overrides)
    return params
