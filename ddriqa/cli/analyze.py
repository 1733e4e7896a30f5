"""``ddriqa analyze``: how well a network's layers cluster images by degradation (WD / BD / CHI)."""

from __future__ import annotations

import click

from ddriqa.cli._common import check_output, device_option, exits_on_errors, log, plural, progress

#: below this many images in its smallest class, ``analyze`` warns that CHI is unstable: CHI grows
#: with the number of images ((N - K) / (K - 1)) and swings between small samples
MIN_IMAGES_PER_CLASS = 50
#: resamples of the bootstrap spread that ``analyze`` prints beside each CHI
N_BOOTSTRAP = 200


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


def _skipped(path, reason):
    log(f"warning: skipped {path}: {reason}")


def load_labelled(pairs, patch, limit):
    """Labelled patches from ``--data`` values (or parsed pairs); logs each skipped file on stderr."""
    from ddriqa.analysis.protocol import load_patch_folders

    if pairs and isinstance(pairs[0], str):
        pairs = parse_data_options(pairs)
    return load_patch_folders(pairs, patch=patch, limit=limit, on_skip=_skipped)


def backbone_options(f):
    """The options shared by analyze and generalization for the network to analyse."""
    f = click.option("--random-blocks", type=click.IntRange(0), default=16, show_default=True,
                     help="Residual blocks of the --weights random network.")(f)
    f = click.option("--random-features", type=click.IntRange(1), default=64, show_default=True,
                     help="Channels of the --weights random network.")(f)
    f = click.option("--global-residual/--no-global-residual", default=True, show_default=True,
                     help="With or without global residual (--weights random only; files carry their own).")(f)
    return f


def build_analysis_backbone(weights, *, seed, device, random_blocks, random_features, global_residual):
    """The network of ``--weights`` on the ``--device`` (``auto`` resolved)."""
    from ddriqa.device import resolve_device
    from ddriqa.models.backbones import build_backbone

    return build_backbone(weights, seed=seed, global_residual=global_residual, num_blocks=random_blocks,
                          num_features=random_features, device=resolve_device(device))


def _inputs(pairs, from_hr, sets, patch, limit, seed):
    """(images, labels, names for images.csv) from --data folders or --from-hr HR images."""
    from ddriqa.analysis.testsets import load_hr_test_sets

    if not from_hr:
        images, labels, paths, _ = load_labelled(pairs, patch, limit)
        return images, labels, paths
    ts, _ = load_hr_test_sets(from_hr, sets, seed=seed, patch=patch, limit=limit, on_skip=_skipped)
    log(f"built test sets {sets} from {plural(len(set(ts.sources)), 'HR image')}")
    return ts.images, ts.labels, [f"{s}:{lab}" for s, lab in zip(ts.sources, ts.labels)]


def _plots_available(plots):
    if not plots:
        return False
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        log("note: matplotlib is not installed (pip install 'ddriqa[plots]'): no plots; the CSV files are written")
        return False
    return True


def _layer_writer(out_dir, labels, plots, bar):
    """``on_layer`` callback saving metrics.csv, runs.csv (and <layer>.png) after each layer, so
    that a later failure never loses finished layers; returns (callback, metric rows)."""
    import pandas as pd

    from ddriqa.analysis.protocol import METRIC_COLUMNS

    from ddriqa.analysis.dispersion import bootstrap_chi

    rows, runs = [], []

    def on_layer(layer, proj, summary):
        lo, hi = bootstrap_chi(proj.points, labels, n_boot=N_BOOTSTRAP, seed=0)
        rows.append({"layer": layer, **summary.as_row(), "boot": (lo, hi)})
        pd.DataFrame([{k: v for k, v in r.items() if k != "boot"} for r in rows],
                     columns=METRIC_COLUMNS).to_csv(out_dir / "metrics.csv", index=False)
        r = summary.runs.copy()
        r.insert(0, "layer", layer)
        runs.append(r)
        pd.concat(runs, ignore_index=True).to_csv(out_dir / "runs.csv", index=False)
        if plots:
            _save_plot(proj, labels, layer, summary, out_dir / f"{layer}.png")
        bar.update(1)

    return on_layer, rows


@click.command("analyze")
@exits_on_errors
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
@device_option
@backbone_options
@click.option("--plots/--no-plots", default=True, show_default=True, help="Write one PNG scatterplot per layer.")
@click.option("-o", "--output", "output", required=True, type=click.Path(file_okay=False),
              help="Output folder: metrics.csv, runs.csv, images.csv and <layer>.png.")
@click.option("--overwrite", is_flag=True, help="Replace the results of an earlier analysis in --output "
                                                "(refused without it).")
