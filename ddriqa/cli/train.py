"""``ddriqa train``: fit a distortion classifier on a labelled set and save it (JSON + .npz)."""

from __future__ import annotations

import click

from ddriqa.cli._common import (
    blas_single_thread,
    ddr_options,
    device_option,
    exits_on_errors,
    log,
    plural,
)
from ddriqa.features.presets import POOLED_PRESETS


@click.command("train")
@exits_on_errors
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="Where to save the classifier (one .npz file: JSON + arrays, no pickle; .npz is appended "
                   "when missing, and --model finds it with or without it).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file (refused without it).")
@click.option("--features", type=click.Choice(["ddr", "brisque"]), default="ddr", show_default=True)
@click.option("--preset", type=click.Choice(list(POOLED_PRESETS)), default=None,
              help="DDR: a pooled preset (Real-ESRGAN channel statistics, crop vote; CLI.md, 'Presets') "
                   "instead of the paper's head; --weights/--layer/--crop/--n-components are then the preset's.")
@click.option("--pristine", is_flag=True,
              help="Add the clean references of a LIVE-layout DATA (refimgs/) as the class pristine.")
@ddr_options(seed_help="Seed of the inner CV folds, PCA and a random backbone.")
@click.option("--n-components", type=click.IntRange(min=1), default=120, show_default=True,
              help="DDR: PCA dimension (capped at the number of training images minus one).")
@device_option
@click.option("--n-jobs", type=int, default=None, help="BRISQUE: parallel jobs (joblib).")
def train(data, output, overwrite, features, preset, pristine, weights, layer, crop, pad, seed, n_components, device,
          n_jobs):
    """Fit a distortion classifier on DATA and save it to --output.

    DATA is a LIVE-layout folder (the real LIVE Release 2, or `ddriqa degrade` output) or a
    folder with one sub-folder of images per class. Every image must be readable: training
    stops with the file and the reason otherwise.

    --output gets .npz appended when it lacks it (`-o model` writes model.npz; `--model model`
    finds it). An existing file is refused without --overwrite.

    Exit status: 0 saved; 2 usage error, unreadable data, fewer than two classes, output exists,
    or a model or weights file problem.

    Example:

        ddriqa train /data/live_kodak --features brisque --output brisque_kodak

        ddriqa train /data/live_kodak --preset ddr --pristine --output ddr_kodak.npz
    """
    from ddriqa.classification.persistence import model_path, save_classifier
    from ddriqa.errors import InputError
    from ddriqa.jobs.outputs import refuse_existing
    from ddriqa.jobs.train import fit_classifier, load_training_set

    if preset is not None and features != "ddr":
        raise InputError("--preset is a DDR preset: use it with --features ddr")
    output = model_path(output)  # the file save_classifier writes: OUTPUT, or OUTPUT.npz
    refuse_existing([output], overwrite=overwrite, remove=False)  # before any work
    table = load_training_set(data, log=log)
    if pristine:
        from ddriqa.datasets.live_database import with_pristine

        table = with_pristine(table, data)
    counts = table["distortion"].value_counts().sort_index()
    n_refs = table["reference"].nunique() if "reference" in table else 0
    log(f"training set: {plural(len(table), 'image')}, {plural(len(counts), 'class', 'classes')}, "
        f"{plural(n_refs, 'reference image')}")
    log("  " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if len(counts) < 2:
        raise InputError(f"{data}: need at least two classes to train a classifier, found {list(counts.index)}")
    detail = f" (backbone {weights}, {layer}, crop {crop})" if features == "ddr" else ""
    if preset is not None:
        detail = f" (preset {preset})"
    log(f"fitting the {features} classifier{detail}")
    with blas_single_thread():
        model = fit_classifier(table, features, weights=weights, layer=layer, crop=crop, pad=pad,
                               n_components=n_components, device=device, seed=seed, n_jobs=n_jobs, preset=preset,
                               log=log)
    saved = save_classifier(model, output)
    search = model[-1]
    if hasattr(search, "best_params_"):
        log(f"grid search: best {search.best_params_}, inner-CV accuracy {search.best_score_:.3f}")
    log(f"saved {saved if saved is not None else output}")
