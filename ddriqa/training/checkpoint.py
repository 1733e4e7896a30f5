"""Training checkpoints for exact resume: safetensors tensors + JSON state, no pickles.

A checkpoint is a folder (written as ``<name>.tmp`` and renamed, so a run killed while saving
keeps its previous checkpoint):

* ``generator.safetensors`` -- the generator's float32 weights in the format of
  :func:`ddriqa.models.weights.save_weights` (so it is also a usable weights file), with the
  whole JSON training state in its ``train_state`` metadata: step, optimizer hyper-parameters,
  Python / numpy / torch RNG states, the patch sampler's state, the run configuration;
* ``g_optim.safetensors`` -- the generator's Adam moments (twice the weights' size). Without
  it a run still resumes (step, schedule, sampler and RNG continue) but Adam restarts from zero
  moments: a *light*, inexact resume that needs only the 6 MB weights file to travel;
* for SRGAN, ``discriminator.safetensors`` and ``discriminator_optim.safetensors``.

Any tensor file larger than ``max_file_mib`` is split into shards
``<stem>-00001-of-0000N.safetensors`` (a full-size VGG discriminator is 58 MB in float32 and its
Adam moments another 116 MB). ``d_dtype="bfloat16"`` halves the discriminator's file and
``save_d_optimizer=False`` drops its Adam moments: about 29 MB (two shards) instead of 174 MB,
at the price of an *inexact* resume (the discriminator's weights are rounded to bfloat16 and
its Adam moments restart from zero, which briefly makes its updates larger).
"""

from __future__ import annotations

import base64
import json
import os
import random
import shutil
from pathlib import Path

import numpy as np

from ddriqa.errors import ModelFileError

__all__ = [
    "capture_rng_state",
    "load_checkpoint",
    "load_tensor_file",
    "optimizer_from_tensors",
    "optimizer_to_tensors",
    "read_train_state",
    "restore_rng_state",
    "save_checkpoint",
    "save_snapshot",
    "save_tensor_file",
]

_SUFFIX = ".safetensors"


# -- tensor files --------------------------------------------------------------------------
def _write_safetensors(tensors, path, metadata):
    """Write a safetensors file via a temporary name, with the default mode (0666 & ~umask).

    safetensors' own ``save_file`` (0.8) creates its files with mode 0600, unlike every other
    output; the bytes are therefore serialised in memory and written by Python.
    """
    from safetensors.torch import save

    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(save(tensors, metadata=metadata))
    os.replace(tmp, path)
    return path


def save_tensor_file(tensors, stem, metadata=None, max_file_mib=None):
    """Write ``tensors`` to ``<stem>.safetensors``, or shards when larger than ``max_file_mib``.

    Returns the list of files written.
    """
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().to("cpu").contiguous() for k, v in tensors.items()}
    meta = {k: (v if isinstance(v, str) else json.dumps(v)) for k, v in (metadata or {}).items()}
    limit = None if max_file_mib is None else int(max_file_mib * 2**20) - 2**16  # headroom for the header
    shards, current, size = [], {}, 0
    for key in sorted(tensors):
        nbytes = tensors[key].numel() * tensors[key].element_size()
        if limit is not None and current and size + nbytes > limit:
            shards.append(current)
            current, size = {}, 0
        current[key] = tensors[key]
        size += nbytes
    shards.append(current)
    if len(shards) == 1:
        paths = [stem.with_name(stem.name + _SUFFIX)]
    else:
        n = len(shards)
        paths = [stem.with_name(f"{stem.name}-{i + 1:05d}-of-{n:05d}{_SUFFIX}") for i in range(n)]
    for path, shard in zip(paths, shards):
        _write_safetensors(shard, path, meta)
    return paths


def _tensor_files(stem):
    stem = Path(stem)
    single = stem.with_name(stem.name + _SUFFIX)
    if single.is_file():
        return [single]
    return sorted(stem.parent.glob(f"{stem.name}-?????-of-?????{_SUFFIX}"))


def load_tensor_file(stem):
    """Read ``<stem>.safetensors`` (or all its shards): returns ``(tensors, metadata)``."""
    from safetensors import safe_open

    paths = _tensor_files(stem)
    if not paths:
        raise ModelFileError(Path(stem).with_name(Path(stem).name + _SUFFIX), "no such checkpoint file")
    tensors, metadata = {}, {}
    for path in paths:
        try:
            with safe_open(os.fspath(path), framework="pt", device="cpu") as fh:
                metadata.update(fh.metadata() or {})
                for k in fh.keys():
                    tensors[k] = fh.get_tensor(k)
        except Exception as exc:
            raise ModelFileError(path, f"unreadable checkpoint file ({type(exc).__name__}: {exc})") from None
    return tensors, metadata


