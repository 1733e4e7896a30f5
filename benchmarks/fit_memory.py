"""Peak memory and time of fitting the DDR classifier on thousands of images.

The DDR classifier (:func:`ddriqa.classification.pipelines.make_ddr_classifier`: DDR features
-> StreamingPCA (exact) -> global scale -> linear SVM) is fitted on generated images with a
seeded random-init backbone (``weights="random"``), each size in a fresh subprocess, so its
``ru_maxrss`` is that fit's own peak resident memory. The parent also polls the child's
``VmRSS`` and the size of the PCA's spill folder.

The images are small (``--size`` 128, the DDR crop is 96, so the features are the full
64 x 96 x 96 = 589,824 values per image, 2.36 MB in float32: 3,000 images would be 7.1 GB as one
matrix) and fall in five generated classes (clean, noise, blur, JPEG, down-up resize) so that
the SVM has something to separate.

Usage (from the repository root)::

    python benchmarks/fit_memory.py --images 500,3000 --output benchmarks/results/fit_memory.md

Goal: peak RSS < 4 GiB at 3,000 images.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads (see extract_speed.md)

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
from _report import report_head  # noqa: E402  (benchmarks/ is the script's folder)

CLASSES = ("clean", "noise", "blur", "jpeg", "resize")


def photo_like(rng, height, width):
    """A photo-like uint8 RGB image: smooth shading, a disc, fine texture."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.empty((height, width, 3))
    for c in range(3):
        fx, fy = rng.uniform(0.01, 0.1, size=2)
        img[..., c] = 110 + 60 * np.sin(fx * xx + rng.uniform(0, 6.3)) * np.cos(fy * yy)
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(5, min(height, width) / 3)
        img[..., c] += np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, 50, 0)
    img += rng.normal(0, 8, size=img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def distort(img, cls, rng):
    """Apply one of :data:`CLASSES` (cheap stand-ins for the LIVE distortions)."""
    import cv2

    if cls == "noise":
        return np.clip(img + rng.normal(0, 20, img.shape), 0, 255).astype(np.uint8)
    if cls == "blur":
        return cv2.GaussianBlur(img, (0, 0), 2.0)
    if cls == "jpeg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 8])
        return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)
    if cls == "resize":
        h, w = img.shape[:2]
        small = cv2.resize(img, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_LINEAR)
    return img


def generate(folder, n, size, seed):
    """Write ``n`` PNGs ``<i>_<class>.png`` to ``folder``; return (paths, labels)."""
    import cv2

    rng = np.random.default_rng(seed)
    paths, labels = [], []
    for i in range(n):
        cls = CLASSES[i % len(CLASSES)]
        img = distort(photo_like(rng, size, size), cls, rng)
        p = os.path.join(folder, f"{i:05d}_{cls}.png")  # sorted by index: classes interleave
        cv2.imwrite(p, img[..., ::-1])
        paths.append(p)
        labels.append(cls)
    return paths, labels


def load_avg():
    return os.getloadavg() if hasattr(os, "getloadavg") else (float("nan"),) * 3


