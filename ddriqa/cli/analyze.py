"""``ddriqa analyze``: how well a network's layers cluster images by degradation (WD / BD / CHI)."""

from __future__ import annotations

import click

from ddriqa.cli._common import log, progress


def parse_data_options(values):
    """``["clean=DIR", ...]`` -> list of (label, DIR), with clear usage errors."""
    pairs = []
    for v in values:
        label, sep, folder = v.partition("=")
        if not sep or not label.strip() or not folder.strip():
            raise click.BadParameter(f"expected LABEL=DIR, got {v!r}", param_hint="--data")
        pairs.append((label.strip(), folder.strip()))
    labels = [p[0] for p in pairs]
    if len(set(labels)) != len(labels):
        raise click.BadParameter(f"labels repeat: {labels}", param_hint="--data")
    return pairs


def load_labelled(pairs, patch, limit):
    """Labelled patches from ``--data`` values (or parsed pairs); logs each skipped file on stderr."""
    from ddriqa.analysis.protocol import load_patch_folders

    if pairs and isinstance(pairs[0], str):
        pairs = parse_data_options(pairs)
    images, labels, paths, skipped = load_patch_folders(
        pairs, patch=patch, limit=limit,
        on_skip=lambda path, reason: log(f"skipped {path}: {reason}"),
    )
    return images, labels, paths, skipped


def backbone_options(f):
    """The options shared by analyze and generalization for the network to analyse."""
    f = click.option("--random-blocks", type=click.IntRange(0), default=16, show_default=True,
                     help="Residual blocks of the --weights random network.")(f)
    f = click.option("--random-features", type=click.IntRange(1), default=64, show_default=True,
                     help="Channels of the --weights random network.")(f)
    f = click.option("--global-residual/--no-global-residual", default=True, show_default=True,
                     help="With or without global residual (--weights random only; files carry their own).")(f)
    return f


@click.command("analyze")
@click.option("--weights", "weights", required=True, metavar="NAME|PATH|random",
              help="Shipped weights name, .safetensors file, or 'random' (seeded random init).")
@click.option("--layer", "layers", multiple=True, default=("ResBlock16",), show_default=True,
              help="Layer to analyse (repeat for several): Conv1, ResBlock1..ResBlock16.")
@click.option("--data", "data", multiple=True, metavar="LABEL=DIR",
              help="A folder of images of one degradation (repeat for each degradation).")