# -- RNG -----------------------------------------------------------------------------------
def capture_rng_state():
    """Python, numpy (global) and torch (CPU, CUDA) RNG states: ``(json_state, tensors)``."""
    import torch

    py = random.getstate()
    np_state = np.random.get_state()
    state = {
        "python": [py[0], list(py[1]), py[2]],
        "numpy": [np_state[0], np_state[1].tolist(), int(np_state[2]), int(np_state[3]), float(np_state[4])],
    }
    tensors = {"rng.torch_cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        for i, s in enumerate(torch.cuda.get_rng_state_all()):
            tensors[f"rng.cuda.{i}"] = s
    return state, tensors


def restore_rng_state(state, tensors):
    """Inverse of :func:`capture_rng_state`."""
    import torch

    py = state["python"]
    random.setstate((py[0], tuple(py[1]), py[2]))
    n = state["numpy"]
    np.random.set_state((n[0], np.asarray(n[1], dtype=np.uint32), n[2], n[3], n[4]))
    torch.set_rng_state(tensors["rng.torch_cpu"])
    cuda = sorted(k for k in tensors if k.startswith("rng.cuda."))
    if cuda and torch.cuda.is_available():
        states = [tensors[k] for k in sorted(cuda, key=lambda k: int(k.rsplit(".", 1)[1]))]
        torch.cuda.set_rng_state_all(states[: torch.cuda.device_count()])


# -- optimizers ----------------------------------------------------------------------------
def optimizer_to_tensors(optimizer, prefix):
    """Split ``optimizer.state_dict()`` into tensors (``prefix.<param>.<key>``) and JSON."""
    import torch

    sd = optimizer.state_dict()
    tensors, scalars = {}, {}
    for idx, st in sd["state"].items():
        for key, value in st.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{prefix}.{idx}.{key}"] = value
            else:
                scalars[f"{idx}.{key}"] = value
    groups = json.loads(json.dumps(sd["param_groups"], default=lambda o: list(o) if isinstance(o, tuple) else str(o)))
    return tensors, {"param_groups": groups, "scalars": scalars}


def optimizer_from_tensors(optimizer, tensors, info, prefix):
    """Load the output of :func:`optimizer_to_tensors` into ``optimizer``."""
    state = {}
    head = prefix + "."
    for key, value in tensors.items():
        if key.startswith(head):
            idx, name = key[len(head) :].split(".", 1)
            state.setdefault(int(idx), {})[name] = value
    for key, value in info.get("scalars", {}).items():
        idx, name = key.split(".", 1)
        state.setdefault(int(idx), {})[name] = value
    groups = json.loads(json.dumps(info["param_groups"]))
    for g, current in zip(groups, optimizer.param_groups):
        if "betas" in g:
            g["betas"] = tuple(g["betas"])
        for key in ("fused", "foreach", "capturable", "differentiable"):  # this machine's implementation
            if key in current:
                g[key] = current[key]
    optimizer.load_state_dict({"state": state, "param_groups": groups})


# -- checkpoints ---------------------------------------------------------------------------
def _cpu_copy(model):
    return {k: v.detach().to("cpu").contiguous() for k, v in model.state_dict().items()}


def _read_meta(path):
    from safetensors import safe_open

    try:
        with safe_open(os.fspath(path), framework="pt", device="cpu") as fh:
            return dict(fh.metadata() or {})
    except Exception as exc:
        raise ModelFileError(path, f"unreadable checkpoint file ({type(exc).__name__}: {exc})") from None


def read_train_state(gen_file):
    """The JSON training state stored in a checkpoint generator's ``train_state`` metadata."""
    try:
        return json.loads(_read_meta(gen_file)["train_state"])
    except (KeyError, ValueError):
        raise ModelFileError(gen_file, "no train_state metadata, or unreadable (not a training checkpoint)") from None


def save_snapshot(model, path, step, dtype="float16", metadata=None):
    """A compact weights snapshot (default float16, ~3 MB for SRResNet) loadable by load_generator."""
    import torch

    dt = getattr(torch, dtype)
    tensors = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in _cpu_copy(model).items()}
    meta = {"format": "ddriqa-weights-1", "arch": getattr(model, "arch", type(model).__name__), "step": str(int(step))}
    if hasattr(model, "config"):
        meta["config"] = json.dumps(model.config(), sort_keys=True)
    meta["snapshot_dtype"] = dtype
    for k, v in (metadata or {}).items():
        meta[str(k)] = v if isinstance(v, str) else json.dumps(v, default=str)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return _write_safetensors(tensors, path, meta)


