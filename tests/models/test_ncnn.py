"""Tests of the ncnn reader: a tiny RRDBNet exported by a writer below is read back exactly;
truncated, garbled and mismatched files are refused with messages that name the file and the fault."""

import struct

import numpy as np
import pytest
import torch

from ddriqa.errors import ModelFileError
from ddriqa.models.ncnn import (
    TAG_FLOAT16,
    TAG_FLOAT32,
    read_ncnn_convolutions,
    read_ncnn_param,
    rrdbnet_state_dict,
)
from ddriqa.models.rrdbnet import RRDBNet


# ------------------------------------------------------------------ a small ncnn writer
def export_ncnn(net, folder, name="net", float32=("conv_first", "conv_last")):
    """Write an RRDBNet as an ncnn .param/.bin pair with the graph layout of the Real-ESRGAN export.

    Convs named in ``float32`` are stored with the float32 tag, the others as float16.
    Returns the (param, bin) paths.
    """
    lines, data, blobs = [], bytearray(), set()
    counter = iter(range(10**6))

    def layer(kind, lname, bottoms, tops, fields=""):
        blobs.update(bottoms)
        blobs.update(tops)
        lines.append(f"{kind:<24} {lname:<24} {len(bottoms)} {len(tops)} {' '.join(bottoms + tops)} {fields}".rstrip())

    def conv(module_name, bottom, leaky):
        module = net.get_submodule(module_name)
        w = module.weight.detach().numpy()
        b = module.bias.detach().numpy().astype("<f4")
        top = f"b{next(counter)}"
        fields = f"0={w.shape[0]} 1={w.shape[3]} 4=1 5=1 6={w.size}"
        if leaky:
            fields += " 9=2 -23310=1,2.000000e-01"
        layer("Convolution", f"Conv_{module_name}", [bottom], [top], fields)
        if module_name in float32:
            data.extend(struct.pack("<I", TAG_FLOAT32) + w.astype("<f4").tobytes())
        else:
            raw = w.astype("<f2").tobytes()
            data.extend(struct.pack("<I", TAG_FLOAT16) + raw + b"\0" * (-len(raw) % 4))
        data.extend(b.tobytes())
        return top

    layer("Input", "input.1", [], ["data"])
    first = conv("conv_first", "data", False)
    x = first
    for i in range(net.num_blocks):
        block_in = x
        for j in (1, 2, 3):
            feats = [x]
            for k in range(1, 6):
                if len(feats) == 1:
                    src = x
                else:
                    src = f"b{next(counter)}"
                    layer("Concat", f"Concat_{i}_{j}_{k}", feats, [src])
                out = conv(f"body.{i}.rdb{j}.conv{k}", src, k < 5)
                feats.append(out)
            y = f"b{next(counter)}"
            layer("Eltwise", f"Add_{i}_{j}", [out, x], [y], "0=1 -23301=2,2.000000e-01,1.000000e+00")
            x = y
        z = f"b{next(counter)}"
        layer("Eltwise", f"Add_{i}", [x, block_in], [z], "0=1 -23301=2,2.000000e-01,1.000000e+00")
        x = z
    body = conv("conv_body", x, False)
    x = f"b{next(counter)}"
    layer("BinaryOp", "Add_trunk", [first, body], [x])
    for up in ("conv_up1", "conv_up2"):
        y = f"b{next(counter)}"
        layer("Interp", f"Resize_{up}", [x], [y], "0=1 1=2.000000e+00 2=2.000000e+00")
        x = conv(up, y, True)
    x = conv("conv_hr", x, True)
    conv("conv_last", x, False)
    param = folder / f"{name}.param"
    binf = folder / f"{name}.bin"
    param.write_text(f"7767517\n{len(lines)} {len(blobs)}\n" + "\n".join(lines) + "\n", encoding="utf-8")
    binf.write_bytes(bytes(data))
    return param, binf


