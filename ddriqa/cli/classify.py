"""``ddriqa classify``: identify the distortion of every image in a folder."""

from __future__ import annotations

import os

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
              help="Classifier: a shipped name or a file saved by `ddriqa train`. ddr (the default), fast "
                   "and fusion know 6 classes: fastfading, gblur, jp2k, jpeg, pristine, wn; brisque knows "
                   "the 5 distortions only (no pristine class: every image gets a distortion). The run's "
                   "first line on stderr names the classes of the model used.")
@click.option("-r", "--recursive", is_flag=True, help="Also classify images in subfolders.")
@click.option("--resume", is_flag=True,
              help="Continue an interrupted run: skip images already in --output.")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output file.")
@click.option("--pad", type=click.Choice(["error", "reflect"]), default="error", show_default=True,
              help="DDR models: an image smaller than the model's crops is an error row ('too small'), "
                   "or is mirror-padded to them (its label then says little).")
@batch_job_options("model")
def classify(folder, output, model_name, recursive, resume, overwrite, pad, strict, max_pixels, batch_size,
             scheduler, chunk_size):
    """Identify the distortion (jp2k, jpeg, wn, gblur, fastfading, or pristine) of each image in FOLDER.

    Writes one CSV row per image: path (absolute), predicted distortion, one score per class
    (proba_<class> when the classifier gives probabilities, else decision_<class>, the
    decision_function values), and error (empty when fine, else the reason). Rows are appended
    and flushed as they are produced; a bad file (a dangling or looping symbolic link too) gets
    an error row and a warning on stderr, and never stops the run.

    With --output FILE, FILE.model.json records the model (name, file, sha256); --resume with
    another model is refused.

    Exit status: 0 all images classified; 1 finished, but some images got an error row;
    2 usage error, no image, model not found, output exists, or --strict stopped at a bad file;
    130 interrupted (Ctrl-C; the rows written are kept, continue with --resume).

    With --scheduler ADDRESS the images are classified by the workers of a Dask cluster (each
    loads the model once); rows come back into the same CSV, in the same order.

    Example:

        ddriqa classify photos/ --model brisque --output results.csv --resume

        ddriqa classify /shared/photos --model /shared/ddr.npz -o out.csv --scheduler tcp://head:8786
    """
    from ddriqa.classification.named import DEFAULT_MODEL, resolve_model_name
    from ddriqa.jobs.batches import image_reader
    from ddriqa.jobs.classify import (
        check_model_record,
        classify_files,
        describe_classes,
        load_model,
        model_record,
        model_record_path,
        score_kind,
        set_padding,
    )
    from ddriqa.jobs.outputs import check_output

    if resume and overwrite:
        fail("--resume and --overwrite exclude each other")
    if resume and output == "-":
        fail("--resume needs an --output file")
    name = model_name or DEFAULT_MODEL
    # cheap checks first: an unknown model, the output (a folder, unwritable, existing), no image
    record = model_record(name)
    if check_output(output, resume=resume, overwrite=overwrite) and resume:
        if not check_model_record(output, record):
            log(f"warning: {output} has no {model_record_path(output).name} (written by an older ddriqa): "
                f"cannot check that its rows come from {name}")
    paths = list_input_images(folder, recursive)
    model = load_model(name)
    set_padding(model, pad)
    kind = score_kind(model)
    shipped = resolve_model_name(name)
    log(f"model {name}" + (f" ({shipped})" if shipped != name else "") + f": {describe_classes(model)}")
    log(f"classifying {plural(len(paths), 'image')} with {name}; scores are "
        + ("probabilities" if kind == "proba" else "decision_function values"))
    bar = progress(length=len(paths), label="classify")
    client = runner = None
    try:
        if scheduler:
            from ddriqa.jobs.dask_runner import classify_runner

            client = connect_scheduler(scheduler, chunk_size)
            ref = record["file"] if os.path.isfile(name) or os.path.isfile(name + ".npz") else shipped
            runner = classify_runner(client, ref, batch_size=batch_size,
                                     max_pixels=max_pixels, chunk_size=chunk_size, strict=strict, pad=pad)
        with bar, blas_single_thread():
            summary = classify_files(model, paths, output, batch_size=batch_size, resume=resume,
                                     overwrite=overwrite, strict=strict,
                                     read=image_reader("default" if max_pixels is None else max_pixels),
                                     on_item=item_reporter(bar), on_skipped=bar.update, runner=runner,
                                     record=record)
    finally:
        if client is not None:
            client.close()
    skipped = f", {summary.n_skipped} already in {output}" if resume else ""
    log(f"done: {summary.n_ok} classified, {plural(summary.n_errors, 'error')}{skipped}")
    if summary.n_errors:
        raise SystemExit(EXIT_SOME_ERRORS)
