"""Image sets given as plain folders: one sub-folder per class, or just images.

:func:`load_dataset` picks the right loader for a folder: the LIVE layout
(:func:`ddriqa.datasets.live_database.load_live`) or a labelled folder.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError
from ddriqa.io import list_images

__all__ = ["load_labelled_folder", "load_image_folder", "load_dataset"]

LABELLED_COLUMNS = ["path", "distortion", "reference", "param", "dmos"]


def _check_root(root):
    root = Path(os.fspath(root))
    if not root.exists():
        raise InputError(f"{root}: no such folder")
    if not root.is_dir():
        raise InputError(f"{root}: is not a folder")
    return root


def load_labelled_folder(root):
    """Load a folder with one sub-folder of images per distortion class.

    ``root/<class>/...`` : the sub-folder name is the class label (``distortion`` column).
    Each class folder is searched recursively; hidden files and folders are skipped, and
    sub-folders without images are ignored. Images lying directly in ``root`` have no class
    and are skipped with a :class:`UserWarning` (``ddriqa train`` logs it as ``warning: ...``);
    a folder holding only such images (no class sub-folder at all) is an
    :class:`~ddriqa.errors.InputError` that says so, without a warning.

    Parameters
    ----------
    root : str or os.PathLike

    Returns
    -------
    pandas.DataFrame
        Columns ``path`` (absolute, str), ``distortion`` (str), and ``reference``, ``param``,
        ``dmos`` (all NaN, for the same columns as :func:`~ddriqa.datasets.live_database.load_live`),
        sorted by class name then path.

    Raises
    ------
    ddriqa.errors.InputError
        If ``root`` is missing, not a folder, or holds no images in any sub-folder.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> for cls in ["jpeg", "wn"]:
    ...     (root / cls).mkdir()
    ...     _ = write_image(root / cls / "a.png", np.zeros((4, 4), np.uint8))
    >>> load_labelled_folder(root)["distortion"].tolist()
    ['jpeg', 'wn']
    """
    import pandas as pd

    root = _check_root(root)
    rows = []
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for path in list_images(sub, recursive=True):
            rows.append((os.path.abspath(path), sub.name))
    loose = list_images(root, recursive=False)
    one = len(loose) == 1
    n_loose = f"{len(loose)} image{'' if one else 's'}"
    if not rows:
        if loose:  # a folder of images of one class: said once, in the error (no warning too)
            raise InputError(
                f"{root}: {n_loose} {'lies' if one else 'lie'} directly in the folder (e.g. {loose[0].name}) "
                f"but there is no class sub-folder; expected one sub-folder of images per class ({root}/<class>/<image>) "
                "or the LIVE layout"
            )
        raise InputError(f"{root}: no images found in class sub-folders (expected {root}/<class>/<image>)")
    if loose:
        warnings.warn(
            f"{root}: {n_loose} directly in the folder {'has' if one else 'have'} no class "
            f"sub-folder and {'was' if one else 'were'} skipped, e.g. {loose[0].name}",
            UserWarning,
            stacklevel=2,
        )
    table = pd.DataFrame(rows, columns=["path", "distortion"])
    for column in ("reference", "param", "dmos"):
        table[column] = np.nan
    return table[LABELLED_COLUMNS]


def load_image_folder(root, recursive=True):
    """List the images of a folder as a one-column table.

    Parameters
    ----------
    root : str or os.PathLike
    recursive : bool, default=True
        Search sub-folders too (symbolic-link cycles are not followed twice).

    Returns
    -------
    pandas.DataFrame
        Column ``path`` (absolute, str), sorted.

    Raises
    ------
    ddriqa.errors.InputError
        If ``root`` is missing, not a folder, or holds no images.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_image(root / "b.png", np.zeros((4, 4), np.uint8))
    >>> _ = write_image(root / "a.bmp", np.zeros((4, 4), np.uint8))
    >>> [pathlib.Path(p).name for p in load_image_folder(root)["path"]]
    ['a.bmp', 'b.png']
    """
    import pandas as pd

    root = _check_root(root)
    paths = [os.path.abspath(p) for p in list_images(root, recursive=recursive)]
    if not paths:
        where = "or its sub-folders " if recursive else ""
        raise InputError(f"{root}: no image files found in the folder {where}(by extension)")
    return pd.DataFrame({"path": paths})


def load_dataset(root):
    """Load a labelled image set, detecting its layout.

    A folder where any of the LIVE class folders (jp2k, jpeg, wn, gblur, fastfading) holds an
    ``info.txt`` is read with :func:`ddriqa.datasets.live_database.load_live`; any other folder with
    :func:`load_labelled_folder`.

    Parameters
    ----------
    root : str or os.PathLike

    Returns
    -------
    pandas.DataFrame
        Columns ``path``, ``distortion``, ``reference``, ``param``, ``dmos``.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> root = pathlib.Path(tempfile.mkdtemp())
    >>> (root / "gblur").mkdir()
    >>> _ = write_image(root / "gblur" / "x.png", np.zeros((4, 4), np.uint8))
    >>> load_dataset(root)[["distortion", "param"]].shape
    (1, 2)
    """
    from ddriqa.datasets.live_database import is_live_root, load_live

    root = _check_root(root)
    if is_live_root(root):
        return load_live(root)
    return load_labelled_folder(root)