def save_checkpoint(
    ckpt_dir,
    *,
    step,
    generator,
    g_optimizer,
    state=None,
    discriminator=None,
    d_optimizer=None,
    d_dtype="float32",
    save_d_optimizer=True,
    max_file_mib=15.0,
):
    """Write a resumable checkpoint folder (atomically replacing an older one).

    Parameters
    ----------
    ckpt_dir : str or os.PathLike
    step : int
        Updates done.
    generator, g_optimizer : torch.nn.Module, torch.optim.Optimizer
    state : dict, optional
        Extra JSON state (sampler state, run configuration).
    discriminator, d_optimizer : optional
        SRGAN's discriminator and its optimizer.
    d_dtype : {"float32", "bfloat16"}
        Storage type of the discriminator's weights (bfloat16: inexact resume, half the bytes).
    save_d_optimizer : bool
        Keep the discriminator's Adam moments (exact resume) or drop them (much smaller).
    max_file_mib : float, optional
        Shard any tensor file above this size.

    Returns
    -------
    pathlib.Path
        The checkpoint folder.
    """
    import torch

    from ddriqa.models.weights import save_weights

    ckpt_dir = Path(ckpt_dir)
    tmp = ckpt_dir.with_name(ckpt_dir.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    rng_json, rng_tensors = capture_rng_state()
    rng_json["tensors"] = {k: base64.b64encode(v.numpy().tobytes()).decode("ascii") for k, v in rng_tensors.items()}
    g_tensors, g_info = optimizer_to_tensors(g_optimizer, "g_opt")
    full_state = {"step": int(step), "rng": rng_json, "g_optimizer": g_info, "user": state or {}}
    save_tensor_file(g_tensors, tmp / "g_optim", None, max_file_mib)
    if discriminator is not None:
        dt = getattr(torch, d_dtype)
        d_sd = {k: (v.to(dt) if v.is_floating_point() else v) for k, v in _cpu_copy(discriminator).items()}
        save_tensor_file(d_sd, tmp / "discriminator", {"d_dtype": d_dtype}, max_file_mib)
        full_state["d_dtype"] = d_dtype
        full_state["d_optimizer_saved"] = bool(save_d_optimizer and d_optimizer is not None)
        if full_state["d_optimizer_saved"]:
            d_tensors, d_info = optimizer_to_tensors(d_optimizer, "d_opt")
            save_tensor_file(d_tensors, tmp / "discriminator_optim", None, max_file_mib)
            full_state["d_optimizer"] = d_info
        elif d_optimizer is not None:
            _, d_info = optimizer_to_tensors(d_optimizer, "d_opt")
            full_state["d_optimizer"] = {"param_groups": d_info["param_groups"], "scalars": {}}
    save_weights(generator, tmp / "generator.safetensors", metadata={"step": int(step), "train_state": json.dumps(full_state)})
    old = ckpt_dir.with_name(ckpt_dir.name + ".old")
    if old.exists():
        shutil.rmtree(old)
    if ckpt_dir.exists():
        os.replace(ckpt_dir, old)
    os.replace(tmp, ckpt_dir)
    if old.exists():
        shutil.rmtree(old)
    return ckpt_dir


def load_checkpoint(ckpt_dir, *, generator, g_optimizer=None, discriminator=None, d_optimizer=None, restore_rng=True):
    """Load a checkpoint written by :func:`save_checkpoint` in place; returns its JSON state.

    The returned dict has ``step``, ``user`` (the ``state`` given when saving), ``exact``
    (False when the discriminator was stored in bfloat16 or without its optimizer).
    """
    import torch

    from ddriqa.models.weights import load_weights

    ckpt_dir = Path(ckpt_dir)
    if not ckpt_dir.is_dir():
        raise ModelFileError(ckpt_dir, "no such checkpoint folder")
    gen_file = ckpt_dir / "generator.safetensors"
    load_weights(generator, gen_file)
    state = read_train_state(gen_file)
    tensors = {
        k: torch.frombuffer(bytearray(base64.b64decode(v)), dtype=torch.uint8)
        for k, v in state["rng"].get("tensors", {}).items()
    }
    exact = True
    if g_optimizer is not None:
        if _tensor_files(ckpt_dir / "g_optim"):
            opt_tensors, _ = load_tensor_file(ckpt_dir / "g_optim")
            optimizer_from_tensors(g_optimizer, opt_tensors, state["g_optimizer"], "g_opt")
        else:  # light resume: keep hyper-parameters, restart the moments
            optimizer_from_tensors(g_optimizer, {}, {"param_groups": state["g_optimizer"]["param_groups"]}, "g_opt")
            exact = False
    if discriminator is not None:
        d_tensors, _ = load_tensor_file(ckpt_dir / "discriminator")
        expected = discriminator.state_dict()
        if set(d_tensors) != set(expected):
            raise ModelFileError(ckpt_dir / "discriminator.safetensors", "discriminator weights do not fit the network")
        bad = [k for k in expected if tuple(expected[k].shape) != tuple(d_tensors[k].shape)]
        if bad:
            raise ModelFileError(ckpt_dir / "discriminator.safetensors", f"shape mismatch for {bad[:3]}")
        with torch.no_grad():
            discriminator.load_state_dict({k: v.to(expected[k].dtype) for k, v in d_tensors.items()})
        exact = exact and state.get("d_dtype", "float32") == "float32"
        if d_optimizer is not None:
            if state.get("d_optimizer_saved"):
                d_opt_tensors, _ = load_tensor_file(ckpt_dir / "discriminator_optim")
                optimizer_from_tensors(d_optimizer, d_opt_tensors, state["d_optimizer"], "d_opt")
            else:
                exact = False
    if restore_rng:
        restore_rng_state(state["rng"], tensors)
    state["exact"] = exact
    return state
