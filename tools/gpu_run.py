"""Train SRResNet-wGR and -woGR side by side on one machine for a wall-clock budget.

Run from the repository root, on a GPU machine or (with ``--allow-cpu``) on the CPU; see
``tools/TRAINING.md``::

    python tools/gpu_run.py --pack packed/sr_train.npz --val-pack packed/sr_val.npz \\
        --resume-from weights/checkpoints/resume --out gpu_out --minutes 8

What it does:

1. checks CUDA (refuses to run without it unless ``--allow-cpu``) and prints the versions;
2. for each run (default ``srresnet_x4_gr`` and ``srresnet_x4_nogr``) prepares a work folder,
   seeded from ``--resume-from DIR`` when that folder holds ``<run>.safetensors`` (checkpoint
   weights + training state) and optionally ``<run>.g_optim.safetensors`` (Adam moments: exact
   resume; without them a light resume);
3. starts one ``ddriqa train-sr`` process per run, all at once: the small networks leave a GPU
   mostly idle, so two processes overlap each other's launch gaps; each process samples its
   batches on the device from the unpacked images (no DataLoader) and stops itself at the budget;
   a progress line per run and minute (the last ``train_log.csv`` row) is printed meanwhile;
4. writes a few small files to ``--out`` (at most 8, each at most 16 MiB, 64 MiB together: what a
   device machine sends back; what does not fit is named in the report instead): per run
   ``<run>.safetensors`` and ``<run>.g_optim.safetensors``, ``val_log.csv`` (all runs),
   ``gpu_run_report.json`` (summaries, speed, logs' tails), then the float16 snapshots
   ``<run>.snap<step>.safetensors`` of this sitting, newest first. ``tools/adopt.py`` files them.

A process that fails early makes the script return within seconds with its error, so that a
fixed rerun still fits in the machine time. ``--bench SECONDS`` only measures the training
speed of the full-size SRResNet (batch 16; ``--bench-arch srgan``: one G and one D update) on
the current device and prints it.

Exit status: 0 every run ended well; 1 a training process failed; 2 bad arguments, a missing
pack, or no CUDA without ``--allow-cpu``.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ddriqa.training.validation import ValidationLog

#: the runs this script trains: {name: (arch, train-sr flags)}
RUNS = {"srresnet_x4_gr": ("srresnet", ["--global-residual"]),
        "srresnet_x4_nogr": ("srresnet", ["--no-global-residual"]),
        "srgan_x4_gr": ("srgan", [])}
DEFAULT_RUNS = ("srresnet_x4_gr", "srresnet_x4_nogr")
#: an SRGAN's discriminator comes back compact: bfloat16 weights in two ~14.5 MB shards, no Adam
#: moments (the exact state, 174 MB, is over what a device machine sends back); each sitting's
#: resume is therefore inexact for the discriminator, as the run's log says
SRGAN_D_FLAGS = ["--d-dtype", "bfloat16", "--no-d-optimizer-state"]
MAX_FILE = 16 * 2**20  # what a device machine sends back: files of at most 16 MiB,
MAX_TOTAL = 64 * 2**20  # 64 MiB together,
MAX_FILES = 8  # at most 8 of them


def _log(msg):
    print(msg, flush=True)


def bench(seconds=20.0, device=None, batch_size=16, lr_patch=32, amp="auto", channels_last="auto", arch="srresnet"):
    """Iterations per second of full-size training (random batches on the device).

    ``arch="srresnet"``: SRResNet with L1; ``arch="srgan"``: one generator and one discriminator
    update per iteration (the 64-feature VGG-style discriminator on 128x128 patches, no perceptual loss).
    """
    import numpy as np
    import torch

    from ddriqa.models.srresnet import SRResNet
    from ddriqa.training.data import PatchSampler
    from ddriqa.training.schedules import SRRESNET_SCHEDULE
    from ddriqa.training.srresnet_trainer import SRResNetTrainer

    if arch not in ("srresnet", "srgan"):
        raise ValueError(f"arch must be 'srresnet' or 'srgan', got {arch!r}")

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    rng = np.random.default_rng(0)
    hr = [rng.integers(0, 256, (4 * 48, 4 * 48, 3), dtype=np.uint8) for _ in range(4)]
    lr = [im[::4, ::4].copy() for im in hr]  # speed only: any aligned pair will do
    sampler = PatchSampler(hr, lr, lr_patch=lr_patch, batch_size=batch_size, seed=0, device=device)
    with tempfile.TemporaryDirectory() as tmp:
        if arch == "srgan":
            from ddriqa.models.discriminator import VGGDiscriminator
            from ddriqa.training.srgan_trainer import SRGANTrainer

            t = SRGANTrainer(SRResNet(), VGGDiscriminator(input_size=4 * lr_patch), sampler, tmp, iterations=10**9,
                             amp=amp, channels_last=channels_last)
        else:
            t = SRResNetTrainer(SRResNet(), sampler, tmp, iterations=10**9, schedule=SRRESNET_SCHEDULE,
                                amp=amp, channels_last=channels_last)
        for _ in range(3):  # warm-up (cuDNN autotuning, allocator)
            t.train_step()
        if t.device.type == "cuda":
            torch.cuda.synchronize()
        n, t0 = 0, time.perf_counter()
        while time.perf_counter() - t0 < seconds:
            t.train_step()
            n += 1
            if t.device.type == "cuda" and n % 20 == 0:
                torch.cuda.synchronize()
        if t.device.type == "cuda":
            torch.cuda.synchronize()
        dt = time.perf_counter() - t0
    return {"arch": arch, "device": str(device), "iterations": n, "seconds": dt, "it_per_s": n / dt, "amp": t.amp,
            "channels_last": t.channels_last, "threads": torch.get_num_threads()}


def _discriminator_files(folder, prefix=""):
    """The discriminator's files (one file or its shards) in a checkpoint folder, or with the run's
    name as ``prefix`` (``"srgan_x4_gr."``) in an --out / --resume-from folder."""
    folder = Path(folder)
    return sorted(folder.glob(f"{prefix}discriminator.safetensors")) + sorted(
        folder.glob(f"{prefix}discriminator-?????-of-?????.safetensors"))


def _prepare(run, work, resume_from):
    run_dir = work / run
    ck = run_dir / "checkpoint"
    ck.mkdir(parents=True, exist_ok=True)
    if resume_from is None:
        return "new"
    src = Path(resume_from)
    weights = src / f"{run}.safetensors"
    if not weights.is_file():
        return "new (nothing to resume in --resume-from)"
    shutil.copyfile(weights, ck / "generator.safetensors")
    mode = "light resume (no Adam moments)"
    optim = src / f"{run}.g_optim.safetensors"
    if optim.is_file():
        shutil.copyfile(optim, ck / "g_optim.safetensors")
        mode = "exact resume"
    if RUNS[run][0] == "srgan":
        for d in _discriminator_files(src, f"{run}."):
            shutil.copyfile(d, ck / d.name[len(run) + 1:])
        if src.joinpath(f"{run}.json").is_file():  # the run's provenance (losses, init), as train-sr wrote it
            shutil.copyfile(src / f"{run}.json", run_dir / "generator.json")
        mode += " of the generator, compact discriminator (bfloat16, Adam moments restart)"
    rows = ValidationLog.read_rows(src / "val_log.csv", run)
    if rows:
        ValidationLog.write_rows(run_dir / "val_log.csv", rows)
    return mode


def _command(run, args, work):
    arch, flags = RUNS[run]
    gan = arch == "srgan"
    cmd = [sys.executable, "-c", "from ddriqa.cli import main; main()", "train-sr", "--arch", arch,
           "--data", args.pack, "--iterations", str(args.srgan_iterations if gan else args.iterations),
           "--output", str(work / run), "--resume",
           "--name", run, "--seed", str(args.seed), "--batch-size", str(args.batch_size),
           "--max-minutes", str(args.minutes),
           "--snapshot-steps", args.srgan_snapshot_steps if gan else args.snapshot_steps,
           "--log-every", str(args.log_every), "--device", args.device, "--checkpoint-every", str(args.checkpoint_every)]
    if gan:
        cmd += SRGAN_D_FLAGS + (["--init", args.srgan_init] if args.srgan_init else [])
    if args.val_pack:
        cmd += ["--val-pack", args.val_pack, "--val-sets", args.val_sets, "--val-every", str(args.val_every)]
    if args.stop_at:
        cmd += ["--stop-at", str(args.stop_at)]
    if args.tiny:
        cmd += ["--tiny", "--lr-patch", "8"]
    return cmd + flags


def _tail(path, n=3000):
    try:
        return Path(path).read_text(encoding="utf-8", errors="replace")[-n:]
    except OSError:
        return ""


def _collect(runs, work, out, report):
    """Copy each run's resume state, new snapshots and logs to ``out``; returns the names written.

    What comes back from a device machine is at most ``MAX_FILES`` files of at most ``MAX_FILE``
    bytes, ``MAX_TOTAL`` together: the resume states and the two logs come first, then the
    snapshots of this sitting, newest first, while they fit; any left out is named in the report.
    """
    out.mkdir(parents=True, exist_ok=True)
    written, used = [], [0]

    def put(src, name):
        size = src.stat().st_size if src.is_file() else None
        if size is None:
            return
        if size > MAX_FILE or used[0] + size > MAX_TOTAL or len(written) + 3 > MAX_FILES:  # + val_log + report
            report.setdefault("not_copied", []).append(f"{src} ({size} bytes: over the limits on what comes back)")
            return
        shutil.copyfile(src, out / name)
        written.append(name)
        used[0] += size

    rows, snapshots = [], []
    for run in runs:
        ck = work / run / "checkpoint"
        put(ck / "generator.safetensors", f"{run}.safetensors")
        put(ck / "g_optim.safetensors", f"{run}.g_optim.safetensors")
        if RUNS[run][0] == "srgan":  # the compact discriminator and the run's provenance (losses, init)
            for d in _discriminator_files(ck):
                put(d, f"{run}.{d.name}")
            put(work / run / "generator.json", f"{run}.json")
        for snap in (work / run / "snapshots").glob("generator_step*.safetensors"):
            step = int(snap.stem.rsplit("step", 1)[1])
            if step:  # step 0: re-made from the seed
                snapshots.append((step, run, snap))
        rows += ValidationLog.read_rows(work / run / "val_log.csv")
        report["runs"][run]["train_log_tail"] = _tail(work / run / "train_log.csv", 1500)
    for step, run, snap in sorted(snapshots, key=lambda t: (-t[0], t[1])):  # ~3 MB each
        put(snap, f"{run}.snap{step}.safetensors")
    if rows:
        ValidationLog.write_rows(out / "val_log.csv", rows)
        written.append("val_log.csv")
    report["files"] = written + ["gpu_run_report.json"]
    (out / "gpu_run_report.json").write_text(json.dumps(report, indent=2, default=str), encoding="utf-8")
    return written


def _parser():
    p = argparse.ArgumentParser(prog="python tools/gpu_run.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--pack", default="packed/sr_train.npz", help="training pack (ddriqa pack-sr-data)")
    p.add_argument("--val-pack", default="packed/sr_val.npz", help="validation pack ('' for none)")
    p.add_argument("--val-sets", default="Set5,Set14,BSD100")
    p.add_argument("-o", "--output", "--out", dest="out", default=os.environ.get("OUT", "gpu_out"),
                   help="folder for the files to keep (default: $OUT, else gpu_out)")
    p.add_argument("--work", default=None, help="scratch folder (default: a temporary folder)")
    p.add_argument("--minutes", type=float, default=8.0, help="training wall-clock budget per run")
    p.add_argument("--runs", default=",".join(DEFAULT_RUNS),
                   help=f"comma-separated subset of {list(RUNS)} (an SRGAN run goes alone: its files fill the 8)")
    p.add_argument("--srgan-init", default=None, metavar="WEIGHTS",
                   help="SRResNet weights a new SRGAN run starts from (e.g. the adopted resume state at 20k)")
    p.add_argument("--srgan-iterations", type=int, default=50_000,
                   help="nominal SRGAN run length (its lr milestones are scaled to it)")
    p.add_argument("--srgan-snapshot-steps", default="1000,2500,5000,10000,25000,50000")
    p.add_argument("--iterations", type=int, default=100_000,
                   help="nominal run length: the lr milestones are scaled to it (keep it the same across resumes)")
    p.add_argument("--stop-at", type=int, default=None,
                   help="stop each run at this global step (e.g. to match a twin run); default: --iterations")
    p.add_argument("--val-every", type=int, default=5000)
    p.add_argument("--checkpoint-every", type=int, default=10_000)
    p.add_argument("--snapshot-steps", default="0,2000,10000,50000,100000,300000")
    p.add_argument("--log-every", type=int, default=500)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--resume-from", default=None, help="folder with the files of an earlier run of this script")
    p.add_argument("--device", default="cuda")
    p.add_argument("--threads", type=int, default=4, help="CPU threads per training process")
    p.add_argument("--allow-cpu", action="store_true", help="run without CUDA (CPU training, tests)")
    p.add_argument("--tiny", action="store_true", help="tiny networks and patches (tests)")
    p.add_argument("--bench", type=float, default=None, metavar="SECONDS", help="only measure training speed")
    p.add_argument("--bench-arch", choices=["srresnet", "srgan"], default="srresnet", help="what --bench trains")
    return p


def _environment():
    import torch

    info = {"torch": torch.__version__, "cuda": torch.cuda.is_available(), "python": sys.version.split()[0]}
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def _input_problem(args, runs):
    """Why the runs cannot start (a message), or None."""
    unknown = [r for r in runs if r not in RUNS]
    if unknown:
        return f"unknown runs {unknown}; choose from {list(RUNS)}"
    gans = [r for r in runs if RUNS[r][0] == "srgan"]
    if gans and len(runs) > 1:
        return (f"run {gans[0]} alone: with its compact discriminator its resume state is 5 files, and "
                f"{len(runs) - 1} more run(s) would not come back within 8 files")
    for run in gans:
        resuming = args.resume_from and Path(args.resume_from, f"{run}.safetensors").is_file()
        if resuming and not _discriminator_files(args.resume_from, f"{run}."):
            return (f"{args.resume_from} has {run}.safetensors but no {run}.discriminator*.safetensors: bring "
                    "them, or restart the adversarial phase from that generator (--srgan-init it, no --resume-from)")
        if not resuming and not args.srgan_init:
            return f"a new {run} needs --srgan-init (the SRResNet weights it starts from)"
        if args.srgan_init and not Path(args.srgan_init).is_file():
            return f"--srgan-init {args.srgan_init}: no such weights file"
    for f in [args.pack] + ([args.val_pack] if args.val_pack else []):
        if not Path(f).is_file():
            return f"missing pack {f} (make it with `ddriqa pack-sr-data`, and bring it to this machine)"
    return None


def _start(runs, args, work, report):
    """Prepare each run's work folder and start its ``train-sr`` process: ``{run: (proc, stdout, stderr)}``."""
    procs = {}
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), MKL_NUM_THREADS=str(args.threads))
    for run in runs:
        mode = _prepare(run, work, args.resume_from)
        _log(f"gpu_run: {run}: {mode}")
        stdout = open(work / run / "stdout.log", "w", encoding="utf-8")
        stderr = open(work / run / "stderr.log", "w", encoding="utf-8")
        proc = subprocess.Popen(_command(run, args, work), stdout=stdout, stderr=stderr, env=env)
        procs[run] = (proc, stdout, stderr)
        report["runs"][run] = {"mode": mode}
    return procs