def _net(num_blocks=2, seed=0):
    net = RRDBNet(num_features=8, num_blocks=num_blocks, growth=4).reset_parameters(torch.Generator().manual_seed(seed))
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():  # non-zero biases so that they are checked too
        for m in net.modules():
            if isinstance(m, torch.nn.Conv2d):
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
    return net.eval()


@pytest.fixture
def exported(tmp_path):
    net = _net()
    param, binf = export_ncnn(net, tmp_path)
    return net, param, binf


# ------------------------------------------------------------------ reading back
def test_reader_reproduces_the_weights_exactly(exported):
    net, param, binf = exported
    convs = read_ncnn_convolutions(param, binf)
    assert len(convs) == 15 * 2 + 6
    modules = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    for conv, module in zip(convs, modules):
        w = module.weight.detach().numpy()
        assert conv.weight.shape == w.shape and conv.in_channels == w.shape[1] and conv.kernel == (3, 3)
        stored = np.float32 if conv.name in ("Conv_conv_first", "Conv_conv_last") else np.float16
        assert conv.weight.dtype == stored
        np.testing.assert_array_equal(conv.weight, w.astype(stored))
        assert conv.bias.dtype == np.float32
        np.testing.assert_array_equal(conv.bias, module.bias.detach().numpy())
    assert convs[1].activation == "leaky_relu" and convs[1].activation_params == pytest.approx((0.2,))
    assert convs[5].activation is None  # conv5 of an RDB
    assert convs[0].padding == (1, 1, 1, 1) and convs[0].stride == (1, 1)


