"""``ddriqa extract``: raw DDR or BRISQUE features of every image in a folder, to a .npy file."""

from __future__ import annotations

import click

from ddriqa.cli._common import (
    EXIT_SOME_ERRORS,
    batch_job_options,
    connect_scheduler,
    ddr_options,
    device_option,
    exits_on_errors,
    item_reporter,
    list_input_images,
    log,
    plural,
    progress,
)


@click.command("extract")
@exits_on_errors
@click.argument("data", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .npy file to write (a sidecar <output>.csv lists index, path, error).")
@click.option("--overwrite", is_flag=True, help="Replace an existing --output (and its sidecar CSV).")
@click.option("--features", type=click.Choice(["ddr", "brisque"]), default="ddr", show_default=True)
@ddr_options()
@device_option
@click.option("-r", "--recursive", is_flag=True, help="Also read images in subfolders.")
@batch_job_options("extractor")
def extract(data, output, overwrite, features, weights, layer, crop, pad, seed, device, recursive, strict,
            max_pixels, batch_size, scheduler, chunk_size):
    """Write the raw features of every image in DATA (a folder or one image) to a .npy file.

    Row i of the array belongs to row i of the sidecar CSV (index, path, error); rows of files
    that failed are NaN and their error column says why. The array is written chunk by chunk
    into a memory map of its final shape, so rows already computed survive a crash. An existing
    output is never replaced without --overwrite.

    Exit status: 0 all images done; 1 finished, but some images failed; 2 usage error, no
    image, output exists, model not found, no image readable, or --strict stopped at a bad file.

    With --scheduler ADDRESS the features are computed by the workers of a Dask cluster (each
    builds the extractor once); rows come back into the same .npy and sidecar CSV.

    Example:

        ddriqa extract photos/ --features brisque --output brisque.npy

        ddriqa extract /shared/photos -o /shared/ddr.npy --scheduler tcp://head:8786
    """
    from ddriqa.jobs.batches import image_reader
    from ddriqa.jobs.extract import build_extractor, extract_files, output_paths
    from ddriqa.jobs.outputs import refuse_existing

    # refused before any work: a folder or unwritable path, or existing files without --overwrite
    # (extract_files removes them with --overwrite)
    refuse_existing(output_paths(output), overwrite=overwrite, remove=False)
    paths = list_input_images(data, recursive)
    spec = dict(features=features, weights=weights, layer=layer, crop=crop, pad=pad, device=device, seed=seed)
    extractor = build_extractor(**spec)
    log(f"extracting {features} features of {plural(len(paths), 'image')}")
    bar = progress(length=len(paths), label="extract")
    client = runner = None
    try:
        if scheduler:
            from ddriqa.jobs.dask_runner import extract_runner

            client = connect_scheduler(scheduler, chunk_size)
            runner = extract_runner(client, spec, batch_size=batch_size, max_pixels=max_pixels,
                                    chunk_size=chunk_size, strict=strict)
        with bar:
            summary, sidecar = extract_files(extractor.transform, paths, output, batch_size=batch_size,
                                             strict=strict, overwrite=overwrite,
                                             read=image_reader("default" if max_pixels is None else max_pixels),
                                             on_item=item_reporter(bar), runner=runner)
    finally:
        if client is not None:
            client.close()
    log(f"done: {plural(summary.n_ok, 'row')}, {plural(summary.n_errors, 'error')} -> {output} (paths: {sidecar})")
    if summary.n_errors:
        raise SystemExit(EXIT_SOME_ERRORS)
