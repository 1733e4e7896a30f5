"""The run folder of a training run: what it holds, when it may be reused, and its training log.

A run folder (``ddriqa train-sr -o DIR``) holds the files named in :data:`RUN_FILES`:

* ``checkpoint/`` -- the resumable state (:mod:`ddriqa.training.checkpoint`);
* ``generator.safetensors`` + ``generator.json`` / ``.md`` -- the exported weights, provenance;
* ``train_log.csv`` -- ``step,loss,lr,time`` (+ the trainer's loss terms), see :class:`TrainLog`;
* ``val_log.csv`` -- ``run,step,set,psnr,time`` (:class:`ddriqa.training.validation.ValidationLog`);
* ``run_config.json`` -- the run's settings, rewritten at every start;
* ``snapshots/generator_step<N>.safetensors`` -- float16 snapshots.

A folder that holds any of them holds a run, which is never overwritten by accident:
:func:`check_run_folder` says whether a start may continue it (resume), must remove it first
(overwrite), or has to refuse. Other files in the folder (a job's own logs) are left alone.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

from ddriqa.errors import InputError

__all__ = ["RUN_FILES", "TrainLog", "check_run_folder", "has_checkpoint", "remove_run_files", "run_files"]

#: The names a trainer writes in its run folder (folders end with "/").
RUN_FILES = (
    "checkpoint/", "checkpoint.tmp/", "checkpoint.old/", "snapshots/",
    "generator.safetensors", "generator.json", "generator.md",
    "train_log.csv", "val_log.csv", "run_config.json",
)


def run_files(out_dir):
    """The run files present in ``out_dir`` (empty folders do not count), in :data:`RUN_FILES` order.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ddriqa.training.run_folder import run_files
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> (d / "checkpoint").mkdir()              # an empty folder: no run yet
    >>> _ = (d / "notes.txt").write_text("mine")  # not a run file
    >>> run_files(d)
    []
    >>> _ = (d / "train_log.csv").write_text("step,loss,lr,time\\n")
    >>> run_files(d)
    ['train_log.csv']
    """
    out_dir = Path(out_dir)
    found = []
    for name in RUN_FILES:
        path = out_dir / name.rstrip("/")
        if name.endswith("/") and path.is_dir() and any(path.iterdir()):
            found.append(name)
        elif not name.endswith("/") and path.is_file():
            found.append(name)
    return found


def has_checkpoint(out_dir):
    """Whether ``out_dir/checkpoint`` holds a checkpoint to resume."""
    return (Path(out_dir) / "checkpoint" / "generator.safetensors").is_file()


def check_run_folder(out_dir, *, resume=False, overwrite=False):
    """Decide how a run may start in ``out_dir``.

    Parameters
    ----------
    out_dir : str or os.PathLike
    resume : bool, default=False
        Continue the run found there.
    overwrite : bool, default=False
        Start again, removing the run found there (:func:`remove_run_files`).

    Returns
    -------
    str
        ``"new"`` (no run there: start), ``"resume"`` (continue its checkpoint),
        ``"restart"`` (``resume`` asked, but the run never reached a checkpoint: its files are to
        be removed and it starts again from step 0, which reproduces it) or ``"overwrite"``.

    Raises
    ------
    InputError
        Both flags given, or a folder holding a run and neither flag (the message names the
        folder, the files found and both flags).

    Examples
    --------
    >>> import tempfile
    >>> from ddriqa.training.run_folder import check_run_folder
    >>> check_run_folder(tempfile.mkdtemp())
    'new'
    """
    if resume and overwrite:
        raise InputError("--resume and --overwrite exclude each other: continue the run, or start it again")
    found = run_files(out_dir)
    if not found:
        return "new"
    if resume:
        return "resume" if has_checkpoint(out_dir) else "restart"
    if overwrite:
        return "overwrite"
    raise InputError(
        f"{out_dir} already holds a training run ({', '.join(found)}): continue it with --resume, "
        "or start again with --overwrite (which removes those files first)"
    )


def remove_run_files(out_dir):
    """Remove the run files of ``out_dir`` (those of :data:`RUN_FILES`); returns their names."""
    out_dir = Path(out_dir)
    removed = []
    for name in RUN_FILES:
        path = out_dir / name.rstrip("/")
        if path.is_dir() and name.endswith("/"):
            shutil.rmtree(path)
            removed.append(name)
        elif path.is_file():
            path.unlink()
            removed.append(name)
    return removed


class TrainLog:
    """``train_log.csv``: one row per logging interval, ``step,loss,lr,time`` + loss terms.

    A log begun with other columns (an older version, or a trainer with other loss terms) keeps
    its own columns: a resumed run never mixes layouts. The header is read from the file once.

    Parameters
    ----------
    path : str or os.PathLike
    columns : sequence of str
        The columns of a new log.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from ddriqa.training.run_folder import TrainLog
    >>> log = TrainLog(pathlib.Path(tempfile.mkdtemp()) / "train_log.csv", ["step", "loss"])
    >>> log.write({"step": 1, "loss": "0.5"}); log.write({"step": 2, "loss": "0.4"})
    >>> log.truncate_after(1); log.path.read_text().split()
    ['step,loss', '1,0.5']
    """

    def __init__(self, path, columns):
        self.path = Path(path)
        self.columns = list(columns)
        self._header = None

    def _file_header(self):
        with open(self.path, newline="", encoding="utf-8") as fh:
            return next(csv.reader(fh), None)

    def write(self, row):
        """Append ``row`` (a dict; columns the log lacks are dropped, missing ones left empty)."""
        new = not (self.path.exists() and self.path.stat().st_size)
        if new:
            self._header = list(self.columns)
        elif self._header is None:
            self._header = self._file_header() or list(self.columns)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=self._header, extrasaction="ignore", restval="")
            if new:
                writer.writeheader()
            writer.writerow(row)

    def truncate_after(self, step):
        """Drop the rows of steps after ``step`` (when a run resumes from an older checkpoint)."""
        if not (self.path.exists() and self.path.stat().st_size):
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh)
            header, rows = reader.fieldnames, [r for r in reader if int(r["step"]) <= int(step)]
        with open(self.path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=header)
            writer.writeheader()
            writer.writerows(rows)
        self._header = list(header)