def _wait(procs, work, t_start, hard_limit):
    """Wait for the processes, with a progress line per run and minute; terminate overrunning ones."""
    pending = set(procs)
    next_report = time.time() + 60
    while pending:
        time.sleep(2)
        if time.time() >= next_report:  # one progress line per run and minute (step, loss, lr, time)
            next_report += 60
            for run in sorted(pending):
                last = _tail(work / run / "train_log.csv", 200).strip().splitlines()[-1:]
                _log(f"gpu_run: {run} at {time.time() - t_start:.0f} s: step,loss,lr,time = {last[0] if last else '-'}")
        for run in list(pending):
            proc = procs[run][0]
            if proc.poll() is not None:
                pending.discard(run)
                _log(f"gpu_run: {run} exited with {proc.returncode} after {time.time() - t_start:.0f} s")
                if proc.returncode != 0:
                    _log(_tail(work / run / "stderr.log", 2000))
        if pending and time.time() > hard_limit:
            for run in sorted(pending):
                _log(f"gpu_run: {run} overran its budget; terminating it")
            _terminate([procs[run][0] for run in pending])
            pending.clear()


def _terminate(processes):
    """SIGTERM, then SIGKILL for those still alive 10 s later."""
    for proc in processes:
        proc.terminate()
    time.sleep(10)
    for proc in processes:
        if proc.poll() is None:
            proc.kill()


