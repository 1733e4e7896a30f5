"""ddriqa: distortion identification from the deep degradation representations of SR networks.

The public names below are imported lazily, so that ``import ddriqa`` (and ``ddriqa --help``)
does not pay for torch or scikit-learn until they are used.
"""

from __future__ import annotations

import importlib

__version__ = "0.1.0"

# public name -> module that defines it
_PUBLIC = {
    "DDRExtractor": "ddriqa.features.ddr",
    "BRISQUEExtractor": "ddriqa.features.brisque",
    "brisque_features": "ddriqa.features.brisque",
    "brisque_score": "ddriqa.features.brisque",
    "make_ddr_classifier": "ddriqa.classification.pipelines",
    "make_brisque_classifier": "ddriqa.classification.pipelines",
    "load_live": "ddriqa.datasets.live_database",
    "read_image": "ddriqa.io",
    "write_image": "ddriqa.io",
    "DDRIQAError": "ddriqa.errors",
    "ImageReadError": "ddriqa.errors",
    "InputError": "ddriqa.errors",
    "ModelFileError": "ddriqa.errors",
}

__all__ = sorted(_PUBLIC) + ["__version__"]


def __getattr__(name):
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'ddriqa' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__():
    return __all__
