"""Untrusted model files: a pickle that would run code is refused everywhere, and never runs.

A file whose unpickling calls ``os.system`` (a class with ``__reduce__``) is placed where ddriqa
expects a classifier (``.npz``, through the API and through ``ddriqa classify --model``) and
where it expects network weights (``.safetensors`` and ``.pt`` paths, through the API and
through a classifier that names them). Every load must fail with the package's error naming the
file, and the marker file the payload would create must never appear. The sha256 refusal of a
tampered shipped weights file is in tests/models/test_weights.py (test_shipped_name_verified).
"""

from __future__ import annotations

import io
import os
import pickle
import shlex
import zipfile

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import textured_image

from ddriqa.errors import ModelFileError


class _Payload:
    """Unpickling this calls os.system("touch <marker>")."""

    def __init__(self, marker):
        self.marker = os.fspath(marker)

    def __reduce__(self):
        return (os.system, (f"touch {shlex.quote(self.marker)}",))


def _evil_pickle(marker):
    return pickle.dumps({"model": _Payload(marker)}, protocol=2)


def _evil_torch_zip(marker):
    """A file laid out like torch.save's zip archive, whose data.pkl holds the payload."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("archive/data.pkl", _evil_pickle(marker))
        z.writestr("archive/version", "3\n")
    return buf.getvalue()


def _evil_npy(marker):
    """A .npy member with an object array whose pickle holds the payload."""
    buf = io.BytesIO()
    np.save(buf, np.array([_Payload(marker)], dtype=object), allow_pickle=True)
    return buf.getvalue()


def _evil_npz(marker):
    """An .npz archive (the classifier format) whose members need pickle to be read."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("__ddriqa_classifier__.npy", _evil_npy(marker))
        z.writestr("a0.npy", _evil_npy(marker))
    return buf.getvalue()


KINDS = {"pickle": _evil_pickle, "torch_zip": _evil_torch_zip, "npy": _evil_npy, "npz": _evil_npz}


@pytest.fixture
def marker(tmp_path):
    path = tmp_path / "PWNED"
    # the payload does work when unpickled: the test would notice it if a loader did
    pickle.loads(_evil_pickle(path))
    assert path.exists()
    path.unlink()
    yield path
    assert not path.exists(), "a malicious pickle was executed"


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_classifier_path_refused(tmp_path, marker, kind):
    from ddriqa.classification.persistence import load_classifier

    path = tmp_path / f"evil_{kind}.npz"
    path.write_bytes(KINDS[kind](marker))
    with pytest.raises(ModelFileError) as info:
        load_classifier(path)
    assert str(path) in str(info.value)
    assert "classifier" in str(info.value) or "pickle" in str(info.value)


@pytest.mark.parametrize("suffix", [".safetensors", ".pt", ".pth", ".bin"])
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_weights_path_refused(tmp_path, marker, kind, suffix):
    from ddriqa.features.ddr import DDRExtractor
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import load_generator, load_weights, read_metadata

    path = tmp_path / f"evil_{kind}{suffix}"
    path.write_bytes(KINDS[kind](marker))
    calls = [
        lambda: load_generator(path),
        lambda: load_weights(SRResNet(num_features=4, num_blocks=1), path),
        lambda: read_metadata(path),
        lambda: DDRExtractor(weights=str(path), device="cpu").fit(),
    ]
    for call in calls:
        with pytest.raises(ModelFileError, match="not a readable safetensors weights file") as info:
            call()
        assert str(path) in str(info.value)


def test_cli_classify_refuses_evil_model(tmp_path, marker):
    from PIL import Image

    from ddriqa.cli import main

    folder = tmp_path / "imgs"
    folder.mkdir()
    Image.fromarray(textured_image(40, 40)).save(folder / "a.png")
    for kind in sorted(KINDS):
        model = tmp_path / f"evil_{kind}.npz"
        model.write_bytes(KINDS[kind](marker))
        result = CliRunner().invoke(main, ["classify", str(folder), "--model", str(model)])
        assert result.exit_code == 2, (kind, result.output)
        assert str(model) in result.output, (kind, result.output)


def test_classifier_naming_evil_weights_refused(tmp_path, marker):
    """A genuine classifier file whose DDR backbone path was later replaced by a pickle."""
    from ddriqa.classification.persistence import load_classifier, save_classifier
    from ddriqa.classification.pipelines import make_ddr_classifier
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import save_weights

    weights = save_weights(SRResNet(num_features=4, num_blocks=1), tmp_path / "backbone.safetensors")
    images = [textured_image(12, 12, seed=i) for i in range(6)]
    model = make_ddr_classifier(weights=str(weights), layer="ResBlock1", crop=8, n_components=2,
                                device="cpu").fit(images, ["a", "b"] * 3)
    path = save_classifier(model, tmp_path / "clf.npz")
    weights.write_bytes(_evil_pickle(marker))
    with pytest.raises(ModelFileError, match="sha256") as info:
        load_classifier(path)
    assert str(weights) in str(info.value)
