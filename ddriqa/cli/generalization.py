"""``ddriqa generalization``: CHI-based generalization score of restoration models over degraded test sets."""

from __future__ import annotations

import click

from ddriqa.cli._common import log
from ddriqa.cli.analyze import backbone_options, load_labelled

COLUMNS = ["weights", "layer", "sets", "n_samples", "n_classes", "n_runs",
           "chi_mean", "chi_std", "wd_mean", "wd_std", "bd_mean", "bd_std"]


@click.command("generalization")
@click.option("--weights", "weights", required=True, multiple=True, metavar="NAME|PATH|random",
              help="Model(s) to score: shipped name, .safetensors file or 'random' (repeat to compare).")
@click.option("--data", "data", required=True, multiple=True, metavar="LABEL=DIR",
              help="A folder of test images of one degradation (repeat; at least two).")
@click.option("--layer", default="ResBlock16", show_default=True, help="Layer whose features are measured.")
@click.option("--patch", type=click.IntRange(1), default=32, show_default=True, help="Centre-crop patch side.")
@click.option("--runs", type=click.IntRange(1), default=5, show_default=True, help="t-SNE runs.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of t-SNE and of the random init.")
@click.option("--limit", type=click.IntRange(1), default=None, help="Use at most N images per folder.")
@click.option("--tsne-iter", type=click.IntRange(250), default=1000, show_default=True, help="t-SNE iterations.")
@click.option("--batch-size", type=click.IntRange(1), default=64, show_default=True)
@click.option("--device", default="cpu", show_default=True, help="torch device, e.g. cpu or cuda.")
@backbone_options
@click.option("--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Write the CSV to this file instead of stdout.")
def generalization(weights, data, layer, patch, runs, seed, limit, tsne_iter, batch_size, device,
                   random_blocks, random_features, global_residual, output):
    """Score how alike restoration models treat degraded test sets (CHI; lower = better).

    For each model, the features of all test images at --layer are projected (PCA to 50, t-SNE
    to 2-D, --runs times) and the Calinski-Harabasz index of the test-set labels is measured: a
    model that generalizes maps all degradations to one homogeneous cloud (low CHI). Prints one
    CSV row per model (or writes it to --output); a model that fails is reported on stderr and the
    others are still scored (exit code 1 if any failed).

    Example:

    \b
        ddriqa generalization --weights my_model.safetensors --weights random
        --data clean=sets/clean --data blur=sets/blur --data noise=sets/noise
    """
    import sys

    import pandas as pd

    from ddriqa.errors import DDRIQAError

    if len(data) < 2:
        raise click.UsageError("give at least two --data LABEL=DIR test sets")
    try:
        images, labels, _, _ = load_labelled(data, patch, limit)
    except DDRIQAError as exc:
        raise click.ClickException(str(exc)) from None
    if len(set(labels.tolist())) < 2:
        raise click.ClickException("fewer than two test sets have usable images")
    sets = ",".join(dict.fromkeys(labels.tolist()))

    from ddriqa.analysis.protocol import generalization_score
    from ddriqa.models.backbones import build_backbone

    rows, failed = [], 0
    for w in weights:
        try:
            model = build_backbone(w, seed=seed, global_residual=global_residual,
                                   num_blocks=random_blocks, num_features=random_features, device=device)
            log(f"{w}: {len(images)} images, layer {layer}, {runs} runs")
            s = generalization_score(model, images, labels, layer, runs=runs, seed=seed,
                                     batch_size=batch_size, max_iter=tsne_iter)
        except DDRIQAError as exc:
            failed += 1
            log(f"error: {w}: {exc}")
            continue
        r = s.as_row()
        rows.append({"weights": w, "layer": layer, "sets": sets, **r})
        log(f"{w}: CHI {r['chi_mean']:.2f} \u00b1 {r['chi_std']:.2f}")
        # keep what is finished even if a later model fails
        if output:
            pd.DataFrame(rows, columns=COLUMNS).to_csv(output, index=False)
    table = pd.DataFrame(rows, columns=COLUMNS)
    if output:
        table.to_csv(output, index=False)
        log(f"wrote {output}")
    else:
        table.to_csv(sys.stdout, index=False)
    if failed:
        raise SystemExit(1)
