"""Blind SR with DDR guidance (the paper's Table 2 and Fig. 11) at this machine's scale.

Three stages, each resumable (a stage's finished files are kept and not redone):

``sets``
    The four test degradations of every HR image of the given sets (``NAME=FOLDER``), written as
    8-bit PNG LR images to ``OUT/sets/<set>/<degradation>/`` and, pooled over the sets, to
    ``OUT/chi/<degradation>/`` (the ``ddriqa generalization`` input). Each HR image is cropped to
    a multiple of 4, then

    * ``clean``: MATLAB bicubic x1/4 (:func:`ddriqa.degradations.resize.bicubic_downsample`,
      uint8 rounding as MATLAB);
    * ``blur2``: Gaussian blur sigma 2 (HR pixels, 13 taps, symmetric border,
      :func:`ddriqa.degradations.blur.gaussian_blur`, rounded to uint8) **before** the bicubic x1/4;
    * ``noise20``: ``clean`` + Gaussian noise sigma 20 on 0-255
      (:func:`ddriqa.degradations.noise.add_gaussian_noise`), rounded and clipped to uint8;
    * ``blur2_noise20``: ``blur2`` + the same noise field as ``noise20`` for that image.

    The noise of image ``i`` (its index in the sorted folder listing) of set ``k`` (its position in
    ``--set``) comes from ``numpy.random.default_rng([seed, k, i])``.

``eval``
    Y-PSNR and SSIM of every ``--model NAME=WEIGHTS`` and of bicubic upsampling (MATLAB
    ``imresize(LR, 4)``) against the HR image: BT.601 Y on 0-255 (MATLAB ``rgb2ycbcr``), 4 pixels
    cropped from each border, network outputs rounded to uint8 first. SSIM: Wang et al.'s, Gaussian
    window sigma 1.5 (11 taps), K1 = 0.01, K2 = 0.03, L = 255, on the same cropped Y. One CSV per
    model (``OUT/eval/<model>.csv``: set, degradation, image, psnr, ssim), then ``OUT/table.csv`` (``table`` alone: means over the images every model has done).

``picture``
    One HR crop of one image: for each degradation a row of LR (nearest x4), bicubic, each model,
    HR; ``OUT/crops.png``.

``chi``
    ``ddriqa generalization`` on ``OUT/chi/<degradation>`` for every model (its deepest RRDB by
    default), into ``OUT/chi.csv``; with ``--fig9`` also on ``clean`` and ``noise20`` only
    (``OUT/chi_fig9.csv``: how well a model's features still separate clean from noisy input).

``report``
    ``OUT/report.md``: the table (with the paper's Urban100 values beside it), the per-image
    differences between two models, the CHI rows.

Usage (from the repository root)::

    python benchmarks/blind_sr.py all --out /tmp/blind_sr --set Set14=../shared/data/sr/Set14 \\
        --set BSD100=../shared/data/sr/BSDS500/val \\
        --model rrdb_x4_clean=weights/rrdb_x4_clean.safetensors \\
        --model rrdb_x4_bn=weights/rrdb_x4_bn.safetensors \\
        --model rrdb_ddr_x4_bn=weights/rrdb_ddr_x4_bn.safetensors --diff rrdb_ddr_x4_bn-rrdb_x4_bn \\
        --picture Set14/zebra.bmp:130,60
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEGRADATIONS = ("clean", "blur2", "noise20", "blur2_noise20")
BLUR_SIGMA = 2.0
NOISE_SIGMA = 20.0
SCALE = 4
BORDER = 4
#: The paper's Table 2 (Urban100 x4 PSNR, dB): RRDB (clean), RRDB (b+n), RRDB-DDR (b+n).
PAPER_TABLE2 = {
    "RRDB (clean)": (24.89, 21.40, 17.80, 17.23),
    "RRDB (b+n)": (24.53, 23.79, 22.54, 21.36),
    "RRDB-DDR (b+n)": (24.56, 24.01, 22.52, 21.41),
}
#: The paper's Fig. 11 CHI (Urban100, four degradations).
PAPER_CHI = {"RRDB (clean)": 322.16, "RRDB (b+n)": 14.04, "RRDB-DDR (b+n)": 4.95}


def log(message):
    print(message, file=sys.stderr, flush=True)


# -- test sets ------------------------------------------------------------------------------
def degraded_lr(hr, rng):
    """The four LR images of one HR image (cropped to a multiple of 4), uint8."""
    from ddriqa.degradations.blur import gaussian_blur
    from ddriqa.degradations.resize import bicubic_downsample

    clean = bicubic_downsample(hr, SCALE)
    blur2 = bicubic_downsample(gaussian_blur(hr, BLUR_SIGMA), SCALE)
    field = rng.standard_normal(clean.shape)

    def noisy(lr):
        return np.clip(np.floor(lr.astype(np.float64) + NOISE_SIGMA * field + 0.5), 0, 255).astype(np.uint8)

    return {"clean": clean, "blur2": blur2, "noise20": noisy(clean), "blur2_noise20": noisy(blur2)}


def hr_crop(image):
    h, w = image.shape[0] - image.shape[0] % SCALE, image.shape[1] - image.shape[1] % SCALE
    return np.ascontiguousarray(image[:h, :w])


def list_set(folder):
    from ddriqa.io import list_images

    return list_images(Path(folder))


def make_sets(sets, out, seed):
    from ddriqa.io import read_image, write_image

    n = 0
    for k, (name, folder) in enumerate(sets):
        for i, path in enumerate(list_set(folder)):
            targets = {d: out / "sets" / name / d / f"{path.stem}.png" for d in DEGRADATIONS}
            pooled = {d: out / "chi" / d / f"{name}_{path.stem}.png" for d in DEGRADATIONS}
            if all(p.is_file() for p in list(targets.values()) + list(pooled.values())):
                continue
            lrs = degraded_lr(hr_crop(read_image(path, dtype="uint8")), np.random.default_rng([seed, k, i]))
            for d, lr in lrs.items():
                for p in (targets[d], pooled[d]):
                    p.parent.mkdir(parents=True, exist_ok=True)
                    write_image(p, lr)
            n += 1
    log(f"sets: {n} images degraded (the others were there already)")


# -- measures -------------------------------------------------------------------------------
def ssim_y(a, b, border=BORDER):
    """SSIM of the Y channels (0-255) of two RGB uint8 images, Gaussian window sigma 1.5."""
    from scipy.ndimage import gaussian_filter

    from ddriqa.training.validation import rgb_to_y

    x, y = rgb_to_y(a), rgb_to_y(b)
    if border:
        x, y = x[border:-border, border:-border], y[border:-border, border:-border]
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2

    def blur(z):
        return gaussian_filter(z, 1.5, truncate=3.5, mode="reflect")

    mx, my = blur(x), blur(y)
    vx, vy, cxy = blur(x * x) - mx * mx, blur(y * y) - my * my, blur(x * y) - mx * my
    s = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx * mx + my * my + c1) * (vx + vy + c2))
    return float(s.mean())


def upscaler(spec):
    """A function uint8 LR -> uint8 SR for ``bicubic`` or a weights file / name."""
    if spec == "bicubic":
        from ddriqa.degradations.resize import imresize

        return lambda lr: imresize(lr, scale=SCALE)
    import torch

    from ddriqa.models.weights import load_generator
    from ddriqa.sr.upscale import upscale_image

    model = load_generator(spec).eval()

    def run(lr):
        with torch.no_grad():
            return upscale_image(model, lr)

    return run


def evaluate(models, sets, out):
    from ddriqa.io import read_image
    from ddriqa.training.validation import psnr_y

    (out / "eval").mkdir(parents=True, exist_ok=True)
    for name, spec in [("bicubic", "bicubic")] + models:
        path = out / "eval" / f"{name}.csv"
        done = set()
        if path.is_file():
            with open(path, newline="", encoding="utf-8") as fh:
                done = {(r["set"], r["degradation"], r["image"]) for r in csv.DictReader(fh)}
        todo = [(s, d, p) for s, folder in sets for p in list_set(folder) for d in DEGRADATIONS
                if (s, d, p.stem) not in done]
        if not todo:
            continue
        log(f"eval {name}: {len(todo)} images to do")
        up = upscaler(spec)
        new = not path.is_file()
        with open(path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(["set", "degradation", "image", "psnr", "ssim"])
            hr_cache = {}
            for s, d, p in todo:
                if p not in hr_cache:
                    hr_cache = {p: hr_crop(read_image(p, dtype="uint8"))}
                hr = hr_cache[p]
                lr = read_image(out / "sets" / s / d / f"{p.stem}.png", dtype="uint8")
                sr = up(lr)
                writer.writerow([s, d, p.stem, f"{psnr_y(sr, hr, BORDER):.4f}", f"{ssim_y(sr, hr):.5f}"])
                fh.flush()
    write_table(models, sets, out)


def read_eval(out, name):
    with open(out / "eval" / f"{name}.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def write_table(models, sets, out):
    """Means per model, set and degradation over the images that every model has done."""
    names = ["bicubic"] + [m for m, _ in models]
    done = {name: read_eval(out, name) for name in names if (out / "eval" / f"{name}.csv").is_file()}
    common = set.intersection(*({(r["set"], r["degradation"], r["image"]) for r in rs} for rs in done.values()))
    rows = []
    for name, records in done.items():
        records = [r for r in records if (r["set"], r["degradation"], r["image"]) in common]
        for s, _ in sets:
            for d in DEGRADATIONS:
                sel = [r for r in records if r["set"] == s and r["degradation"] == d]
                if sel:
                    rows.append({"model": name, "set": s, "degradation": d, "n": len(sel),
                                 "psnr": np.mean([float(r["psnr"]) for r in sel]),
                                 "ssim": np.mean([float(r["ssim"]) for r in sel])})
    with open(out / "table.csv", "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, ["model", "set", "degradation", "n", "psnr", "ssim"])
        writer.writeheader()
        for r in rows:
            writer.writerow(r | {"psnr": f"{r['psnr']:.3f}", "ssim": f"{r['ssim']:.4f}"})
    log(f"wrote {out / 'table.csv'}")


def differences(out, a, b, sets):
    """Per-image PSNR / SSIM of model ``a`` minus model ``b``: {(set, degradation): stats}."""
    ra = {(r["set"], r["degradation"], r["image"]): r for r in read_eval(out, a)}
    rb = {(r["set"], r["degradation"], r["image"]): r for r in read_eval(out, b)}
    stats = {}
    for s, _ in sets:
        for d in DEGRADATIONS:
            keys = sorted(k for k in ra if k[0] == s and k[1] == d and k in rb)
            if not keys:
                continue
            dp = np.array([float(ra[k]["psnr"]) - float(rb[k]["psnr"]) for k in keys])
            ds = np.array([float(ra[k]["ssim"]) - float(rb[k]["ssim"]) for k in keys])
            stats[(s, d)] = {"n": len(keys), "mean": dp.mean(), "std": dp.std(ddof=1) if len(keys) > 1 else 0.0,
                             "q10": np.quantile(dp, 0.1), "median": np.median(dp), "q90": np.quantile(dp, 0.9),
                             "wins": int((dp > 0).sum()), "ssim_mean": ds.mean()}
    return stats


# -- picture --------------------------------------------------------------------------------
def picture(models, sets, out, spec, size=96):
    import cv2

    from ddriqa.io import read_image

    where, _, pos = spec.partition(":")
    set_name, _, image = where.partition("/")
    folder = dict(sets)[set_name]
    found = [p for p in list_set(folder) if p.name == image or p.stem == image]
    if not found:
        raise SystemExit(f"--picture: no image {image!r} in {folder}")
    path = found[0]
    y, x = (int(v) for v in pos.split(",")) if pos else (0, 0)
    y, x = y - y % SCALE, x - x % SCALE
    hr = hr_crop(read_image(path, dtype="uint8"))
    crop = (slice(y, y + size), slice(x, x + size))
    ups = [("bicubic", upscaler("bicubic"))] + [(m, upscaler(w)) for m, w in models]
    rows = []
    for d in DEGRADATIONS:
        lr = read_image(out / "sets" / set_name / d / f"{path.stem}.png", dtype="uint8")
        tiles = [np.repeat(np.repeat(lr, SCALE, 0), SCALE, 1)[crop]]
        tiles += [f(lr)[crop] for _, f in ups]
        tiles.append(hr[crop])
        rows.append(np.concatenate([np.pad(t, ((2, 2), (2, 2), (0, 0)), constant_values=255) for t in tiles], 1))
    grid = np.concatenate(rows, 0)
    labels = ["LR (nearest)"] + [m for m, _ in ups] + ["HR"]
    head = np.full((18, grid.shape[1], 3), 255, np.uint8)
    for i, text in enumerate(labels):
        cv2.putText(head, text[:16], (4 + i * (size + 4), 13), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1,
                    cv2.LINE_AA)
    side = np.full((head.shape[0] + grid.shape[0], 84, 3), 255, np.uint8)
    for j, d in enumerate(DEGRADATIONS):
        cv2.putText(side, d, (2, 18 + j * (size + 4) + size // 2), cv2.FONT_HERSHEY_SIMPLEX, 0.33, (0, 0, 0), 1,
                    cv2.LINE_AA)
    full = np.concatenate([side, np.concatenate([head, grid], 0)], 1)
    target = out / "crops.png"
    cv2.imwrite(os.fspath(target), full[:, :, ::-1])
    log(f"wrote {target} ({path.name}, HR crop y {y}, x {x}, {size} px)")
    return target


# -- CHI ------------------------------------------------------------------------------------
def chi(models, out, layer, runs, seed, degradations=DEGRADATIONS, target_name="chi.csv"):
    target = out / target_name
    done = set()
    if target.is_file():
        with open(target, newline="", encoding="utf-8") as fh:
            done = {r["name"] for r in csv.DictReader(fh)}
    for name, spec in models:
        if name in done:
            continue
        from ddriqa.models.weights import load_generator

        lay = layer or f"RRDB{load_generator(spec).num_blocks}"
        tmp = out / f"{Path(target_name).stem}_{name}.csv"
        cmd = [sys.executable, "-m", "ddriqa.cli", "generalization", "--weights", spec, "--layer", lay,
               "--runs", str(runs), "--seed", str(seed), "-o", os.fspath(tmp)]
        cmd += [a for d in degradations for a in ("--data", f"{d}={out / 'chi' / d}")]
        log(" ".join(cmd))
        subprocess.run(cmd, check=True, env=os.environ | {"PYTHONPATH": os.fspath(REPO)})
        with open(tmp, newline="", encoding="utf-8") as fh:
            row = next(csv.DictReader(fh))
        new = not target.is_file()
        with open(target, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, ["name"] + list(row))
            if new:
                writer.writeheader()
            writer.writerow({"name": name} | row)


# -- report ---------------------------------------------------------------------------------
def report(models, sets, out, diffs, argv):
    sys.path.insert(0, str(REPO / "benchmarks"))
    from _report import report_head

    lines = report_head("Blind SR with DDR guidance: Y-PSNR / SSIM and CHI", "blind_sr.py", argv)
    with open(out / "table.csv", newline="", encoding="utf-8") as fh:
        table = {(r["model"], r["set"], r["degradation"]): r for r in csv.DictReader(fh)}
    names = ["bicubic"] + [m for m, _ in models]
    for s, _ in sets:
        n = table.get(("bicubic", s, "clean"), {}).get("n", "?")
        lines += [f"## {s} ({n} images): Y-PSNR (dB) / SSIM", "",
                  "| model | " + " | ".join(DEGRADATIONS) + " |", "|---" * (len(DEGRADATIONS) + 1) + "|"]
        for m in names:
            cells = [f"{float(table[(m, s, d)]['psnr']):.2f} / {float(table[(m, s, d)]['ssim']):.4f}"
                     if (m, s, d) in table else "-" for d in DEGRADATIONS]
            lines.append(f"| {m} | " + " | ".join(cells) + " |")
        lines.append("")
    lines += ["## The paper's Table 2 (Urban100 x4 PSNR, dB)", "", "| model | " + " | ".join(DEGRADATIONS) + " |",
              "|---" * (len(DEGRADATIONS) + 1) + "|"]
    lines += [f"| {m} | " + " | ".join(f"{v:.2f}" for v in vals) + " |" for m, vals in PAPER_TABLE2.items()]
    lines.append("")
    for spec in diffs:
        a, _, b = spec.partition("-")
        st = differences(out, a, b, sets)
        lines += [f"## {a} - {b}, per image (Y-PSNR dB)", "",
                  "| set | degradation | n | mean | std | 10% | median | 90% | images a > b | SSIM mean |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for (s, d), v in st.items():
            lines.append(f"| {s} | {d} | {v['n']} | {v['mean']:+.3f} | {v['std']:.3f} | {v['q10']:+.3f} | "
                         f"{v['median']:+.3f} | {v['q90']:+.3f} | {v['wins']} | {v['ssim_mean']:+.4f} |")
        lines.append("")
    for name, title in (("chi.csv", "over the four degraded sets"), ("chi_fig9.csv", "over clean and noise20 only")):
        if not (out / name).is_file():
            continue
        lines += [f"## CHI of the deep features {title} (`ddriqa generalization`)", "",
                  "| model | layer | sets | n | CHI mean | CHI std |", "|---|---|---|---|---|---|"]
        with open(out / name, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                lines.append(f"| {r['name']} | {r['layer']} | {r['sets']} | {r['n_samples']} | "
                             f"{float(r['chi_mean']):.3g} | {float(r['chi_std']):.3g} |")
        lines.append("")
    if (out / "chi.csv").is_file():
        lines += ["Paper (Fig. 11, Urban100): " + ", ".join(f"{k} {v}" for k, v in PAPER_CHI.items()), ""]
    (out / "report.md").write_text("\n".join(lines), encoding="utf-8")
    log(f"wrote {out / 'report.md'}")


def _pairs(values, what):
    out = []
    for v in values or []:
        name, sep, rest = v.partition("=")
        if not sep or not name or not rest:
            raise SystemExit(f"{what} must be NAME=VALUE, got {v!r}")
        out.append((name, rest))
    return out


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("stage", choices=["sets", "eval", "table", "picture", "chi", "report", "all"])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--set", action="append", help="NAME=FOLDER of HR images (repeatable)")
    ap.add_argument("--model", action="append", help="NAME=WEIGHTS (repeatable)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--diff", action="append", default=[], help="A-B: per-image differences of two models")
    ap.add_argument("--picture", default=None, help="SET/IMAGE:Y,X of the HR crop")
    ap.add_argument("--layer", default=None, help="CHI layer (default: each model's deepest RRDB)")
    ap.add_argument("--runs", type=int, default=5, help="t-SNE runs of the CHI")
    ap.add_argument("--fig9", action="store_true",
                    help="chi: also the CHI over clean and noise20 only (a Fig. 9-style comparison)")
    args = ap.parse_args(argv)
    sets, models = _pairs(args.set, "--set"), _pairs(args.model, "--model")
    if not sets:
        raise SystemExit("give at least one --set NAME=FOLDER")
    args.out.mkdir(parents=True, exist_ok=True)
    stages = ["sets", "eval", "picture", "chi", "report"] if args.stage == "all" else [args.stage]
    if "sets" in stages:
        make_sets(sets, args.out, args.seed)
    if "eval" in stages:
        evaluate(models, sets, args.out)
    if "table" in stages:
        write_table(models, sets, args.out)
    if "picture" in stages and args.picture:
        picture(models, sets, args.out, args.picture)
    if "chi" in stages:
        chi(models, args.out, args.layer, args.runs, args.seed)
        if args.fig9:
            chi(models, args.out, args.layer, args.runs, args.seed, ("clean", "noise20"), "chi_fig9.csv")
    if "report" in stages:
        report(models, sets, args.out, args.diff, argv)
    json.dump({"out": os.fspath(args.out), "stages": stages}, sys.stdout)
    print()


if __name__ == "__main__":
    main()