def _summarise(procs, work, report):
    """Record each run's return code, stderr tail and JSON summary; returns the exit status."""
    status = 0
    for run, (proc, so, se) in procs.items():
        so.close()
        se.close()
        proc.wait()
        entry = report["runs"][run]
        entry["returncode"] = proc.returncode
        entry["stderr_tail"] = _tail(work / run / "stderr.log")
        summary = _tail(work / run / "stdout.log").strip().splitlines()
        try:
            entry["summary"] = json.loads(summary[-1]) if summary else None
        except ValueError:
            entry["summary"] = summary[-1:]
        status = status or (1 if proc.returncode else 0)
    return status


def _bench(args):
    # the defaults, then the contiguous-layout float32 reference, on either device
    results = [bench(args.bench, device=args.device, arch=args.bench_arch),
               bench(args.bench, device=args.device, amp=False, channels_last=False, arch=args.bench_arch)]
    for r in results:
        _log(f"bench: {json.dumps(r)}")
    return 0


def main(argv=None):
    """Run the script with ``argv`` (default: the command line); returns the exit status."""
    args = _parser().parse_args(argv)
    t_start = time.time()
    info = _environment()
    _log(f"gpu_run: {json.dumps(info)}")
    if not info["cuda"] and not args.allow_cpu:
        _log("gpu_run: CUDA is not available (use --allow-cpu to run on the CPU anyway)")
        return 2
    if not info["cuda"]:
        args.device = "cpu"
    if args.bench is not None:
        return _bench(args)
    runs = [r.strip() for r in args.runs.split(",") if r.strip()]
    problem = _input_problem(args, runs)
    if problem:
        _log(f"gpu_run: {problem}")
        return 2
    work = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="ddriqa_gpu_run_"))
    report = {"info": info, "args": vars(args), "runs": {}}
    procs = _start(runs, args, work, report)
    _wait(procs, work, t_start, hard_limit=t_start + 60 * args.minutes + 90)  # + loading, final save/validation
    status = _summarise(procs, work, report)
    report["wall_seconds"] = round(time.time() - t_start, 1)
    written = _collect(runs, work, Path(args.out), report)
    _log("gpu_run: wrote " + ", ".join(written + ["gpu_run_report.json"]))
    for run in runs:
        s = report["runs"][run].get("summary") or {}
        if isinstance(s, dict):
            _log(f"gpu_run: {run}: step {s.get('step')}, {s.get('iterations_per_s', float('nan')):.1f} it/s, "
                 f"val {s.get('validation')}")
    return status


if __name__ == "__main__":
    sys.exit(main())
