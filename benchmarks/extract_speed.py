"""DDR extraction speed: the library's DDRExtractor vs a naive PyTorch loop, and a matmul yardstick.

Measures, in one process and alternating round by round (so that load from other processes on
the machine hits all three alike):

- **extractor**: :class:`ddriqa.features.ddr.DDRExtractor` with its defaults (inference mode,
  channels-last, float32, ``CPU_BATCH_SIZE``, reader thread) on in-memory uint8 images;
- **naive**: the same network and crops, NCHW float32, batch 32, ``torch.no_grad()``, torch
  defaults otherwise;
- **matmul**: ``torch.mm`` of two 2048x2048 float32 matrices (2 * 2048**3 FLOP).

Effective GFLOP/s = analytic FLOPs of the network up to the tapped layer (2 * MACs of every conv
that runs, from the layer shapes; bias adds and activations not counted) / wall time. It can
exceed the matmul rate because the convolution library may use fast (e.g. Winograd) algorithms
that do fewer multiplications than the direct convolution counted here.

A sweep of the extractor's batch size (default 1, 2, 4, 8) documents the choice of
``ddriqa.features.ddr.CPU_BATCH_SIZE``. The outputs of extractor and naive loop are compared
(max abs difference) to show that both compute the same features.

Each round runs in fresh interpreters, one per OpenMP wait policy (``--policies``, default: the
unset default and ``OMP_WAIT_POLICY=PASSIVE``), alternating, after waiting (bounded) for other
processes to leave the CPU; medians, best rounds and the per-round other-process load are
reported.

Usage (from the repository root)::

    python benchmarks/extract_speed.py --rounds 6 --images 32 \
        --output benchmarks/results/extract_speed.md

On a GPU (``--device cuda``; not run on the CPU-only development machine) the script instead
compares, in one process and alternating round by round, the network in float32 NCHW, float32
channels-last, and float16 / bfloat16 ``torch.autocast`` (channels-last and NCHW), plus the
library's ``DDRExtractor(device="cuda")`` with and without ``autocast``; it records the card's
name, times with ``torch.cuda.synchronize()``, includes the host-to-device copy of the crops and
the copy of the features back to the host, and reports the max relative deviation of each
variant's features from float32::

    python benchmarks/extract_speed.py --device cuda --rounds 5 --images 256 --cuda-batch 32 \
        --output benchmarks/results/extract_speed_cuda.md
"""

from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _report import report_head  # noqa: E402  (benchmarks/ is the script's folder)


