"""API misuse gives the package's error, and the message shows what was received.

Each case calls a public function or estimator with one wrong argument (shape, dtype, range, type,
empty input, bad parameter) and checks the exception type and that the message contains the
received value (the shape, dtype, range or repr that was passed), not only what was expected.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from ddriqa.errors import InputError, ModelFileError

U8 = np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)


def _net():
    from ddriqa.models.srresnet import SRResNet

    return SRResNet(num_features=4, num_blocks=1)


def ddr(**kw):
    from ddriqa.features.ddr import DDRExtractor

    params = dict(weights=_net(), layer="ResBlock1", crop=8, device="cpu")
    params.update(kw)
    return DDRExtractor(**params)


def ddr_fitted():
    return ddr().fit()


def brisque():
    from ddriqa.features.brisque import BRISQUEExtractor

    return BRISQUEExtractor().fit([U8])


def _f(module, name):
    import importlib

    return getattr(importlib.import_module(module), name)


def bf(image):
    return _f("ddriqa.features.brisque", "brisque_features")(image)


def imresize(*a, **k):
    return _f("ddriqa.degradations.resize", "imresize")(*a, **k)


def blur(*a, **k):
    return _f("ddriqa.degradations.blur", "gaussian_blur")(*a, **k)


def noise(*a, **k):
    return _f("ddriqa.degradations.noise", "add_gaussian_noise")(*a, **k)


def jpeg(*a, **k):
    return _f("ddriqa.degradations.compression", "jpeg")(*a, **k)


def jpeg2000(*a, **k):
    return _f("ddriqa.degradations.compression", "jpeg2000")(*a, **k)


def apply_live(*a, **k):
    return _f("ddriqa.degradations.live_preset", "apply_live")(*a, **k)


def read_image(*a, **k):
    return _f("ddriqa.io", "read_image")(*a, **k)


def mk_brisque(**k):
    return _f("ddriqa.classification.pipelines", "make_brisque_classifier")(**k)


def mk_ddr_fit(**k):
    make = _f("ddriqa.classification.pipelines", "make_ddr_classifier")
    X = np.random.default_rng(0).normal(size=(6, 5))
    return make(features=False, **k).fit(X, ["a", "b"] * 3)


def load_live(root):
    return _f("ddriqa.datasets.live_database", "load_live")(root)


RNG = np.random.default_rng(1)
NAN = np.full((20, 20, 3), np.nan)

# id, call, exception type, fragments that must all appear in the message (regex-escaped)
CASES = [
    # DDRExtractor parameters (checked in fit)
    ("ddr-crop-zero", lambda: ddr(crop=0).fit(), InputError, ["crop", "got 0"]),
    ("ddr-crop-float", lambda: ddr(crop=8.5).fit(), InputError, ["got 8.5"]),
    ("ddr-pad", lambda: ddr(pad="zeros").fit(), InputError, ["got 'zeros'"]),
    ("ddr-batch-size", lambda: ddr(batch_size=0).fit(), InputError, ["batch_size", "got 0"]),
    ("ddr-autocast", lambda: ddr(autocast="fp8").fit(), InputError, ["got 'fp8'"]),
    ("ddr-autocast-cpu", lambda: ddr(autocast="float16").fit(), InputError, ["autocast='float16'", "device is cpu"]),
    ("ddr-device", lambda: ddr(device="tpu").fit(), InputError, ["got 'tpu'"]),
    ("ddr-layer", lambda: ddr(layer="ResBlock9").fit(), InputError, ["'ResBlock9'", "'ResBlock1'"]),
    ("ddr-weights-type", lambda: ddr(weights=3.5).fit(), InputError, ["got float 3.5"]),
    ("ddr-weights-name", lambda: ddr(weights="no_such_weights").fit(), ModelFileError, ["'no_such_weights'"]),
    ("ddr-random-state", lambda: ddr(weights="random", random_state="x").fit(), InputError, ["got str 'x'"]),
    # DDRExtractor inputs (transform)
    ("ddr-empty", lambda: ddr_fitted().transform([]), InputError, ["empty list"]),
    ("ddr-single-path", lambda: ddr_fitted().transform("a.png"), InputError, ["'a.png'"]),
    ("ddr-single-image", lambda: ddr_fitted().transform(U8), InputError, ["shape (32, 32, 3)"]),
    ("ddr-not-a-list", lambda: ddr_fitted().transform(5), InputError, ["got int"]),
    ("ddr-channels", lambda: ddr_fitted().transform([U8, np.zeros((16, 16, 5), np.uint8)]), InputError,
     ["<array #1>", "shape (16, 16, 5)"]),
    ("ddr-1d", lambda: ddr_fitted().transform([np.zeros(16, np.uint8)]), InputError, ["shape (16,)"]),
    ("ddr-float-range", lambda: ddr_fitted().transform([U8.astype(np.float32)]), InputError,
     ["[0, 255]", "float32"]),
    ("ddr-nan", lambda: ddr_fitted().transform([NAN]), InputError, ["NaN", "shape (20, 20, 3)"]),
    ("ddr-bool", lambda: ddr_fitted().transform([np.zeros((16, 16, 3), bool)]), InputError, ["dtype bool"]),
    ("ddr-none-item", lambda: ddr_fitted().transform([None]), InputError, ["NoneType"]),
    ("ddr-too-small", lambda: ddr_fitted().transform([np.zeros((4, 6, 3), np.uint8)]), InputError,
     ["<array #0>", "6x4"]),
    ("ddr-chunk-size", lambda: list(ddr_fitted().iter_transform([U8], chunk_size=0)), InputError, ["got 0"]),
    # BRISQUEExtractor and brisque_features
    ("brisque-n-jobs", lambda: _f("ddriqa.features.brisque", "BRISQUEExtractor")(n_jobs=0).fit([U8]),
     InputError, ["got 0"]),
    ("brisque-empty", lambda: brisque().transform([]), InputError, ["empty list"]),
    ("brisque-small-item", lambda: brisque().transform([U8, np.zeros((8, 8, 3), np.uint8)]), InputError,
     ["<array #1>", "shape (8, 8, 3)"]),
    ("bf-channels", lambda: bf(np.zeros((32, 32, 4), np.uint8)), InputError, ["shape (32, 32, 4)"]),
    ("bf-bool", lambda: bf(np.zeros((32, 32), bool)), InputError, ["dtype bool"]),
    ("bf-string", lambda: bf("img.png"), InputError, ["<U7"]),
    ("bf-float-range", lambda: bf(U8.astype(np.float64)), InputError, ["range [0, 255]"]),
    ("bf-nan", lambda: bf(np.full((32, 32), np.nan)), InputError, ["1024 NaN/inf"]),
    ("bf-small", lambda: bf(np.zeros((8, 32), np.uint8)), InputError, ["shape (8, 32)"]),
    ("bf-empty", lambda: bf(np.zeros((0, 0), np.uint8)), InputError, ["shape (0, 0)"]),
    ("bf-int-range", lambda: bf(U8.astype(np.int16) * 2), InputError, ["int16", "range [0, 510]"]),
    ("bf-constant", lambda: bf(np.full((32, 32), 7, np.uint8)), InputError, ["range [7, 7]"]),
    ("brisque-score-shape", lambda: _f("ddriqa.features.brisque", "score_from_features")(np.zeros(35)),
     InputError, ["shape (35,)"]),
    ("brisque-score-nan", lambda: _f("ddriqa.features.brisque", "score_from_features")(np.full(36, np.nan)),
     InputError, ["36 of 36"]),
    # imresize
    ("imresize-scale-zero", lambda: imresize(U8, 0), InputError, ["got 0"]),
    ("imresize-scale-nan", lambda: imresize(U8, float("nan")), InputError, ["got nan"]),
    ("imresize-scale-str", lambda: imresize(U8, "half"), InputError, ["got 'half'"]),
    ("imresize-scale-triple", lambda: imresize(U8, (1, 2, 3)), InputError, ["(1, 2, 3)"]),
    ("imresize-shape", lambda: imresize(U8, output_shape=(0, 3)), InputError, ["(0, 3)"]),
    ("imresize-shape-len", lambda: imresize(U8, output_shape=(3,)), InputError, ["(3,)"]),
    ("imresize-image-1d", lambda: imresize(np.zeros(3), 0.5), InputError, ["shape (3,)"]),
    ("imresize-bool", lambda: imresize(np.zeros((4, 4), bool), 0.5), InputError, ["dtype bool"]),
    ("imresize-nan", lambda: imresize(np.full((4, 4), np.nan), 0.5), InputError, ["NaN", "shape (4, 4)"]),
    ("bicubic-factor", lambda: _f("ddriqa.degradations.resize", "bicubic_downsample")(U8, 0), InputError,
     ["got 0"]),
    # blur, noise
    ("blur-sigma", lambda: blur(U8, -1), InputError, ["got -1"]),
    ("blur-sigma-str", lambda: blur(U8, "x"), InputError, ["got 'x'"]),
    ("blur-size-even", lambda: blur(U8, 1.0, size=4), InputError, ["got 4"]),
    ("blur-int16", lambda: blur(U8.astype(np.int16), 1.0), InputError, ["dtype int16"]),
    ("blur-float-range", lambda: blur(U8.astype(np.float32), 1.0), InputError, ["range [0, 255]"]),
    ("blur-1d", lambda: blur(np.zeros(5), 1.0), InputError, ["shape (5,)"]),
    ("noise-rng", lambda: noise(U8, 5, 0), InputError, ["got int"]),
    ("noise-sigma", lambda: noise(U8, -5, RNG), InputError, ["got -5"]),
    ("noise-nan", lambda: noise(np.full((4, 4), np.nan), 5, RNG), InputError, ["NaN", "shape (4, 4)"]),
    # compression
    ("jpeg-quality-zero", lambda: jpeg(U8, 0), InputError, ["got 0"]),
    ("jpeg-quality-float", lambda: jpeg(U8, 50.5), InputError, ["got 50.5"]),
    ("jpeg-float-image", lambda: jpeg(U8 / 255.0, 50), InputError, ["dtype float64"]),
    ("jpeg-channels", lambda: jpeg(np.zeros((8, 8, 4), np.uint8), 50), InputError, ["shape (8, 8, 4)"]),
    ("jpeg-empty", lambda: jpeg(np.zeros((0, 8, 3), np.uint8), 50), InputError, ["shape (0, 8, 3)"]),
    ("jp2k-bpp", lambda: jpeg2000(U8, -1), InputError, ["got -1"]),
    ("jp2k-bpp-nan", lambda: jpeg2000(U8, float("nan")), InputError, ["got nan"]),
    ("jp2k-float-image", lambda: jpeg2000(U8.astype(np.float32), 1.0), InputError, ["dtype float32"]),
    # LIVE distortions
    ("live-class", lambda: apply_live(U8, "blur", 1.0, RNG), InputError, ["'blur'"]),
    ("live-param", lambda: apply_live(U8, "gblur", "x", RNG), InputError, ["got 'x'"]),
    ("live-param-inf", lambda: apply_live(U8, "gblur", float("inf"), RNG), InputError, ["got inf"]),
    ("live-rng", lambda: apply_live(U8, "wn", 0.1, 42), InputError, ["got int"]),
    ("live-float-image", lambda: apply_live(U8.astype(float), "wn", 0.1, RNG), InputError, ["dtype float64"]),
    ("live-gblur-negative", lambda: apply_live(U8, "gblur", -1.0, RNG), InputError, ["got -1.0"]),
    ("live-jpeg-negative", lambda: apply_live(U8, "jpeg", -1.0, RNG), InputError, ["got -1.0"]),
    ("live-sample-class", lambda: _f("ddriqa.degradations.live_preset", "sample_live_param")("x", RNG), InputError,
     ["'x'"]),
    ("fast-fading-rng", lambda: _f("ddriqa.degradations.fastfading", "fast_fading")(U8, 20.0, None),
     InputError, ["NoneType"]),
    # read_image / write_image arguments
    ("read-dtype", lambda: read_image("x.png", dtype="float64"), InputError, ["'float64'"]),
    ("read-max-pixels", lambda: read_image("x.png", max_pixels=0), InputError, ["got 0"]),
    ("read-max-pixels-str", lambda: read_image("x.png", max_pixels="big"), InputError, ["'big'"]),
    ("read-path-none", lambda: read_image(None), InputError, ["NoneType"]),
    ("read-path-float", lambda: read_image(3.5), InputError, ["float 3.5"]),
    ("write-extension", lambda: _f("ddriqa.io", "write_image")("x.gif", U8), InputError, ["'.gif'"]),
    ("write-quality", lambda: _f("ddriqa.io", "write_image")("x.jpg", U8, quality=0), InputError, ["got 0"]),
    # classifier factories
    ("make-brisque-cv", lambda: mk_brisque(cv=1), InputError, ["got 1"]),
    ("make-brisque-c-grid", lambda: mk_brisque(C_grid=[]), InputError, ["C_grid", "got []"]),
    ("make-brisque-gamma-grid", lambda: mk_brisque(gamma_grid=[-1.0]), InputError, ["gamma_grid", "[-1.0]"]),
    ("make-brisque-grid-str", lambda: mk_brisque(C_grid="abc"), InputError, ["'abc'"]),
    ("make-ddr-n-components", lambda: mk_ddr_fit(n_components=0), InputError, ["got 0"]),
    ("make-ddr-solver", lambda: mk_ddr_fit(solver="svd"), InputError, ["got 'svd'"]),
    ("make-ddr-chunk-size", lambda: mk_ddr_fit(chunk_size=0), InputError, ["got 0"]),
    ("make-ddr-C", lambda: mk_ddr_fit(n_components=2, C=-1), ValueError, ["Got -1"]),  # scikit-learn's check
    # load_live
    ("load-live-missing", lambda: load_live("/nonexistent/live_db"), InputError, ["/nonexistent/live_db"]),
    ("load-live-file", lambda: load_live(__file__), InputError, [__file__, "not a folder"]),
    ("load-live-none", lambda: load_live(None), InputError, ["NoneType"]),
]


@pytest.mark.parametrize("call, exc_type, fragments", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_api_misuse_message_shows_what_was_received(call, exc_type, fragments):
    with pytest.raises(exc_type) as info:
        call()
    message = str(info.value)
    for fragment in fragments:
        assert re.search(re.escape(fragment), message), f"{fragment!r} not in {message!r}"


def test_case_ids_unique():
    ids = [c[0] for c in CASES]
    assert len(ids) == len(set(ids))


def test_load_live_empty_folder(tmp_path):
    with pytest.raises(InputError, match=re.escape(str(tmp_path))):
        load_live(tmp_path)


def test_classifier_factories_validate_grid_values():
    with pytest.raises(InputError, match=r"nan"):
        mk_brisque(C_grid=[1.0, float("nan")])
    pipe = mk_brisque(C_grid=[1, 2], gamma_grid=(0.5,))  # ints and tuples are fine
    assert pipe.named_steps["svm"].param_grid == {"C": [1.0, 2.0], "gamma": [0.5]}