def test_mapped_state_dict_rebuilds_the_same_network(exported):
    net, param, binf = exported
    state, config = rrdbnet_state_dict(read_ncnn_convolutions(param, binf), source=param)
    assert config == net.config()
    again = RRDBNet(**config)
    again.load_state_dict({k: torch.from_numpy(np.array(v)).float() for k, v in state.items()}, strict=True)
    # the reference: the same network with the float16-stored weights rounded to float16
    rounded = _net()
    with torch.no_grad():
        for name, m in rounded.named_modules():
            if isinstance(m, torch.nn.Conv2d) and name not in ("conv_first", "conv_last"):
                m.weight.copy_(m.weight.half().float())
    x = torch.rand(1, 3, 6, 5, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        torch.testing.assert_close(again.eval()(x), rounded(x), rtol=0, atol=0)


def test_param_fields_and_arrays(tmp_path):
    path = tmp_path / "a.param"
    path.write_text(
        "7767517\n\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out 0=4 1=3 11=3 4=1 5=1 6=108 9=2 -23310=1,2.5e-01\n",
        encoding="utf-8",
    )
    layers = read_ncnn_param(path)
    assert [lay.type for lay in layers] == ["Input", "Convolution"]
    conv = layers[1]
    assert conv.bottoms == ("data",) and conv.tops == ("out",) and conv.line == 5
    assert conv.params == {0: 4, 1: 3, 11: 3, 4: 1, 5: 1, 6: 108, 9: 2, 10: (0.25,)}


def test_odd_float16_counts_are_padded_and_bias_is_optional(tmp_path):
    param = tmp_path / "odd.param"
    param.write_text(
        "7767517\n3 3\nInput in 0 1 data\nConvolution a 1 1 data x 0=1 1=1 5=0 6=3\n"
        "Convolution b 1 1 x y 0=1 1=1 5=1 6=1\n",
        encoding="utf-8",
    )
    w1 = np.array([1.5, -2.0, 0.25], "<f2")
    w2 = np.array([3.0], "<f2")
    data = struct.pack("<I", TAG_FLOAT16) + w1.tobytes() + b"\0\0"
    data += struct.pack("<I", TAG_FLOAT16) + w2.tobytes() + b"\0\0" + np.array([0.125], "<f4").tobytes()
    (tmp_path / "odd.bin").write_bytes(data)
    a, b = read_ncnn_convolutions(param, tmp_path / "odd.bin")
    assert a.weight.shape == (1, 3, 1, 1) and a.bias is None
    np.testing.assert_array_equal(a.weight.ravel(), w1)
    assert b.weight.ravel().tolist() == [3.0] and b.bias.tolist() == [0.125]


# ------------------------------------------------------------------ refusals
def _refused(match, param, binf=None):
    with pytest.raises(ModelFileError, match=match) as info:
        if binf is None:
            read_ncnn_param(param)
        else:
            read_ncnn_convolutions(param, binf)
    return info.value


def test_truncated_bin_is_refused(exported):
    _, param, binf = exported
    data = binf.read_bytes()
    binf.write_bytes(data[:-10])
    err = _refused(r"truncated: .*Conv_conv_last.* needs \d+ bytes at offset \d+, but the file has only", param, binf)
    assert err.path == str(binf)
    binf.write_bytes(data[:2])
    _refused("truncated: the storage tag of Convolution 'Conv_conv_first'", param, binf)


def test_leftover_bytes_are_refused(exported):
    _, param, binf = exported
    binf.write_bytes(binf.read_bytes() + b"\0" * 8)
    err = _refused("8 leftover bytes", param, binf)
    assert err.path == str(binf)


def test_unknown_storage_tag_is_refused(exported):
    _, param, binf = exported
    data = bytearray(binf.read_bytes())
    data[0:4] = struct.pack("<I", 0x000D4B38)  # ncnn's int8 tag
    binf.write_bytes(bytes(data))
    _refused(r"unknown storage tag 0x000D4B38 at offset 0 for Convolution 'Conv_conv_first'", param, binf)


def test_garbled_bin_is_refused(exported):
    _, param, binf = exported
    binf.write_bytes(np.random.default_rng(0).integers(0, 256, binf.stat().st_size, dtype=np.uint8).tobytes())
    _refused("unknown storage tag", param, binf)


def test_wrong_magic_and_binary_param(tmp_path, exported):
    _, param, binf = exported
    text = param.read_text(encoding="utf-8")
    param.write_text(text.replace("7767517", "7767518", 1), encoding="utf-8")
    err = _refused("wrong magic '7767518'", param)
    assert err.path == str(param)
    param.write_bytes(binf.read_bytes()[:64])
    _refused("not a text ncnn .param file|wrong magic", param)
    empty = tmp_path / "empty.param"
    empty.write_text("\n\n", encoding="utf-8")
    _refused("empty ncnn .param file", empty)


def test_count_mismatches_are_refused(exported):
    _, param, binf = exported
    lines = param.read_text(encoding="utf-8").splitlines()
    nl, nb = map(int, lines[1].split())
    param.write_text("\n".join([lines[0], f"{nl + 1} {nb}"] + lines[2:]) + "\n", encoding="utf-8")
    _refused(f"header announces {nl + 1} layers but the file has {nl} layer lines", param)
    param.write_text("\n".join([lines[0], f"{nl} {nb - 1}"] + lines[2:]) + "\n", encoding="utf-8")
    _refused(f"header announces {nb - 1} blobs but the layers name {nb} distinct blobs", param)
    param.write_text("\n".join([lines[0], "12"] + lines[2:]) + "\n", encoding="utf-8")
    _refused("expected '<layer count> <blob count>'", param)


@pytest.mark.parametrize(
    "line, match",
    [
        ("Convolution c 1 1 data out 0=4 1=3 5=1 6=abc", r"line 4: malformed field '6=abc'"),
        ("Convolution c 1 1 data out 0=4 1=3 5=1 6=108 -23310=2,0.2", "announces 2 values but has 1"),
        ("Convolution c 1 1 data", "fewer names"),
        ("Convolution c x 1 data out", "bad bottom/top counts"),
        ("Convolution c", "a layer line needs"),
    ],
)
def test_malformed_layer_lines(tmp_path, line, match):
    path = tmp_path / "bad.param"
    path.write_text(f"7767517\n2 2\nInput in 0 1 data\n{line}\n", encoding="utf-8")
    err = _refused(match, path)
    assert err.path == str(path)


@pytest.mark.parametrize(
    "fields, match",
    [
        ("0=4 1=3 5=1 6=100", "weight count 100 is not a multiple of out x kh x kw = 4 x 3 x 3"),
        ("0=4 1=3 5=1 6=108 8=1", "int8 quantised"),
        ("0=4 1=3 5=1 6=108 19=1", "dynamic-weight"),
        ("0=4 1=3 5=2 6=108", "bias flag"),
        ("0=4 5=1 6=108", "needs positive"),
        ("0=4 1=3.0 5=1 6=108", "must be an integer"),
        ("0=4 1=3 5=1 6=108 9=17", "unknown activation type"),
    ],
)
def test_unsupported_convolution_fields(tmp_path, fields, match):
    param = tmp_path / "c.param"
    param.write_text(f"7767517\n2 2\nInput in 0 1 data\nConvolution c 1 1 data out {fields}\n", encoding="utf-8")
    (tmp_path / "c.bin").write_bytes(b"")
    _refused(match, param, tmp_path / "c.bin")


def test_layers_that_may_own_weights_are_refused(tmp_path):
    param = tmp_path / "p.param"
    param.write_text("7767517\n2 2\nInput in 0 1 data\nInnerProduct fc 1 1 data out 0=4 1=1 2=12\n", encoding="utf-8")
    (tmp_path / "p.bin").write_bytes(b"")
    _refused("line 4: layer type 'InnerProduct' .* not supported", param, tmp_path / "p.bin")


def test_missing_files(tmp_path, exported):
    _, param, binf = exported
    _refused("no such ncnn .param file", tmp_path / "nope.param", binf)
    _refused("no such ncnn .bin file", param, tmp_path / "nope.bin")


def test_wrong_pair_is_refused(tmp_path, exported):
    net, param, binf = exported
    _, other_bin = export_ncnn(_net(num_blocks=1), tmp_path, name="other")
    _refused("truncated|unknown storage tag", param, other_bin)  # misaligned data: either fault
    small_param, _ = export_ncnn(_net(num_blocks=1), tmp_path, name="other")
    _refused("leftover bytes|unknown storage tag", small_param, binf)


# ------------------------------------------------------------------ the RRDBNet mapping
def test_mapping_checks_count_and_layout(exported):
    _, param, binf = exported
    convs = read_ncnn_convolutions(param, binf)
    with pytest.raises(ModelFileError, match="35 convolutions is not an RRDBNet") as info:
        rrdbnet_state_dict(convs[:-1], source=param)
    assert info.value.path == str(param)
    with pytest.raises(ModelFileError, match="expected 351 convolutions for 23 RRDB blocks, found 36"):
        rrdbnet_state_dict(convs, 23, source=param)
    assert rrdbnet_state_dict(convs, 2)[1]["num_blocks"] == 2
    swapped = convs[:1] + [convs[2], convs[1]] + convs[3:]
    with pytest.raises(ModelFileError, match=r"-> body.0.rdb1.conv1: shape \(4, 12, 3, 3\), expected \(4, 8, 3, 3\)"):
        rrdbnet_state_dict(swapped, source=param)
    no_act = list(convs)
    no_act[-2] = _replace(convs[-2], activation=None, activation_params=())
    with pytest.raises(ModelFileError, match=r"conv_hr: fused activation None \(\), expected LeakyReLU\(0.2\)"):
        rrdbnet_state_dict(no_act, source=param)
    no_bias = list(convs)
    no_bias[0] = _replace(convs[0], bias=None)
    with pytest.raises(ModelFileError, match="conv_first: has no bias"):
        rrdbnet_state_dict(no_bias, source=param)


def _replace(conv, **changes):
    import dataclasses

    return dataclasses.replace(conv, **changes)
