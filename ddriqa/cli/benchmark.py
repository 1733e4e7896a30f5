"""``ddriqa benchmark``: the distortion-identification benchmark (Table-1-like, two protocols)."""

from __future__ import annotations

import click

from ddriqa.cli._common import blas_single_thread, ddr_options, device_option, exits_on_errors, log, plural
from ddriqa.features.presets import POOLED_PRESETS

DEFAULT_METHODS = "brisque,paper,paper-random,ddr,ddr-random"

#: the files a benchmark writes in its --output (glob patterns); --overwrite removes exactly these,
#: and keeps cache/ (the features, reused by a rerun)
REPORT_FILES = ("summary*.csv", "summary*.md", "splits*.csv", "speed*.csv", "cross*.csv",
                "confusion/*.csv", "confusion/*.png")


@click.command("benchmark")
@exits_on_errors
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(file_okay=False),
              help="Folder for summary.csv/.md, splits.csv, speed.csv, confusion/ (and cache/).")
@click.option("--overwrite", is_flag=True,
              help="Replace the reports of an earlier benchmark in --output (all of them, confusion/ "
                   "included; cache/ is kept and reused). Refused without it.")
@click.option("--splits", "n_splits", type=click.IntRange(min=1), default=100, show_default=True,
              help="Random splits per protocol.")
@click.option("--test-size", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True, help="Fraction held out per split (of the references; of the images "
                                      "for --protocols random).")
@click.option("--methods", default=DEFAULT_METHODS, show_default=True,
              help="Comma-separated: brisque, paper (each backbone of --weights), paper-random, a pooled "
                   f"preset ({', '.join(POOLED_PRESETS)}), PRESET-random (its random-init control), "
                   "brisque+PRESET (fusion).")
@click.option("--protocols", default="content,random", show_default=True,
              help="Comma-separated: content (content-disjoint: no reference on both sides), random "
                   "(image-level stratified splits).")
@click.option("--pristine/--no-pristine", default=True, show_default=True,
              help="Add the clean references (refimgs/) as a sixth class, pristine.")
@click.option("--test-data", type=click.Path(exists=True, file_okay=False), default=None,
              help="A second LIVE-layout set: also fit on all of DATA and test on all of it (cross-set).")
@ddr_options(multiple_weights=True, pad=False, seed_help="Seed of the splits and of the random-init controls.")
@click.option("--n-components", type=click.IntRange(min=1), default=120, show_default=True,
              help="paper: PCA dimension (capped at the smallest train side minus one).")
@device_option
@click.option("--n-jobs", type=int, default=None, help="Parallel jobs (joblib).")
def benchmark(data, output, overwrite, n_splits, test_size, methods, protocols, pristine, test_data, weights, layer, crop,
              seed, n_components, device, n_jobs):
    """Compare BRISQUE and the DDR methods on the same splits of DATA.

    DATA is a LIVE-layout folder (LIVE Release 2 or `ddriqa degrade` output). Each split fits
    every method on its train side only and scores it on the test side; per-class precision
    and recall are summarised by the median (and IQR) over the splits, for each protocol:
    content-disjoint (the honest one: a reference and all its versions are on one side) and
    image-level random. The --layer/--crop/--weights options set the paper head; the
    pooled presets are described in CLI.md, "Presets". Features are extracted once per
    image and cached in OUTPUT/cache, so a rerun skips finished extractions; speed.csv gives
    each method's extraction speed. The Markdown tables are also printed.

    An --output that holds an earlier benchmark's reports is refused without --overwrite, which
    removes all of them (summary, splits, speed, every confusion/ file) before the run; the
    feature cache is kept either way.

    Exit status: 0 done; 2 usage error, reports exist, unreadable data, or no method could run.

    Example:

        ddriqa benchmark /data/live_kodak --splits 20 --methods brisque,ddr,ddr-random -o bench/
    """
    from pathlib import Path

    from ddriqa.evaluation.identification import run_identification_benchmark
    from ddriqa.jobs.outputs import check_output_path, claim_output_folder

    check_output_path(output, folder=True)  # before any work
    removed = claim_output_folder(output, REPORT_FILES, overwrite=overwrite)
    if removed:
        log(f"--overwrite: removed the earlier run's {plural(len(removed), 'report file')} from {output} "
            "(cache/ kept)")
    chosen = [m.strip() for m in methods.split(",") if m.strip()]
    chosen_protocols = [p.strip() for p in protocols.split(",") if p.strip()]
    with blas_single_thread():
        _, _, notes = run_identification_benchmark(
            data, output, methods=chosen, weights=list(weights) or None, n_splits=n_splits,
            test_size=test_size, seed=seed, protocols=chosen_protocols, pristine=pristine, test_data=test_data,
            layer=layer, crop=crop, n_components=n_components, device=device, n_jobs=n_jobs, log=log)
    for note in notes:
        log(f"note: {note}")
    click.echo((Path(output) / "summary.md").read_text(encoding="utf-8"))
    log(f"wrote {Path(output) / 'summary.csv'}, summary.md, splits.csv, speed.csv, confusion/")
