"""Short model names that ``ddriqa classify --model`` and ``ddriqa demo`` accept.

The table is explicit (no folder scanning decides what a name means): a short name maps to the
name of a classifier shipped in ``weights/classifiers/`` (see
:func:`ddriqa.classification.persistence.shipped_classifiers`), or to None while that model is
not shipped yet. Anything else is passed to
:func:`~ddriqa.classification.persistence.load_classifier` unchanged (a ``.npz`` path, or a
shipped classifier's full name such as ``"brisque_kodak"``).
"""

from __future__ import annotations

import os

from ddriqa.errors import ModelFileError

__all__ = ["DEFAULT_MODEL", "MODEL_ALIASES", "NoShippedModelError", "load_named_classifier", "model_file",
           "resolve_model_name"]

#: short name -> shipped classifier name (None: not shipped yet)
MODEL_ALIASES = {
    # the ddr preset (Real-ESRGAN pooled crop vote), trained on LIVE-like Kodak24 + BSDS500 sets
    "ddr": "ddr_live_like",
    # BRISQUE of the whole image beside each crop's ddr features, same training data
    "fusion": "fusion_live_like",
    # the ddr-9-fast preset (ddr-9 on 32x32 crops, a quarter of the work), same training data
    "fast": "ddr_fast_live_like",
    "brisque": "brisque_kodak",
}

#: the model used when none is named
DEFAULT_MODEL = "ddr"



class NoShippedModelError(ModelFileError):
    """A short model name is known, but its classifier is not shipped (yet)."""


def resolve_model_name(name_or_path):
    """What to pass to ``load_classifier`` for a ``--model`` value.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A short name (``"brisque"``, ``"ddr"``), a shipped classifier name, or a file path.

    Returns
    -------
    str

    Raises
    ------
    NoShippedModelError
        For a short name whose classifier is not shipped.

    Examples
    --------
    >>> from ddriqa.classification.named import resolve_model_name
    >>> resolve_model_name("brisque")
    'brisque_kodak'
    >>> resolve_model_name("my_model.npz")
    'my_model.npz'
    """
    text = os.fspath(name_or_path)
    key = text.lower()
    if key in MODEL_ALIASES and not os.path.exists(text):
        target = MODEL_ALIASES[key]
        if target is None:
            reason = f"no classifier named {text!r} is shipped yet"
            raise NoShippedModelError(text, reason)
        return target
    return text


def model_file(name_or_path):
    """The classifier file a ``--model`` value names, checked before any work.

    Parameters
    ----------
    name_or_path : str or os.PathLike
        A short name, a shipped classifier name, or a file (``.npz`` may be left out).

    Returns
    -------
    pathlib.Path

    Raises
    ------
    ModelFileError
        Nothing of that name: the message lists the short names and the shipped classifiers.
    """
    from ddriqa.classification.persistence import classifier_file, shipped_classifiers

    target = resolve_model_name(name_or_path)
    try:
        return classifier_file(target)
    except ModelFileError:
        text = os.fspath(name_or_path)
        short = ", ".join(k for k, v in MODEL_ALIASES.items() if v is not None)
        shipped = ", ".join(shipped_classifiers()) or "none"
        raise ModelFileError(text, f"no such model: not a short name ({short}), a shipped classifier "
                                   f"({shipped}) or a classifier file (.npz, written by `ddriqa train`)") from None


def load_named_classifier(name_or_path=None):
    """Load a classifier by short name, shipped name or path (never unpickles).

    Parameters
    ----------
    name_or_path : str, os.PathLike or None
        None means :data:`DEFAULT_MODEL`.

    Returns
    -------
    estimator
    """
    from ddriqa.classification.persistence import load_classifier

    return load_classifier(resolve_model_name(DEFAULT_MODEL if name_or_path is None else name_or_path))
