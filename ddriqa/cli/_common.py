"""What the CLI commands share: stderr logging, progress bars, the exit statuses and the one
error-to-exit rule, and the option groups several commands take."""

from __future__ import annotations

import os
import sys

import click

# Exit statuses (the same for every command; documented in CLI.md)
EXIT_OK = 0
EXIT_SOME_ERRORS = 1
EXIT_FAILURE = 2


def fail(message, code=EXIT_FAILURE):
    """Log ``error: message`` to stderr and exit with ``code``."""
    log(f"error: {message}")
    raise SystemExit(code)


def log(message):
    """Write one line of progress or log text to stderr."""
    click.echo(message, err=True)


def progress(iterable=None, *, length=None, label=None):
    """A click progress bar drawn on stderr (results keep stdout to themselves)."""
    return click.progressbar(
        iterable, length=length, label=label, file=sys.stderr, show_pos=True, show_eta=True
    )


def blas_single_thread():
    """A context that runs numpy's BLAS on one thread, unless the user set a BLAS thread count.

    The classifiers' projections and the streamed Gram matrices are many small matrix products
    between network batches; measured on the shared 2-core development machine
    (benchmarks/classify_speed.py, benchmarks/ddr_gram_speed.py), multi-threaded OpenBLAS there
    spun for 3-6x the CPU time of the whole DDR extraction, and made a 96-image Gram matrix up
    to 150x slower, while the network waited.
    """
    import contextlib

    if any(v in os.environ for v in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS")):
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def batch_job_options(noun):
    """The options shared by the batch commands (``classify``, ``extract``): failure handling,
    the pixel limit, the batch size and the Dask cluster. ``noun`` names what one call gets."""

    def decorate(command):
        options = [
            click.option("--strict", is_flag=True, help="Stop at the first file that fails (exit status 2)."),
            click.option("--max-pixels", type=click.IntRange(min=0), default=None,
                         help="Refuse images with more pixels (default 100 million; 0: no limit)."),
            click.option("-b", "--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
                         help=f"Images per {noun} call."),
            click.option("--scheduler", default=None, metavar="ADDRESS",
                         help="Run on a Dask distributed cluster (e.g. tcp://host:8786); needs "
                              "ddriqa[distributed]. Workers must read the images (and a model or weights "
                              "file) under the same absolute paths."),
            click.option("--chunk-size", type=click.IntRange(min=1), default=32, show_default=True,
                         help="With --scheduler: images per cluster task."),
        ]
        for option in reversed(options):
            command = option(command)
        return command

    return decorate


def connect_scheduler(address, chunk_size):
    """Connect to the Dask scheduler at ``address`` and say so on stderr (``--scheduler``)."""
    from ddriqa.jobs.dask_runner import connect

    client = connect(address)
    log(f"running on the Dask cluster at {address} ({len(client.nthreads())} workers), "
        f"{chunk_size} images per task")
    return client

