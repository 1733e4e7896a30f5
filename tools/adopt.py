"""File what a training run brought back into ``weights/checkpoints/``, with provenance.

Run from the repository root as ``python tools/adopt.py SRC --data ...`` (see
``tools/TRAINING.md``). ``tools/gpu_run.py`` brings back, per run, ``<run>.safetensors``
(float32 generator whose ``train_state`` metadata holds the whole resumable state),
``<run>.g_optim.safetensors`` (Adam moments; absent after a light run),
``<run>.snap<N>.safetensors`` (float16 snapshot) and one ``val_log.csv``. This script copies them
to the layout kept in the repository and writes the provenance JSON (and Markdown card) that
every weights file under ``weights/`` must have (sha256, data, iterations, step, loss,
validation figures)::

    <dest>/resume/<run>.safetensors          + .json
    <dest>/resume/<run>.g_optim.safetensors  + .g_optim.json   (removed when the source has none)
    <dest>/resume/val_log.csv                 (rows of other runs kept, this run's replaced)
    <dest>/snapshots/<run>_step<N>.safetensors + .json

An SRGAN run is adopted the same way from a staged copy of its ``train-sr`` folder:
``checkpoint/generator.safetensors`` as ``<run>.safetensors``, its ``generator.json`` as
``<run>.json`` (the losses and the init, which the train state does not hold), snapshots as
``<run>.snap<N>.safetensors`` and ``val_log.csv``; ``tools/gpu_run.py --runs srgan_x4_gr`` brings
these back itself. When the source also has the run's compact discriminator
(``<run>.discriminator[-0000k-of-0000n].safetensors``: bfloat16 weights, no Adam moments, ~29 MB,
what ``gpu_run.py`` keeps), it is filed beside the generator and the three make a resume state
(exact for the generator, inexact for the discriminator); without it only the generator is kept
(the discriminator's full state, ~174 MB, stays in the run folder) and the adopted file is marked
as a network, not a resume state::

    <dest>/resume/<run>.discriminator[-0000k-of-0000n].safetensors + .json each

Everything but the data description and the status line is read from the files themselves
(step, nominal iterations, schedule, seed, optimizer, training segments with their hardware).
Y-PSNR figures come from ``val_log.csv`` and, optionally, from ``ddriqa eval-sr`` CSV outputs
(``--eval RUN:SET=FILE``), which add the sets the run did not validate on (e.g. BSD100) and the
bicubic reference.

Usage::

    python tools/adopt.py gpu_out --dest weights/checkpoints \\
        --data "packed/sr_train.npz: ../shared/data/sr/T91 + BSDS500/train + BSDS500/test" \\
        --eval srresnet_x4_gr:Set5=/tmp/gr_set5.csv --eval srresnet_x4_gr:BSD100=/tmp/gr_bsd.csv

Exit status: 0 adopted (the files written are listed on stdout); 2 nothing to adopt, an
unreadable file or a bad argument.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import shutil
import sys
from pathlib import Path

from ddriqa.training.validation import ValidationLog
from gpu_run import _discriminator_files  # tools/ is this script's folder: the one definition of those names

__all__ = ["adopt_run_outputs", "read_eval_csv"]

_LOSSES = {
    "srresnet": ("L1", {"pixel": "L1 (weight 1)", "adversarial": None, "perceptual": None}),
}
# An SRGAN's losses and init are not in its train state: they come from the run's provenance
# (``train-sr``'s ``generator.json``, copied beside the weights as ``<run>.json``).
_FROM_RUN_PROVENANCE = ("loss", "init")
_METRIC = "Y-PSNR, dB, 4-pixel border cropped, MATLAB-bicubic x4 LR"


def _log(msg):
    print(msg, file=sys.stderr, flush=True)


def read_eval_csv(path):
    """The ``mean`` row of an ``ddriqa eval-sr`` CSV: ``(psnr_y, psnr_y_bicubic)``."""
    with open(path, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("image") == "mean":
                return float(row["psnr_y"]), float(row["psnr_y_bicubic"])
    raise ValueError(f"{path}: no 'mean' row (is it the CSV written by ddriqa eval-sr?)")


def _merge_val_log(dest_log, run, rows):
    """Replace ``run``'s rows of ``dest_log`` by ``rows`` (other runs' rows kept, in order)."""
    kept = [r for r in ValidationLog.read_rows(dest_log) if r.get("run") != run]
    ValidationLog.write_rows(dest_log, kept + rows)


def _psnr_at(rows, step):
    return {r["set"]: round(float(r["psnr"]), 4) for r in rows if int(r["step"]) == int(step)}


def adopt_run_outputs(src, dest, *, data, runs=None, evals=None, status_note=None, extra=None):
    """Copy a run's resume state, snapshot and validation log into ``dest`` with provenance.

    Parameters
    ----------
    src : str or os.PathLike
        Folder with ``<run>.safetensors`` files (``tools/gpu_run.py --out``).
    dest : str or os.PathLike
        Usually ``weights/checkpoints``.
    data : list of str
        What the run was trained on (it is not recorded in the checkpoint).
    runs : list of str, optional
        Which runs to adopt (default: every ``<run>.safetensors`` with a train state).
    evals : dict, optional
        ``{run: {set_name: eval_sr_csv_path}}``: figures measured on the adopted float32 weights.
    status_note : str, optional
        Appended to the status line of each file (e.g. where and when it was trained).
    extra : dict, optional
        More provenance fields, e.g. ``{"batch_size": 16, "lr_patch": 32}`` for checkpoints
        written before the trainer recorded them; they override what the files say.

    Returns
    -------
    list of pathlib.Path
        The files written under ``dest``.
    """
    src, dest = Path(src), Path(dest)
    candidates = sorted(p for p in src.glob("*.safetensors") if re.fullmatch(r"[A-Za-z0-9_\-]+", p.stem))
    if runs is None:
        runs = [p.stem for p in candidates]
    if not runs:
        raise ValueError(f"{src}: no <run>.safetensors files to adopt")
    note = f"; {status_note}" if status_note else ""
    written = []
    for run in runs:
        written += _adopt_run(src, dest, run, data=data, evals=(evals or {}).get(run) or {}, note=note,
                              extra=extra)
    return written


def _read_run(src, run, data, extra):
    """``(weights, step, record, optimizer group)``: what every adopted file of ``run`` shares.

    ``record`` holds the provenance fields read from the files (plus ``data`` and ``extra``);
    the optimizer group is the generator's Adam settings (lr, betas) from the train state.
    """
    from ddriqa.models.weights import read_metadata
    from ddriqa.training.checkpoint import read_train_state

    weights = src / f"{run}.safetensors"
    if not weights.is_file():
        raise ValueError(f"{src}: no {weights.name}")
    state, config = read_train_state(weights), read_metadata(weights).get("config")
    user, step = state.get("user", {}), int(state["step"])
    arch = user.get("arch", "srresnet")
    record = {
        "run": run,
        "arch": arch,
        "config": config,
        "data": list(data),
        "iterations": int(user.get("iterations", step)),
        "schedule": user.get("schedule"),
        "seed": (user.get("sampler") or {}).get("seed"),
        **_loss_fields(arch, src / f"{run}.json", weights),
        "segments": user.get("segments", []),
        "train_seconds": round(float(user.get("elapsed_s", 0.0)), 1),
        "batch_size": user.get("batch_size"),
        "lr_patch": user.get("lr_patch"),
    }
    record |= dict(extra or {})
    group = ((state.get("g_optimizer") or {}).get("param_groups") or [{}])[0]
    return weights, step, record, group


def _loss_fields(arch, run_json, weights):
    if arch == "srgan":
        run_prov = _run_provenance(run_json)
        fields = {k: run_prov[k] for k in _FROM_RUN_PROVENANCE}
        if run_prov.get("init_detail"):  # the SRResNet state it started from (train-sr records it)
            fields["init_detail"] = run_prov["init_detail"]
        d_files = _discriminator_files(Path(weights).parent, f"{Path(weights).stem}.")
        fields["discriminator"] = (
            "VGG-style, 128x128 input; kept beside the generator as bfloat16 weights without Adam moments "
            f"({sum(f.stat().st_size for f in d_files) / 1e6:.1f} MB): the resume is exact for the generator, "
            "inexact for the discriminator" if d_files else
            "VGG-style, 128x128 input; its state (weights + Adam moments, ~174 MB) is not kept here: it stays "
            "in the run's checkpoint folder")
        return fields
    if arch in _LOSSES:
        return dict(zip(("loss", "losses"), _LOSSES[arch]))
    raise ValueError(f"{weights}: adopting {arch!r} runs is not supported (only {sorted(_LOSSES) + ['srgan']})")


def _validation(rows, step, evals):
    """``(figures, validation record)`` at ``step``: the run's log plus the eval-sr CSVs."""
    figures, bicubic, sources = _psnr_at(rows, step), {}, {}
    for set_name, csv_path in evals.items():
        figures[set_name], bicubic[set_name] = (round(v, 4) for v in read_eval_csv(csv_path))
        sources[set_name] = str(csv_path)
    validation = {"metric": _METRIC, "step": step, "psnr_y": figures, "log": "val_log.csv"}
    if bicubic:
        validation |= {"psnr_y_bicubic": bicubic, "eval_sr_csv": sources}
    return figures, validation