def analyze(weights, layers, data, from_hr, sets, patch, runs, seed, limit, method, n_pca, perplexity,
            tsne_iter, batch_size, device, random_blocks, random_features, global_residual, plots, output,
            overwrite):
    """Measure how a network's layers cluster images by degradation.

    Projects each layer's features of the labelled images (PCA to 50, then t-SNE to 2-D, --runs
    times) and writes WD, BD and the Calinski-Harabasz index (CHI, mean and std over runs) per
    layer to OUTPUT/metrics.csv, and a scatterplot per layer to OUTPUT/<layer>.png.
    Higher CHI = the layer separates the degradations more. Unreadable or too small images are
    skipped with a warning naming them. Beside each CHI, stderr gives its 90% bootstrap interval
    over the images (200 stratified resamples of the projected points; t-SNE is not rerun); with
    fewer than 50 images in a class a warning says that CHI is unstable. An OUTPUT holding an
    earlier analysis is refused without --overwrite.

    Exit status: 0 done; 2 usage error, output exists, no usable image, unreadable weights.

    Example:

    \b
        ddriqa analyze --weights random --from-hr ../shared/data/sr/BSDS500/val
        --sets clean,blur,noise --layer Conv1 --layer ResBlock16 --output out/analysis
    """
    from pathlib import Path

    import numpy as np
    import pandas as pd

    from ddriqa.analysis.protocol import analyze_layers
    from ddriqa.errors import InputError
    from ddriqa.models.backbones import check_layers

    from ddriqa.jobs.outputs import claim_output_folder

    if bool(data) == bool(from_hr):
        raise click.UsageError("give either --data LABEL=DIR (repeatable) or --from-hr DIR")
    check_output(output, folder=True)
    old_layers = []
    if (Path(output) / "metrics.csv").is_file():
        try:
            old_layers = pd.read_csv(Path(output) / "metrics.csv")["layer"].astype(str).tolist()
        except (ValueError, KeyError):
            pass
    claim_output_folder(output, ["metrics.csv", "runs.csv", "images.csv"]
                        + [f"{layer}.png" for layer in dict.fromkeys(list(layers) + old_layers)],
                        overwrite=overwrite, choices=(("overwrite", "replace the earlier analysis"),))
    images, labels, names = _inputs(parse_data_options(data), from_hr, sets, patch, limit, seed)
    if len(images) == 0:
        raise InputError("no usable image (see the skipped files above)")
    model = build_analysis_backbone(weights, seed=seed, device=device, random_blocks=random_blocks,
                                    random_features=random_features, global_residual=global_residual)
    try:
        check_layers(model, layers)
    except InputError as exc:
        raise click.BadParameter(str(exc), param_hint="--layer") from None
    out_dir = Path(output)
    out_dir.mkdir(parents=True, exist_ok=True)
    pd.DataFrame({"image": names, "label": labels}).to_csv(out_dir / "images.csv", index=False)
    classes, n_per_class = np.unique(labels, return_counts=True)
    counts = ", ".join(f"{k}: {int(v)}" for k, v in zip(classes, n_per_class))
    log(f"{plural(len(images), 'image')} ({counts}); layers {list(layers)}; {plural(runs, 'run')}")
    if n_per_class.min() < MIN_IMAGES_PER_CLASS:
        log(f"warning: few images: {int(n_per_class.min())} in the smallest class, below {MIN_IMAGES_PER_CLASS}; "
            "CHI grows with the number of images and varies strongly between samples at this size: "
            "compare CHI only at equal sample sizes, and read its bootstrap interval below")
    with progress(length=len(layers), label="layers") as bar:
        on_layer, rows = _layer_writer(out_dir, labels, _plots_available(plots), bar)
        analyze_layers(model, images, labels, layers, method=method, n_pca=n_pca, runs=runs, seed=seed,
                       batch_size=batch_size, perplexity=perplexity, max_iter=tsne_iter, on_layer=on_layer)
    for row in rows:
        lo, hi = row["boot"]
        log(f"{row['layer']}: CHI {row['chi_mean']:.2f} \u00b1 {row['chi_std']:.2f} (std over {plural(runs, 'run')}); "
            f"90% bootstrap interval over the images {lo:.2f} to {hi:.2f} ({N_BOOTSTRAP} stratified resamples "
            "of the projected points, t-SNE not rerun)")
    log(f"wrote {out_dir / 'metrics.csv'}")


def _save_plot(proj, labels, layer, summary, path):
    from matplotlib.figure import Figure

    from ddriqa.analysis.display import DegradationScatterDisplay

    fig = Figure(figsize=(4.2, 4.2))
    DegradationScatterDisplay(proj.points[0], labels, summary=summary, title=layer).plot(ax=fig.subplots())
    fig.tight_layout()
    fig.savefig(path, dpi=80)
