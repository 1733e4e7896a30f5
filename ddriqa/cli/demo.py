"""``ddriqa demo``: classify a small synthetic set made from scikit-image's photos; no data needed."""

from __future__ import annotations

import click

from ddriqa.cli._common import fail, log


@click.command("demo")
@click.option("-o", "--output", type=click.Path(file_okay=False), default=None,
              help="Keep the photos, the distorted set and the results here (default: a temporary folder, removed).")
@click.option("--per-class", type=click.IntRange(min=1), default=40, show_default=True,
              help="Distorted images per class.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the distortions.")
@click.option("-m", "--model", "model_name", default="brisque", show_default=True, metavar="NAME|PATH",
              help="Classifier to demonstrate.")
def demo(output, per_class, seed, model_name):
    """Show distortion identification on data made on the spot (needs scikit-image).

    Takes the sample photographs that scikit-image ships, makes LIVE-like distorted versions
    (jp2k, jpeg, wn, gblur, fastfading), classifies them with the shipped classifier and prints
    precision and recall per class. The photos are not Kodak images, so the shipped classifiers
    (trained on Kodak-based data) see new content. Takes about a minute on a 2-core CPU.

    Exit status: 0 done; 2 scikit-image missing, model not found, or another failure.

    Example:

        ddriqa demo --output demo_run/
    """
    import tempfile

    from ddriqa.classification.named import MODEL_ALIASES
    from ddriqa.errors import DDRIQAError
    from ddriqa.jobs.demo import run_demo

    if MODEL_ALIASES.get("ddr") is None:
        log("note: no trained DDR model is shipped yet, so the demo shows the BRISQUE baseline")
    tmp = None
    if output is None:
        tmp = tempfile.TemporaryDirectory(prefix="ddriqa-demo-")
        output = tmp.name
    try:
        table, results = run_demo(output, model=model_name, per_class=per_class, seed=seed, log=log)
    except DDRIQAError as exc:
        fail(str(exc))
    finally:
        if tmp is not None:
            tmp.cleanup()
    n_err = int((results["error"] != "").sum())
    click.echo(f"model: {model_name}; {len(results)} images ({n_err} errors); "
               "precision and recall per class (ALL: macro precision, accuracy):")
    click.echo(table.to_string(float_format=lambda v: f"{v:.2f}", na_rep=""))
    if tmp is None:
        log(f"kept photos/, live/, results.csv and per_class.csv in {output}")