def _adopt_run(src, dest, run, *, data, evals, note, extra):
    from ddriqa.models.weights import write_provenance

    weights, step, common, group = _read_run(src, run, data, extra)
    rows = ValidationLog.read_rows(src / "val_log.csv", run)
    figures, validation = _validation(rows, step, evals)
    resume = dest / "resume"
    resume.mkdir(parents=True, exist_ok=True)
    target = resume / weights.name
    shutil.copyfile(weights, target)
    optim_src = src / f"{run}.g_optim.safetensors"
    optim_dst = resume / optim_src.name
    optimizer = {"name": "Adam", "lr": group.get("lr"), "betas": group.get("betas"),
                 "state_file": optim_dst.name if optim_src.is_file() else None}
    exact = "exact" if optim_src.is_file() else "light (no Adam moments)"
    d_files = _discriminator_files(src, f"{run}.") if common["arch"] == "srgan" else []
    if d_files:
        exact = "generator exact, discriminator compact"
        status = (f"generator of an SRGAN run in progress (step {step:,} of the nominal {common['iterations']:,}), "
                  f"fine-tuned from {common['init']}; with {run}.discriminator* and the Adam moments a resume "
                  f"state (exact for the generator, inexact for the discriminator); not a shipped backbone{note}")
    elif common["arch"] == "srgan":
        exact = "generator only"
        status = (f"generator of an SRGAN run in progress (step {step:,} of the nominal {common['iterations']:,}), "
                  f"fine-tuned from {common['init']}; not a resume state (the discriminator stays in the run "
                  f"folder); not a shipped backbone{note}")
    else:
        status = (f"interim {exact} resume state of a run in progress (step {step:,} of the nominal "
                  f"{common['iterations']:,}); not a shipped backbone{note}")
    written = [write_provenance(target, **common, step=step, optimizer=optimizer, validation=validation,
                                validation_psnr_y=figures, status=status), target]
    written += _adopt_optimizer_state(optim_src, optim_dst, target, common, step, optimizer, validation, note)
    if d_files:
        written += _adopt_discriminator(d_files, resume, run, target, common, step, validation, note)
    _merge_val_log(resume / "val_log.csv", run, rows)
    written.append(resume / "val_log.csv")
    written += _adopt_snapshots(src, dest, run, rows, common, step, note)
    _log(f"adopt: {run} at step {step} ({exact}) -> {resume}")
    return written


