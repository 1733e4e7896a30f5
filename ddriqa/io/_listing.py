"""Listing the image files of a folder."""

from __future__ import annotations

import os
from pathlib import Path

from ddriqa.errors import ImageReadError

__all__ = ["IMAGE_EXTENSIONS", "has_subfolders", "list_images", "list_inputs"]

#: Lower-case file suffixes that :func:`list_images` treats as images.
IMAGE_EXTENSIONS = frozenset(
    {
        ".png", ".bmp", ".dib", ".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".jp2", ".j2k", ".j2c",
        ".jpc", ".webp", ".gif", ".ppm", ".pgm", ".pbm", ".pnm",
    }
)


def list_images(folder, recursive=False):
    """The image files of a folder, sorted.

    An entry counts as an image by its extension (case-insensitive, see
    :data:`IMAGE_EXTENSIONS`); hidden files and folders (names starting with ``.``) are
    skipped. Every entry with an image extension that is not a folder is listed, including a
    dangling symbolic link, a symbolic link loop or a special file: a job then reports it
    (:func:`~ddriqa.io.read_image` says why it cannot be read) instead of silently having one
    result fewer than the folder has image entries. With ``recursive=True`` sub-folders are
    searched too; symbolic links to folders are followed, but each real folder is visited once,
    so a link cycle cannot loop.

    Parameters
    ----------
    folder : str or os.PathLike
    recursive : bool, default=False

    Returns
    -------
    list of pathlib.Path
        Paths below ``folder`` as given (not resolved), sorted.

    Raises
    ------
    ddriqa.errors.ImageReadError
        If ``folder`` does not exist, is not a folder or cannot be listed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> for name in ["b.PNG", "a.jpg", "notes.txt", ".hidden.png"]:
    ...     _ = (d / name).write_bytes(b"")
    >>> (d / "gone.png").symlink_to(d / "missing.png")  # a dangling link is listed too
    >>> [p.name for p in list_images(d)]
    ['a.jpg', 'b.PNG', 'gone.png']
    """
    root = Path(os.fspath(folder))
    if not root.exists():
        raise ImageReadError(root, "no such folder")
    if not root.is_dir():
        raise ImageReadError(root, "is not a folder")
    found = []
    seen = set()
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            real = os.path.realpath(current)
        except OSError:
            continue
        if real in seen:
            continue
        seen.add(real)
        try:
            with os.scandir(current) as it:
                entries = list(it)
        except PermissionError:
            if current == root:
                raise ImageReadError(root, "permission denied (cannot list the folder)") from None
            continue
        except OSError as exc:
            if current == root:
                raise ImageReadError(root, f"cannot list the folder ({exc.strerror or exc})") from None
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            if _is_folder(entry):
                if recursive:
                    stack.append(current / entry.name)
            elif os.path.splitext(entry.name)[1].lower() in IMAGE_EXTENSIONS:
                found.append(current / entry.name)
    return sorted(found)


def _is_folder(entry):
    """True for a folder or a link to one; False for anything else, a broken link included."""
    try:
        return entry.is_dir()
    except OSError:  # a symbolic link loop, or no permission to look
        return False


def has_subfolders(folder):
    """True when ``folder`` holds at least one non-hidden sub-folder (or a link to one).

    What a "no images here" message needs to know before it suggests ``--recursive``.

    Parameters
    ----------
    folder : str or os.PathLike

    Returns
    -------
    bool
        False also when ``folder`` is not a folder or cannot be listed.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> has_subfolders(d)
    False
    >>> (d / "sub").mkdir()
    >>> has_subfolders(d)
    True
    """
    try:
        with os.scandir(os.fspath(folder)) as it:
            return any(not e.name.startswith(".") and _is_folder(e) for e in it)
    except OSError:
        return False


def list_inputs(path, recursive=False):
    """The image files to process for a command argument: ``[path]`` for a file, else :func:`list_images`.

    Parameters
    ----------
    path : str or os.PathLike
        One image file or a folder.
    recursive : bool, default=False

    Returns
    -------
    list of str
    """
    if os.path.isfile(path):
        return [os.fspath(path)]
    return [os.fspath(p) for p in list_images(path, recursive=recursive)]