def conv_flops(model, layer, height, width, in_channels=3):
    """Analytic FLOPs (2 * MACs) of the convs that ``model.forward_features(x, layer)`` runs on one image.

    The layer shapes are found by running the network on the ``meta`` device (no computation).
    """
    meta = copy.deepcopy(model).to("meta")
    total = [0]

    def hook(module, inputs, output):
        k = module.kernel_size[0] * module.kernel_size[1]
        cin = module.in_channels // module.groups
        total[0] += 2 * cin * k * output.shape[1] * output.shape[2] * output.shape[3]

    handles = [m.register_forward_hook(hook) for m in meta.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        meta.forward_features(torch.empty(1, in_channels, height, width, device="meta"), layer)
    for h in handles:
        h.remove()
    return total[0]


def naive_extract(model, images, crop, layer, batch_size=32):
    """The reference loop: NCHW float32, batch 32, torch.no_grad, torch defaults."""
    out = []
    for s in range(0, len(images), batch_size):
        crops = []
        for img in images[s:s + batch_size]:
            h, w = img.shape[:2]
            top, left = (h - crop) // 2, (w - crop) // 2
            crops.append(img[top:top + crop, left:left + crop].astype(np.float32) / 255.0)
        x = torch.from_numpy(np.stack(crops)).permute(0, 3, 1, 2).contiguous()
        with torch.no_grad():
            fea = model.forward_features(x, layer)
        out.append(fea.reshape(fea.shape[0], -1).numpy())
    return np.concatenate(out)


def timed(fn):
    t = time.perf_counter()
    result = fn()
    return time.perf_counter() - t, result


def matmul_rate(n=2048, reps=3):
    a = torch.rand(n, n)
    b = torch.rand(n, n)
    torch.mm(a, b)
    t = time.perf_counter()
    for _ in range(reps):
        torch.mm(a, b)
    return reps * 2 * n**3 / (time.perf_counter() - t) / 1e9


def _cpu_times():
    """(busy, total) jiffies of the whole machine, and this process's own jiffies."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    own = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    return sum(fields) - idle, sum(fields), int(own[11]) + int(own[12])


def others_busy_cores(interval=1.0):
    """CPU cores kept busy by other processes over ``interval`` seconds (Linux; NaN elsewhere)."""
    try:
        b0, t0, o0 = _cpu_times()
        time.sleep(interval)
        b1, t1, o1 = _cpu_times()
    except (OSError, ValueError, IndexError):
        return float("nan")
    if t1 == t0:
        return 0.0
    return max(0.0, (b1 - b0) - (o1 - o0)) / (t1 - t0) * (os.cpu_count() or 1)


def wait_for_quiet(threshold, max_wait):
    """Sleep until other processes use fewer than ``threshold`` cores (at most ``max_wait`` s)."""
    deadline = time.monotonic() + max_wait
    busy = others_busy_cores()
    while busy == busy and busy >= threshold and time.monotonic() < deadline:
        busy = others_busy_cores()
    return busy


def cpu_name():
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def measure(args):
    """Run ``args.rounds`` alternating rounds and the batch-size sweep in this process; a dict of results."""
    from ddriqa.features.ddr import DDRExtractor
    from ddriqa.models.srresnet import SRResNet

    rng = np.random.default_rng(args.seed)
    images = list(rng.integers(0, 256, size=(args.images, args.size, args.size, 3), dtype=np.uint8))
    net = SRResNet().reset_parameters(torch.Generator().manual_seed(args.seed)).eval()
    rows = {"extractor": [], "naive": [], "matmul": [], "busy": []}
    max_diff = 0.0
    if args.rounds:
        extractor = DDRExtractor(weights=net, layer=args.layer, crop=args.crop, device="cpu").fit()
        # warm-up both paths (oneDNN primitive creation) on a few images
        extractor.transform(images[:2])
        naive_extract(net, images[:2], args.crop, args.layer)
    for _ in range(args.rounds):
        rows["busy"].append(wait_for_quiet(args.quiet_cores, args.max_wait))
        dt_n, ref = timed(lambda: naive_extract(net, images, args.crop, args.layer))
        dt_e, got = timed(lambda: extractor.transform(images))
        rows["naive"].append(len(images) / dt_n)
        rows["extractor"].append(len(images) / dt_e)
        rows["matmul"].append(matmul_rate())
        max_diff = max(max_diff, float(np.abs(ref - got).max()))
    sweep = []
    for bs in [int(v) for v in args.sweep.split(",") if v.strip()]:
        wait_for_quiet(args.quiet_cores, args.max_wait)
        ex = DDRExtractor(weights=net, layer=args.layer, crop=args.crop, device="cpu", batch_size=bs).fit()
        ex.transform(images[:bs])
        n = min(args.sweep_images, len(images))
        dt = min(timed(lambda: ex.transform(images[:n]))[0] for _ in range(args.sweep_trials))
        sweep.append((bs, n / dt))
    return {
        "rows": rows,
        "max_diff": max_diff,
        "sweep": sweep,
        "flops": conv_flops(net, args.layer, args.crop, args.crop),
        "threads": torch.get_num_threads(),
        "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
    }


def _child(args, policy, rounds, sweep):
    """Run :func:`measure` in a fresh interpreter with ``OMP_WAIT_POLICY`` set for ``policy``."""
    import json
    import subprocess
    import tempfile

    env = dict(os.environ)
    env.pop("OMP_WAIT_POLICY", None)
    if policy != "default":
        env["OMP_WAIT_POLICY"] = policy.upper()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        cmd = [
            sys.executable, os.path.abspath(__file__), "--child-json", str(out), "--rounds", str(rounds),
            "--sweep", sweep, "--images", str(args.images), "--size", str(args.size), "--crop", str(args.crop),
            "--layer", args.layer, "--sweep-images", str(args.sweep_images), "--sweep-trials", str(args.sweep_trials),
            "--seed", str(args.seed), "--quiet-cores", str(args.quiet_cores), "--max-wait", str(args.max_wait),
        ]
        subprocess.run(cmd, env=env, check=True)
        return json.loads(out.read_text())


def _section(policy, res, rounds_label):
    from ddriqa.features.ddr import CPU_BATCH_SIZE

    rows, flops = res["rows"], res["flops"]
    lines = [f"## OMP_WAIT_POLICY={res['omp_wait_policy']} ({policy})", ""]
    if rows["naive"]:
        med = {k: statistics.median(v) for k, v in rows.items() if k != "busy"}
        best = {k: max(v) for k, v in rows.items() if k != "busy"}
        sp_best = best["extractor"] / best["naive"]
        sp_med = statistics.median(e / n for e, n in zip(rows["extractor"], rows["naive"]))
        r_best = best["extractor"] * flops / 1e9 / best["matmul"]
        r_med = statistics.median(e * flops / 1e9 / m for e, m in zip(rows["extractor"], rows["matmul"]))

        def verdict(v, goal):
            return "met" if v >= goal else "NOT met"

        lines += [
            f"{len(rows['naive'])} rounds ({rounds_label}); other-process load measured before each round: "
            + ", ".join(f"{b:.2f}" for b in rows["busy"]) + " cores.",
            "",
            "| method | images/s median | images/s best round | effective GFLOP/s median | best |",
            "|---|---:|---:|---:|---:|",
            f"| naive: NCHW float32, batch 32, `torch.no_grad`, torch defaults | {med['naive']:.2f} | "
            f"{best['naive']:.2f} | {med['naive'] * flops / 1e9:.1f} | {best['naive'] * flops / 1e9:.1f} |",
            f"| DDRExtractor defaults (inference mode, channels-last float32, batch {CPU_BATCH_SIZE}, reader thread) | "
            f"{med['extractor']:.2f} | {best['extractor']:.2f} | {med['extractor'] * flops / 1e9:.1f} | "
            f"{best['extractor'] * flops / 1e9:.1f} |",
            f"| `torch.mm` 2048x2048 float32 (yardstick) | | | {med['matmul']:.1f} | {best['matmul']:.1f} |",
            "",
            f"- extractor / naive: best rounds **{sp_best:.2f}x** ({verdict(sp_best, 2.0)}), median of paired "
            f"per-round ratios **{sp_med:.2f}x** ({verdict(sp_med, 2.0)}); goal >= 2.0x",
            f"- extractor effective GFLOP/s / matmul GFLOP/s: best **{r_best:.2f}x** ({verdict(r_best, 1.1)}), "
            f"median of per-round ratios **{r_med:.2f}x** ({verdict(r_med, 1.1)}); goal >= 1.1x",
            f"- max |extractor - naive| over all features: {res['max_diff']:.2e} (the same features)",
            "- per round (naive img/s, extractor img/s, matmul GFLOP/s): "
            + "; ".join(f"{n:.2f}, {e:.2f}, {m:.0f}" for n, e, m in zip(rows["naive"], rows["extractor"], rows["matmul"])),
            "",
        ]
    if res["sweep"]:
        fastest = max(res["sweep"], key=lambda t: t[1])[0]
        lines += [
            "Extractor batch size (channels-last float32, best of the trials):",
            "",
            "| batch size | images/s |",
            "|---:|---:|",
            *[f"| {bs} | {rate:.2f} |" for bs, rate in res["sweep"]],
            "",
            f"Fastest in this run: batch {fastest}.",
            "",
        ]
    return lines


# ----------------------------------------------------------------------------------- CUDA

CUDA_VARIANTS = (
    ("fp32 NCHW", None, False),
    ("fp32 channels-last", None, True),
    ("fp16 autocast channels-last", "float16", True),
    ("bf16 autocast channels-last", "bfloat16", True),
    ("fp16 autocast NCHW", "float16", False),
    ("bf16 autocast NCHW", "bfloat16", False),
)


def cuda_variant_extract(model_nchw, model_cl, crops, layer, batch_size, autocast, channels_last, device):
    """Features of the (N, crop, crop, 3) float32 crops with one variant; a (N, d) float32 host array."""
    model = model_cl if channels_last else model_nchw
    out = []
    with torch.inference_mode():
        for s in range(0, len(crops), batch_size):
            x = torch.from_numpy(crops[s:s + batch_size]).to(device, non_blocking=True).permute(0, 3, 1, 2)
            x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            if autocast is not None:
                with torch.autocast("cuda", dtype=getattr(torch, autocast)):
                    fea = model.forward_features(x, layer)
            else:
                fea = model.forward_features(x, layer)
            out.append(fea.float().reshape(fea.shape[0], -1).cpu())
    torch.cuda.synchronize(device)
    return torch.cat(out).numpy()


def measure_cuda(args):
    """Alternating rounds of every CUDA variant and of DDRExtractor on the GPU; a dict of results."""
    from ddriqa.features.ddr import DDRExtractor
    from ddriqa.models.srresnet import SRResNet

    device = torch.device(args.device)
    torch.backends.cudnn.benchmark = True
    rng = np.random.default_rng(args.seed)
    images = list(rng.integers(0, 256, size=(args.images, args.size, args.size, 3), dtype=np.uint8))
    top = (args.size - args.crop) // 2
    crops = np.ascontiguousarray(
        np.stack([im[top:top + args.crop, top:top + args.crop] for im in images]).astype(np.float32) / 255.0)
    crops = torch.from_numpy(crops).pin_memory().numpy() if torch.cuda.is_available() else crops
    net = SRResNet().reset_parameters(torch.Generator().manual_seed(args.seed)).eval()
    model_nchw = copy.deepcopy(net).to(device)
    model_cl = copy.deepcopy(net).to(device).to(memory_format=torch.channels_last)
    extractors = {
        "DDRExtractor fp32": DDRExtractor(weights=net, layer=args.layer, crop=args.crop, device=args.device,
                                          batch_size=args.cuda_batch).fit(),
        "DDRExtractor autocast fp16": DDRExtractor(weights=net, layer=args.layer, crop=args.crop, device=args.device,
                                                   batch_size=args.cuda_batch, autocast="float16").fit(),
        "DDRExtractor autocast bf16": DDRExtractor(weights=net, layer=args.layer, crop=args.crop, device=args.device,
                                                   batch_size=args.cuda_batch, autocast="bfloat16").fit(),
    }
    runs = {}
    for name, ac, cl in CUDA_VARIANTS:
        runs[name] = (lambda ac=ac, cl=cl: cuda_variant_extract(model_nchw, model_cl, crops, args.layer,
                                                                args.cuda_batch, ac, cl, device))
    for name, ex in extractors.items():
        runs[name] = (lambda ex=ex: (ex.transform(images), torch.cuda.synchronize(device))[0])
    for fn in runs.values():  # warm-up: cuDNN autotuning, allocator
        fn()
    ref = runs["fp32 NCHW"]()
    rates = {name: [] for name in runs}
    deviation = {}
    for _ in range(args.rounds):
        for name, fn in runs.items():
            t = time.perf_counter()
            got = fn()
            rates[name].append(len(images) / (time.perf_counter() - t))
            dev = float(np.abs(got - ref).max() / max(float(np.abs(ref).max()), 1e-30))
            deviation[name] = max(deviation.get(name, 0.0), dev)
    props = torch.cuda.get_device_properties(device)
    return {
        "rates": rates,
        "deviation": deviation,
        "card": torch.cuda.get_device_name(device),
        "memory_gib": props.total_memory / 2**30,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version(),
        "flops": conv_flops(net, args.layer, args.crop, args.crop),
        "peak_mem_gib": torch.cuda.max_memory_allocated(device) / 2**30,
    }


def cuda_report(args, argv, res):
    flops = res["flops"]
    lines = report_head('DDR extraction speed on a GPU', 'extract_speed.py', argv) + [
        f"Card: **{res['card']}** ({res['memory_gib']:.0f} GiB), CUDA {res['cuda']}, cuDNN {res['cudnn']}, "
        f"torch {torch.__version__}, `cudnn.benchmark=True`; host: {cpu_name()}, {os.cpu_count()} logical CPUs.",
        "",
        f"Network: SRResNet (64 features, 16 blocks, seeded random init) up to `{args.layer}`, central "
        f"{args.crop}x{args.crop} crop of {args.size}x{args.size} uint8 images, {args.images} images per round, "
        f"batch {args.cuda_batch}; {flops / 1e9:.2f} GFLOP per image (2 x MACs). Variants: crops already "
        "cropped and float32 in pinned host memory, copied to the GPU per batch, features copied back (no "
        "decoding); DDRExtractor rows: the library from uint8 images (crop, stack and copy included). "
        f"{args.rounds} rounds, variants alternating within each round. Deviation: max |f - f_fp32 NCHW| / "
        "max |f_fp32 NCHW| over all features.",
        "",
        "| variant | images/s median | best | effective TFLOP/s median | max relative deviation |",
        "|---|---:|---:|---:|---:|",
    ]
    for name, rates in res["rates"].items():
        med = statistics.median(rates)
        lines.append(f"| {name} | {med:.1f} | {max(rates):.1f} | {med * flops / 1e12:.2f} | "
                     f"{res['deviation'][name]:.1e} |")
    lines += ["", f"Peak GPU memory allocated: {res['peak_mem_gib']:.2f} GiB.", ""]
    return lines


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=6, help="alternating rounds per policy")
    parser.add_argument("--images", type=int, default=32, help="images per round")
    parser.add_argument("--size", type=int, default=160, help="side of the generated test images")
    parser.add_argument("--crop", type=int, default=96)
    parser.add_argument("--layer", default="ResBlock16")
    parser.add_argument("--sweep", default="1,2,4,8", help="extractor batch sizes to sweep ('' to skip)")
    parser.add_argument("--sweep-images", type=int, default=16)
    parser.add_argument("--sweep-trials", type=int, default=3, help="best of this many trials per batch size")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet-cores", type=float, default=0.3,
                        help="before each round wait until other processes use fewer cores than this")
    parser.add_argument("--max-wait", type=float, default=20.0, help="longest wait for a quiet machine (s)")
    parser.add_argument("--policies", default="default,passive",
                        help="OpenMP wait policies to compare, each in fresh interpreters alternating round by "
                             "round ('inherit': measure in this process with the current environment)")
    parser.add_argument("--output", default="benchmarks/results/extract_speed.md")
    parser.add_argument("--device", default="cpu",
                        help="'cpu' (default: the CPU comparison above) or 'cuda' / 'cuda:N' (GPU variants)")
    parser.add_argument("--cuda-batch", type=int, default=32, help="batch size of the GPU variants")
    parser.add_argument("--child-json", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.device != "cpu":
        if not torch.cuda.is_available():
            parser.error(f"--device {args.device}: CUDA is not available on this machine")
        lines = cuda_report(args, argv, measure_cuda(args))
        out = Path(args.output if args.output != parser.get_default("output")
                   else "benchmarks/results/extract_speed_cuda.md")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text("\n".join(lines), encoding="utf-8")
        print("\n".join(lines))
        return 0

    if args.child_json:
        import json

        Path(args.child_json).write_text(json.dumps(measure(args)))
        return 0

    load_start = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    policies = [p.strip().lower() for p in args.policies.split(",") if p.strip()]
    results = {}
    if policies == ["inherit"]:
        results["inherit"] = measure(args)
        label = "naive, extractor, matmul in turn, in this process"
    else:
        for p in policies:
            if p not in ("default", "passive", "active"):
                parser.error(f"unknown policy {p!r}")
        for r in range(args.rounds):
            for p in policies:
                res = _child(args, p, 1, "")
                acc = results.setdefault(p, {**res, "rows": {k: [] for k in res["rows"]}, "max_diff": 0.0})
                for k, v in res["rows"].items():
                    acc["rows"][k].extend(v)
                acc["max_diff"] = max(acc["max_diff"], res["max_diff"])
                print(f"round {r + 1} {p}: naive {res['rows']['naive'][0]:.2f} img/s, extractor "
                      f"{res['rows']['extractor'][0]:.2f} img/s, matmul {res['rows']['matmul'][0]:.0f} GFLOP/s",
                      file=sys.stderr)
        if args.sweep:
            for p in policies:
                results[p]["sweep"] = _child(args, p, 0, args.sweep)["sweep"]
        label = "each round: one fresh interpreter per policy, naive, extractor and matmul in turn; policies alternate"
    load_end = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")

    first = next(iter(results.values()))
    lines = report_head('DDR extraction speed', 'extract_speed.py', argv) + [
        f"Machine: {cpu_name()}, {os.cpu_count()} logical CPUs, torch {torch.__version__} "
        f"({first['threads']} intra-op threads, OpenMP runtime libgomp), Python {platform.python_version()}; "
        f"1-min load average {load_start:.2f} at start, {load_end:.2f} at end: other processes shared the "
        "machine during the run, so rates vary from round to round; each round waited (at most "
        f"{args.max_wait:.0f} s) for other processes to use < {args.quiet_cores} cores.",
        "",
        f"Network: SRResNet (64 features, 16 blocks, seeded random init) up to `{args.layer}`, central "
        f"{args.crop}x{args.crop} crop of {args.size}x{args.size} uint8 images held in memory, {args.images} "
        f"images per round; analytic cost {first['flops'] / 1e9:.2f} GFLOP per image (2 x MACs of the convs that "
        "run). Effective GFLOP/s above the matmul rate are possible: the convolution library uses fast "
        "algorithms that do fewer multiplications than counted.",
        "",
        "`OMP_WAIT_POLICY` (an environment variable read when torch loads) decides whether idle OpenMP "
        "threads spin or sleep. With spinning (libgomp's default) and another process competing for the "
        "cores, every short parallel region of a small batch waits for a descheduled thread, which hurts "
        "small channels-last batches most; PASSIVE avoids that.",
        "",
    ]
    for p, res in results.items():
        lines += _section(p, res, label)
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
