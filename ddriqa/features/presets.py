"""DDR defaults and named extractor presets (one place for the settings that name a method).

A preset is a set of :class:`~ddriqa.features.ddr.DDRExtractor` parameters plus the name of the
head that goes on top of it (:func:`ddriqa.classification.pipelines.make_preset_classifier`
builds the whole classifier). The presets:

``paper``
    Liu et al.'s distortion-identification head: the flattened ``ResBlock16`` map
    (64 x 96 x 96 = 589,824 values) of the central 96 x 96 crop of our SRGAN generator
    (``srgan_x4_gr``) -> PCA(120) -> linear SVM (C chosen by cross-validation grouped by reference).
``ddr``
    The default of earlier releases: per-channel statistics (mean, standard deviation, mean absolute value) of the
    ``RRDB1``, ``RRDB2`` and ``RRDB4`` maps of Real-ESRGAN x4plus on each of a 2 x 2
    grid of 64 x 64 crops -> standardisation -> linear SVM on every crop, decisions averaged
    over the crops (:class:`~ddriqa.classification.voting.CropVoteClassifier`; a head of
    about 25 kilobytes).
``ddr-fast``
    The same with ``RRDB1`` and ``RRDB2`` only: half the network depth, about twice
    as fast.
``ddr-9``
    The default: ``RRDB1`` and ``RRDB2`` statistics on a 3 x 3 grid of 64 x 64 crops (corners,
    edge middles and centre), the head of ``ddr``. About the work of ``ddr`` (18 instead of 16
    RRDB block passes of a 64 x 64 crop): a vote over nine crops covers more of the image than
    four deeper ones (``benchmarks/results/identification.md``).
``ddr-9-fast``
    ``ddr-9`` on 32 x 32 crops: a quarter of its work, for speed. The same nine places of the
    image, each crop a quarter of the pixels.
``ddr-36``
    ``ddr-9-fast`` on a 6 x 6 grid: 36 crops of 32 x 32, the work and the pixels of ``ddr-9``
    spread over four times as many places.
``ddr-9-deep``
    ``ddr`` on the 3 x 3 grid (``RRDB1``, ``RRDB2``, ``RRDB4``): 2.25 times the work of ``ddr``.
``ddr-36-deep``
    ``ddr-36`` with ``RRDB4`` added (the taps of ``ddr-9-deep``): twice the work of ``ddr-9``,
    the most accurate pure DDR preset.

:data:`DEFAULT_WEIGHTS`, :data:`DEFAULT_LAYER` and :data:`DEFAULT_CROP` are what the extractor,
the CLI and the pipeline factories use when nothing is named (the paper's settings).
"""

from __future__ import annotations

from ddriqa.errors import InputError

__all__ = ["DEFAULT_CROP", "DEFAULT_LAYER", "DEFAULT_PRESET", "DEFAULT_WEIGHTS", "POOLED_PRESETS", "PRESETS",
           "preset_params"]

#: the backbone used when none is named (our SRGAN generator, shipped in ``weights/``)
DEFAULT_WEIGHTS = "srgan_x4_gr"
#: the feature tap of the paper's distortion-identification head
DEFAULT_LAYER = "ResBlock16"
#: side of the paper's central crop
DEFAULT_CROP = 96


def _crop_vote(layers, crop, n_crops, about):
    """A pooled preset: Real-ESRGAN channel statistics of ``layers`` on a grid of ``n_crops``
    ``crop x crop`` crops, one linear SVM per crop, decisions averaged."""
    return {"extractor": {"weights": "realesrgan_x4plus", "layer": tuple(layers), "crop": crop, "crops": "grid",
                          "n_crops": n_crops, "pooling": "stats", "aggregate": "none"},
            "head": "crop-vote", "about": about}


#: name -> {"extractor": DDRExtractor parameters, "head": head name, "about": one line}
PRESETS = {
    "paper": {
        "extractor": {"weights": DEFAULT_WEIGHTS, "layer": DEFAULT_LAYER, "crop": DEFAULT_CROP,
                      "crops": "center", "n_crops": 1, "pooling": "none", "aggregate": "mean"},
        "head": "pca-linear-svm",
        "about": "flattened ResBlock16 of the central 96x96 crop, PCA(120), linear SVM, C by grouped CV (Liu et al.)",
    },
    "ddr": _crop_vote(("RRDB1", "RRDB2", "RRDB4"), 64, 4,
                      "Real-ESRGAN RRDB1/2/4 channel statistics of 2x2 grid 64x64 crops, linear SVM per crop, "
                      "decisions averaged"),
    "ddr-fast": _crop_vote(("RRDB1", "RRDB2"), 64, 4, "as ddr with RRDB1+RRDB2 only (half the depth)"),
    "ddr-9": _crop_vote(("RRDB1", "RRDB2"), 64, 9,
                        "Real-ESRGAN RRDB1/2 channel statistics of 3x3 grid 64x64 crops, linear SVM per crop, "
                        "decisions averaged (about the work of ddr)"),
    "ddr-9-fast": _crop_vote(("RRDB1", "RRDB2"), 32, 9,
                             "as ddr-9 on 32x32 crops (a quarter of its work; the fast preset)"),
    "ddr-36": _crop_vote(("RRDB1", "RRDB2"), 32, 36,
                         "Real-ESRGAN RRDB1/2 channel statistics of 6x6 grid 32x32 crops, linear SVM per crop, "
                         "decisions averaged (the work of ddr-9)"),
    "ddr-9-deep": _crop_vote(("RRDB1", "RRDB2", "RRDB4"), 64, 9,
                             "as ddr on a 3x3 grid of 64x64 crops (2.25x the work of ddr)"),
    "ddr-36-deep": _crop_vote(("RRDB1", "RRDB2", "RRDB4"), 32, 36,
                              "as ddr-36 with RRDB4 added (twice the work of ddr-9; the most accurate pure DDR "
                              "preset)"),
}

#: the presets with the pooled crop-vote head (benchmark methods, ``ddriqa train --preset`` choices)
POOLED_PRESETS = tuple(name for name, spec in PRESETS.items() if spec["head"] == "crop-vote")

#: the preset of the shipped default classifier
DEFAULT_PRESET = "ddr-9"


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
