"""``ddriqa benchmark``: content-disjoint distortion-identification benchmark (Table-1-like)."""

from __future__ import annotations

import click

from ddriqa.cli._common import blas_single_thread, ddr_options, device_option, exits_on_errors, log


@click.command("benchmark")
@exits_on_errors
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder for summary.csv, summary.md, splits.csv (and cache/).")
@click.option("--splits", "n_splits", type=click.IntRange(min=1), default=100, show_default=True,
              help="Random content-disjoint splits.")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True, help="Fraction of the reference images held out per split.")
@click.option("--methods", default="brisque,ddr,ddr-random", show_default=True,
              help="Comma-separated: brisque, ddr (each backbone of --weights), ddr-random.")
@ddr_options(multiple_weights=True, pad=False, seed_help="Seed of the splits and of the ddr-random weights.")
@click.option("--n-components", type=click.IntRange(min=1), default=120, show_default=True,
              help="DDR PCA dimension (capped at the smallest train side minus one).")
@device_option
@click.option("--n-jobs", type=int, default=None, help="Parallel jobs (joblib).")
def benchmark(data, output, n_splits, test_size, methods, weights, layer, crop, seed, n_components,
              device, n_jobs):
    """Compare BRISQUE, DDR and random-weight DDR on content-disjoint splits of DATA.

    DATA is a LIVE-layout folder (LIVE Release 2 or `ddriqa degrade` output). The reference
    images are split at random into train and test (--test-size of them held out), each method
    is fitted on the train side only, and per-class precision and recall are summarised by the
    median (and IQR) over the splits. Features are extracted once per image and cached in
    OUTPUT/cache, so a rerun skips finished extractions. The Markdown table is also printed.

    Exit status: 0 done; 2 usage error, unreadable data, or no method could run.

    Example:

        ddriqa benchmark /data/live_kodak --splits 100 --seed 0 --methods brisque,ddr-random -o bench/
    """
    from pathlib import Path

    from ddriqa.evaluation.identification import run_identification_benchmark

    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    with blas_single_thread():
        run_identification_benchmark(
            data, output, methods=chosen, weights=list(weights) or None, n_splits=n_splits,
            test_size=test_size, seed=seed, layer=layer, crop=crop, n_components=n_components,
            device=device, n_jobs=n_jobs, log=log)
    click.echo((Path(output) / "summary.md").read_text(encoding="utf-8"))
    log(f"wrote {output}/summary.csv, summary.md, splits.csv")
