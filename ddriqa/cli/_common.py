"""What the CLI commands share: stderr logging, progress bars, the exit statuses and the one
error-to-exit rule, and the option groups several commands take.

Conventions (documented in CLI.md): results go to stdout or to ``-o/--output``; progress and
logs go to stderr (progress bars only when stderr is a terminal); ``--device`` defaults to
``auto`` everywhere; exit status 0 = done, 1 = finished but some items failed, 2 = nothing (or
not everything) could be done: usage error, bad input, model problem, ``--strict`` stop;
130 = interrupted (Ctrl-C), the results written so far kept.
"""

from __future__ import annotations

import functools
import os
import sys

import click

# The defaults of the DDR options live in one place (plain constants, no torch: `ddriqa --help`
# stays instant); imported here for the option declarations of the commands.
from ddriqa.features.presets import DEFAULT_CROP, DEFAULT_LAYER, DEFAULT_WEIGHTS  # noqa: F401

# Exit statuses (the same for every command; documented in CLI.md)
EXIT_OK = 0
EXIT_SOME_ERRORS = 1
EXIT_FAILURE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT, as a shell reports a command stopped by Ctrl-C


def fail(message, code=EXIT_FAILURE):
    """Log ``error: message`` to stderr and exit with ``code``."""
    log(f"error: {message}")
    raise SystemExit(code)


def log(message):
    """Write one line of progress or log text to stderr."""
    click.echo(message, err=True)


def item_reporter(bar):
    """The ``on_item`` callback of a batch job: advances ``bar`` and logs
    ``warning: PATH: reason`` for each file that got an error row (a dangling symbolic link, a
    truncated file, ...), so that a failed file is never only a row in a CSV."""

    def on_item(item):
        if item.error is not None:
            log(f"warning: {item.path}: {item.error}")
        bar.update(1)

    return on_item


def plural(n, word, many=None):
    """``"1 image"``, ``"2 images"``; ``many`` for irregular plurals.

    Examples
    --------
    >>> from ddriqa.cli._common import plural
    >>> plural(1, "image"), plural(3, "run"), plural(2, "class", "classes")
    ('1 image', '3 runs', '2 classes')
    """
    return f"{n} {word if n == 1 else (many or word + 's')}"


def cli_error_message(exc):
    """The ``error:`` text of a library error, in the command line's words.

    :class:`~ddriqa.jobs.batches.StrictModeError` becomes ``--strict: stopped at PATH: reason``;
    :class:`~ddriqa.jobs.outputs.OutputExistsError` names the flags (``--resume``,
    ``--overwrite``) instead of the Python keywords; any other error keeps its message.
    """
    from ddriqa.jobs.batches import StrictModeError
    from ddriqa.jobs.outputs import OutputExistsError

    if isinstance(exc, StrictModeError):
        return f"--strict: stopped at {exc.path}: {exc.reason}"
    if isinstance(exc, OutputExistsError):
        hint = " or ".join(f"pass --{key.replace('_', '-')} to {what}" for key, what in exc.choices)
        return f"{exc.path} exists; {hint}"
    return str(exc)


def exits_on_errors(command):
    """The one error-to-exit rule: a :class:`~ddriqa.errors.DDRIQAError` escaping a command is
    logged as ``error: <message>`` on stderr and exits with status 2 (:data:`EXIT_FAILURE`);
    Ctrl-C (``KeyboardInterrupt``) logs ``interrupted`` and exits 130 (:data:`EXIT_INTERRUPTED`),
    after the job has closed its outputs (the rows written so far are kept).

    Put it under ``@click.command``; click's own usage errors exit 2 as well. The command runs
    with :func:`ddriqa.errors.command_line_words`, so that library hints name its flags. Anything
    else escaping a command is a bug, and keeps its traceback.
    """
    from ddriqa.errors import DDRIQAError, command_line_words

    @functools.wraps(command)
    def run(*args, **kwargs):
        try:
            with command_line_words():
                return command(*args, **kwargs)
        except DDRIQAError as exc:
            fail(cli_error_message(exc))
        except KeyboardInterrupt:
            log("interrupted (Ctrl-C): what was written so far is kept"
                + ("; continue with --resume" if "resume" in kwargs else ""))
            raise SystemExit(EXIT_INTERRUPTED) from None

    return run


class _Quiet:
    """A stand-in for a progress bar when stderr is not a terminal: draws nothing."""

    def __init__(self, iterable=None):
        self._iterable = iterable

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __iter__(self):
        return iter(self._iterable)

    def update(self, n_steps=1, current_item=None):
        pass


