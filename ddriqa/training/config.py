"""The settings of an SR training run, and the one function that turns them into a trainer.

:class:`TrainConfig` has one field per ``ddriqa train-sr`` option; :func:`build_trainer` checks the
run folder (:func:`~ddriqa.training.run_folder.check_run_folder`), builds the generator (a new
seeded SRResNet, ``init`` weights, or the checkpoint being resumed, through
:mod:`ddriqa.models.backbones`), the discriminator and perceptual loss of an SRGAN, the patch
sampler and the validation pairs, and returns the trainer, already resumed when the run
continues. Everything that can be refused is checked before the run folder is touched.

Examples
--------
>>> import tempfile, pathlib, numpy as np
>>> from ddriqa.io import write_image
>>> from ddriqa.training.config import TINY_NETWORKS, TrainConfig, build_trainer
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> _ = write_image(d / "hr.png", np.random.default_rng(0).integers(0, 256, (48, 48, 3), dtype=np.uint8))
>>> config = TrainConfig(data=[d], iterations=2, output=d / "run", lr_patch=8, batch_size=2,
...                      snapshot_steps=(), **TINY_NETWORKS)
>>> build_trainer(config).fit()["step"]
2
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ddriqa.errors import InputError, ModelFileError
from ddriqa.training.run_folder import check_run_folder

__all__ = ["ARCHS", "DEGRADES", "RRDB_ARCHS", "SCALE", "TINY_NETWORKS", "TrainConfig", "build_trainer", "describe_init"]

#: What ``train-sr --arch`` trains.
ARCHS = ("srresnet", "srgan", "rrdb", "rrdb-ddr")
#: The RRDBNet architectures (L1 training; ``rrdb-ddr`` with the DDR embedding and StyleMod).
RRDB_ARCHS = ("rrdb", "rrdb-ddr")
#: What ``train-sr --degrade`` does to the LR side of the training pairs.
DEGRADES = ("none", "bn")
#: The upscaling factor of every run (the paper's x4).
SCALE = 4
#: The network sizes of ``train-sr --tiny`` (tests and smoke runs).
TINY_NETWORKS = {"num_features": 4, "num_blocks": 1, "d_features": 2, "growth": 2}
_AMP = {"auto": "auto", "on": True, "off": False}


@dataclass
class TrainConfig:
    """The settings of a ``train-sr`` run: one field per command-line option.

    Parameters
    ----------
    data : sequence of str or os.PathLike
        Folders of HR images and/or packs (:func:`ddriqa.training.data.load_training_images`).
    iterations : int
        Nominal length of the run; the learning-rate milestones are scaled to it.
    output : str or os.PathLike
        The run folder.
    arch : {"srresnet", "srgan", "rrdb", "rrdb-ddr"}, default="srresnet"
        ``rrdb``: an RRDBNet (L1); ``rrdb-ddr``: an RRDBNet whose RRDBs are modulated by the
        DDR embedding of the frozen ``ddr_weights`` network (:class:`ddriqa.models.rrdb_ddr.RRDBNetDDR`).
    resume, overwrite : bool, default=False
        Continue the run in ``output``, or remove it and start again; a folder that holds a run
        needs one of them.
    global_residual : bool or None, default=None
        None: with a global residual for a new SRResNet, as its init / checkpoint otherwise
        (where an explicit value that contradicts the weights is refused).
    init : str, optional
        Initial generator weights (a weights name or file, or a run folder); needed by srgan.
    val_root, val_pack : str, optional
        Validation images: a folder holding Set5/, Set14/, BSDS500/val/, or a pack.
    val_sets : sequence of str, default=("Set5", "Set14", "BSD100")
    val_every : int, optional
    batch_size : int, default=16
    lr_patch : int, default=32
        LR patch side; the HR patch (and the discriminator's input) is ``4 * lr_patch``.
    max_minutes : float, optional
        Wall-clock budget of the training loop.
    stop_at : int, optional
        Stop at this global step (< ``iterations``).
    seed : int, default=0
        Seed of the initial weights and of the patch sampler.
    num_features, num_blocks : int, default=64, 16
        The new SRResNet's or RRDBNet's size (a resumed or srgan run keeps its weights' size).
    growth : int, default=32
        Growth channels of a new RRDBNet's dense blocks.
    degrade : {"none", "bn"}, default="none"
        ``bn``: remake each LR patch from its HR patch with random blur and noise
        (:class:`ddriqa.training.degrade.BlurNoiseSampler`, settings
        :data:`~ddriqa.training.degrade.DEFAULT_BN`); ``none``: the bicubic LR of the image.
    ddr_weights : str, default="srgan_x4_gr"
        ``rrdb-ddr``: the frozen DDR backbone (a weights name or file).
    ddr_layer : str, default="ResBlock16"
        ``rrdb-ddr``: the backbone's feature tap that is pooled into the embedding.
    embed_dim : int, default=64
        ``rrdb-ddr``: length of the embedding.
    d_features : int, default=64
        Channels of the discriminator's first stage.
    pixel_weight : float, optional
        SRGAN's pixel L1 weight; default 1e-2 with ``vgg_weights``, 1 without.
    gan_weight : float, default=5e-3
    vgg_weights : str, optional
        A torchvision-layout VGG19 safetensors file: enables the perceptual loss.
    d_dtype : {"float32", "bfloat16"}, default="float32"
    d_optimizer_state : bool, default=True
    snapshot_steps : sequence of int, default=(0, 10000, 50000)
    checkpoint_every : int, optional
    log_every : int, default=100
    device : str, default="auto"
    amp : {"auto", "on", "off"}, default="auto"
    compile : bool, default=False
    max_file_mib : float, default=15.0
    run_name : str, optional
        The run's label; default: the name of ``output``.
    """

    data: tuple
    iterations: int
    output: str
    arch: str = "srresnet"
    resume: bool = False
    overwrite: bool = False
    global_residual: bool | None = None
    init: str | None = None
    val_root: str | None = None
    val_pack: str | None = None
    val_sets: tuple = ("Set5", "Set14", "BSD100")
    val_every: int | None = None
    batch_size: int = 16
    lr_patch: int = 32
    max_minutes: float | None = None
    stop_at: int | None = None
    seed: int = 0
    num_features: int = 64
    num_blocks: int = 16
    d_features: int = 64
    growth: int = 32
    degrade: str = "none"
    ddr_weights: str = "srgan_x4_gr"
    ddr_layer: str = "ResBlock16"
    embed_dim: int = 64
    pixel_weight: float | None = None
    gan_weight: float = 5e-3
    vgg_weights: str | None = None
    d_dtype: str = "float32"
    d_optimizer_state: bool = True
    snapshot_steps: tuple = (0, 10_000, 50_000)
    checkpoint_every: int | None = None
    log_every: int = 100
    device: str = "auto"
    amp: str = "auto"
    compile: bool = False
    max_file_mib: float = 15.0
    run_name: str | None = field(default=None)

    def __post_init__(self):
        self.data = tuple(os.fspath(d) for d in self.data)
        self.output = os.fspath(self.output)
        self.val_sets = tuple(self.val_sets)
        self.snapshot_steps = tuple(int(s) for s in self.snapshot_steps)
        if self.init is not None and os.path.isdir(self.init):  # a run folder: its exported weights
            self.init = os.path.join(self.init, "generator.safetensors")
        problems = [
            f"arch must be one of {ARCHS}, got {self.arch!r}" if self.arch not in ARCHS else "",
            f"amp must be one of {tuple(_AMP)}, got {self.amp!r}" if self.amp not in _AMP else "",
            f"d_dtype must be 'float32' or 'bfloat16', got {self.d_dtype!r}"
            if self.d_dtype not in ("float32", "bfloat16") else "",
            "give at least one source of training images (data)" if not self.data else "",
            f"degrade must be one of {DEGRADES}, got {self.degrade!r}" if self.degrade not in DEGRADES else "",
            "--global-residual / --no-global-residual apply to SRResNet and SRGAN only, not to an RRDBNet"
            if self.arch in RRDB_ARCHS and self.global_residual is not None else "",
        ]
        for name in ("iterations", "batch_size", "lr_patch", "log_every", "stop_at", "val_every", "checkpoint_every",
                     "growth", "embed_dim"):
            value = getattr(self, name)
            if value is not None and int(value) < 1:
                problems.append(f"{name} must be positive, got {value!r}")
        problems = [p for p in problems if p]
        if problems:
            raise InputError("; ".join(problems))

    @property
    def name(self):
        """The run's label: ``run_name``, or the output folder's name."""
        return self.run_name or Path(self.output).name

    def provenance(self):
        """The fields of the exported weights' provenance that the checkpoint does not hold."""
        record = {"data": list(self.data), "seed": self.seed, "batch_size": self.batch_size,
                  "lr_patch": self.lr_patch, "init": self.init}
        if self.arch == "rrdb-ddr":
            record["ddr_backbone"] = {"weights": self.ddr_weights, "layer": self.ddr_layer, "frozen": True,
                                      "embed_dim": self.embed_dim, "sha256": _weights_sha256(self.ddr_weights)}
        return record


def _weights_sha256(weights):
    """The sha256 of a weights name or file, or None when it names no file (``random``)."""
    from ddriqa.models.weights import resolve_weights, sha256_file

    try:
        return sha256_file(resolve_weights(weights))
    except ModelFileError:
        return None


def build_trainer(config, log=None):
    """The trainer of a run, ready for :meth:`~ddriqa.training.trainer.Trainer.fit`.

    Parameters
    ----------
    config : TrainConfig
    log : callable, optional
        Called with one-line messages (what was loaded, choices made, progress of the run).

    Returns
    -------
    SRResNetTrainer or SRGANTrainer
        Resumed from ``output/checkpoint`` when the run continues. A run folder that holds
        another run is emptied by :meth:`fit` (``overwrite``, or ``resume`` of a run that never
        reached a checkpoint), not here.

    Raises
    ------
    InputError
        A folder holding a run without ``resume`` / ``overwrite``; srgan without ``init``; a
        ``global_residual`` that contradicts the weights; no readable training images; an
        unknown or absent device.
    ddriqa.errors.ModelFileError
        Unreadable or unfitting weights.
    """
    import torch

    from ddriqa.device import resolve_device

    log = log or (lambda message: None)
    mode = _run_mode(config, log)
    if config.arch == "srgan" and not config.init and mode != "resume":
        raise InputError("--arch srgan needs --init (the weights of an L1-trained SRResNet)")
    device = resolve_device(config.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed patch size: let cuDNN pick the fastest kernels
    torch.manual_seed(config.seed)  # the discriminator's init (and any other default init) follows the seed
    generator = _build_generator(config, resuming=mode == "resume")
    extra = _build_srgan_parts(config, log) if config.arch == "srgan" else {}
    sampler = _build_sampler(config, device, log)
    val_pairs = _build_validation(config, log)
    if config.arch == "srgan" and mode != "resume":  # a resumed run keeps the record of its own start
        extra["init_detail"] = describe_init(config.init)
    trainer = _make_trainer(config, generator, sampler, val_pairs, extra, log,
                            overwrite=mode in ("overwrite", "restart"))
    if mode == "resume":
        trainer.resume()
    return trainer


def _run_mode(config, log):
    mode = check_run_folder(config.output, resume=config.resume, overwrite=config.overwrite)
    if config.resume and mode == "new":
        log(f"[{config.name}] --resume: no run in {config.output}, starting a new run")
    elif mode == "restart":
        log(f"[{config.name}] --resume: {config.output} holds no checkpoint (the run stopped before its first): "
            "starting it again from step 0, its earlier files removed")
    return mode


def _residual_flag(value):
    return f"--{'' if value else 'no-'}global-residual"


def _build_generator(config, *, resuming):
    """The generator: the checkpoint's (resume), the init's (srgan), or a new seeded SRResNet."""
    from ddriqa.models.backbones import build_backbone, random_backbone
    from ddriqa.models.weights import load_weights, resolve_weights

    if config.arch in RRDB_ARCHS and not resuming:
        return _new_rrdbnet(config)
    if resuming or config.arch == "srgan":
        source = Path(config.output) / "checkpoint" / "generator.safetensors" if resuming else config.init
        generator = build_backbone(source)
        has = getattr(generator, "global_residual", config.global_residual)
        if config.global_residual is not None and has != config.global_residual:
            what = ("the checkpoint being resumed keeps its network" if resuming
                    else "an SRGAN keeps its init's output path")
            raise InputError(f"{'--resume' if resuming else '--init'} {source}: its generator has "
                             f"global_residual={has}, but {_residual_flag(config.global_residual)} was given "
                             f"({what}: drop the flag or pass the other weights)")
        return generator
    generator = random_backbone(config.seed, global_residual=config.global_residual is not False,
                                num_blocks=config.num_blocks, num_features=config.num_features, scale=SCALE)
    if config.init:
        load_weights(generator, resolve_weights(config.init))
    return generator


def _new_rrdbnet(config):
    """A new seeded RRDBNet (``rrdb``) or RRDBNetDDR around the frozen ``ddr_weights`` (``rrdb-ddr``).

    Both draw the trunk's initial weights in the same order from the same seed, so an ``rrdb``
    and an ``rrdb-ddr`` run of one seed start from the same RRDBNet (the StyleMods start at the
    identity).
    """
    import torch

    from ddriqa.models.backbones import build_backbone
    from ddriqa.models.rrdbnet import RRDBNet
    from ddriqa.models.weights import load_weights, resolve_weights

    size = {"num_features": config.num_features, "num_blocks": config.num_blocks, "growth": config.growth,
            "scale": SCALE}
    if config.arch == "rrdb":
        net = RRDBNet(**size)
    else:
        from ddriqa.models.rrdb_ddr import RRDBNetDDR

        backbone = build_backbone(config.ddr_weights, seed=config.seed)
        source = config.ddr_weights if isinstance(config.ddr_weights, str) else None
        net = RRDBNetDDR.from_backbone(backbone, config.ddr_layer, source=source, embed_dim=config.embed_dim, **size)
    net.reset_parameters(generator=torch.Generator().manual_seed(int(config.seed)))
    if config.init:
        load_weights(net, resolve_weights(config.init))
    return net


def _build_srgan_parts(config, log):
    """The discriminator, perceptual loss and loss weights of an SRGAN run (trainer keywords)."""
    from ddriqa.models.discriminator import VGGDiscriminator

    perceptual = None
    if config.vgg_weights:
        from ddriqa.models.vgg import VGG19Features

        perceptual = VGG19Features(config.vgg_weights)
    else:
        log(f"[{config.name}] no --vgg-weights: training WITHOUT the perceptual loss")
    pixel_weight = config.pixel_weight
    if pixel_weight is None:
        pixel_weight = 1e-2 if perceptual is not None else 1.0
        log(f"[{config.name}] pixel L1 weight {pixel_weight:g}, GAN weight {config.gan_weight:g}")
    return {
        "discriminator": VGGDiscriminator(num_features=config.d_features, input_size=SCALE * config.lr_patch),
        "perceptual": perceptual,
        "pixel_weight": pixel_weight,
        "gan_weight": config.gan_weight,
        "d_dtype": config.d_dtype,
        "save_d_optimizer": config.d_optimizer_state,
    }


def _build_sampler(config, device, log):
    """The patch sampler over the LR/HR pairs of the training images, on ``device``."""
    from ddriqa.training.data import PatchSampler, load_training_images, make_lr_images

    images = load_training_images(config.data, on_error=lambda path, exc: log(f"warning: skipped {exc}"))
    if not images:
        raise InputError(f"no readable training images in {', '.join(config.data)}")
    hr, lr = make_lr_images(images, SCALE)
    del images
    sampler = PatchSampler(hr, lr, lr_patch=config.lr_patch, batch_size=config.batch_size, scale=SCALE,
                           seed=config.seed, device=device)
    if config.degrade == "bn":
        from ddriqa.training.degrade import DEFAULT_BN, BlurNoiseSampler

        sampler = BlurNoiseSampler(sampler, **DEFAULT_BN)
        log(f"[{config.name}] b+n LR patches: {sampler.describe()}")
    log(f"[{config.name}] {sampler.n_images_} training images on {device}"
        + (f" ({sampler.n_skipped_} smaller than the patch left out)" if sampler.n_skipped_ else ""))
    return sampler


def _build_validation(config, log):
    """``{set: [(name, hr, lr), ...]}`` from ``val_pack`` or ``val_root`` ({} without either)."""
    from ddriqa.training.validation import load_validation_pairs

    if not (config.val_pack or config.val_root):
        return {}
    pairs = load_validation_pairs(config.val_root, config.val_sets, pack=config.val_pack, scale=SCALE,
                                  on_error=lambda path, exc: log(f"warning: skipped {exc}"))
    log(f"[{config.name}] validation: " + ", ".join(f"{k} ({len(v)})" for k, v in pairs.items()))
    return pairs


def describe_init(init):
    """What an SRGAN starts from: ``{"path", "sha256", "step", "run"}`` of the ``init`` weights.

    ``step`` and ``run`` come from the file's training state (a checkpoint or a run's exported
    weights) or else from its provenance JSON; None when neither says. The record outlives the
    file at ``path``, which for a resume state moves on as its run continues.

    Raises
    ------
    ddriqa.errors.ModelFileError
        ``init`` names no weights file.
    """
    import json

    from ddriqa.models.weights import read_metadata, resolve_weights, sha256_file
    from ddriqa.training.checkpoint import read_train_state

    path = resolve_weights(init)
    detail = {"path": os.fspath(init), "sha256": sha256_file(path), "step": None, "run": None}
    record = {}
    meta = path.with_suffix(".json")
    if meta.is_file():
        try:
            record = json.loads(meta.read_text(encoding="utf-8"))
        except ValueError:
            record = {}
    try:
        state = read_train_state(path)
        detail["step"], detail["run"] = int(state["step"]), state.get("user", {}).get("run")
    except ModelFileError:  # exported weights or a snapshot: no train state
        step = read_metadata(path).get("step", record.get("step"))
        detail["step"] = int(step) if step is not None else None
    detail["run"] = detail["run"] or record.get("run")
    return detail


def _make_trainer(config, generator, sampler, val_pairs, extra, log, *, overwrite):
    common = {
        "iterations": config.iterations, "amp": _AMP[config.amp], "compile": config.compile,
        "val_pairs": val_pairs, "val_every": config.val_every, "snapshot_steps": config.snapshot_steps,
        "checkpoint_every": config.checkpoint_every, "log_every": config.log_every, "run_name": config.name,
        "log": log, "max_file_mib": config.max_file_mib, "provenance": config.provenance(), "overwrite": overwrite,
    }
    if config.arch == "srresnet":
        from ddriqa.training.srresnet_trainer import SRResNetTrainer

        return SRResNetTrainer(generator, sampler, config.output, **common)
    if config.arch in RRDB_ARCHS:
        from ddriqa.training.srresnet_trainer import RRDBDDRTrainer, RRDBTrainer

        cls = RRDBTrainer if config.arch == "rrdb" else RRDBDDRTrainer
        return cls(generator, sampler, config.output, **common)
    from ddriqa.training.srgan_trainer import SRGANTrainer

    discriminator = extra.pop("discriminator")
    return SRGANTrainer(generator, discriminator, sampler, config.output, **extra, **common)
