"""Read the convolution weights of an ncnn model (``.param`` text graph + ``.bin`` weights).

Only what third-party SR models such as Real-ESRGAN x4plus need is supported:

* the text ``.param`` format: the magic ``7767517``, a line ``<layer count> <blob count>``, then
  one line per layer ``<type> <name> <n bottoms> <n tops> <bottoms...> <tops...> <k=v ...>``
  (arrays as ``-233xx=<count>,<v1>,...``);
* ``Convolution`` layers, whose data lie in the ``.bin`` in the order of the ``.param`` file: a
  4-byte little-endian storage tag, ``0x01306B47`` for float16 (``weight_data_size`` values padded
  to a multiple of 4 bytes) or ``0x00000000`` for float32, in ``[out, in, kh, kw]`` order; then,
  when ``5=1``, ``out`` raw float32 biases;
* weightless layers (``Input``, ``Split``, ``Concat``, ``Eltwise``, ``BinaryOp``, ``Interp``,
  activations ...), which are parsed but carry no data.

A layer type that may own ``.bin`` data (``InnerProduct``, ``Deconvolution``, ``BatchNorm`` ...),
int8 / quantised storage or dynamic weights are refused. The bytes consumed must equal the
``.bin`` size exactly. Every malformed input raises :class:`~ddriqa.errors.ModelFileError` naming
the file and what was wrong.

:func:`rrdbnet_state_dict` maps the convolutions of an exported ESRGAN RRDBNet onto the
``state_dict`` of :class:`ddriqa.models.rrdbnet.RRDBNet`.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddriqa.errors import ModelFileError

__all__ = [
    "NCNN_MAGIC",
    "TAG_FLOAT16",
    "TAG_FLOAT32",
    "NcnnConvolution",
    "NcnnLayer",
    "read_ncnn_convolutions",
    "read_ncnn_param",
    "rrdbnet_state_dict",
]

NCNN_MAGIC = 7767517
TAG_FLOAT16 = 0x01306B47
TAG_FLOAT32 = 0x00000000

#: layer types that never own data in the .bin file (parsed and skipped)
_WEIGHTLESS = frozenset(
    {
        "Input", "Split", "Concat", "Eltwise", "BinaryOp", "Interp", "ReLU", "Sigmoid", "TanH",
        "Clip", "Swish", "HardSigmoid", "HardSwish", "Mish", "PixelShuffle", "Reshape", "Permute",
        "Flatten", "Crop", "Slice", "Noop", "Dropout", "Pooling", "UnaryOp", "Softmax",
    }
)
#: ncnn activation_type (``9=``) -> name
_ACTIVATIONS = {0: None, 1: "relu", 2: "leaky_relu", 3: "clip", 4: "sigmoid", 5: "mish", 6: "hardswish"}
_ARRAY_KEY_BASE = -23300


@dataclass(frozen=True)
class NcnnLayer:
    """One layer line of a ``.param`` file.

    Attributes
    ----------
    type, name : str
    bottoms, tops : tuple of str
        Input and output blob names.
    params : dict
        ``{id: value}``; a value is an int, a float, or a tuple for an array field.
    line : int
        1-based line number in the ``.param`` file.
    """

    type: str
    name: str
    bottoms: tuple
    tops: tuple
    params: dict
    line: int


@dataclass(frozen=True, eq=False)
class NcnnConvolution:
    """The data of one ncnn ``Convolution`` layer.

    Attributes
    ----------
    name : str
        Layer name in the ``.param`` file.
    out_channels, in_channels : int
        ``in_channels`` is derived from the weight count (``6=``).
    kernel, stride, dilation : tuple of int
        ``(kh, kw)`` each.
    padding : tuple of int
        ``(top, bottom, left, right)`` as stored (ncnn uses negative values for "same" padding).
    weight : numpy.ndarray of shape (out, in, kh, kw)
        float16 or float32, exactly as stored.
    bias : numpy.ndarray of shape (out,) float32, or None
        None when the layer has no bias (``5=0``).
    activation : str or None
        Fused activation (``9=``): None, ``"relu"``, ``"leaky_relu"``, ...
    activation_params : tuple of float
        Its parameters (``10=`` array), e.g. ``(0.2,)`` for a LeakyReLU slope.
    line : int
        1-based line number in the ``.param`` file.
    """

    name: str
    out_channels: int
    in_channels: int
    kernel: tuple
    stride: tuple
    dilation: tuple
    padding: tuple
    weight: np.ndarray
    bias: np.ndarray | None
    activation: str | None
    activation_params: tuple
    line: int


def _number(text):
    """An ncnn value: float when it has a '.' or an exponent, int otherwise (ValueError if neither)."""
    if any(c in text for c in ".eE"):
        return float(text)
    return int(text)


def _parse_fields(tokens, path, lineno):
    params = {}
    for tok in tokens:
        key, sep, value = tok.partition("=")
        try:
            if not sep:
                raise ValueError
            key = int(key)
            if key <= _ARRAY_KEY_BASE:
                items = value.split(",")
                count = int(items[0])
                values = tuple(_number(v) for v in items[1:])
            else:
                params[key] = _number(value)
                continue
        except ValueError:
            raise ModelFileError(path, f"line {lineno}: malformed field {tok!r} (expected <int id>=<number>)") from None
        if count != len(values):
            raise ModelFileError(path, f"line {lineno}: array field {tok!r} announces {count} values but has {len(values)}")
        params[_ARRAY_KEY_BASE - key] = values
    return params


def read_ncnn_param(path):
    """Parse an ncnn text ``.param`` file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    list of NcnnLayer
        In file order.

    Raises
    ------
    ModelFileError
        Unreadable or non-text file, wrong magic, malformed header or layer line, or layer /
        blob counts that differ from the header.

    Examples
    --------
    >>> import pathlib, tempfile
    >>> from ddriqa.models.ncnn import read_ncnn_param
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "net.param"
    >>> _ = p.write_text("7767517\\n2 2\\nInput in 0 1 data\\n"
    ...                  "Convolution conv 1 1 data out 0=4 1=3 4=1 5=1 6=108 9=2 -23310=1,0.2\\n")
    >>> layers = read_ncnn_param(p)
    >>> layers[1].type, layers[1].params[0], layers[1].params[10]
    ('Convolution', 4, (0.2,))
    """
    path = Path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise ModelFileError(path, "no such ncnn .param file") from None
    except UnicodeDecodeError:
        raise ModelFileError(path, "not a text ncnn .param file (not UTF-8; binary .param.bin files are not supported)") from None
    except OSError as exc:
        raise ModelFileError(path, f"cannot read the ncnn .param file ({exc})") from None
    lines = [(i, line.split()) for i, line in enumerate(text.splitlines(), start=1)]
    lines = [(i, toks) for i, toks in lines if toks]
    if not lines:
        raise ModelFileError(path, "empty ncnn .param file")
    (_, first), rest = lines[0], lines[1:]
    if first != [str(NCNN_MAGIC)]:
        raise ModelFileError(path, f"wrong magic {' '.join(first)[:40]!r} on the first line (expected {NCNN_MAGIC})")
    if not rest:
        raise ModelFileError(path, "no '<layer count> <blob count>' line after the magic")
    (hline, header), body = rest[0], rest[1:]
    try:
        if len(header) != 2:
            raise ValueError
        layer_count, blob_count = int(header[0]), int(header[1])
    except ValueError:
        raise ModelFileError(path, f"line {hline}: expected '<layer count> <blob count>', got {' '.join(header)[:60]!r}") from None
    layers = []
    blobs = set()
    for lineno, toks in body:
        if len(toks) < 4:
            raise ModelFileError(path, f"line {lineno}: a layer line needs '<type> <name> <n bottoms> <n tops>', got {' '.join(toks)[:60]!r}")
        try:
            nb, nt = int(toks[2]), int(toks[3])
            if nb < 0 or nt < 0:
                raise ValueError
        except ValueError:
            raise ModelFileError(path, f"line {lineno}: bad bottom/top counts {toks[2]!r} {toks[3]!r}") from None
        if len(toks) < 4 + nb + nt:
            raise ModelFileError(path, f"line {lineno}: layer {toks[1]!r} announces {nb} bottoms and {nt} tops but has fewer names")
        names = toks[4 : 4 + nb + nt]
        if any("=" in n for n in names):
            raise ModelFileError(path, f"line {lineno}: layer {toks[1]!r} has fewer blob names than its counts ({nb} bottoms, {nt} tops)")
        params = _parse_fields(toks[4 + nb + nt :], path, lineno)
        layers.append(NcnnLayer(toks[0], toks[1], tuple(names[:nb]), tuple(names[nb:]), params, lineno))
        blobs.update(names)
    if len(layers) != layer_count:
        raise ModelFileError(path, f"header announces {layer_count} layers but the file has {len(layers)} layer lines")
    if len(blobs) != blob_count:
        raise ModelFileError(path, f"header announces {blob_count} blobs but the layers name {len(blobs)} distinct blobs")
    return layers


def _conv_geometry(layer, path):
    """Validated geometry of a Convolution layer: (out, in, kernel, stride, dilation, padding, bias, act, act_params, count)."""
    p = layer.params
    where = f"line {layer.line} (Convolution {layer.name!r})"

    def get_int(key, default):
        value = p.get(key, default)
        if not isinstance(value, int) or isinstance(value, bool):
            raise ModelFileError(path, f"{where}: field {key}= must be an integer, got {value!r}")
        return value

    out = get_int(0, 0)
    kw = get_int(1, 0)
    kh = get_int(11, kw)
    dw = get_int(2, 1)
    dh = get_int(12, dw)
    sw = get_int(3, 1)
    sh = get_int(13, sw)
    pl = get_int(4, 0)
    pt = get_int(14, pl)
    pr = get_int(15, pl)
    pb = get_int(16, pt)
    bias = get_int(5, 0)
    count = get_int(6, 0)
    if out < 1 or kw < 1 or kh < 1 or count < 1:
        raise ModelFileError(path, f"{where}: needs positive 0= (out), 1= (kernel) and 6= (weight count), got {out}, {kw}x{kh}, {count}")
    if bias not in (0, 1):
        raise ModelFileError(path, f"{where}: bias flag 5= must be 0 or 1, got {bias}")
    if get_int(8, 0) != 0:
        raise ModelFileError(path, f"{where}: int8 quantised convolutions (8={p[8]}) are not supported")
    if get_int(19, 0) != 0:
        raise ModelFileError(path, f"{where}: dynamic-weight convolutions (19={p[19]}) are not supported")
    if count % (out * kh * kw):
        raise ModelFileError(
            path, f"{where}: weight count {count} is not a multiple of out x kh x kw = {out} x {kh} x {kw}"
        )
    act_type = get_int(9, 0)
    if act_type not in _ACTIVATIONS:
        raise ModelFileError(path, f"{where}: unknown activation type 9={act_type}")
    act_params = p.get(10, ())
    if not isinstance(act_params, tuple):
        act_params = (act_params,)
    return (out, count // (out * kh * kw), (kh, kw), (sh, sw), (dh, dw), (pt, pb, pl, pr), bool(bias),
            _ACTIVATIONS[act_type], tuple(float(v) for v in act_params), count)


def read_ncnn_convolutions(param_path, bin_path):
    """The ``Convolution`` layers of an ncnn model with their weights, in file order.

    Parameters
    ----------
    param_path : str or os.PathLike
        The text ``.param`` graph.
    bin_path : str or os.PathLike
        The ``.bin`` weights.

    Returns
    -------
    list of NcnnConvolution

    Raises
    ------
    ModelFileError
        Any problem of :func:`read_ncnn_param`; a layer type that may own ``.bin`` data; a
        convolution field this reader does not support; an unknown storage tag; a ``.bin`` file
        that is too short (truncated) or longer (leftover bytes) than the convolutions need.

    Examples
    --------
    >>> import pathlib, struct, tempfile
    >>> import numpy as np
    >>> from ddriqa.models.ncnn import read_ncnn_convolutions
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = (d / "net.param").write_text("7767517\\n2 2\\nInput in 0 1 data\\n"
    ...                                  "Convolution conv 1 1 data out 0=2 1=1 5=1 6=6\\n")
    >>> w = np.arange(6, dtype="<f2")
    >>> b = np.array([0.5, -1.0], dtype="<f4")
    >>> _ = (d / "net.bin").write_bytes(struct.pack("<I", 0x01306B47) + w.tobytes() + b.tobytes())
    >>> conv, = read_ncnn_convolutions(d / "net.param", d / "net.bin")
    >>> conv.weight.shape, conv.weight.dtype, conv.bias.tolist()
    ((2, 3, 1, 1), dtype('float16'), [0.5, -1.0])
    """
    param_path, bin_path = Path(param_path), Path(bin_path)
    layers = read_ncnn_param(param_path)
    try:
        data = bin_path.read_bytes()
    except FileNotFoundError:
        raise ModelFileError(bin_path, "no such ncnn .bin file") from None
    except OSError as exc:
        raise ModelFileError(bin_path, f"cannot read the ncnn .bin file ({exc})") from None
    size = len(data)
    offset = 0
    convs = []

    def take(nbytes, what, layer):
        nonlocal offset
        if offset + nbytes > size:
            raise ModelFileError(
                bin_path,
                f"truncated: {what} of Convolution {layer.name!r} (param line {layer.line}) needs {nbytes} bytes "
                f"at offset {offset}, but the file has only {size} bytes",
            )
        start = offset
        offset += nbytes
        return start

    for layer in layers:
        if layer.type in _WEIGHTLESS:
            continue
        if layer.type != "Convolution":
            raise ModelFileError(
                param_path,
                f"line {layer.line}: layer type {layer.type!r} ({layer.name!r}) is not supported; this reader "
                "handles Convolution weights and weightless layers only",
            )
        out, cin, kernel, stride, dilation, padding, has_bias, act, act_params, count = _conv_geometry(layer, param_path)
        at = take(4, "the storage tag", layer)
        (tag,) = struct.unpack_from("<I", data, at)
        if tag == TAG_FLOAT16:
            at = take((2 * count + 3) // 4 * 4, f"{count} float16 weights", layer)
            weight = np.frombuffer(data, dtype="<f2", count=count, offset=at).astype(np.float16)
        elif tag == TAG_FLOAT32:
            at = take(4 * count, f"{count} float32 weights", layer)
            weight = np.frombuffer(data, dtype="<f4", count=count, offset=at).astype(np.float32)
        else:
            raise ModelFileError(
                bin_path,
                f"unknown storage tag 0x{tag:08X} at offset {at} for Convolution {layer.name!r} (param line "
                f"{layer.line}); supported: 0x{TAG_FLOAT16:08X} (float16), 0x{TAG_FLOAT32:08X} (float32)",
            )
        bias = None
        if has_bias:
            at = take(4 * out, f"{out} float32 biases", layer)
            bias = np.frombuffer(data, dtype="<f4", count=out, offset=at).astype(np.float32)
        convs.append(
            NcnnConvolution(
                name=layer.name,
                out_channels=out,
                in_channels=cin,
                kernel=kernel,
                stride=stride,
                dilation=dilation,
                padding=padding,
                weight=weight.reshape(out, cin, *kernel),
                bias=bias,
                activation=act,
                activation_params=act_params,
                line=layer.line,
            )
        )
    if offset != size:
        raise ModelFileError(
            bin_path,
            f"{size - offset} leftover bytes: the {len(convs)} convolutions of {param_path.name} use {offset} bytes "
            f"but the file has {size} (wrong .param/.bin pair?)",
        )
    return convs


def _rrdbnet_layout(num_blocks, nf, growth, cin, cout):
    """``[(name, in, out, leaky_relu)]`` of the RRDBNet convs in module order."""
    layout = [("conv_first", cin, nf, False)]
    for i in range(num_blocks):
        for j in (1, 2, 3):
            for k in range(1, 6):
                c_in = nf + (k - 1) * growth
                layout.append((f"body.{i}.rdb{j}.conv{k}", c_in, growth if k < 5 else nf, k < 5))
    layout += [
        ("conv_body", nf, nf, False),
        ("conv_up1", nf, nf, True),
        ("conv_up2", nf, nf, True),
        ("conv_hr", nf, nf, True),
        ("conv_last", nf, cout, False),
    ]
    return layout


def rrdbnet_state_dict(convs, num_blocks=None, *, source=None):
    """Map the convolutions of an exported ESRGAN RRDBNet onto an ``RRDBNet`` state_dict.

    Parameters
    ----------
    convs : list of NcnnConvolution
        As returned by :func:`read_ncnn_convolutions` (file order = RRDBNet order).
    num_blocks : int, optional
        Expected number of RRDB blocks; default: derived from the count, ``(n - 6) / 15``.
    source : str or os.PathLike, optional
        The file named in error messages.

    Returns
    -------
    state_dict : dict of str to numpy.ndarray
        ``<module>.weight`` (dtype as stored, float16 or float32) and ``<module>.bias`` (float32).
    config : dict
        Keyword arguments of :class:`ddriqa.models.rrdbnet.RRDBNet`.

    Raises
    ------
    ModelFileError
        Wrong number of convolutions, a conv that is not 3x3 / stride 1 / padding 1 / with bias,
        channel counts or fused activations that do not follow the RRDBNet layout.
    """
    source = os.fspath(source) if source is not None else "<ncnn convolutions>"
    n = len(convs)
    if num_blocks is None:
        if n < 6 or (n - 6) % 15:
            raise ModelFileError(source, f"{n} convolutions is not an RRDBNet (expected 15 x num_blocks + 6, e.g. 351 for 23 blocks)")
        num_blocks = (n - 6) // 15
    elif n != 15 * int(num_blocks) + 6:
        raise ModelFileError(source, f"expected {15 * int(num_blocks) + 6} convolutions for {num_blocks} RRDB blocks, found {n}")
    num_blocks = int(num_blocks)
    nf, cin = convs[0].out_channels, convs[0].in_channels
    growth = convs[1].out_channels if num_blocks else 32
    cout = convs[-1].out_channels
    layout = _rrdbnet_layout(num_blocks, nf, growth, cin, cout)
    state = {}
    for conv, (name, c_in, c_out, leaky) in zip(convs, layout):
        where = f"convolution {conv.name!r} (param line {conv.line}) -> {name}"
        if (conv.out_channels, conv.in_channels, conv.kernel) != (c_out, c_in, (3, 3)):
            raise ModelFileError(
                source,
                f"{where}: shape {(conv.out_channels, conv.in_channels, *conv.kernel)}, expected {(c_out, c_in, 3, 3)}",
            )
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or conv.padding != (1, 1, 1, 1):
            raise ModelFileError(
                source, f"{where}: stride {conv.stride} dilation {conv.dilation} padding {conv.padding}, expected 1 / 1 / 1"
            )
        if conv.bias is None:
            raise ModelFileError(source, f"{where}: has no bias, RRDBNet convs all have one")
        act_ok = (conv.activation == "leaky_relu" and len(conv.activation_params) == 1 and abs(conv.activation_params[0] - 0.2) < 1e-6) if leaky else conv.activation is None
        if not act_ok:
            expected = "LeakyReLU(0.2)" if leaky else "no activation"
            raise ModelFileError(source, f"{where}: fused activation {conv.activation} {conv.activation_params}, expected {expected}")
        state[f"{name}.weight"] = conv.weight
        state[f"{name}.bias"] = conv.bias
    config = {
        "num_features": nf,
        "num_blocks": num_blocks,
        "growth": growth,
        "scale": 4,
        "in_channels": cin,
        "out_channels": cout,
    }
    return state, config