def stderr_is_terminal():
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def progress(iterable=None, *, length=None, label=None):
    """A click progress bar drawn on stderr while stderr is a terminal; nothing in logs.

    Redirected to a file or a pipe, a bar would only leave its label behind, a stray line in the
    log (the commands log what they do in words instead).
    """
    if not stderr_is_terminal():
        return _Quiet(iterable if iterable is not None else range(length or 0))
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


def _apply(options, command):
    for option in reversed(options):
        command = option(command)
    return command


def device_option(command):
    """``--device``, the same in every command that runs a network (default ``auto``)."""
    return click.option("--device", default="auto", show_default=True,
                        help="Torch device: auto (CUDA when available, else the CPU), cpu, cuda, cuda:N.")(command)


def ddr_options(*, multiple_weights=False, pad=True, seed_help="Seed of --weights random."):
    """The DDR options of ``extract``, ``train`` and ``benchmark``: ``--weights``, ``--layer``,
    ``--crop``, ``--pad`` (unless ``pad=False``) and ``--seed``.

    ``multiple_weights=True`` makes ``--weights`` repeatable (default: none given, the command's
    choice); ``seed_help`` says what else the seed drives in a command.
    """
    if multiple_weights:
        weights = click.option("--weights", multiple=True, metavar="NAME|PATH",
                               help="DDR backbone(s), repeatable: shipped name or .safetensors path. "
                                    "Default: every shipped backbone.")
    else:
        weights = click.option("--weights", default=DEFAULT_WEIGHTS, show_default=True, metavar="NAME|PATH|random",
                               help="DDR backbone: shipped name, .safetensors path, or 'random' (seeded random init).")
    options = [
        weights,
        click.option("--layer", default=DEFAULT_LAYER, show_default=True, help="DDR feature tap (Conv1, ResBlock1..16)."),
        click.option("--crop", type=click.IntRange(min=1), default=DEFAULT_CROP, show_default=True,
                     help="Side of the central crop for DDR."),
    ]
    if pad:
        options.append(click.option("--pad", type=click.Choice(["error", "reflect"]), default="error",
                                    show_default=True,
                                    help="DDR: images smaller than the crop are errors, or mirror-padded."))
    options.append(click.option("--seed", type=int, default=0, show_default=True, help=seed_help))
    return functools.partial(_apply, options)


def batch_job_options(noun):
    """The options shared by the batch commands (``classify``, ``extract``): failure handling,
    the pixel limit, the batch size and the Dask cluster. ``noun`` names what one call gets."""
    options = [
        click.option("--strict", is_flag=True, help="Stop at the first file that fails (exit status 2)."),
        click.option("--max-pixels", type=click.IntRange(min=0), default=None,
                     help="Refuse images with more pixels (default 67108864 = 8192x8192; 0: no limit)."),
        click.option("-b", "--batch-size", type=click.IntRange(min=1), default=8, show_default=True,
                     help=f"Images per {noun} call."),
        click.option("--scheduler", default=None, metavar="ADDRESS",
                     help="Run on a Dask distributed cluster (e.g. tcp://host:8786); needs "
                          "ddriqa[distributed]. Workers must read the images (and a model or weights "
                          "file) under the same absolute paths."),
        click.option("--chunk-size", type=click.IntRange(min=1), default=32, show_default=True,
                     help="With --scheduler: images per cluster task."),
    ]
    return functools.partial(_apply, options)


def check_output(path, *, folder=False):
    """Refuse an output that cannot be written, before any work: ``error: PATH: reason``, exit 2
    (see :func:`ddriqa.jobs.outputs.check_output_path`)."""
    from ddriqa.jobs.outputs import check_output_path

    check_output_path(path, folder=folder)


def overwrite_option(what):
    """``--overwrite``: replace the results of an earlier run (``what`` says which)."""
    return click.option("--overwrite", is_flag=True, help=f"Replace {what} (refused without it).")


def list_input_images(path, recursive=None):
    """The images a command works on: ``path`` itself (a file) or the images of the folder.

    Raises an :class:`~ddriqa.errors.InputError` when there is none, before any model is loaded;
    its message suggests ``--recursive`` only when the command has that option
    (``recursive`` is not None), it is off, and the folder has sub-folders.
    """
    from ddriqa.errors import InputError
    from ddriqa.io import has_subfolders, list_inputs

    paths = list_inputs(path, bool(recursive))
    if not paths:
        hint = " (it has sub-folders: try --recursive)" if recursive is False and has_subfolders(path) else ""
        raise InputError(f"no image files found in {path}{hint}")
    return paths


def connect_scheduler(address, chunk_size):
    """Connect to the Dask scheduler at ``address`` and say so on stderr (``--scheduler``)."""
    from ddriqa.jobs.dask_runner import connect

    client = connect(address)
    log(f"running on the Dask cluster at {address} ({plural(len(client.nthreads()), 'worker')}), "
        f"{plural(chunk_size, 'image')} per task")
    return client
