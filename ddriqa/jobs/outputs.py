"""What the batch jobs do with output files that exist already.

A job never replaces results silently: an existing output is an :class:`OutputExistsError`
unless the caller says what to do with it (``overwrite=True``, or ``resume=True`` where a job can
continue a file). The error lists those keywords, so that a command line can name its own flags
(``--overwrite``, ``--resume``) instead of the Python ones.

The one rule of every command (CLI.md, "Conventions"): the output path is checked before any
work (:func:`check_output_path`: a file output that names a folder, a folder output that names a
file, or a place where nothing can be written is an :class:`~ddriqa.errors.InputError` naming
the path); an existing output is refused without an explicit flag (:func:`check_output`,
:func:`refuse_existing`, :func:`claim_output_folder`).
"""

from __future__ import annotations

import glob
import os
import tempfile
from pathlib import Path

from ddriqa.errors import InputError

__all__ = ["OutputExistsError", "check_output", "check_output_path", "claim_output_folder", "refuse_existing"]


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


def check_output_path(path, *, folder=False):
    """Refuse, before any work, an output path that cannot be written as asked.

    Parameters
    ----------
    path : str or os.PathLike
        The output (``"-"``, stdout, is always fine).
    folder : bool, default=False
        Whether the job writes a folder (True) or one file (False).

    Raises
    ------
    ddriqa.errors.InputError
        ``"PATH: reason"``: a file output names an existing folder, a folder output names an
        existing file, a parent is a file, or nothing can be created there (a read-only or
        virtual file system such as ``/proc``, no permission).

    Examples
    --------
    >>> import tempfile
    >>> from ddriqa.jobs.outputs import check_output_path
    >>> d = tempfile.mkdtemp()
    >>> try:
    ...     check_output_path(d)
    ... except Exception as exc:
    ...     print(str(exc).replace(d, "DIR"))
    DIR: is a folder; name the file to write
    """
    if os.fspath(path) == "-":
        return
    p = Path(os.fspath(path))
    if p.is_dir():
        if not folder:
            raise InputError(f"{p}: is a folder; name the file to write")
        place = p
    elif os.path.lexists(p):
        if folder:
            raise InputError(f"{p}: is a file, not a folder")
        if not os.access(p, os.W_OK):
            raise InputError(f"{p}: cannot write to it (no permission)")
        place = p.parent
    else:
        place = p.parent
    while not place.exists():  # the nearest existing folder above a path still to be created
        if place == place.parent:
            break
        place = place.parent
    if place.exists() and not place.is_dir():
        raise InputError(f"{p}: cannot create it: {place} is a file, not a folder")
    try:
        with tempfile.TemporaryFile(dir=place or "."):
            pass
    except OSError as exc:
        raise InputError(f"{p}: cannot write there ({exc.strerror or exc})") from None


def claim_output_folder(folder, patterns, *, overwrite, choices=(("overwrite", "replace its earlier results"),)):
    """Refuse a folder that holds a job's earlier results, or remove exactly those with ``overwrite``.

    Parameters
    ----------
    folder : str or os.PathLike
        The job's output folder (need not exist).
    patterns : sequence of str
        Glob patterns, relative to ``folder``, of the files the job writes (e.g. ``"summary.csv"``,
        ``"confusion/*.png"``). Nothing else in the folder is looked at or removed.
    overwrite : bool
    choices : sequence of (str, str)
        Passed to :class:`OutputExistsError`.

    Returns
    -------
    list of str
        The files removed (relative to ``folder``), sorted.

    Raises
    ------
    OutputExistsError
        Some of those files exist and ``overwrite`` is False (the error names the first).
    """
    folder = Path(os.fspath(folder))
    if not folder.is_dir():
        return []
    found = sorted({os.path.relpath(m, folder) for pat in patterns
                    for m in glob.glob(os.path.join(glob.escape(os.fspath(folder)), pat))
                    if os.path.isfile(m) or os.path.islink(m)})
    if found and not overwrite:
        raise OutputExistsError(folder / found[0], choices)
    for rel in found:
        os.unlink(folder / rel)
    for parent in sorted({os.path.dirname(rel) for rel in found if os.path.dirname(rel)}, reverse=True):
        try:
            os.rmdir(folder / parent)  # only when it is left empty
        except OSError:
            pass
    return found


def refuse_existing(paths, *, overwrite, choices=(("overwrite", "replace it"),), remove=True):
    """Raise :class:`OutputExistsError` for the first of ``paths`` that exists, unless ``overwrite``.

    Each path is checked first (:func:`check_output_path`: a folder where a file is expected, a
    place where nothing can be written). With ``overwrite=True`` and ``remove`` the existing
    files are removed, so that a run that fails early never leaves an old file beside a new one.

    Parameters
    ----------
    paths : sequence of str or os.PathLike
        The files a job is about to write (``"-"``, stdout, is skipped).
    overwrite : bool
    choices : sequence of (str, str)
        Passed to :class:`OutputExistsError`.
    remove : bool, default=True
        False: only check (the job replaces the files when it writes them).
    """
    for path in paths:
        if os.fspath(path) == "-":
            continue
        check_output_path(path)
        if os.path.lexists(path):
            if not overwrite:
                raise OutputExistsError(path, choices)
            if remove:
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
    check_output_path(output)
    output = Path(output)
    if not (output.exists() and output.stat().st_size > 0):
        return False
    if not (resume or overwrite):
        raise OutputExistsError(output, (("resume", "continue it"), ("overwrite", "replace it")))
    return True
