"""``ddriqa generalization``: CHI-based generalization score of restoration models over degraded test sets."""

from __future__ import annotations

import click

from ddriqa.cli._common import EXIT_SOME_ERRORS, device_option, exits_on_errors, log, plural
from ddriqa.cli.analyze import backbone_options, build_analysis_backbone, load_labelled

COLUMNS = ["weights", "layer", "sets", "n_samples", "n_classes", "n_runs",
           "chi_mean", "chi_std", "wd_mean", "wd_std", "bd_mean", "bd_std"]


@click.command("generalization")
@exits_on_errors
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
@device_option
@backbone_options
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default="-", show_default=True,
              help="CSV file ('-': stdout); rewritten after each model, so finished rows survive.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file (refused without it).")
def generalization(weights, data, layer, patch, runs, seed, limit, tsne_iter, batch_size, device,
                   random_blocks, random_features, global_residual, output, overwrite):
    """Score how alike restoration models treat degraded test sets (CHI; lower = better).

    For each model, the features of all test images at --layer are projected (PCA to 50, t-SNE
    to 2-D, --runs times) and the Calinski-Harabasz index of the test-set labels is measured: a
    model that generalizes maps all degradations to one homogeneous cloud (low CHI). Writes one
    CSV row per model to stdout or --output; a model that fails is reported on stderr and the
    others are still scored.

    Exit status: 0 every model scored; 1 some model failed; 2 usage error or fewer than two
    test sets with usable images.

    Example:

    \b
        ddriqa generalization --weights my_model.safetensors --weights random
        --data clean=sets/clean --data blur=sets/blur --data noise=sets/noise
    """
    import sys

    import pandas as pd

    from ddriqa.analysis.protocol import generalization_score
    from ddriqa.errors import DDRIQAError, InputError, ModelFileError
    from ddriqa.jobs.outputs import refuse_existing

    if len(data) < 2:
        raise click.UsageError("give at least two --data LABEL=DIR test sets")
    refuse_existing([output], overwrite=overwrite, remove=False)  # before any work
    images, labels, _, _ = load_labelled(data, patch, limit)
    if len(set(labels.tolist())) < 2:
        raise InputError("fewer than two test sets have usable images (see the skipped files above)")
    sets = ",".join(dict.fromkeys(labels.tolist()))
    rows, failed = [], 0
    for w in weights:
        try:
            model = build_analysis_backbone(w, seed=seed, device=device, random_blocks=random_blocks,
                                            random_features=random_features, global_residual=global_residual)
            log(f"{w}: {plural(len(images), 'image')}, layer {layer}, {plural(runs, 'run')}")
            s = generalization_score(model, images, labels, layer, runs=runs, seed=seed,
                                     batch_size=batch_size, max_iter=tsne_iter)
        except DDRIQAError as exc:
            failed += 1
            message = str(exc)  # a weights-file error names the file already: said once
            named = isinstance(exc, ModelFileError) or message.startswith(f"{w}:")
            log(f"error: {message}" if named else f"error: {w}: {message}")
            continue
        rows.append({"weights": w, "layer": layer, "sets": sets, **s.as_row()})
        log(f"{w}: CHI {rows[-1]['chi_mean']:.2f} \u00b1 {rows[-1]['chi_std']:.2f}")
        if output != "-":  # keep what is finished even if a later model fails
            pd.DataFrame(rows, columns=COLUMNS).to_csv(output, index=False)
    table = pd.DataFrame(rows, columns=COLUMNS)
    if output == "-":
        table.to_csv(sys.stdout, index=False)
    else:
        table.to_csv(output, index=False)
        log(f"wrote {output}")
    if failed:
        raise SystemExit(EXIT_SOME_ERRORS)
