"""Small helpers shared by the CLI commands: stderr logging and progress bars."""

from __future__ import annotations

import os
import sys

import click


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
