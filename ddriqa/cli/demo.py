"""``ddriqa demo``: classify a small synthetic set made from scikit-image's photos; no data needed."""

from __future__ import annotations

import click

from ddriqa.cli._common import exits_on_errors, log, plural


def _print_results(model_name, table, results, confusion):
    """The per-class table, then the confusion matrix, on stdout."""
    n_err = int((results["error"] != "").sum())
    click.echo(f"model: {model_name}; {plural(len(results), 'image')} ({plural(n_err, 'error')}); "
               "precision and recall per class (ALL: macro precision, accuracy):")
    click.echo(table.to_string(float_format=lambda v: f"{v:.2f}", na_rep=""))
    click.echo("")
    click.echo("confusion matrix (rows: true class, columns: predicted class):")
    click.echo(confusion.to_string())


@click.command("demo")
@exits_on_errors
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="Keep the photos, the distorted set, the results and the plots here "
                   "(default: a temporary folder, removed).")
@click.option("--per-class", type=click.IntRange(min=1), default=20, show_default=True,
              help="Distorted images per class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the distortions.")
@click.option("-m", "--model", "model_name", default="ddr", show_default=True, metavar="NAME|PATH",
              help="Classifier to demonstrate: ddr (the shipped default), brisque, or a file.")
def demo(output, per_class, seed, model_name):
    """Show distortion identification on data made on the spot (needs scikit-image).

    Takes the sample photographs that scikit-image ships, makes LIVE-like distorted versions
    (jp2k, jpeg, wn, gblur, fastfading), classifies them (and, for a model that knows the class
    pristine, the clean photos too) with the shipped classifier and prints precision and recall
    per class, then the confusion matrix. The photos are not Kodak or BSDS500 images, so the
    shipped classifiers see new content. Takes one to two minutes on a 2-core CPU (the first
    use of the default model also converts Real-ESRGAN's weights once, ~45 s). With --output,
    the folder also gets confusion_matrix.csv and, with matplotlib (the plots extra),
    confusion_matrix.png and per_class.png.

    Exit status: 0 done; 2 scikit-image missing, model not found, or another failure.

    Example:

        ddriqa demo --output demo_run/
    """
    import tempfile

    from ddriqa.evaluation.plots import PlotsUnavailableError, confusion_matrix_table
    from ddriqa.jobs.demo import plot_demo, run_demo

    with tempfile.TemporaryDirectory(prefix="ddriqa-demo-") as tmp:
        table, results = run_demo(output or tmp, model=model_name, per_class=per_class, seed=seed, log=log)
    classes = [c for c in table.index if c != "ALL"]
    confusion = confusion_matrix_table(results["true"], results["distortion"], classes)
    _print_results(model_name, table, results, confusion)
    if output is None:
        return
    written = ["photos/", "live/", "results.csv", "per_class.csv", "confusion_matrix.csv"]
    try:
        written += [p.name for p in plot_demo(output, table, confusion, title=f"demo: {model_name}")]
    except PlotsUnavailableError as exc:
        log(f"note: {exc}; the CSV files are written")
    log(f"kept {', '.join(written)} in {output}")
