"""Write a LIVE-like distorted data set from any reference images.

The output has the layout of the LIVE Image Quality Database, Release 2, so that
:func:`ddriqa.datasets.live_database.load_live` reads it like the real thing::

    OUT/refimgs/<name>.bmp            the references, converted to RGB BMP
    OUT/<class>/img<k>.bmp            k = 1, 2, ... within each class
    OUT/<class>/info.txt              lines "refname imgname param", e.g. "kodim01.bmp img1.bmp 0.91"
    OUT/labels.csv                    path (relative to OUT), distortion, reference, param
    OUT/degrade_files.txt             every file the set holds, one relative path a line

(no ``dmos.mat``: the images have no subjective scores). The distortions and parameter laws are those
of :mod:`ddriqa.degradations.live_preset`.

Reproducibility: image ``k`` of class ``c`` uses its own generator,
``numpy.random.default_rng(SeedSequence(seed, spawn_key=(LIVE_CLASSES.index(c), k)))``, which draws
the parameter and then any noise / channel errors. The result therefore depends only on the seed,
the readable references (in order) and ``(c, k)``: not on the order of processing, nor on which
other classes are requested. Image ``k`` of a class is made from reference ``k % n_refs``, so
adding ``m`` images to a set of ``n`` per class (``existing="add"``, same seed and references) gives
the images a fresh run with ``n + m`` per class makes.

An output folder that holds files is never written into silently: ``existing="refuse"`` (the
default) refuses it; ``"overwrite"`` removes the earlier set (only the files a degrade run recorded
in ``degrade_files.txt``, ``labels.csv`` and ``info.txt``) before writing; ``"add"`` appends images
(``img<n+1>.bmp``, ...) and keeps ``info.txt``, ``labels.csv`` and the manifest consistent. Both
refuse a folder holding files that no degrade run recorded; the references are only read.
"""

from __future__ import annotations

import csv
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ddriqa.degradations.live_preset import LIVE_CLASSES, apply_live, sample_live_param
from ddriqa.errors import DDRIQAError, InputError, hint

__all__ = ["MANIFEST", "make_live_like", "SynthesisResult", "assign_references", "check_output_set", "recorded_files"]

#: the file that lists every file of a set (relative paths), written by :func:`make_live_like`
MANIFEST = "degrade_files.txt"
_EXISTING = ("refuse", "overwrite", "add")
_IMG_RE = re.compile(r"img(\d+)\.bmp")


@dataclass
class SynthesisResult:
    """What :func:`make_live_like` wrote.

    Attributes
    ----------
    out_dir : pathlib.Path
    labels : pandas.DataFrame
        One row per image written by this call: ``path`` (relative to ``out_dir``), ``distortion``,
        ``reference`` (e.g. ``"kodim01.bmp"``), ``param`` (the value in info.txt).
    references : list of str
        Reference names written to ``refimgs/`` (in the order used for the assignment).
    skipped : list of (str, str)
        References that could not be read: (path, reason).
    failed : list of (str, str)
        Distorted images that could not be made or written: (relative path, reason).
    """

    out_dir: Path
    labels: object
    references: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: list = field(default_factory=list)


def assign_references(per_class, n_refs):
    """Reference index of each of the ``per_class`` images of a class: round-robin.

    ``per_class = 24`` with 24 references gives one image each; 144 gives six each; otherwise the
    first ``per_class % n_refs`` references get one image more.

    Examples
    --------
    >>> from ddriqa.datasets.synthesize import assign_references
    >>> assign_references(5, 3)
    [0, 1, 2, 0, 1]
    """
    if n_refs < 1:
        raise InputError("assign_references: no reference images")
    return [k % n_refs for k in range(int(per_class))]


def _warn(message):
    print(f"ddriqa: warning: {message}", file=sys.stderr, flush=True)


def _reference_paths(refs):
    from ddriqa.io import list_images

    if isinstance(refs, (str, os.PathLike)):
        root = Path(os.fspath(refs))
        if root.is_dir():
            paths = list_images(root)
            if not paths:
                raise InputError(f"{root}: no image files in this folder")
            return paths
        raise InputError(f"{root}: the references must be a folder of images or a list of image paths")
    try:
        paths = [Path(os.fspath(p)) for p in refs]
    except TypeError:
        raise InputError(
            f"make_live_like: refs must be a folder or a list of image paths, got {type(refs).__name__}"
        ) from None
    if not paths:
        raise InputError("make_live_like: the list of reference images is empty")
    return paths


def _unique_name(stem, used):
    name, n = f"{stem}.bmp", 2
    while name.lower() in used:
        name, n = f"{stem}_{n}.bmp", n + 1
    used.add(name.lower())
    return name


def _all_files(out):
    """Every file (and symbolic link) below ``out``, as relative POSIX paths."""
    found = set()
    for root, dirs, files in os.walk(out):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            found.add(Path(os.path.relpath(os.path.join(root, name), out)).as_posix())
    return found