def _proc_status(pid, key):
    """A ``/proc/<pid>/status`` field in bytes (Linux), or None."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def _folder_bytes(folder):
    total = 0
    for root, _, files in os.walk(folder):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


# ----------------------------------------------------------------------------- child


def child(args):
    """Fit the classifier on the first ``args.images`` files of ``args.data``; write a JSON report."""
    import torch

    from ddriqa.classification.pipelines import make_ddr_classifier
    from ddriqa.features.ddr import DDRExtractor

    class TimedDDRExtractor(DDRExtractor):
        """DDRExtractor that adds the time spent producing feature chunks to a class counter."""

        seconds = 0.0

        def iter_transform(self, X, chunk_size=64):
            gen = super().iter_transform(X, chunk_size)
            while True:
                t = time.perf_counter()
                try:
                    item = next(gen)
                except StopIteration:
                    TimedDDRExtractor.seconds += time.perf_counter() - t
                    return
                TimedDDRExtractor.seconds += time.perf_counter() - t
                yield item

    files = sorted(os.listdir(args.data))[: args.images]
    paths = [os.path.join(args.data, f) for f in files]
    labels = [f.rsplit("_", 1)[1].split(".")[0] for f in files]
    rss_imports = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    k = min(args.n_components, len(paths) - 1)
    clf = make_ddr_classifier(weights="random", random_state=args.seed, n_components=k, device="cpu",
                              chunk_size=args.chunk_size, spill_dir=args.spill_dir)
    clf.set_params(pca__extractor=TimedDDRExtractor(**clf.named_steps["pca"].extractor.get_params()))
    t0 = time.perf_counter()
    clf.fit(paths, labels)
    fit_s = time.perf_counter() - t0
    pca = clf.named_steps["pca"]
    report = {
        "n": len(paths),
        "k": int(pca.n_components_),
        "n_features": int(pca.n_features_in_),
        "components_dtype": str(pca.components_.dtype),
        "fit_s": fit_s,
        "extract_s": TimedDDRExtractor.seconds,
        "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
        "vmhwm": _proc_status("self", "VmHWM"),
        "rss_imports": rss_imports,
        "threads": torch.get_num_threads(),
        "omp": os.environ.get("OMP_WAIT_POLICY", "(unset)"),
    }
    Path(args.child_json).write_text(json.dumps(report))


def run_child(args, data, n, workdir):
    spill = os.path.join(workdir, f"spill_{n}")
    os.makedirs(spill, exist_ok=True)
    out = os.path.join(workdir, f"report_{n}.json")
    env = dict(os.environ)
    if args.blas_threads > 0:  # numpy's BLAS reads these when it loads (in the child)
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[var] = str(args.blas_threads)
    cmd = [sys.executable, os.path.abspath(__file__), "--child-json", out, "--data", data, "--images", str(n),
           "--n-components", str(args.n_components), "--chunk-size", str(args.chunk_size), "--seed", str(args.seed),
           "--spill-dir", spill]
    peak = {"rss": 0, "spill": 0}
    proc = subprocess.Popen(cmd, env=env)
    done = threading.Event()

    def poll():
        while not done.is_set():
            rss = _proc_status(proc.pid, "VmRSS")
            if rss:
                peak["rss"] = max(peak["rss"], rss)
            peak["spill"] = max(peak["spill"], _folder_bytes(spill))
            done.wait(0.5)

    th = threading.Thread(target=poll, daemon=True)
    load0 = load_avg()
    th.start()
    rc = proc.wait()
    done.set()
    th.join()
    load1 = load_avg()
    if rc != 0:
        raise SystemExit(f"child for {n} images failed with exit status {rc}")
    report = json.loads(Path(out).read_text())
    report.update(polled_rss=peak["rss"], spill_peak=peak["spill"], load_start=load0, load_end=load1)
    return report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", default="3000", help="comma-separated training set sizes (each a fresh process)")
    parser.add_argument("--size", type=int, default=128, help="side of the generated images")
    parser.add_argument("--n-components", type=int, default=120)
    parser.add_argument("--chunk-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--blas-threads", type=int, default=1,
                        help="sets OPENBLAS_NUM_THREADS and MKL_NUM_THREADS of the fit (0: leave them unset); "
                             "multi-threaded OpenBLAS is many times slower on a CPU shared with other jobs. "
                             "torch also takes MKL_NUM_THREADS as its intra-op thread count, so the DDR "
                             "extraction runs on this many threads too (the report gives torch's count)")
    parser.add_argument("--workdir", default=None, help="folder for the images and spill files (default: a temp dir)")
    parser.add_argument("--output", default="benchmarks/results/fit_memory.md")
    parser.add_argument("--child-json", help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--spill-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child_json:
        args.images = int(args.images)
        child(args)
        return 0

    sizes = sorted(int(v) for v in args.images.split(",") if v.strip())
    workdir = tempfile.mkdtemp(prefix="ddriqa-fitmem-", dir=args.workdir)
    try:
        data = os.path.join(workdir, "images")
        os.makedirs(data)
        t = time.perf_counter()
        generate(data, max(sizes), args.size, args.seed)
        print(f"generated {max(sizes)} images in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        reports = []
        for n in sizes:
            print(f"fitting on {n} images ...", file=sys.stderr)
            r = run_child(args, data, n, workdir)
            print(json.dumps(r), file=sys.stderr)
            reports.append(r)
            shutil.rmtree(os.path.join(workdir, f"spill_{n}"), ignore_errors=True)
            write_report(args, argv, reports, pending=[m for m in sizes if m > n])  # keep what we have
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def write_report(args, argv, reports, pending=()):
    gib = 1024.0**3
    mib = 1024.0**2
    lines = report_head('Fitting the DDR classifier on thousands of images: peak memory and time', 'fit_memory.py', argv) + [
        f"Machine: {platform.machine()}, {os.cpu_count()} logical CPUs, Python {platform.python_version()}, "
        f"torch {reports[0]['threads']} intra-op threads, OMP_WAIT_POLICY={reports[0]['omp']}, numpy BLAS threads "
        f"{args.blas_threads if args.blas_threads > 0 else 'default (all cores)'}. The CPUs were "
        "shared with other processes (1-min load average at start/end of each fit in the table).",
        "",
        f"Classifier: `make_ddr_classifier(weights='random', random_state={args.seed}, n_components=min(120, N-1), "
        f"chunk_size={args.chunk_size})` (DDR ResBlock16 of a seeded random-init SRResNet on the central 96x96 crop "
        f"-> StreamingPCA exact -> GlobalScaler -> linear SVC), fitted with `Pipeline.fit(paths, labels)` on "
        f"{args.size}x{args.size} generated PNGs in 5 classes (clean, noise, blur, JPEG, down-up resize).",
        "",
        "| N images | feature matrix if held (GiB) | peak RSS ru_maxrss (GiB) | peak RSS polled (GiB) | "
        "peak spill file (GiB) | fit time (s) | of which DDR extraction (s) | images/s overall | load avg start / end |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in reports:
        matrix = r["n"] * r["n_features"] * 4 / gib
        lines.append(
            f"| {r['n']} | {matrix:.2f} | {r['maxrss'] / gib:.2f} | {r['polled_rss'] / gib:.2f} | "
            f"{r['spill_peak'] / gib:.2f} | {r['fit_s']:.0f} | {r['extract_s']:.0f} | {r['n'] / r['fit_s']:.2f} | "
            f"{r['load_start'][0]:.2f} / {r['load_end'][0]:.2f} |"
        )
    big = max(reports, key=lambda r: r["n"])
    ok = big["maxrss"] < 4 * gib
    lines += [
        "",
        f"- Goal: peak RSS < 4 GiB at 3,000 images. Largest run ({big['n']} images): "
        f"**{big['maxrss'] / gib:.2f} GiB** ({'met' if ok else 'NOT met'}"
        + ("" if big["n"] >= 3000 else "; fewer than 3,000 images were run") + ").",
        f"- Imports and model load alone: {big['rss_imports'] / mib:.0f} MiB. The rest is the N x N float64 Gram "
        "matrix, the k x 589,824 components, a few row blocks and column-slab temporaries "
        "(see streaming_pca.md); the features themselves go to the spill file on disk "
        "(N x 589,824 float32, deleted after the fit), never to memory.",
        "- 'of which DDR extraction' is the time spent inside the extractor's `iter_transform` "
        "(reading, cropping, network); the rest is the Gram matrix (O(N^2 D), reading earlier rows back "
        "from the spill file), the eigendecomposition, the second pass forming the components and the SVM.",
        f"- PCA components dtype: {big['components_dtype']}, k = {big['k']}, D = {big['n_features']}.",
        "",
    ]
    if pending:
        lines += [f"Still running when this file was written: N = {', '.join(map(str, pending))} "
                  "(the file is rewritten when each finishes).", ""]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))


if __name__ == "__main__":
    sys.exit(main())
