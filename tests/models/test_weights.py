"""Tests of the safetensors weights files: round trip, strict loading, shipped-name verification."""

import json
import pickle

import pytest
import torch

from ddriqa.errors import ModelFileError
from ddriqa.models.srcnn import SRCNN
from ddriqa.models.srresnet import SRResNet
from ddriqa.models.weights import (
    load_generator,
    load_weights,
    read_metadata,
    resolve_weights,
    save_weights,
    sha256_file,
    shipped_weights,
    write_provenance,
)


def _tiny(seed=0, **kw):
    torch.manual_seed(seed)
    return SRResNet(num_features=8, num_blocks=2, **kw).eval()


def test_round_trip_equal(tmp_path):
    net = _tiny()
    path = save_weights(net, tmp_path / "a.safetensors", metadata={"iterations": 10, "note": "x"})
    other = _tiny(seed=1)
    load_weights(other, path)
    for k, v in net.state_dict().items():
        torch.testing.assert_close(other.state_dict()[k], v, rtol=0, atol=0)
    meta = read_metadata(path)
    assert meta["arch"] == "SRResNet" and meta["config"] == net.config()
    assert meta["iterations"] == "10" and meta["note"] == "x"
    gen = load_generator(path)
    x = torch.rand(1, 3, 6, 6)
    with torch.inference_mode():
        torch.testing.assert_close(gen(x), net(x), rtol=0, atol=0)
    assert not gen.training


def test_load_generator_srcnn(tmp_path):
    net = SRCNN(num_layers=4, num_features=4)
    path = save_weights(net, tmp_path / "c.safetensors")
    gen = load_generator(path)
    assert isinstance(gen, SRCNN) and gen.config() == net.config()


def test_shape_mismatch_and_missing_key(tmp_path):
    path = save_weights(_tiny(), tmp_path / "a.safetensors")
    with pytest.raises(ModelFileError, match="shape mismatch: conv_first.weight"):
        load_weights(SRResNet(num_features=16, num_blocks=2), path)
    with pytest.raises(ModelFileError, match="missing keys: body.2"):
        load_weights(SRResNet(num_features=8, num_blocks=3), path)
    with pytest.raises(ModelFileError, match="unexpected keys: body.1"):
        load_weights(SRResNet(num_features=8, num_blocks=1), path)


def test_config_mismatch_refused_unless_asked(tmp_path):
    path = save_weights(_tiny(), tmp_path / "a.safetensors")
    wogr = SRResNet(num_features=8, num_blocks=2, global_residual=False)
    with pytest.raises(ModelFileError, match="global_residual"):
        load_weights(wogr, path)
    load_weights(wogr, path, check_config=False)


def test_non_safetensors_files_refused(tmp_path):
    pkl = tmp_path / "evil.safetensors"
    pkl.write_bytes(pickle.dumps({"conv_first.weight": [1, 2, 3]}))
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(bytes(range(256)) * 7)
    pt = tmp_path / "model.pt"
    torch.save(_tiny().state_dict(), pt)
    for path in (pkl, junk, pt):
        with pytest.raises(ModelFileError, match="not a readable safetensors") as info:
            load_weights(_tiny(), path)
        assert str(path) in str(info.value)
    with pytest.raises(ModelFileError, match="no such weights file"):
        load_weights(_tiny(), tmp_path / "absent.safetensors")


def test_non_finite_refused(tmp_path):
    net = _tiny()
    with torch.no_grad():
        net.conv_last.bias[0] = float("nan")
    path = save_weights(net, tmp_path / "nan.safetensors")
    with pytest.raises(ModelFileError, match="non-finite.*conv_last.bias"):
        load_weights(_tiny(), path)


def test_shipped_name_verified(tmp_path, monkeypatch):
    monkeypatch.setenv("DDRIQA_WEIGHTS_DIR", str(tmp_path))
    assert shipped_weights() == []
    with pytest.raises(ModelFileError, match="no weights are shipped"):
        resolve_weights("srgan_x4_gr")
    path = save_weights(_tiny(), tmp_path / "tiny_gr.safetensors")
    assert shipped_weights() == []  # no provenance yet: not a shipped file
    prov = write_provenance(path, command="test", iterations=0)
    record = json.loads(prov.read_text())
    assert record["sha256"] == sha256_file(path) and record["iterations"] == 0
    card = path.with_suffix(".md").read_text()  # the human-readable card of the same record
    assert card.startswith("# tiny_gr.safetensors") and f"| sha256 | {record['sha256']} |" in card
    assert "| command | test |" in card
    assert shipped_weights() == ["tiny_gr"]
    assert resolve_weights("tiny_gr") == path
    assert load_generator("tiny_gr").config() == _tiny().config()
    with pytest.raises(ModelFileError, match="available: tiny_gr"):
        resolve_weights("other")
    # tamper: one byte changed
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="sha256 mismatch: file was modified"):
        resolve_weights("tiny_gr")
    with pytest.raises(ModelFileError, match="sha256 mismatch"):
        load_generator("tiny_gr")