def recorded_files(out_dir):
    """The files that earlier :func:`make_live_like` runs recorded in ``out_dir`` (relative paths).

    From ``degrade_files.txt`` (written since the manifest exists), ``labels.csv`` (the images
    and their references) and each ``<class>/info.txt``; the record files themselves included.
    """
    out = Path(os.fspath(out_dir))
    known = set()
    manifest = out / MANIFEST
    if manifest.is_file():
        known |= {line.strip() for line in manifest.read_text(encoding="utf-8").splitlines() if line.strip()}
        known.add(MANIFEST)
    labels = out / "labels.csv"
    if labels.is_file():
        known.add("labels.csv")
        with open(labels, newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                if row.get("path"):
                    known.add(row["path"])
                if row.get("reference"):
                    known.add(f"refimgs/{row['reference']}")
    for info in out.glob("*/info.txt"):
        known.add(f"{info.parent.name}/info.txt")
        for line in info.read_text(encoding="utf-8", errors="replace").splitlines():
            parts = line.split()
            if len(parts) >= 2:
                known.add(f"refimgs/{parts[0]}")
                known.add(f"{info.parent.name}/{parts[1]}")
    return known


def check_output_set(out_dir, existing="refuse"):
    """Refuse, before any work, an output folder that :func:`make_live_like` would refuse.

    Raises
    ------
    ddriqa.errors.InputError
        As :func:`make_live_like` for ``out_dir`` and ``existing``; nothing is removed here.
    """
    _prepare_output(Path(os.fspath(out_dir)), existing, dry=True)


def _prepare_output(out, existing, dry=False):
    """Check (and for "overwrite" empty) the output folder; returns the set of files kept ("add")."""
    if existing not in _EXISTING:
        raise InputError(f"make_live_like: existing must be one of {_EXISTING}, got {existing!r}")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: is a file, not a folder")
    present = _all_files(out) if out.is_dir() else set()
    if not present:
        return set()
    if existing == "refuse":
        raise InputError(f"{out}: holds {len(present)} files already (e.g. {sorted(present)[0]}); "
                         f"{hint('existing_set')}")
    unknown = sorted(present - recorded_files(out))
    if unknown:
        shown = ", ".join(unknown[:5]) + (f" and {len(unknown) - 5} more" if len(unknown) > 5 else "")
        raise InputError(f"{out}: holds {len(unknown)} files that no degrade run recorded ({shown}); they are "
                         "never removed nor mixed into a set: choose an empty folder, or move them")
    if existing == "add":
        if not (out / "labels.csv").is_file():
            raise InputError(f"{out}: has no labels.csv: not a set that images can be added to")
        return present
    if dry:
        return set()
    for rel in present:
        os.unlink(out / rel)
    for root, dirs, _ in os.walk(out, topdown=False):
        for d in dirs:
            try:
                os.rmdir(os.path.join(root, d))  # the folders left empty
            except OSError:
                pass
    return set()


def _same_pixels(path, image):
    from ddriqa.io import read_image

    try:
        old = read_image(path, dtype="uint8")
    except DDRIQAError:
        return False
    return old.shape == image.shape and bool(np.array_equal(old, image))


def _next_index(out, cls):
    """0-based index of the next image of class ``cls`` in an existing set (after its last imgN.bmp)."""
    ks = [int(m.group(1)) for p in (out / cls).glob("img*.bmp") if (m := _IMG_RE.fullmatch(p.name))]
    return max(ks, default=0)


def _child_rng(seed, class_name, k):
    ss = np.random.SeedSequence(int(seed), spawn_key=(LIVE_CLASSES.index(class_name), int(k)))
    return np.random.default_rng(ss)


def make_live_like(refs, out_dir, per_class, seed, classes=LIVE_CLASSES, progress=None, *, existing="refuse"):
    """Distort reference images with the LIVE distortions and write them in the LIVE layout.

    Parameters
    ----------
    refs : str, os.PathLike or list of paths
        A folder of reference images (its image files, sorted; not recursive) or a list of image
        paths (used in the given order).
    out_dir : str or os.PathLike
        Output folder (created if needed).
    per_class : int
        Number of distorted images per class, spread round-robin over the references
        (:func:`assign_references`).
    seed : int
        Seed of every random choice (parameters, noise, channel errors); see the module docstring.
    classes : sequence of str, default=LIVE_CLASSES
        Subset of ``("jp2k", "jpeg", "wn", "gblur", "fastfading")``.
    progress : callable, optional
        Called as ``progress(1)`` after each distorted image (e.g. a click progress bar's
        ``update``).
    existing : {"refuse", "overwrite", "add"}, default="refuse"
        What to do when ``out_dir`` holds files: refuse; replace the earlier set whole (removing
        only the files a degrade run recorded); or add ``per_class`` images per class to it
        (numbered after its last, the reference of image ``k`` continuing the round-robin; a
        reference whose name is taken by other pixels gets a new name). A folder holding files
        that no degrade run recorded is refused by all three, before anything is written.

    Returns
    -------
    SynthesisResult
        ``labels`` (the rows of ``labels.csv``), the reference names, and the skipped references
        and failed images with their reasons.

    Raises
    ------
    ddriqa.errors.InputError
        Bad arguments, or no readable reference at all. A single unreadable reference is skipped
        with a warning on stderr; a distorted image that fails is recorded in ``failed`` and the
        job goes on.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> from ddriqa.datasets.synthesize import make_live_like
    >>> tmp = pathlib.Path(tempfile.mkdtemp())
    >>> ref = write_image(tmp / "a.png", np.random.default_rng(0).integers(0, 256, (48, 64, 3), dtype=np.uint8))
    >>> res = make_live_like([ref], tmp / "out", per_class=2, seed=0, classes=("wn", "gblur"))
    >>> res.labels["path"].tolist()
    ['wn/img1.bmp', 'wn/img2.bmp', 'gblur/img1.bmp', 'gblur/img2.bmp']
    """
    import pandas as pd

    from ddriqa.io import read_image, write_image

    if isinstance(per_class, bool) or not isinstance(per_class, (int, np.integer)) or per_class < 1:
        raise InputError(f"make_live_like: per_class must be a positive integer, got {per_class!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"make_live_like: seed must be a non-negative integer, got {seed!r}")
    if isinstance(classes, str):
        classes = [c for c in classes.split(",") if c]
    classes = list(classes)
    unknown = [c for c in classes if c not in LIVE_CLASSES]
    if unknown or not classes:
        raise InputError(f"make_live_like: unknown classes {unknown or classes}; choose from {LIVE_CLASSES}")
    if len(set(classes)) != len(classes):
        raise InputError(f"make_live_like: classes repeated in {classes}")

    paths = _reference_paths(refs)
    out = Path(os.fspath(out_dir))
    kept = _prepare_output(out, existing)
    try:
        (out / "refimgs").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{out}: cannot create the output folder ({exc.strerror or exc})") from None
    written = set(kept)

    images, names, skipped = [], [], []
    used = {Path(rel).name.lower() for rel in kept if rel.startswith("refimgs/")}
    for path in paths:
        try:
            img = read_image(path, dtype="uint8")
            same = f"{path.stem}.bmp"
            if same.lower() in used and _same_pixels(out / "refimgs" / same, img):
                name = same  # this reference is in the set already (added to)
            else:
                name = _unique_name(path.stem, used)
                write_image(out / "refimgs" / name, img)
                written.add(f"refimgs/{name}")
        except DDRIQAError as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            _warn(f"skipping reference {path}: {reason}")
            skipped.append((str(path), reason))
            continue
        images.append(img)
        names.append(name)
    if not images:
        raise InputError(f"make_live_like: none of the {len(paths)} reference image(s) could be read")

    rows, failed = [], []
    for cls in classes:
        folder = out / cls
        folder.mkdir(exist_ok=True)
        start = _next_index(out, cls) if kept else 0
        written.add(f"{cls}/info.txt")
        with open(folder / "info.txt", "a" if kept else "w", encoding="utf-8") as info:
            for k in range(start, start + per_class):
                ref_index = k % len(images)  # the round-robin of assign_references, continued
                imgname = f"img{k + 1}.bmp"
                rel = f"{cls}/{imgname}"
                try:
                    rng = _child_rng(seed, cls, k)
                    param = sample_live_param(cls, rng)
                    distorted = apply_live(images[ref_index], cls, param, rng)
                    write_image(folder / imgname, distorted)
                    written.add(rel)
                except Exception as exc:  # one bad image never stops the batch
                    reason = f"{type(exc).__name__}: {exc}"
                    _warn(f"could not make {out / rel}: {reason}")
                    failed.append((rel, reason))
                else:
                    info.write(f"{names[ref_index]} {imgname} {param:.6g}\n")
                    info.flush()
                    rows.append((rel, cls, names[ref_index], float(f"{param:.6g}")))
                if progress is not None:
                    progress(1)

    labels = pd.DataFrame(rows, columns=["path", "distortion", "reference", "param"])
    if kept:
        before = pd.read_csv(out / "labels.csv", dtype={"path": str, "distortion": str, "reference": str})
        pd.concat([before, labels], ignore_index=True).to_csv(out / "labels.csv", index=False)
    else:
        labels.to_csv(out / "labels.csv", index=False)
    written |= {"labels.csv", MANIFEST}
    (out / MANIFEST).write_text("".join(f"{rel}\n" for rel in sorted(written)), encoding="utf-8")
    return SynthesisResult(out_dir=out, labels=labels, references=names, skipped=skipped, failed=failed)