@click.option("--from-hr", "from_hr", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder of HR images to build the aligned test sets from (x4 bicubic LR).")
@click.option("--sets", default="clean,blur,noise", show_default=True,
              help="With --from-hr: sets to build, e.g. 'clean,blur,noise', 'noise{5,10,30}', 'blur1,blur4'.")
@click.option("--patch", type=click.IntRange(1), default=32, show_default=True,
              help="Side of the centre-crop LR patch whose features are analysed.")
@click.option("--runs", type=click.IntRange(1), default=5, show_default=True, help="t-SNE runs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of test sets, random init and t-SNE.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Use at most N images per folder.")
@click.option("--method", type=click.Choice(["pca+tsne", "tsne", "pca"]), default="pca+tsne", show_default=True)
@click.option("--n-pca", type=click.IntRange(2), default=50, show_default=True, help="PCA dimensions before t-SNE.")
@click.option("--perplexity", type=click.FloatRange(1.0), default=30.0, show_default=True)
@click.option("--tsne-iter", type=click.IntRange(250), default=1000, show_default=True, help="t-SNE iterations.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@backbone_options
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write one PNG scatterplot per layer.")
@click.option("--output", "output", required=True, type=click.Path(file_okay=False),
              help="Output folder: metrics.csv, runs.csv, images.csv and <layer>.png.")
def analyze(weights, layers, data, from_hr, sets, patch, runs, seed, limit, method, n_pca, perplexity,
            tsne_iter, batch_size, device, random_blocks, random_features, global_residual, plots, output):
    """Measure how a network's layers cluster images by degradation.

    Projects each layer's features of the labelled images (PCA to 50, then t-SNE to 2-D, --runs
    times) and writes WD, BD and the Calinski-Harabasz index (CHI, mean and std over runs) per
    layer to OUTPUT/metrics.csv, and a scatterplot per layer to OUTPUT/<layer>.png.
    Higher CHI = the layer separates the degradations more.

    Example:

    \b
        ddriqa analyze --weights random --from-hr ../shared/data/sr/BSDS500/val
        --sets clean,blur,noise --layer Conv1 --layer ResBlock16 --output out/analysis
    """
    from pathlib import Path

    import numpy as np

    from ddriqa.errors import DDRIQAError

    if bool(data) == bool(from_hr):
        raise click.UsageError("give either --data LABEL=DIR (repeatable) or --from-hr DIR")
    pairs = parse_data_options(data)
    out_dir = Path(output)
    try:
        import pandas as pd

        from ddriqa.analysis.protocol import METRIC_COLUMNS, analyze_layers
        from ddriqa.errors import InputError
        from ddriqa.models.backbones import build_backbone, check_layers

        model = build_backbone(weights, seed=seed, global_residual=global_residual,
                               num_blocks=random_blocks, num_features=random_features, device=device)
        try:
            check_layers(model, layers)
        except InputError as exc:
            raise click.BadParameter(str(exc), param_hint="--layer") from None

        if from_hr:
            from ddriqa.analysis.testsets import make_test_sets
            from ddriqa.io import list_images, read_image

            files = list_images(from_hr)
            if limit is not None:
                files = files[:limit]
            hr, names = [], []
            for f in files:
                try:
                    hr.append(read_image(f))
                    names.append(Path(f).stem)
                except DDRIQAError as exc:
                    log(f"skipped {f}: {getattr(exc, 'reason', exc)}")
            if not hr:
                raise click.ClickException(f"{from_hr}: no readable image")
            log(f"building test sets {sets} from {len(hr)} HR images")
            ts = make_test_sets(hr, sets, seed=seed, patch=patch, names=names)
            images, labels, paths = ts.images, ts.labels, [f"{s}:{lab}" for s, lab in zip(ts.sources, ts.labels)]
        else:
            images, labels, paths, _ = load_labelled(pairs, patch, limit)
        if len(images) == 0:
            raise click.ClickException("no usable image")
        out_dir.mkdir(parents=True, exist_ok=True)
        pd.DataFrame({"image": paths, "label": labels}).to_csv(out_dir / "images.csv", index=False)
        counts = ", ".join(f"{k}: {int(v)}" for k, v in zip(*np.unique(labels, return_counts=True)))
        log(f"{len(images)} images ({counts}); "
            f"layers {list(layers)}; {runs} runs")

        metrics_path = out_dir / "metrics.csv"
        runs_path = out_dir / "runs.csv"
        done_rows = []
        done_runs = []
        bar = progress(length=len(layers), label="layers")

        def on_layer(layer, proj, summary):
            # save as soon as each layer is measured: a later failure never loses finished layers
            done_rows.append({"layer": layer, **summary.as_row()})
            pd.DataFrame(done_rows, columns=METRIC_COLUMNS).to_csv(metrics_path, index=False)
            r = summary.runs.copy()
            r.insert(0, "layer", layer)
            done_runs.append(r)
            pd.concat(done_runs, ignore_index=True).to_csv(runs_path, index=False)
            if plots:
                _save_plot(proj, labels, layer, summary, out_dir / f"{layer}.png")
            bar.update(1)

        with bar:
            analyze_layers(model, images, labels, layers, method=method, n_pca=n_pca, runs=runs, seed=seed,
                           batch_size=batch_size, perplexity=perplexity, max_iter=tsne_iter, on_layer=on_layer)
    except DDRIQAError as exc:
        raise click.ClickException(str(exc)) from None
    for row in done_rows:
        log(f"{row['layer']}: CHI {row['chi_mean']:.2f} \u00b1 {row['chi_std']:.2f}")
    log(f"wrote {metrics_path}")


def _save_plot(proj, labels, layer, summary, path):
    try:
        from matplotlib.figure import Figure
    except ImportError:
        log(f"matplotlib is not installed (pip install 'ddriqa[plots]'): no plot for {layer}")
        return
    from ddriqa.analysis.display import DegradationScatterDisplay

    fig = Figure(figsize=(4.2, 4.2))
    DegradationScatterDisplay(proj.points[0], labels, summary=summary, title=layer).plot(ax=fig.subplots())
    fig.tight_layout()
    fig.savefig(path, dpi=80)
