"""``ddriqa demo``: classify a small synthetic set made from scikit-image's photos; no data needed."""

from __future__ import annotations

import click

from ddriqa.cli._common import exits_on_errors, log, plural


#: what the README's headline figures are, for the demo to say why its own differ
HEADLINE = ("the README's headline figures are other measurements: 0.88 macro precision is the median over 20 "
            "content-disjoint splits of a LIVE-like Kodak24 set (155 test images per split), and 99 of 100 "
            "clean photographs called pristine is on held-out BSDS500 val photographs: natural photographs like "
            "the training data")


def what_the_demo_measures(results, per_class):
    """The lines that say what the demo's figures are, and why they differ from the README's."""
    n_clean = int((results["true"] == "pristine").sum())
    n_distorted = len(results) - n_clean
    clean = (f" and the {plural(n_clean, 'clean photo')} themselves (class pristine)" if n_clean
             else " (this model has no pristine class: the clean photos are not classified)")
    return [
        f"demo: {plural(n_distorted, 'distorted image')} ({per_class} per class, LIVE parameter ranges) made "
        f"from scikit-image's sample photos{clean}; figures: precision and recall per class on this one small "
        "set, macro precision (ALL precision: the mean over the classes) and accuracy.",
        "The sample photos are unlike the training data (microscopy, astronomy, gray scans repeated to RGB, "
        "shrunk to 512 px), and each class has a few images, so one wrong label moves a figure by 0.05 or "
        f"more; {HEADLINE}.",
    ]


def _print_results(model_name, table, results, confusion, per_class):
    """What is measured, the per-class table, then the confusion matrix, on stdout."""
    n_err = int((results["error"] != "").sum())
    for line in what_the_demo_measures(results, per_class):
        click.echo(line)
    click.echo("")
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
@click.option("--overwrite", is_flag=True, help="--output holds an earlier demo: replace it (refused without it).")
def demo(output, per_class, seed, model_name, overwrite):
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
        table, results = run_demo(output or tmp, model=model_name, per_class=per_class, seed=seed, log=log,
                                  overwrite=overwrite)
    classes = [c for c in table.index if c != "ALL"]
    confusion = confusion_matrix_table(results["true"], results["distortion"], classes)
    _print_results(model_name, table, results, confusion, per_class)
    if output is None:
        return
    written = ["photos/", "live/", "results.csv", "per_class.csv", "confusion_matrix.csv"]
    try:
        written += [p.name for p in plot_demo(output, table, confusion, title=f"demo: {model_name}")]
    except PlotsUnavailableError as exc:
        log(f"note: {exc}; the CSV files are written")
    log(f"kept {', '.join(written)} in {output}")
