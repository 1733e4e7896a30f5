"""The training loop shared by the SR trainers: schedule, logs, validation, snapshots, checkpoints.

:class:`Trainer` owns a generator, its Adam optimizer and a run folder
(:mod:`ddriqa.training.run_folder`) and runs the loop of :meth:`Trainer.fit`. A subclass adds
only its own networks, optimizers and losses, through these hooks:

* :meth:`Trainer.update` -- one update of the networks on a batch; returns the loss to log and
  its terms (required);
* :meth:`Trainer.networks_to_save` -- the networks and optimizers a checkpoint holds, as keyword
  arguments of :func:`~ddriqa.training.checkpoint.save_checkpoint` /
  :func:`~ddriqa.training.checkpoint.load_checkpoint`; the learning-rate schedule is applied to
  every optimizer among them;
* :attr:`Trainer.loss_columns` -- the loss terms that ``train_log.csv`` has after
  ``step,loss,lr,time``;
* :meth:`Trainer.loss_description` -- the ``loss`` of the exported weights' provenance;
* :meth:`Trainer.extra_state`, :meth:`Trainer.checkpoint_options` and
  :meth:`Trainer.check_resumed_state` -- more checkpoint state, save options, and checks of a
  resumed state (optional).

On CUDA the forward pass runs under bf16 autocast (losses in float32); on the CPU everything is
float32. On both, the networks run in channels_last memory format (on 2 CPU cores, 1.16 vs
0.86 it/s for the contiguous layout: full SRResNet, batch 16). ``compile=True`` wraps the
generator's forward pass in ``torch.compile`` (off by default).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

from ddriqa.errors import InputError
from ddriqa.training.run_folder import TrainLog, check_run_folder, remove_run_files

__all__ = ["Trainer"]

#: The columns every ``train_log.csv`` starts with.
TRAIN_LOG_COLUMNS = ("step", "loss", "lr", "time")


def _resolve_flag(value, device, name, auto_on_cpu=False):
    if value == "auto":
        return device.type == "cuda" or auto_on_cpu
    if value in (True, False):
        return bool(value)
    raise InputError(f"{name} must be 'auto', True or False, got {value!r}")


class Trainer:
    """Train an SR generator on batches from a :class:`~ddriqa.training.data.PatchSampler`.

    Subclasses set :attr:`arch` and :attr:`default_schedule` and implement :meth:`update`
    (see the module's docstring for the other hooks).

    Parameters
    ----------
    generator : torch.nn.Module
        E.g. :class:`ddriqa.models.srresnet.SRResNet`; moved to the sampler's device.
    sampler : ddriqa.training.data.PatchSampler
    out_dir : str or os.PathLike
        The run folder.
    iterations : int
        Total updates of the run (also sets the scaled schedule).
    schedule : StepSchedule, optional
        Default: the subclass's :attr:`default_schedule` scaled to ``iterations``.
    betas : tuple, default=(0.9, 0.99)
        Adam's betas (every optimizer made by :meth:`make_optimizer`).
    amp : {"auto", True, False}
        bf16 autocast ("auto": on CUDA only).
    channels_last : {"auto", True, False}
        Networks and batches in channels_last memory format ("auto": on CUDA and on the CPU).
    compile : bool, default=False
    val_pairs : dict, optional
        ``{set: [(name, hr, lr), ...]}`` from :func:`ddriqa.training.validation.load_validation_pairs`.
    val_every : int, optional
        Validate every this many steps (and at the end of :meth:`fit`).
    snapshot_steps : iterable of int
        Steps at which to keep a float16 generator snapshot.
    checkpoint_every : int, optional
        Save a checkpoint every this many steps (and always at the end of :meth:`fit`).
    log_every : int, default=100
        Every this many steps, write the mean losses to ``train_log.csv`` and a progress line to
        ``log``; the last steps of a :meth:`fit` call are always written.
    run_name : str, default=""
        Label of the run in logs and provenance.
    log : callable, optional
        Called with one-line progress messages (e.g. ``ddriqa.cli._common.log``).
    max_file_mib : float, default=15.0
        Shard checkpoint files above this size.
    provenance : dict, optional
        Extra fields for ``generator.json`` (data, command line).
    overwrite : bool, default=False
        Let :meth:`fit` start a new run in a folder that holds another one, removing its files
        first; otherwise that is refused (:func:`~ddriqa.training.run_folder.check_run_folder`).
    """

    #: ``arch`` of the checkpoint state and the provenance
    arch = None
    #: the schedule scaled to ``iterations`` when none is given
    default_schedule = None
    #: loss terms logged after ``step,loss,lr,time`` (the keys of :meth:`update`'s terms)
    loss_columns = ()

    def __init__(
        self,
        generator,
        sampler,
        out_dir,
        *,
        iterations,
        schedule=None,
        betas=(0.9, 0.99),
        amp="auto",
        channels_last="auto",
        compile=False,
        val_pairs=None,
        val_every=None,
        snapshot_steps=(),
        checkpoint_every=None,
        log_every=100,
        run_name="",
        log=None,
        max_file_mib=15.0,
        provenance=None,
        overwrite=False,
    ):
        import torch

        if int(iterations) < 1:
            raise InputError(f"iterations must be positive, got {iterations!r}")
        self.iterations = int(iterations)
        self.sampler = sampler
        self.device = sampler.device
        self.out_dir = Path(out_dir)
        self.schedule = schedule if schedule is not None else self.default_schedule.scaled(self.iterations)
        self.betas = tuple(betas)
        self.amp = _resolve_flag(amp, self.device, "amp")
        self.channels_last = _resolve_flag(channels_last, self.device, "channels_last", auto_on_cpu=True)
        self.val_pairs = val_pairs or {}
        self.val_every = val_every
        self.snapshot_steps = sorted({int(s) for s in snapshot_steps})
        self.checkpoint_every = checkpoint_every
        self.log_every = max(1, int(log_every))
        self.run_name = run_name
        self._log = log or (lambda msg: None)
        self.max_file_mib = max_file_mib
        self.provenance = dict(provenance or {})
        self.overwrite = bool(overwrite)
        self.step = 0
        self.last_val_ = {}
        self.last_losses_ = {}  # loss terms of the last update (tensors), logged as extra columns
        self.generator = self.prepare_network(generator)
        self._forward_g = torch.compile(self.generator) if compile else self.generator
        # a frozen part (the DDR backbone of an RRDBNetDDR) is not the optimizer's
        self.g_optimizer = self.make_optimizer([p for p in self.generator.parameters() if p.requires_grad])
        self.train_log = TrainLog(self.out_dir / "train_log.csv", TRAIN_LOG_COLUMNS + tuple(self.loss_columns))
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_n = 0
        self._parts_sum = {}
        self._started = False  # resumed, or fit() called: the folder is this run's
        self._t_start = time.time()
        self._interval_start = (self._t_start, 0)  # (time, step) of the last train_log row
        self._elapsed_before = 0.0
        self._segments_before = []  # earlier sessions of this run (device, steps, seconds)
        self._segment_start = 0

    @property
    def label(self):
        """The run's name in log lines (the ``arch`` when it has none)."""
        return self.run_name or self.arch

    # -- hooks ---------------------------------------------------------------------------
    def update(self, lr, hr):
        """One update of the networks on a batch ``(lr, hr)``.

        Returns
        -------
        loss : torch.Tensor
            The loss to log (detached, 0-d; no device sync).
        terms : dict of str -> torch.Tensor
            The detached loss terms named in :attr:`loss_columns` (may be empty).
        """
        raise NotImplementedError(f"{type(self).__name__} must implement update(lr, hr)")

    def networks_to_save(self):
        """The networks and optimizers of a checkpoint (keyword arguments of save/load_checkpoint)."""
        return {"generator": self.generator, "g_optimizer": self.g_optimizer}

    def checkpoint_options(self):
        """More keyword arguments of :func:`~ddriqa.training.checkpoint.save_checkpoint`."""
        return {}

    def extra_state(self):
        """More JSON state for the checkpoint and ``run_config.json``."""
        return {}

    def check_resumed_state(self, state):
        """Look at the JSON state of a checkpoint being resumed (e.g. to warn of changed settings)."""

    def loss_description(self):
        """The ``loss`` field of the exported weights' provenance."""
        raise NotImplementedError(f"{type(self).__name__} must implement loss_description()")

    # -- building blocks -----------------------------------------------------------------
    def prepare_network(self, module):
        """``module`` on the training device, in the memory format and in training mode."""
        import torch

        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        return module.to(self.device, memory_format=memory_format).train()

    def make_optimizer(self, params):
        """Adam at the schedule's base rate with :attr:`betas` (fused on CUDA)."""
        import torch

        kwargs = {"lr": self.schedule.base_lr, "betas": self.betas}
        if self.device.type == "cuda":
            kwargs["fused"] = True
        return torch.optim.Adam(params, **kwargs)

    def autocast(self):
        """bf16 autocast when ``amp`` is on, else a no-op context."""
        import contextlib

        import torch

        if self.amp:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def _batch(self):
        import torch

        lr, hr = self.sampler.sample()
        if self.channels_last:
            lr = lr.contiguous(memory_format=torch.channels_last)
        return lr, hr

    def _optimizers(self):
        import torch

        return [v for v in self.networks_to_save().values() if isinstance(v, torch.optim.Optimizer)]

    def train_step(self):
        """One update at the scheduled learning rate; returns the loss tensor (no device sync)."""
        for optimizer in self._optimizers():
            self.schedule.apply(optimizer, self.step)
        loss, terms = self.update(*self._batch())
        self.step += 1
        self.last_losses_ = terms
        return loss

    # -- state ---------------------------------------------------------------------------
    @property
    def checkpoint_dir(self):
        return self.out_dir / "checkpoint"

    def _user_state(self):
        return {
            "sampler": self.sampler.state_dict(),
            "run": self.run_name,
            "arch": self.arch,
            "iterations": self.iterations,
            "batch_size": int(self.sampler.batch_size),
            "lr_patch": int(self.sampler.lr_patch),
            "schedule": {"base_lr": self.schedule.base_lr, "milestones": list(self.schedule.milestones),
                         "gamma": self.schedule.gamma},
            "elapsed_s": self._elapsed(),
            "segments": self.segments(),
        } | self.extra_state()

    def segments(self):
        """Where this run's steps were trained: one dict per session (resume), the current one last.

        Each has ``from_step``, ``to_step``, ``seconds``, ``device`` (hardware name), ``amp``,
        ``channels_last`` and ``torch``, so that provenance can say which steps ran on which
        hardware when CPU and GPU sessions add up to one run.
        """
        import torch

        from ddriqa.device import describe_device

        current = {
            "from_step": self._segment_start,
            "to_step": self.step,
            "seconds": round(time.time() - self._t_start, 1),
            "device": describe_device(self.device),
            "amp": bool(self.amp),
            "channels_last": bool(self.channels_last),
            "torch": torch.__version__,
        }
        return self._segments_before + ([current] if self.step > self._segment_start else [])

    def _elapsed(self):
        return self._elapsed_before + (time.time() - self._t_start)

    def save_checkpoint(self):
        """Save the resumable state to ``out_dir/checkpoint``; returns the folder."""
        from ddriqa.training.checkpoint import save_checkpoint

        return save_checkpoint(self.checkpoint_dir, step=self.step, state=self._user_state(),
                               max_file_mib=self.max_file_mib, **self.networks_to_save(),
                               **self.checkpoint_options())

    def resume(self, ckpt_dir=None):
        """Restore a checkpoint (default ``out_dir/checkpoint``); returns the step reached.

        The run folder's logs lose their rows after that step (a checkpoint older than the
        logs: those steps are trained again).
        """
        from ddriqa.training.checkpoint import load_checkpoint
        from ddriqa.training.validation import ValidationLog

        ckpt_dir = Path(ckpt_dir or self.checkpoint_dir)
        state = load_checkpoint(ckpt_dir, **self.networks_to_save())
        user = state["user"]
        if user.get("arch", self.arch) != self.arch:
            raise InputError(f"{ckpt_dir}: the checkpoint is of a {user['arch']} run, not {self.arch}")
        self.step = int(state["step"])
        if self.step > self.iterations:  # refused before run_config.json or any log is touched
            raise InputError(
                f"{self.out_dir}: the run is at step {self.step}, past the {self.iterations} iterations asked: "
                f"nothing would be trained; to continue it, ask for more than {self.step} iterations "
                f"(it was started for {user.get('iterations', '?')})")
        self.check_resumed_state(user)
        if int(user.get("iterations", self.iterations)) != self.iterations:
            self._log(f"[{self.label}] warning: the checkpoint was made for {user['iterations']} iterations, "
                      f"this run is set to {self.iterations}: the learning-rate schedule changes")
        if "degrade" in user["sampler"] and not hasattr(self.sampler, "describe"):
            raise InputError(f"{ckpt_dir}: the run was trained on degraded LR patches "
                             f"({user['sampler']['degrade'].get('settings')}); resume it with the same --degrade")
        self.sampler.load_state_dict(user["sampler"])
        self._elapsed_before = float(user.get("elapsed_s", 0.0))
        self._t_start = time.time()
        self._interval_start = (self._t_start, self.step)
        unknown = [{"from_step": 0, "to_step": self.step,
                    "device": "not recorded (state saved before segment logging)"}]
        self._segments_before = list(user.get("segments") or (unknown if self.step else []))
        self._segment_start = self.step
        self._started = True
        ValidationLog(self.out_dir / "val_log.csv").truncate_after(self.step)
        self.train_log.truncate_after(self.step)
        inexact = "" if state.get("exact", True) else " (inexact: no Adam moments, or a compact discriminator)"
        self._log(f"[{self.label}] resumed at step {self.step}{inexact}")
        return self.step

    # -- outputs -------------------------------------------------------------------------
    def validate(self):
        """Y-PSNR on every validation set; appends rows to ``val_log.csv``; returns {set: mean}."""
        from ddriqa.training.validation import ValidationLog, evaluate_pairs

        if not self.val_pairs:
            return {}
        import torch

        vlog = ValidationLog(self.out_dir / "val_log.csv", run=self.run_name)
        means = {}
        autotune = torch.backends.cudnn.benchmark
        torch.backends.cudnn.benchmark = False  # every image has its own size: no per-shape autotuning
        try:
            for name, pairs in self.val_pairs.items():
                scores = [p for _, p in evaluate_pairs(self.generator, pairs)]
                means[name] = float(sum(scores) / len(scores))
                vlog.write(self.step, name, means[name], elapsed=self._elapsed())
        finally:
            torch.backends.cudnn.benchmark = autotune
        self.last_val_ = means
        text = ", ".join(f"{k} {v:.2f} dB" for k, v in means.items())
        self._log(f"[{self.label}] step {self.step}: {text}")
        return means

    def snapshot(self):
        """Write a float16 snapshot of the generator for the current step."""
        from ddriqa.training.checkpoint import save_snapshot

        return save_snapshot(
            self.generator, self.out_dir / "snapshots" / f"generator_step{self.step:07d}.safetensors", self.step
        )

    def _provenance_extra(self):
        return {"loss": self.loss_description()}

    def export(self, path=None):
        """Write the generator's float32 weights + provenance JSON; returns the weights path."""
        from ddriqa.models.weights import save_weights, write_provenance

        path = Path(path) if path is not None else self.out_dir / "generator.safetensors"
        meta = {"step": self.step, "trained_by": f"ddriqa.training ({self.arch})"}
        save_weights(self.generator, path, metadata=meta)
        write_provenance(
            path,
            arch=self.arch,
            run=self.run_name,
            step=self.step,
            iterations=self.iterations,
            config=self.generator.config() if hasattr(self.generator, "config") else None,
            schedule={"base_lr": self.schedule.base_lr, "milestones": list(self.schedule.milestones)},
            validation_psnr_y=self.last_val_,
            train_seconds=round(self._elapsed(), 1),
            segments=self.segments(),
            **self._provenance_extra(),
            **self.provenance,
        )
        return path

    def _log_interval(self):
        """Write the mean losses since the last row to ``train_log.csv`` and a progress line.

        Returns False when the mean loss is not finite.
        """
        mean = float(self._loss_sum) / self._loss_n
        parts = {k: float(v) / self._loss_n for k, v in self._parts_sum.items()}
        lr = self.schedule.lr_at(self.step - 1)
        self.train_log.write({"step": self.step, "loss": f"{mean:.6f}", "lr": f"{lr:.3g}",
                              "time": f"{self._elapsed():.1f}"} | {k: f"{v:.6f}" for k, v in parts.items()})
        now = time.time()
        t_prev, step_prev = self._interval_start
        rate = (self.step - step_prev) / (now - t_prev) if now > t_prev else float("nan")
        terms = f" ({', '.join(f'{k} {v:.4g}' for k, v in parts.items())})" if parts else ""
        self._log(f"[{self.label}] step {self.step}/{self.iterations}: loss {mean:.4g}{terms}, lr {lr:.3g}, "
                  f"{rate:.2f} it/s")
        self._interval_start = (now, self.step)
        self._loss_sum.zero_()
        self._loss_n = 0
        self._parts_sum = {}
        if not math.isfinite(mean):
            self._log(f"[{self.label}] step {self.step}: loss is {mean}; stopping")
            return False
        return True

    # -- loop ----------------------------------------------------------------------------
    def _begin(self):
        """Claim the run folder (refusing or removing another run there) and write run_config.json."""
        if not self._started:
            if check_run_folder(self.out_dir, overwrite=self.overwrite) == "overwrite":
                removed = remove_run_files(self.out_dir)
                self._log(f"[{self.label}] removed the earlier run's {', '.join(removed)} from {self.out_dir}")
            self._started = True
        self.out_dir.mkdir(parents=True, exist_ok=True)
        (self.out_dir / "run_config.json").write_text(
            json.dumps(self._user_state() | {"run": self.run_name}, indent=2, default=str), encoding="utf-8"
        )
        self._interval_start = (time.time(), self.step)

    def _after_step(self, target):
        """Logging, snapshot, validation and checkpoint due at this step; False to stop."""
        self._loss_n += 1
        for key, value in self.last_losses_.items():
            self._parts_sum[key] = self._parts_sum.get(key, 0.0) + value
        if self.step % self.log_every == 0 and not self._log_interval():
            return False
        if self.step in self.snapshot_steps:
            self.snapshot()
        if self.val_every and self.step % self.val_every == 0 and self.step < target:
            self.validate()
        if self.checkpoint_every and self.step % self.checkpoint_every == 0 and self.step < target:
            self.save_checkpoint()
        return True

    def fit(self, max_minutes=None, stop_at=None):
        """Train until ``iterations`` (or ``stop_at``) updates or the wall-clock budget is spent.

        Always ends with a ``train_log.csv`` row, a checkpoint, a validation (when sets are
        given) and an export.

        Parameters
        ----------
        max_minutes : float, optional
            Wall-clock budget of this call (training only; the final save comes on top).
        stop_at : int, optional
            Stop after this many total updates (< ``iterations``), e.g. to test resume.

        Returns
        -------
        dict
            ``step``, ``seconds``, ``iterations_per_s``, ``validation`` (last means),
            ``weights`` (exported path), ``finished`` (all iterations done).

        Raises
        ------
        InputError
            A first call on a folder that holds another run, without ``overwrite``.
        """
        self._begin()
        target = self.iterations if stop_at is None else min(int(stop_at), self.iterations)
        t0 = time.time()
        deadline = None if max_minutes is None else t0 + 60.0 * float(max_minutes)
        first_step = self.step
        if self.step == 0 and 0 in self.snapshot_steps:
            self.snapshot()
        while self.step < target:
            self._loss_sum += self.train_step()
            if not self._after_step(target):
                break
            if deadline is not None and time.time() >= deadline:
                self._log(f"[{self.label}] time budget reached at step {self.step}")
                break
        if self._loss_n:
            self._log_interval()  # the steps since the last row: a short run has a log too
        if self.device.type == "cuda":
            import torch

            torch.cuda.synchronize(self.device)
        seconds = time.time() - t0
        done = self.step - first_step
        rate = done / seconds if seconds > 0 else float("nan")
        self._log(f"[{self.label}] {done} steps in {seconds:.1f} s ({rate:.2f} it/s)")
        return self._finish(seconds, rate)

    def _finish(self, seconds, rate):
        if self.step >= self.iterations and self.step not in self.snapshot_steps and self.snapshot_steps:
            self.snapshot()  # the final snapshot
        self.save_checkpoint()
        if self.val_pairs:
            self.validate()
        weights = self.export()
        return {
            "step": self.step,
            "seconds": seconds,
            "iterations_per_s": rate,
            "validation": dict(self.last_val_),
            "weights": str(weights),
            "finished": self.step >= self.iterations,
        }
