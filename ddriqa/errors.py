"""The package's error types.

Every failure that a user can cause with bad input surfaces as a :class:`DDRIQAError`
subclass whose message names the offending file (when there is one) and the reason.
"""

from __future__ import annotations

import contextlib
import os

__all__ = ["DDRIQAError", "ImageReadError", "InputError", "ModelFileError", "command_line_words", "hint",
           "using_command_line_words"]

#: How a message tells the user to change a setting: in Python's words (the keyword argument) and
#: in the command line's (the flag), chosen by :func:`hint`.
_HINTS = {
    "max_pixels": ("pass max_pixels=None (no limit) or a larger max_pixels",
                   "pass --max-pixels 0 (no limit) or a larger --max-pixels"),
    "pad": ("pass pad='reflect' to mirror-pad it", "pass --pad reflect to mirror-pad it"),
    "existing_set": ("pass existing='overwrite' to replace the set it holds, or existing='add' to add images to it",
                     "pass --overwrite to replace the set it holds, or --add to add images to it"),
}
_WORDS = {"cli": False}


def hint(key):
    """The words of setting ``key`` (``"max_pixels"``, ``"pad"``) in an error message: Python's
    keyword, or the command-line flag while a command runs (:func:`command_line_words`).

    Examples
    --------
    >>> from ddriqa.errors import command_line_words, hint
    >>> hint("pad")
    "pass pad='reflect' to mirror-pad it"
    >>> with command_line_words():
    ...     hint("pad")
    'pass --pad reflect to mirror-pad it'
    """
    return _HINTS[key][1 if _WORDS["cli"] else 0]


def using_command_line_words():
    """Whether :func:`hint` names command-line flags now (passed to Dask workers by the jobs)."""
    return _WORDS["cli"]


@contextlib.contextmanager
def command_line_words(on=True):
    """While active, :func:`hint` names command-line flags (``--max-pixels``) instead of Python
    keywords (``max_pixels=``); every ``ddriqa`` command runs inside it."""
    before = _WORDS["cli"]
    _WORDS["cli"] = bool(on)
    try:
        yield
    finally:
        _WORDS["cli"] = before


class DDRIQAError(Exception):
    """Base class of every error raised on purpose by ddriqa."""


class ImageReadError(DDRIQAError, OSError):
    """An image file could not be read.

    Parameters
    ----------
    path : str or os.PathLike
        The file that failed.
    reason : str
        Why it failed, in words a user can act on.
    """

    def __init__(self, path, reason):
        self.path = os.fspath(path) if path is not None else None
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):  # keep the two arguments across process boundaries (joblib)
        return (type(self), (self.path, self.reason))


class InputError(DDRIQAError, ValueError):
    """An argument of the wrong shape, dtype, range or content was passed to the API."""


class ModelFileError(DDRIQAError, ValueError):
    """A weights or classifier file is missing, tampered with, or does not fit the network.

    Parameters
    ----------
    path : str or os.PathLike
        The file that failed.
    reason : str
        Why it was refused.
    """

    def __init__(self, path, reason):
        self.path = os.fspath(path) if path is not None else None
        self.reason = str(reason)
        super().__init__(f"{self.path}: {self.reason}")

    def __reduce__(self):
        return (type(self), (self.path, self.reason))
