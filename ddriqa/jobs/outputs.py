"""What the batch jobs do with output files that exist already.

A job never replaces results silently: an existing output is an :class:`OutputExistsError`
unless the caller says what to do with it (``overwrite=True``, or ``resume=True`` where a job can
continue a file). The error lists those keywords, so that a command line can name its own flags
(``--overwrite``, ``--resume``) instead of the Python ones.
"""

from __future__ import annotations

import os
from pathlib import Path

from ddriqa.errors import InputError

__all__ = ["OutputExistsError", "check_output", "refuse_existing"]


class OutputExistsError(InputError):
    """An output file exists and the job was not told whether to continue or replace it.

    Parameters
    ----------
    path : str or os.PathLike
        The file that exists.
    choices : sequence of (str, str)
        ``(keyword, what it does)`` pairs the caller can set, e.g.
        ``(("resume", "continue it"), ("overwrite", "replace it"))``.

    Examples
    --------
    >>> from ddriqa.jobs.outputs import OutputExistsError
    >>> print(OutputExistsError("out.csv", [("overwrite", "replace it")]))
    out.csv exists; pass overwrite=True to replace it
    """

    def __init__(self, path, choices=(("overwrite", "replace it"),)):
        self.path = os.fspath(path)
        self.choices = tuple((str(k), str(v)) for k, v in choices)
        hint = " or ".join(f"pass {k}=True to {what}" for k, what in self.choices)
        super().__init__(f"{self.path} exists; {hint}")

    def __reduce__(self):  # keep the arguments across process boundaries
        return (type(self), (self.path, self.choices))


def refuse_existing(paths, *, overwrite, choices=(("overwrite", "replace it"),)):
    """Raise :class:`OutputExistsError` for the first of ``paths`` that exists, unless ``overwrite``.

    With ``overwrite=True`` the existing files are removed, so that a run that fails early
    never leaves an old file beside a new one.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The files a job is about to write.
    overwrite : bool
    choices : sequence of (str, str)
        Passed to :class:`OutputExistsError`.
    """
    for path in paths:
        if os.path.lexists(path):
            if not overwrite:
                raise OutputExistsError(path, choices)
            os.unlink(path)


def check_output(output, *, resume, overwrite):
    """Whether a resumable job's CSV ``output`` has results already; refuses to touch them unasked.

    Returns
    -------
    bool
        True when ``output`` is a non-empty file (and ``resume`` or ``overwrite`` says what to do).

    Raises
    ------
    OutputExistsError
        ``output`` has results and neither ``resume`` nor ``overwrite`` is set.
    """
    if os.fspath(output) == "-":
        return False
    output = Path(output)
    if not (output.exists() and output.stat().st_size > 0):
        return False
    if not (resume or overwrite):
        raise OutputExistsError(output, (("resume", "continue it"), ("overwrite", "replace it")))
    return True
