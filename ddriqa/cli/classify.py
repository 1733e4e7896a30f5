"""``ddriqa classify``: identify the distortion of every image in a folder."""

from __future__ import annotations

import click

from ddriqa.cli._common import (
    EXIT_SOME_ERRORS,
    batch_job_options,
    blas_single_thread,
    connect_scheduler,
    exits_on_errors,
    fail,
    item_reporter,
    list_input_images,
    log,
    plural,
    progress,
)


@click.command("classify")
@exits_on_errors
@click.argument("folder", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("-o", "--output", default="-", show_default=True,
              help="CSV file of results ('-': stdout).")
@click.option("-m", "--model", "model_name", default=None, metavar="NAME|PATH",
              help="Classifier: a shipped name (ddr, fast, fusion, brisque) or a file saved by `ddriqa train`. "
                   "Default: ddr, the shipped DDR classifier (Real-ESRGAN features, 6 classes).")
@click.option("-r", "--recursive", is_flag=True, help="Also classify images in subfolders.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run: skip images already in --output.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@batch_job_options("model")
def classify(folder, output, model_name, recursive, resume, overwrite, strict, max_pixels, batch_size,
             scheduler, chunk_size):
    """Identify the distortion (jp2k, jpeg, wn, gblur, fastfading, or pristine) of each image in FOLDER.

    Writes one CSV row per image: path (absolute), predicted distortion, one score per class
    (proba_<class> when the classifier gives probabilities, else decision_<class>, the
    decision_function values), and error (empty when fine, else the reason). Rows are appended
    and flushed as they are produced; a bad file (a dangling or looping symbolic link too) gets
    an error row and a warning on stderr, and never stops the run.

    Exit status: 0 all images classified; 1 finished, but some images got an error row;
    2 usage error, no image, model not found, output exists, or --strict stopped at a bad file.

    With --scheduler ADDRESS the images are classified by the workers of a Dask cluster (each
    loads the model once); rows come back into the same CSV, in the same order.

    Example:

        ddriqa classify photos/ --model brisque --output results.csv --resume

        ddriqa classify /shared/photos --model /shared/ddr.npz -o out.csv --scheduler tcp://head:8786
    """
    from ddriqa.classification.named import DEFAULT_MODEL, resolve_model_name
    from ddriqa.jobs.batches import image_reader
    from ddriqa.jobs.classify import classify_files, load_model, score_kind
    from ddriqa.jobs.outputs import check_output

    if resume and overwrite:
        fail("--resume and --overwrite exclude each other")
    if resume and output == "-":
        fail("--resume needs an --output file")
    name = model_name or DEFAULT_MODEL
    resolve_model_name(name)  # cheap checks first: an unshipped model, an existing output, no image
    check_output(output, resume=resume, overwrite=overwrite)
    paths = list_input_images(folder, recursive)
    model = load_model(name)
    kind = score_kind(model)
    log(f"classifying {plural(len(paths), 'image')} with {name}; scores are "
        + ("probabilities" if kind == "proba" else "decision_function values"))
    bar = progress(length=len(paths), label="classify")
    client = runner = None
    try:
        if scheduler:
            from ddriqa.jobs.dask_runner import classify_runner

            client = connect_scheduler(scheduler, chunk_size)
            runner = classify_runner(client, resolve_model_name(name), batch_size=batch_size,
                                     max_pixels=max_pixels, chunk_size=chunk_size, strict=strict)
        with bar, blas_single_thread():
            summary = classify_files(model, paths, output, batch_size=batch_size, resume=resume,
                                     overwrite=overwrite, strict=strict,
                                     read=image_reader("default" if max_pixels is None else max_pixels),
                                     on_item=item_reporter(bar), on_skipped=bar.update, runner=runner)
    finally:
        if client is not None:
            client.close()
    where = "stdout" if output == "-" else output
    log(f"done: {summary.n_ok} classified, {plural(summary.n_errors, 'error')}, "
        f"{summary.n_skipped} already in {where}")
    if summary.n_errors:
        raise SystemExit(EXIT_SOME_ERRORS)
