"""Named presets: one place for the settings of each method; the classifiers they build."""

from __future__ import annotations

import pytest

from ddriqa.classification.pipelines import make_preset_classifier
from ddriqa.errors import InputError
from ddriqa.features.ddr import DDRExtractor
from ddriqa.features.presets import DEFAULT_CROP, DEFAULT_LAYER, DEFAULT_WEIGHTS, PRESETS, preset_params


def test_paper_preset_is_the_papers_head():
    p = preset_params("paper")
    assert (p["weights"], p["layer"], p["crop"], p["crops"], p["pooling"]) == (
        DEFAULT_WEIGHTS, DEFAULT_LAYER, DEFAULT_CROP, "center", "none")
    clf = make_preset_classifier("paper")
    assert [name for name, _ in clf.steps] == ["pca", "scale", "svm"]
    assert clf.named_steps["pca"].n_components == 120
    assert clf.named_steps["pca"].extractor.layer == "ResBlock16"


@pytest.mark.parametrize("name", ["ddr", "ddr-fast", "ddr-9", "ddr-9-fast", "ddr-36", "ddr-9-deep", "ddr-36-deep"])
def test_pooled_presets_build_an_extractor_that_accepts_their_params(name):
    params = preset_params(name)
    DDRExtractor(**params)._check_params()  # every preset is a valid extractor
    clf = make_preset_classifier(name, weights="random_rrdbnet")
    ext = clf.named_steps["ddr"]
    assert ext.weights == "random_rrdbnet" and ext.pooling == "stats" and ext.aggregate == "none"
    search = clf.named_steps["vote"]  # C by inner cross-validation
    assert search.estimator.n_crops == params["n_crops"] and "estimator__svm__C" in search.param_grid


def test_unknown_preset_lists_the_names():
    with pytest.raises(InputError, match="choose from paper, ddr, ddr-fast, ddr-9, ddr-9-fast, ddr-36, ddr-9-deep, ddr-36-deep"):
        preset_params("nope")
    assert set(PRESETS) == {"paper", "ddr", "ddr-fast", "ddr-9", "ddr-9-fast", "ddr-36", "ddr-9-deep", "ddr-36-deep"}


def test_pooled_presets_are_the_crop_vote_ones_and_the_9_crop_presets_extend_ddr_and_ddr_fast():
    from ddriqa.features.presets import DEFAULT_PRESET, POOLED_PRESETS

    assert POOLED_PRESETS == ("ddr", "ddr-fast", "ddr-9", "ddr-9-fast", "ddr-36", "ddr-9-deep", "ddr-36-deep")
    assert DEFAULT_PRESET == "ddr-9"
    for nine, four in (("ddr-9", "ddr-fast"), ("ddr-9-deep", "ddr")):
        nine, four = preset_params(nine), preset_params(four)
        assert (nine["crops"], nine["n_crops"], four["n_crops"]) == ("grid", 9, 4)
        assert {k: v for k, v in nine.items() if k != "n_crops"} == {k: v for k, v in four.items() if k != "n_crops"}
    fast, nine = preset_params("ddr-9-fast"), preset_params("ddr-9")
    assert (fast["crop"], nine["crop"]) == (32, 64)
    assert {k: v for k, v in fast.items() if k != "crop"} == {k: v for k, v in nine.items() if k != "crop"}
    many = preset_params("ddr-36")  # ddr-9-fast on a 6x6 grid: the pixels of ddr-9's nine 64x64 crops
    assert {k: v for k, v in many.items() if k != "n_crops"} == {k: v for k, v in fast.items() if k != "n_crops"}
    assert many["n_crops"] * many["crop"] ** 2 == nine["n_crops"] * nine["crop"] ** 2
    deep = preset_params("ddr-36-deep")  # ddr-36 with ddr-9-deep's taps
    assert deep["layer"] == preset_params("ddr-9-deep")["layer"] == ("RRDB1", "RRDB2", "RRDB4")
    assert {k: v for k, v in deep.items() if k != "layer"} == {k: v for k, v in many.items() if k != "layer"}