def test_missing_provenance_and_missing_path(tmp_path, monkeypatch):
    monkeypatch.setenv("DDRIQA_WEIGHTS_DIR", str(tmp_path))
    save_weights(_tiny(), tmp_path / "noprov.safetensors")
    with pytest.raises(ModelFileError, match="provenance"):
        resolve_weights("noprov")
    with pytest.raises(ModelFileError, match="no such weights file"):
        resolve_weights(str(tmp_path / "sub" / "x.safetensors"))


def test_metadata_without_arch(tmp_path):
    from safetensors.torch import save_file

    path = tmp_path / "plain.safetensors"
    save_file({k: v.contiguous() for k, v in _tiny().state_dict().items()}, str(path))
    load_weights(_tiny(seed=3), path)  # plain files load into a built network
    with pytest.raises(ModelFileError, match="architecture"):
        load_generator(path)


def test_every_committed_weights_file_has_matching_provenance():
    """Each .safetensors under weights/ (shipped backbones, resume states, snapshots) has a
    provenance JSON beside it that names its data, iterations, losses and validation figures and
    whose sha256 is the file's."""
    from conftest import REPO

    files = sorted((REPO / "weights").rglob("*.safetensors"))
    for path in files:
        prov = path.with_suffix(".json")
        assert prov.is_file(), f"{path} has no provenance file {prov.name}"
        record = json.loads(prov.read_text(encoding="utf-8"))
        assert record["sha256"] == sha256_file(path), path
        card = path.with_suffix(".md")
        assert card.is_file() and record["sha256"] in card.read_text(encoding="utf-8"), f"{card}: missing or stale"
        missing = {"data", "iterations", "step"} - set(record)
        assert not missing, f"{prov}: missing {sorted(missing)}"
        assert {"loss", "losses"} & set(record), f"{prov}: no loss"  # the trainer writes "loss"
        assert {"validation", "validation_psnr_y"} & set(record), f"{prov}: no validation figures"



def _torch_tensor_digest(path):
    """The tensor digest computed the slow way, through torch tensors (the definition)."""
    import hashlib

    from safetensors import safe_open

    h = hashlib.sha256()
    with safe_open(str(path), framework="pt") as f:
        for name in sorted(f.keys()):
            t = f.get_tensor(name).contiguous()
            h.update(f"{name}\0{str(t.dtype).removeprefix('torch.')}\0{tuple(t.shape)}\0".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def test_tensor_sha256_read_from_the_header_equals_the_digest_of_the_torch_tensors(tmp_path):
    from safetensors.torch import save_file

    from ddriqa.models.weights import tensor_sha256

    g = torch.Generator().manual_seed(0)
    tensors = {"w": torch.randn(4, 3, 3, 3, generator=g), "h": torch.randn(5, generator=g).half(),
               "b": torch.randn(7, generator=g).bfloat16(), "step": torch.tensor(12, dtype=torch.int64),
               "mask": torch.tensor([True, False]), "empty": torch.zeros(0, 3)}
    save_file(tensors, tmp_path / "a.safetensors", metadata={"note": "x"})
    assert tensor_sha256(tmp_path / "a.safetensors") == _torch_tensor_digest(tmp_path / "a.safetensors")
    tensors["w"][0, 0, 0, 0] += 1e-3  # one changed value changes the digest
    save_file(tensors, tmp_path / "b.safetensors")
    assert tensor_sha256(tmp_path / "b.safetensors") != tensor_sha256(tmp_path / "a.safetensors")


@pytest.mark.parametrize("body", [b"", b"\x01\x00", (10**9).to_bytes(8, "little") + b"{}",
                                  (2).to_bytes(8, "little") + b"[]",
                                  (60).to_bytes(8, "little") + b'{"t":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}'])
def test_tensor_sha256_refuses_broken_files(tmp_path, body):
    from ddriqa.models.weights import tensor_sha256

    (tmp_path / "x.safetensors").write_bytes(body)
    with pytest.raises(ValueError):
        tensor_sha256(tmp_path / "x.safetensors")