def _adopt_discriminator(files, resume, run, target, common, step, validation, note):
    """File the run's compact discriminator ``files`` beside its generator (replacing an older
    one), each file with its own provenance record."""
    from ddriqa.models.weights import write_provenance

    for stale in _discriminator_files(resume, f"{run}."):
        for old in (stale, stale.with_suffix(".json"), stale.with_suffix(".md")):
            old.unlink(missing_ok=True)
    written = []
    for i, f in enumerate(files, 1):
        dst = resume / f.name
        shutil.copyfile(f, dst)
        shard = f" (shard {i} of {len(files)})" if len(files) > 1 else ""
        written += [write_provenance(
            dst, **{k: v for k, v in common.items() if k != "config"}, step=step, dtype="bfloat16",
            pairs_with=target.name, validation=validation,
            status=(f"discriminator{shard} of the {run} run at step {step:,}: bfloat16 weights without Adam "
                    f"moments; with {target.name} and its Adam moments a resume state that is inexact for the "
                    f"discriminator; not a network to use{note}")), dst]
    return written


def _adopt_optimizer_state(optim_src, optim_dst, target, common, step, optimizer, validation, note):
    """Copy the Adam moments beside the weights, or remove stale ones when the run brought none."""
    from ddriqa.models.weights import write_provenance

    if optim_src.is_file():
        shutil.copyfile(optim_src, optim_dst)
        return [write_provenance(
            optim_dst, **common, step=step, optimizer=optimizer, validation=validation, pairs_with=target.name,
            status=f"Adam moments of the generator at step {step:,}: with {target.name}, the exact resume "
                   f"state of a run in progress; not a network{note}"), optim_dst]
    if optim_dst.exists():
        _log(f"adopt: {common['run']}: no Adam moments in {optim_src.parent}; removing the stale {optim_dst} "
             "(a light resume follows)")
        optim_dst.unlink()
        for stale in (optim_dst.with_suffix(".json"), optim_dst.with_suffix(".md")):
            stale.unlink(missing_ok=True)
    return []


