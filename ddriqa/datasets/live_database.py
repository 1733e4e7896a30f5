"""The LIVE Image Quality Assessment Database, Release 2 (and synthetic sets in its layout).

The database itself is distributed by LIVE (UT Austin) on request and is never shipped with
ddriqa; :func:`load_live` reads it from the folder a user gives. ``ddriqa degrade`` writes
synthetic sets in the same layout, which :func:`load_live` reads the same way.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from pathlib import Path

import numpy as np

from ddriqa.degradations.live_preset import LIVE_CLASSES
from ddriqa.errors import InputError

__all__ = ["LIVE_FOLDERS", "LIVE_OFFSETS", "LIVE_COUNTS", "LIVE_TOTAL", "PRISTINE", "load_live", "is_live_root",
           "with_pristine"]

#: class label of the clean reference images (``refimgs/``) when they are used as a class
PRISTINE = "pristine"

#: The distortion folders, in the global index order of dmos.mat (the LIVE classes).
LIVE_FOLDERS = LIVE_CLASSES
#: Images per folder in the real database.
LIVE_COUNTS = {"jp2k": 227, "jpeg": 233, "wn": 174, "gblur": 174, "fastfading": 174}
#: 0-based offset of each folder in the 982-entry dmos.mat / refnames_all.mat arrays.
LIVE_OFFSETS = {"jp2k": 0, "jpeg": 227, "wn": 460, "gblur": 634, "fastfading": 808}
#: Entries of dmos.mat in the real database.
LIVE_TOTAL = 982

COLUMNS = ["path", "distortion", "reference", "param", "dmos"]
_IMG_RE = re.compile(r"^img(\d+)\.bmp$", re.IGNORECASE)
_IMAGE_SUFFIXES = (".bmp", ".png", ".jpg", ".jpeg", ".tif", ".tiff", ".jp2", ".j2k", ".ppm", ".pgm", ".webp", ".gif")


def is_live_root(root):
    """True when ``root`` has at least one LIVE distortion folder holding an ``info.txt``."""
    root = Path(os.fspath(root))
    return any((root / name / "info.txt").is_file() for name in LIVE_FOLDERS)


def _parse_info(info_path):
    """{imgname: (refname, param, line_number)} from one info.txt."""
    try:
        text = info_path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as exc:
        raise InputError(f"{info_path}: cannot read ({exc.strerror or exc})") from None
    entries = {}
    for number, line in enumerate(text.splitlines(), start=1):
        tokens = line.split()
        if len(tokens) < 3:
            continue  # blank or short line
        refname, imgname, param_text = tokens[0], tokens[1], tokens[2]
        if not imgname.lower().endswith(_IMAGE_SUFFIXES):
            continue  # a header or comment line, not an entry
        try:
            param = float(param_text)
        except ValueError:
            raise InputError(
                f"{info_path}, line {number}: the parameter {param_text!r} of {imgname} is not a number"
            ) from None
        previous = entries.get(imgname)
        if previous is not None and previous[:2] != (refname, param):
            raise InputError(
                f"{info_path}, line {number}: {imgname} is listed twice with different entries "
                f"(first on line {previous[2]})"
            )
        entries[imgname] = (refname, param, number)
    return entries


def _image_number(imgname):
    match = _IMG_RE.match(imgname)
    return int(match.group(1)) if match else None


def _load_mat_vector(path, key):
    import scipy.io

    try:
        mat = scipy.io.loadmat(str(path))
    except NotImplementedError:
        raise InputError(f"{path}: MATLAB v7.3 (HDF5) files are not supported; re-save it with -v7") from None
    except Exception as exc:  # scipy raises several types for broken files
        raise InputError(f"{path}: cannot read the MATLAB file ({exc})") from None
    if key not in mat:
        keys = sorted(k for k in mat if not k.startswith("__"))
        raise InputError(f"{path}: has no variable {key!r} (found {keys})")
    values = np.asarray(mat[key]).ravel()
    if values.size != LIVE_TOTAL:
        raise InputError(
            f"{path}: {key!r} has {values.size} entries, expected {LIVE_TOTAL} (LIVE Release 2); "
            "remove the file to load the images without DMOS"
        )
    return values


def _cell_to_str(value):
    arr = np.asarray(value)
    while arr.dtype == object and arr.size == 1:
        arr = np.asarray(arr.ravel()[0])
    if arr.dtype.kind in "US":
        return "".join(str(v) for v in arr.ravel())
    return str(arr)


def load_live(root):
    """Load the LIVE Release 2 database (or a synthetic set in its layout) as a table.

    The layout is ``root/<class>/img<k>.bmp`` for the classes jp2k, jpeg, wn, gblur and
    fastfading, each folder with an ``info.txt`` of whitespace-separated lines
    ``refname imgname param`` (for example ``parrots.bmp img1.bmp 0.9``), plus ``refimgs/``
    and, in the real database, ``dmos.mat`` and ``refnames_all.mat``. ``info.txt`` is the
    source of truth: blank and short lines are skipped and entries are matched to images by
    name, not by line order. A root holding only some of the five folders loads those.

    When ``dmos.mat`` is present (the real database), its ``dmos`` and ``orgs`` arrays must have
    982 entries; ``<class>/img<k>.bmp`` takes entry ``offset + k - 1`` with the offsets jp2k 0,
    jpeg 227, wn 460, gblur 634, fastfading 808, and entries with ``orgs == 1`` (undistorted
    copies of their reference) are dropped. When ``refnames_all.mat`` is present too, its
    names are checked against ``info.txt`` (a warning on disagreement). Without ``dmos.mat``
    (synthetic sets, whose per-class counts differ) the ``dmos`` column is NaN and nothing is
    dropped: an ``info.txt`` line whose image is an undistorted copy of its reference cannot be
    recognised then. A ``labels.csv`` written by ``ddriqa degrade`` is not needed or read.

    Parameters
    ----------
    root : str or os.PathLike
        The database folder (``databaserelease2/``).

    Returns
    -------
    pandas.DataFrame
        One row per distorted image, ordered by class (in the order above) and image number,
        with columns ``path`` (absolute, str), ``distortion`` (the class folder name),
        ``reference`` (the reference name as in info.txt, e.g. ``"parrots.bmp"``), ``param``
        (float, the distortion parameter of info.txt) and ``dmos`` (float, NaN without dmos.mat).

    Raises
    ------
    ddriqa.errors.InputError
        Missing root, no class folder with an info.txt, an unreadable or malformed info.txt,
        a dmos.mat of the wrong size, or an image name that cannot be mapped to a dmos entry.

    Warns
    -----
    UserWarning
        Images listed in info.txt but missing on disk are skipped with a warning.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "wn").mkdir()
    >>> _ = write_image(root / "wn" / "img1.bmp", np.zeros((8, 8, 3), np.uint8))
    >>> _ = (root / "wn" / "info.txt").write_text("parrots.bmp img1.bmp 0.5\\n")
    >>> table = load_live(root)
    >>> table[["distortion", "reference", "param"]].values.tolist()
    [['wn', 'parrots.bmp', 0.5]]
    >>> bool(table["dmos"].isna().all())
    True
    """
    import pandas as pd

    if not isinstance(root, (str, os.PathLike)):
        raise InputError(f"root must be a folder path (str or os.PathLike), got {type(root).__name__} {root!r:.60}")
    root = Path(os.fspath(root))
    if not root.exists():
        raise InputError(f"{root}: no such folder (expected the LIVE Release 2 database folder)")
    if not root.is_dir():
        raise InputError(f"{root}: is not a folder (expected the LIVE Release 2 database folder)")
    present = []
    for name in LIVE_FOLDERS:
        folder = root / name
        if folder.is_dir():
            if not (folder / "info.txt").is_file():
                raise InputError(f"{folder / 'info.txt'}: missing; every LIVE class folder needs its info.txt")
            present.append(name)
    if not present:
        raise InputError(
            f"{root}: no LIVE class folder ({', '.join(LIVE_FOLDERS)}) with an info.txt was found"
        )

    dmos_path = root / "dmos.mat"
    dmos = orgs = refnames = None
    if dmos_path.is_file():
        dmos = _load_mat_vector(dmos_path, "dmos").astype(np.float64)
        orgs = _load_mat_vector(dmos_path, "orgs")
        refnames_path = root / "refnames_all.mat"
        if refnames_path.is_file():
            refnames = [_cell_to_str(v) for v in _load_mat_vector(refnames_path, "refnames_all")]

    rows, missing, mismatched = [], [], []
    for name in present:
        folder = root / name
        entries = _parse_info(folder / "info.txt")
        items = []
        for imgname, (refname, param, line) in entries.items():
            number = _image_number(imgname)
            if dmos is not None:
                if number is None:
                    raise InputError(
                        f"{folder / 'info.txt'}, line {line}: {imgname} does not follow the img<k>.bmp "
                        "naming, so it cannot be matched to dmos.mat"
                    )
                if not 1 <= number <= LIVE_COUNTS[name]:
                    raise InputError(
                        f"{folder / 'info.txt'}, line {line}: {imgname} is beyond the "
                        f"{LIVE_COUNTS[name]} images of the LIVE {name} folder, so it cannot be matched to dmos.mat"
                    )
            items.append((number if number is not None else math.inf, imgname, refname, param))
        items.sort(key=lambda t: (t[0], t[1]))
        for number, imgname, refname, param in items:
            path = folder / imgname
            if not path.is_file():
                missing.append(str(path))
                continue
            value = math.nan
            if dmos is not None:
                index = LIVE_OFFSETS[name] + number - 1
                if orgs[index] == 1:
                    continue
                value = float(dmos[index])
                if refnames is not None and refnames[index].lower() != refname.lower():
                    mismatched.append(f"{name}/{imgname}: info.txt {refname}, refnames_all.mat {refnames[index]}")
            rows.append((os.path.abspath(path), name, refname, float(param), value))

    if missing:
        warnings.warn(
            f"{len(missing)} image(s) listed in info.txt are missing and were skipped, e.g. {missing[0]}",
            UserWarning,
            stacklevel=2,
        )
    if mismatched:
        warnings.warn(
            f"{len(mismatched)} reference name(s) in info.txt disagree with refnames_all.mat, e.g. "
            f"{mismatched[0]}; info.txt was used",
            UserWarning,
            stacklevel=2,
        )
    table = pd.DataFrame(rows, columns=COLUMNS)
    table["param"] = table["param"].astype(np.float64)
    table["dmos"] = table["dmos"].astype(np.float64)
    return table


def with_pristine(table, root):
    """Add the clean reference images of a LIVE-layout folder as the class ``"pristine"``.

    Every reference named in ``table["reference"]`` that exists as ``root/refimgs/<name>`` gets
    one row (``distortion`` = :data:`PRISTINE`, ``reference`` = its own name, ``param`` and
    ``dmos`` NaN), so that a classifier learns to leave clean images alone and content-disjoint
    splits keep each reference on the side of its distorted versions.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`load_live` table (columns ``path``, ``distortion``, ``reference``, ...).
    root : str or os.PathLike
        The folder it was read from.

    Returns
    -------
    pandas.DataFrame
        ``table`` followed by the pristine rows (sorted by reference name).

    Raises
    ------
    ddriqa.errors.InputError
        When ``root/refimgs`` holds none of the references.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for sub in ("wn", "refimgs"):
    ...     (root / sub).mkdir()
    >>> _ = write_image(root / "wn" / "img1.bmp", np.zeros((8, 8, 3), np.uint8))
    >>> _ = write_image(root / "refimgs" / "parrots.bmp", np.zeros((8, 8, 3), np.uint8))
    >>> _ = (root / "wn" / "info.txt").write_text("parrots.bmp img1.bmp 0.5\\n")
    >>> with_pristine(load_live(root), root)["distortion"].tolist()
    ['wn', 'pristine']
    """
    import pandas as pd

    refdir = Path(os.fspath(root)) / "refimgs"
    names = sorted({str(r) for r in table["reference"].dropna()})
    found = [n for n in names if (refdir / n).is_file()]
    if not found:
        raise InputError(
            f"{refdir}: none of the {len(names)} reference images named in info.txt is there "
            "(the pristine class needs the clean references, as in LIVE's refimgs/)"
        )
    if len(found) < len(names):
        missing = sorted(set(names) - set(found))
        warnings.warn(f"{refdir}: {len(missing)} reference(s) missing, e.g. {missing[0]}; "
                      "their pristine rows are left out", UserWarning, stacklevel=2)
    rows = pd.DataFrame({"path": [os.path.abspath(refdir / n) for n in found], "distortion": PRISTINE,
                         "reference": found, "param": np.nan, "dmos": np.nan})
    return pd.concat([table, rows[table.columns]], ignore_index=True)
