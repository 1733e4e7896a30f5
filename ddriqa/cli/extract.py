"""``ddriqa extract``: raw DDR or BRISQUE features of every image in a folder, to a .npy file."""

from __future__ import annotations

import click

from ddriqa.cli._common import EXIT_SOME_ERRORS, batch_job_options, connect_scheduler, fail, log, progress


@click.command("extract")
@click.argument("data", type=click.Path(exists=True, file_okay=True, dir_okay=True))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False),
              help="The .npy file to write (a sidecar <output>.csv lists index, path, error).")
@click.option("--features", type=click.Choice(["ddr", "brisque"]), default="ddr", show_default=True)
@click.option("--weights", default="srgan_x4_gr", show_default=True, metavar="NAME|PATH|random",
              help="DDR backbone: shipped name, .safetensors path, or 'random' (seeded random init).")
@click.option("--layer", default="ResBlock16", show_default=True, help="DDR feature tap.")
@click.option("--crop", type=click.IntRange(min=1), default=96, show_default=True,
              help="Side of the central crop for DDR.")
@click.option("--pad", type=click.Choice(["error", "reflect"]), default="error", show_default=True,
              help="DDR: images smaller than the crop are errors, or mirror-padded.")
@click.option("--device", default="auto", show_default=True, help="auto, cpu, cuda, cuda:N.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of --weights random.")
@click.option("-r", "--recursive", is_flag=True, help="Also read images in subfolders.")
@batch_job_options("extractor")
def extract(data, output, features, weights, layer, crop, pad, device, seed, recursive, strict, max_pixels, batch_size,
            scheduler, chunk_size):
    """Write the raw features of every image in DATA (a folder or one image) to a .npy file.

    Row i of the array belongs to row i of the sidecar CSV (index, path, error); rows of files
    that failed are NaN and their error column says why. The array is written chunk by chunk
    into a memory map of its final shape, so rows already computed survive a crash.

    Exit status: 0 all images done; 1 finished, but some images failed; 2 usage error, model
    not found, no image readable, or --strict stopped at a bad file.

    With --scheduler ADDRESS the features are computed by the workers of a Dask cluster (each
    builds the extractor once); rows come back into the same .npy and sidecar CSV.

    Example:

        ddriqa extract photos/ --features brisque --output brisque.npy

        ddriqa extract /shared/photos -o /shared/ddr.npy --scheduler tcp://head:8786
    """
    from ddriqa.errors import DDRIQAError
    from ddriqa.io import list_inputs
    from ddriqa.jobs.batches import StrictModeError, image_reader
    from ddriqa.jobs.extract import build_extractor, extract_files

    try:
        extractor = build_extractor(features, weights, layer, crop, pad, device, seed)
        paths = list_inputs(data, recursive)
    except DDRIQAError as exc:
        fail(str(exc))
    if not paths:
        fail(f"no image files found in {data}" + ("" if recursive else " (try --recursive)"))
    log(f"extracting {features} features of {len(paths)} images")
    reader = image_reader("default" if max_pixels is None else max_pixels)
    bar = progress(length=len(paths), label="extract")
    client = runner = None
    try:
        if scheduler:
            from ddriqa.jobs.dask_runner import extract_runner

            client = connect_scheduler(scheduler, chunk_size)
            spec = dict(features=features, weights=weights, layer=layer, crop=crop, pad=pad, device=device,
                        seed=seed)
            runner = extract_runner(client, spec, batch_size=batch_size, max_pixels=max_pixels,
                                    chunk_size=chunk_size, strict=strict)
        with bar:
            summary, sidecar = extract_files(extractor.transform, paths, output, batch_size=batch_size,
                                             strict=strict, read=reader,
                                             on_item=lambda item: bar.update(1), runner=runner)
    except StrictModeError as exc:
        fail(f"--strict: stopped at {exc.path}: {exc.reason}")
    except DDRIQAError as exc:
        fail(str(exc))
    finally:
        if client is not None:
            client.close()
    log(f"done: {summary.n_ok} rows, {summary.n_errors} errors -> {output} (paths: {sidecar})")
    if summary.n_errors:
        raise SystemExit(EXIT_SOME_ERRORS)
