"""Degradation-representation analysis of SRResNet at random initialisation (paper protocol).

Builds the paper's content-aligned LR test sets from the 100 BSDS500 validation images (clean =
bicubic x4 LR; blur = 15x15 Gaussian, width U[2,4]; noise = Gaussian, sigma U[5,30]; centre 32x32
LR patches), extracts the features of Conv1 / ResBlock4 / ResBlock8 / ResBlock16, projects them
(PCA to 50, t-SNE to 2-D, 5 seeded runs) and reports WD / BD / CHI (mean +- sample std over runs)
for:

* SRResNet with global residual (wGR), random init, seed 0 and seed 1;
* SRResNet without global residual (woGR), random init, seed 0;
* the raw LR pixels of the same patches (no network), as a reference;
* a hand-crafted positive control (sorted |Laplacian| values of each patch), which a working
  protocol must separate.

Then the degree-discrimination table (paper Table 7) at ResBlock16: clean-blur-noise,
noise{5,10,30}, noise{10,30}, noise{10,20}, blur{1,4}.

Trained networks are added with ``--weights NAME_OR_PATH`` or ``--weights "LABEL=PATH"``
(repeatable): their rows join both tables, and one PNG of their four layers is written per network.
With ``--add`` only the ``--weights`` networks are measured and their rows are merged into the CSVs
already in ``--out`` (the rows of every other model are kept as they were measured), so a newly
trained network joins an existing analysis in a couple of minutes.

Usage (from the repository root; about 4 minutes on 2 CPU cores)::

    python benchmarks/analysis_ddr.py --data-root ../shared/data --out benchmarks/results/analysis
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
LAYERS = ["Conv1", "ResBlock4", "ResBlock8", "ResBlock16"]
DEGREE_SETS = ["clean,blur,noise", "noise{5,10,30}", "noise{10,30}", "noise{10,20}", "blur{1,4}"]


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def measure(feats_by_layer, labels, runs, seed):
    from ddriqa.analysis.dispersion import dispersion_over_runs
    from ddriqa.analysis.projection import project

    out = {}
    for layer, X in feats_by_layer.items():
        proj = project(X, labels, method="pca+tsne", n_pca=50, runs=runs, seed=seed)
        out[layer] = (proj, dispersion_over_runs(proj))
    return out


def pixels(images):
    return {"pixels": np.stack([im.astype(np.float32).ravel() / 255.0 for im in images])}


def laplacian_control(images):
    """Hand-crafted positive control: the sorted |Laplacian| values of each grey patch.

    Sorting drops where the edges are (the content) and keeps how strong the fine detail is
    (what blur removes and noise adds), so a working protocol must give it a high CHI.
    """
    rows = []
    for im in images:
        g = im.astype(np.float32).mean(axis=2)
        lap = 4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]
        rows.append(np.sort(np.abs(lap).ravel()))
    return {"sorted abs-Laplacian": np.stack(rows)}


def to_markdown(df, index=True):
    """A pipe table (no tabulate dependency)."""
    d = df.reset_index() if index else df
    head = "| " + " | ".join(map(str, d.columns)) + " |"
    sep = "|" + "|".join("---" for _ in d.columns) + "|"
    body = ["| " + " | ".join(map(str, row)) + " |" for row in d.itertuples(index=False)]
    return "\n".join([head, sep, *body])


def _slug(text):
    return "".join(c if c.isalnum() else "_" for c in text.lower()).strip("_")


def save_grid(results, path, title):
    from matplotlib.figure import Figure

    from ddriqa.analysis.display import DegradationScatterDisplay

    fig = Figure(figsize=(3.1 * len(results), 3.4))
    axes = fig.subplots(1, len(results), squeeze=False)[0]
    for ax, (name, (proj, summary), lab) in zip(axes, results):
        DegradationScatterDisplay(proj.points[0], lab, summary=summary, title=name).plot(
            ax=ax, marker_size=8, legend=ax is axes[0])
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=72)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-root", default="../shared/data",
                   help="data root (relative paths are taken from the repository root)")
    p.add_argument("--subset", default="sr/BSDS500/val")
    p.add_argument("--limit", type=int, default=100)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--weights", action="append", default=[],
                   help="trained weights to add: NAME, PATH or LABEL=PATH (repeatable)")
    p.add_argument("--out", default="benchmarks/results/analysis")
    p.add_argument("--add", action="store_true",
                   help="measure only the --weights networks and merge their rows into the CSVs already in --out")
    args = p.parse_args(argv)
    if args.add and not args.weights:
        p.error("--add needs at least one --weights")

    import torch

    from ddriqa.analysis.testsets import make_test_sets
    from ddriqa.features.layers import extract_layer_features
    from ddriqa.io import list_images, read_image
    from ddriqa.models.backbones import build_backbone, random_backbone

    torch.set_num_threads(1)  # the machine is shared; OpenMP spin-waits badly when oversubscribed
    root = Path(args.data_root)
    if not root.is_absolute():
        root = (REPO / root).resolve()
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO / out
    out.mkdir(parents=True, exist_ok=True)
    if args.add:
        missing = [n for n in ("cross_degradation.csv", "degrees.csv") if not (out / n).is_file()]
        if missing:
            p.error(f"--add: {out} has no {' or '.join(missing)} to add rows to (run once without --add)")
    files = list_images(root / args.subset)[: args.limit]
    hr = [read_image(f) for f in files]
    names = [f.stem for f in files]
    log(f"{len(hr)} HR images from {root / args.subset}")
    t0 = time.perf_counter()

    nets = {
        "SRResNet-wGR random init (seed 0)": random_backbone(0, global_residual=True),
        "SRResNet-woGR random init (seed 0)": random_backbone(0, global_residual=False),
        "SRResNet-wGR random init (seed 1)": random_backbone(1, global_residual=True),
    }
    trained = []
    for w in args.weights:
        label, _, path = w.rpartition("=") if "=" in w else (f"{w} (trained)", "", w)
        nets[label] = build_backbone(path)
        trained.append(label)

    # --- cross-degradation: clean / blur / noise, four layers ---
    ts = make_test_sets(hr, "clean,blur,noise", seed=args.seed, patch=32, names=names)
    labels = ts.labels
    rows, shown = [], []
    feats_cache = {}
    for name, net in nets.items():
        if args.add and name == "SRResNet-wGR random init (seed 1)":
            continue  # --add needs only the seed-0 random nets (for the checks below)
        feats = extract_layer_features(net, ts.images, LAYERS)
        feats_cache[name] = feats
        if args.add and name not in trained:
            continue  # its rows are kept from the earlier run; the features serve the checks below
        res = measure(feats, labels, args.runs, args.seed)
        for layer in LAYERS:
            rows.append({"model": name, "layer": layer, **res[layer][1].as_row()})
            log(f"{name} {layer}: {res[layer][1].format('chi')}  ({time.perf_counter() - t0:.0f}s)")
        if name.startswith("SRResNet-wGR random init (seed 0)"):
            shown = [(layer, res[layer], labels) for layer in LAYERS]
        if name in trained:
            save_grid([(layer, res[layer], labels) for layer in LAYERS], out / f"trained_{_slug(name)}_layers.png",
                      f"{name}, BSDS500-val 32x32 LR patches")
    base = feats_cache["SRResNet-wGR random init (seed 0)"]
    rel = {k: float(np.linalg.norm(base[k] - base["Conv1"]) / np.linalg.norm(base["Conv1"])) for k in LAYERS}
    log(f"relative distance of each layer's features from Conv1 (wGR seed 0): {rel}")
    a, b = feats_cache["SRResNet-wGR random init (seed 0)"], feats_cache["SRResNet-woGR random init (seed 0)"]
    identical = all(np.array_equal(a[k], b[k]) for k in LAYERS)
    log(f"wGR and woGR features at random init identical (same seed): {identical}")
    if args.add:
        cross = merge_rows(out / "cross_degradation.csv", rows, trained)
    else:
        cross = controls_cross(ts, labels, rows, shown, args, out)
    cross.to_csv(out / "cross_degradation.csv", index=False)

    # --- degree discrimination (Table 7) at ResBlock16 ---
    deg_rows, deg_shown, deg_trained = [], [], {}
    # random woGR features equal random wGR ones (same seed), so that row would repeat itself
    deg_models = {k: v for k, v in nets.items() if k in trained or k == "SRResNet-wGR random init (seed 0)"}
    if args.add:
        deg_models = {k: v for k, v in deg_models.items() if k in trained}
    for sets in DEGREE_SETS:
        if not deg_models:
            break
        ds = make_test_sets(hr, sets, seed=args.seed, patch=32, names=names)
        for name, net in deg_models.items():
            feats = extract_layer_features(net, ds.images, ["ResBlock16"])
            r = measure(feats, ds.labels, args.runs, args.seed)["ResBlock16"]
            deg_rows.append({"model": name, "sets": sets, "layer": "ResBlock16", **r[1].as_row()})
            log(f"{name} {sets}: {r[1].format('chi')}  ({time.perf_counter() - t0:.0f}s)")
            if name.startswith("SRResNet-wGR random init (seed 0)") and sets != "clean,blur,noise":
                deg_shown.append((sets, r, ds.labels))
            if name in trained and sets != "clean,blur,noise":
                deg_trained.setdefault(name, []).append((sets, r, ds.labels))
        if args.add:
            continue
        r = measure(pixels(ds.images), ds.labels, args.runs, args.seed)["pixels"]
        deg_rows.append({"model": "LR pixels (no network)", "sets": sets, "layer": "input", **r[1].as_row()})
        log(f"pixels {sets}: {r[1].format('chi')}")
        r = measure(laplacian_control(ds.images), ds.labels, args.runs, args.seed)["sorted abs-Laplacian"]
        deg_rows.append({"model": "sorted abs-Laplacian (hand-crafted control)", "sets": sets, "layer": "input",
                         **r[1].as_row()})
        log(f"laplacian control {sets}: {r[1].format('chi')}")
    deg = merge_rows(out / "degrees.csv", deg_rows, trained) if args.add else pd.DataFrame(deg_rows)
    deg.to_csv(out / "degrees.csv", index=False)
    if deg_shown:
        save_grid(deg_shown, out / "random_init_degrees_resblock16.png",
                  "SRResNet-wGR random init (seed 0), ResBlock16: degradation degrees")
    for name, shown_t in deg_trained.items():
        save_grid(shown_t, out / f"trained_{_slug(name)}_degrees_resblock16.png",
                  f"{name}, ResBlock16: degradation degrees")
    log(f"total {time.perf_counter() - t0:.0f}s")
    report(cross, deg, identical, rel)


def merge_rows(csv_path, new_rows, models):
    """The rows of ``csv_path`` without those of ``models``, then ``new_rows`` (same columns)."""
    old = pd.read_csv(csv_path)
    new = pd.DataFrame(new_rows)
    kept = old[~old["model"].isin(models)]
    return pd.concat([kept, new], ignore_index=True)[list(old.columns)]


def controls_cross(ts, labels, rows, shown, args, out):
    """Add the no-network rows (raw pixels, hand-crafted control) and write the random-init plots."""
    res = measure(pixels(ts.images), labels, args.runs, args.seed)
    controls = [("LR pixels", res["pixels"], labels)]
    rows.append({"model": "LR pixels (no network)", "layer": "input", **res["pixels"][1].as_row()})
    log(f"pixels: {res['pixels'][1].format('chi')}")
    res = measure(laplacian_control(ts.images), labels, args.runs, args.seed)
    rows.append({"model": "sorted abs-Laplacian (hand-crafted control)", "layer": "input",
                 **res["sorted abs-Laplacian"][1].as_row()})
    log(f"laplacian control: {res['sorted abs-Laplacian'][1].format('chi')}")
    controls.append(("sorted abs-Laplacian", res["sorted abs-Laplacian"], labels))
    save_grid(controls, out / "controls_input.png", "No network: raw LR pixels vs a hand-crafted control")
    save_grid(shown, out / "random_init_wgr_layers.png",
              "SRResNet random init (seed 0; wGR = woGR features), BSDS500-val 32x32 LR patches")
    return pd.DataFrame(rows)


def report(cross, deg, identical, rel):
    """Print the markdown tables of ``benchmarks/results/analysis.md`` to stdout."""
    fmt = lambda r: f"{r['chi_mean']:.2f} ± {r['chi_std']:.2f}"  # noqa: E731
    print("## Cross-degradation (clean / blur / noise), CHI mean ± std over runs\n")
    tab = cross.assign(chi=cross.apply(fmt, axis=1)).pivot(index="model", columns="layer", values="chi")
    print(to_markdown(tab.reindex(columns=[c for c in LAYERS + ["input"] if c in tab.columns]).fillna(""), index=True))
    print("\n## WD / BD (x1e4), mean ± std\n")
    wb = cross.assign(WD=cross.apply(lambda r: f"{r['wd_mean'] / 1e4:.2f} ± {r['wd_std'] / 1e4:.2f}", axis=1),
                      BD=cross.apply(lambda r: f"{r['bd_mean'] / 1e4:.4f} ± {r['bd_std'] / 1e4:.4f}", axis=1))
    print(to_markdown(wb[["model", "layer", "WD", "BD"]], index=False))
    print("\n## Degree discrimination at ResBlock16 (pixels: raw LR input), CHI mean ± std\n")
    dt = deg.assign(chi=deg.apply(fmt, axis=1)).pivot(index="model", columns="sets", values="chi")
    print(to_markdown(dt.reindex(columns=DEGREE_SETS)))
    print(f"\nwGR and woGR features identical at random init with the same seed: {identical}")
    print("\nRelative distance ||F_layer - F_Conv1|| / ||F_Conv1|| at random init (wGR, seed 0): "
          + ", ".join(f"{k} {v:.4f}" for k, v in rel.items()))


if __name__ == "__main__":
    main()
