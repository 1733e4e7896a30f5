"""The package's error types.

Every failure that a user can cause with bad input surfaces as a :class:`DDRIQAError`
subclass whose message names the offending file (when there is one) and the reason.
"""

from __future__ import annotations

import os

__all__ = ["DDRIQAError", "ImageReadError", "InputError", "ModelFileError"]


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