def _adopt_snapshots(src, dest, run, rows, common, step, note):
    """Copy the run's float16 snapshots to ``dest/snapshots/<run>_step<N>.safetensors`` with provenance."""
    from ddriqa.models.weights import write_provenance

    written = []
    for snap in sorted(src.glob(f"{run}.snap*.safetensors")):
        snap_step = int(snap.name[len(run) + len(".snap"):-len(".safetensors")])
        snap_dst = dest / "snapshots" / f"{run}_step{snap_step}.safetensors"
        snap_dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(snap, snap_dst)
        snap_fig = _psnr_at(rows, snap_step)
        written.append(write_provenance(
            snap_dst, **common, step=snap_step, dtype="float16", validation_psnr_y=snap_fig,
            validation={"metric": _METRIC, "step": snap_step, "psnr_y": snap_fig,
                        "source": "the run's float32 val_log.csv at this step" if snap_fig
                        else "not validated at this step"},
            status=f"float16 snapshot of the {run} run at step {snap_step:,} (of {step:,} so far), for the "
                   f"DDR-vs-training analysis; not a shipped backbone{note}"))
        written.append(snap_dst)
    return written


def _run_provenance(path):
    """The fields of a run's own provenance JSON that its train state lacks (SRGAN: loss, init)."""
    try:
        record = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ValueError(f"{path}: an SRGAN run needs its provenance JSON (train-sr's generator.json, copied "
                         f"beside the weights) for its losses and init: {exc}") from None
    missing = [k for k in _FROM_RUN_PROVENANCE if not record.get(k)]
    if missing:
        raise ValueError(f"{path}: no {', '.join(missing)} in the run's provenance")
    return record


def _parse_evals(items):
    evals = {}
    for item in items:
        key, sep, path = item.partition("=")
        run, sep2, set_name = key.partition(":")
        if not (sep and sep2 and run and set_name and path):
            raise SystemExit(f"adopt: --eval wants RUN:SET=FILE, got {item!r}")
        evals.setdefault(run, {})[set_name] = path
    return evals


def main(argv=None):
    p = argparse.ArgumentParser(prog="python tools/adopt.py", description=__doc__.split("\n\n")[0])
    p.add_argument("src", help="folder the run's files are in (tools/gpu_run.py --out)")
    p.add_argument("--dest", default="weights/checkpoints")
    p.add_argument("--data", action="append", required=True, help="what the run was trained on (repeatable)")
    p.add_argument("--runs", default=None, help="comma-separated runs to adopt (default: all)")
    p.add_argument("--eval", action="append", default=[], metavar="RUN:SET=FILE",
                   help="an `ddriqa eval-sr` CSV measured on the run's weights (repeatable)")
    p.add_argument("--note", default=None, help="appended to each file's status line")
    p.add_argument("--set", action="append", default=[], metavar="KEY=JSON",
                   help="an extra provenance field, e.g. --set batch_size=16 (repeatable)")
    args = p.parse_args(argv)
    runs = args.runs.split(",") if args.runs else None
    extra = {}
    for item in args.set:
        key, sep, value = item.partition("=")
        if not (sep and key):
            p.error(f"--set wants KEY=JSON, got {item!r}")
        try:
            extra[key] = json.loads(value)
        except ValueError:
            extra[key] = value
    try:
        files = adopt_run_outputs(args.src, args.dest, data=args.data, runs=runs, evals=_parse_evals(args.eval),
                                  status_note=args.note, extra=extra)
    except (ValueError, OSError) as exc:
        _log(f"adopt: error: {exc}")
        return 2
    for f in files:
        print(f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
