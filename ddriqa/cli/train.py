"""``ddriqa train``: fit a distortion classifier on a labelled set and save it (JSON + .npz)."""

from __future__ import annotations

import click

from ddriqa.cli._common import blas_single_thread, fail, log


def fit_classifier(table, features="brisque", *, weights="srgan_x4_gr", layer="ResBlock16", crop=96,
                   n_components=120, device="auto", seed=0, n_jobs=None):
    """Fit the DDR or BRISQUE classifier on a dataset table (columns path, distortion[, reference]).

    BRISQUE's C and gamma are chosen by grid search with inner folds that are disjoint in
    content (grouped by ``reference``) when the table names at least two references, else
    stratified folds. Returns the fitted pipeline.
    """
    import numpy as np

    from ddriqa.classification.pipelines import make_brisque_classifier, make_ddr_classifier

    paths = table["path"].astype(str).tolist()
    y = table["distortion"].astype(str).to_numpy()
    if features == "brisque":
        groups = None
        if "reference" in table and table["reference"].notna().all():
            groups = table["reference"].astype(str).to_numpy()
        n_groups = len(np.unique(groups)) if groups is not None else 0
        if n_groups >= 2:
            from sklearn.model_selection import GroupKFold

            model = make_brisque_classifier(cv=GroupKFold(n_splits=min(5, n_groups)), n_jobs=n_jobs,
                                            random_state=seed)
            return model.fit(paths, y, svm__groups=groups)
        return make_brisque_classifier(n_jobs=n_jobs, random_state=seed).fit(paths, y)
    model = make_ddr_classifier(weights=weights, layer=layer, crop=crop, n_components=n_components,
                                device=device, random_state=seed)
    return model.fit(paths, y)


@click.command("train")
@click.argument("data", type=click.Path(exists=True, file_okay=False))
@click.option("-o", "--output", required=True, type=click.Path(),
              help="Where to save the classifier (JSON + .npz, no pickle).")
@click.option("--features", type=click.Choice(["ddr", "brisque"]), default="ddr", show_default=True)
@click.option("--weights", default="srgan_x4_gr", show_default=True, metavar="NAME|PATH|random",
              help="DDR backbone: shipped name, .safetensors path, or 'random' (seeded control).")
@click.option("--layer", default="ResBlock16", show_default=True, help="DDR feature tap.")
@click.option("--crop", type=click.IntRange(min=1), default=96, show_default=True,
              help="Side of the central crop for DDR.")
@click.option("--n-components", type=click.IntRange(min=1), default=120, show_default=True,
              help="DDR: PCA dimension.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--seed", type=int, default=0, show_default=True,
              help="Seed of the inner CV folds, PCA and a random backbone.")
@click.option("--n-jobs", type=int, default=None, help="BRISQUE: parallel jobs (joblib).")
def train(data, output, features, weights, layer, crop, n_components, device, seed, n_jobs):
    """Fit a distortion classifier on DATA and save it to --output.

    DATA is a LIVE-layout folder (the real LIVE Release 2, or `ddriqa degrade` output) or a
    folder with one sub-folder of images per class. Every image must be readable: training
    stops with the file and the reason otherwise.

    Exit status: 0 saved; 2 usage error, unreadable data or model file.

    Example:

        ddriqa train /data/live_kodak --features brisque --output brisque_kodak
    """
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.datasets.folders import load_dataset
    from ddriqa.errors import DDRIQAError

    try:
        table = load_dataset(data)
    except DDRIQAError as exc:
        fail(str(exc))
    counts = table["distortion"].value_counts().sort_index()
    n_refs = table["reference"].nunique() if "reference" in table else 0
    log(f"training set: {len(table)} images, {len(counts)} classes, {n_refs} reference images")
    log("  " + ", ".join(f"{k}: {v}" for k, v in counts.items()))
    if len(counts) < 2:
        fail(f"{data}: need at least two classes to train a classifier, found {list(counts.index)}")
    detail = f" (backbone {weights}, {layer}, crop {crop})" if features == "ddr" else ""
    log(f"fitting the {features} classifier{detail}")
    try:
        with blas_single_thread():
            model = fit_classifier(table, features, weights=weights, layer=layer, crop=crop,
                                   n_components=n_components, device=device, seed=seed, n_jobs=n_jobs)
        saved = save_classifier(model, output)
    except DDRIQAError as exc:
        fail(str(exc))
    search = model[-1]
    if hasattr(search, "best_params_"):
        log(f"grid search: best {search.best_params_}, inner-CV accuracy {search.best_score_:.3f}")
    log(f"saved {saved if saved is not None else output}")
