"""The DDR research harness: its features are DDRExtractor's, and its evaluation runs end to end."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))  # benchmarks/ is outside the package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "cli"))

import ddr_variants  # noqa: E402
from _cli_data import make_tiny_live  # noqa: E402


@pytest.fixture(scope="module")
def extracted(tmp_path_factory):
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.weights import save_weights

    root = tmp_path_factory.mktemp("variants")
    data = make_tiny_live(root / "live", n_refs=6, per_ref=2, size=(40, 56))
    weights = save_weights(RRDBNet(num_features=8, num_blocks=2, growth=4), root / "tiny_rrdb.safetensors")
    out = root / "feats.npz"
    ddr_variants.main(["extract", str(data), "-o", str(out), "--weights", str(weights),
                       "--layers", "Conv1,RRDB1,RRDB2", "--crop", "16", "--grid", "3", "--half-grid", "2"])
    return out, weights


def test_grid_features_equal_the_extractors_and_the_2x2_grid_is_the_corners(extracted):
    from ddriqa.features.ddr import DDRExtractor

    out, weights = extracted
    d = np.load(out)
    n = len(d["y"])
    assert d["feats"].shape == (n, 9 + 4, 3, len(ddr_variants.STATS), 8)
    assert sorted(set(d["y"])) == ["gblur", "jpeg", "pristine", "wn"]
    paths = [str(p) for p in d["paths"][:3]]
    for n_crops, crops in ((9, "g3"), (4, "g2")):
        ext = DDRExtractor(weights=str(weights), layer=("RRDB1", "RRDB2"), crop=16, crops="grid", n_crops=n_crops,
                           pooling="stats", aggregate="none", device="cpu").fit()
        ours = ddr_variants.variant_matrix(d, crops, ["RRDB1", "RRDB2"], ["mean", "std", "absmean"])[:3]
        np.testing.assert_allclose(ours.reshape(3, -1), ext.transform(paths), rtol=1e-5, atol=1e-6)


def test_evaluate_prints_one_line_per_variant(extracted, tmp_path, capsys):
    out, _ = extracted
    variants = {"vote": {"crops": "g3", "layers": ["RRDB2"], "stats": ["mean", "std"]},
                "half": {"crops": "h2", "layers": ["Conv1"], "stats": ["absmean"], "head": "ridge"},
                "stack": {"crops": "g2", "layers": ["RRDB1"], "stats": ["std"], "head": "stack"}}
    (tmp_path / "v.json").write_text(json.dumps(variants))
    ddr_variants.main(["evaluate", str(out), "--variants", str(tmp_path / "v.json"), "--splits", "2",
                       "--test", str(out), "--random", str(out)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split()[0] for line in lines] == ["vote", "half", "stack"]
    for line in lines:
        prec = float(line.split("prec ")[1].split()[0])
        assert 0.0 <= prec <= 1.0 and "cross" in line


def test_every_other_crop_of_a_6x6_grid_is_a_3x3_lattice():
    assert ddr_variants.crop_index(np.array([6]), "s2") == [0, 2, 4, 12, 14, 16, 24, 26, 28]
    assert ddr_variants.crop_index(np.array([3, 2]), "g2+h2") == [0, 2, 6, 8, 9, 10, 11, 12]


def test_several_files_pool_into_one_set_and_shared_images_are_refused(extracted, tmp_path, capsys):
    out, _ = extracted
    d = dict(np.load(out))
    half = len(set(d["groups"])) // 2
    first = np.isin(d["groups"], sorted(set(d["groups"]))[:half])
    for name, keep in (("a.npz", first), ("b.npz", ~first)):
        np.savez(tmp_path / name, **{k: (v[keep] if k in ("feats", "y", "groups", "paths") else v) for k, v in d.items()})
    pooled = ddr_variants.load_features([tmp_path / "a.npz", tmp_path / "b.npz"])
    v = {"crops": "g3", "layers": ["RRDB2"], "stats": ["mean"]}
    whole = ddr_variants._features_for(dict(d), v)
    np.testing.assert_array_equal(ddr_variants._features_for(pooled, v),
                                  np.concatenate([whole[first], whole[~first]]))
    assert list(pooled["groups"]) == list(d["groups"][first]) + list(d["groups"][~first])
    (tmp_path / "v.json").write_text(json.dumps({"vote": v}))
    ddr_variants.main(["evaluate", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"), "--variants",
                       str(tmp_path / "v.json"), "--splits", "2"])
    assert capsys.readouterr().out.startswith("vote")
    with pytest.raises(SystemExit, match="share images"):
        ddr_variants.main(["evaluate", str(tmp_path / "a.npz"), str(out), "--variants", str(tmp_path / "v.json")])


def test_zero_splits_scores_only_the_held_out_set(extracted, tmp_path, capsys):
    out, _ = extracted
    (tmp_path / "v.json").write_text(json.dumps({"vote": {"crops": "g3", "layers": ["RRDB2"], "stats": ["mean"]}}))
    ddr_variants.main(["evaluate", str(out), "--test", str(out), "--variants", str(tmp_path / "v.json"),
                       "--splits", "0", "--per-class"])
    text = capsys.readouterr().out
    assert " prec " not in text and "cross " in text and "clean->pristine" in text and "cross: gblur" in text
    with pytest.raises(SystemExit, match="only the --test set"):
        ddr_variants.main(["evaluate", str(out), "--variants", str(tmp_path / "v.json"), "--splits", "0"])


def test_small_crop_variants_use_the_presets_taps_and_their_random_twins_match():
    from ddriqa.features.presets import preset_params

    v = ddr_variants.SMALL_CROP_VARIANTS
    for name in ("ddr-36", "ddr-36-deep"):
        assert tuple(v[name]["layers"]) == preset_params(name)["layer"]
        assert {**v[name], "random": True} == v[f"{name}-random"]


def test_cache_writes_the_preset_rows_for_train_default_model(tmp_path, monkeypatch):
    # a 3x3-grid, no-half-grid file holds the crops of a 9-crop preset: the cache rows must be the
    # extractor's features of that preset, in the order of the training folder's table
    from ddriqa.features import presets
    from ddriqa.features.ddr import DDRExtractor
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.weights import save_weights

    data = make_tiny_live(tmp_path / "live", n_refs=3, per_ref=1, size=(40, 56))
    weights = save_weights(RRDBNet(num_features=8, num_blocks=2, growth=4), tmp_path / "tiny_rrdb.safetensors")
    feats = tmp_path / "f.npz"
    ddr_variants.main(["extract", str(data), "-o", str(feats), "--weights", str(weights), "--layers", "RRDB1,RRDB2",
                       "--crop", "16", "--grid", "3", "--half-grid", "0"])
    spec = {"extractor": {"weights": str(weights), "layer": ("RRDB1", "RRDB2"), "crop": 16, "crops": "grid",
                          "n_crops": 9, "pooling": "stats", "aggregate": "none"}, "head": "crop-vote", "about": "t"}
    monkeypatch.setitem(presets.PRESETS, "tiny-9", spec)
    out = tmp_path / "cache.npy"
    ddr_variants.main(["cache", str(feats), "--data", str(data), "--preset", "tiny-9", "-o", str(out)])
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["preset"] == "tiny-9" and len(meta["paths"]) == np.load(out).shape[0]
    ext = DDRExtractor(**presets.preset_params("tiny-9"), device="cpu").fit()
    np.testing.assert_allclose(np.load(out), ext.transform(meta["paths"]), rtol=1e-5, atol=1e-6)
    monkeypatch.setitem(presets.PRESETS, "tiny-4", {**spec, "extractor": {**spec["extractor"], "n_crops": 4}})
    with pytest.raises(SystemExit, match="not those of preset"):
        ddr_variants.main(["cache", str(feats), "--data", str(data), "--preset", "tiny-4", "-o", str(out)])
