"""CSV output of the batch jobs: one row per image, appended and flushed as produced, resumable."""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from ddriqa.errors import InputError
from ddriqa.jobs.outputs import check_output

__all__ = ["absolute_path", "open_output", "path_key", "read_done_paths", "write_row"]


def absolute_path(path):
    """The path written in a job's CSV: absolute, symbolic links kept (the name the user listed).

    Examples
    --------
    >>> import os
    >>> from ddriqa.jobs._csv import absolute_path
    >>> absolute_path("a.png") == os.path.join(os.getcwd(), "a.png")
    True
    """
    return os.path.abspath(os.fspath(path))


def path_key(path):
    """The key that matches a CSV row to a file: the resolved absolute path (``os.path.realpath``).

    Two spellings of the same file (relative or absolute, from another working directory,
    through a symbolic link) give the same key, so a resumed run skips what is done whatever
    path it was started with.
    """
    return os.path.normcase(os.path.realpath(os.fspath(path)))


def _complete_prefix(text, ncols):
    """The longest prefix of ``text`` made of whole CSV rows of ``ncols`` fields (after a crash)."""
    end = len(text)
    for _ in range(10000):
        if end <= 0:
            return ""
        candidate = text[:end] if text[:end].endswith("\n") else text[: text.rfind("\n", 0, end) + 1]
        try:
            rows = list(csv.reader(io.StringIO(candidate, newline="")))
            if all(len(r) == ncols for r in rows):
                return candidate
        except csv.Error:
            pass
        end = len(candidate) - 1  # drop the last line and try again
    return ""


def read_done_paths(output, header):
    """Paths already in an output CSV, after cutting off a partial last row left by a crash.

    Parameters
    ----------
    output : path
        The CSV written by :func:`classify_files` (or an :func:`extract_files` sidecar).
    header : list of str
        The header the file must have.

    Returns
    -------
    set of str
        :func:`path_key` of every path already present (with or without an error). Relative
        paths (written by older versions) are taken relative to the current directory.

    Raises
    ------
    InputError
        When the file has another header (another model's classes, or not our file).
    """
    output = Path(output)
    with open(output, "r", encoding="utf-8", errors="surrogateescape", newline="") as f:
        text = f.read()
    if not text:
        return set()
    first = next(csv.reader(io.StringIO(text, newline="")), [])
    if first != list(header):
        raise InputError(
            f"{output}: cannot resume, its header {first} differs from this run's {list(header)} "
            "(another model or another kind of file); write to a new file"
        )
    keep = _complete_prefix(text, len(header))
    if len(keep) != len(text):
        with open(output, "r+b") as f:  # drop the partial row a killed run may have left
            f.truncate(len(keep.encode("utf-8", errors="surrogateescape")))
    rows = list(csv.reader(io.StringIO(keep, newline="")))
    return {path_key(r[0]) for r in rows[1:]}


class _NoClose:
    """A stream wrapper whose close() only flushes (for stdout)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text):
        return self._stream.write(text)

    def flush(self):
        self._stream.flush()

    def close(self):
        self._stream.flush()


def open_output(output, header, *, resume, overwrite):
    """Open the CSV for appending; returns (file, set of done paths)."""
    if os.fspath(output) == "-":
        if resume:
            raise InputError("cannot resume when writing to stdout; give an output file")
        import sys

        out = sys.stdout
        csv.writer(out, lineterminator="\n").writerow(header)
        out.flush()
        return _NoClose(out), set()
    output = Path(output)
    done = set()
    if check_output(output, resume=resume, overwrite=overwrite):
        if resume:
            done = read_done_paths(output, header)
        else:
            output.unlink()
    output.parent.mkdir(parents=True, exist_ok=True)
    f = open(output, "a", encoding="utf-8", errors="surrogateescape", newline="")
    if f.tell() == 0:
        csv.writer(f, lineterminator="\n").writerow(header)
        f.flush()
    return f, done


def write_row(f, row):
    buf = io.StringIO(newline="")
    csv.writer(buf, lineterminator="\n").writerow(row)
    f.write(buf.getvalue())  # one write per row, flushed at once
    f.flush()
