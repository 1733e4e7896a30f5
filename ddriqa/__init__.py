"""ddriqa: distortion identification from the deep degradation representations of SR networks.

The public names below are imported lazily, so that ``import ddriqa`` (and ``ddriqa --help``)
does not pay for torch or scikit-learn until they are used.
"""

from __future__ import annotations

import importlib
import os

__version__ = "0.1.0"

# OpenMP threads that spin while they wait collapse torch's CPU throughput whenever another thread
# or process holds a core: the reader thread that decodes the next batch, or any other job. Measured
# on a shared 2-core machine: DDR extraction 2.5 -> 7.6 images/s (benchmarks/results/extract_speed.md),
# and the README's ddr-9-fast fit (benchmarks/results/library_wait_policy.md). GNU OpenMP reads the
# policy once, when torch loads it, so it is set here, on `import ddriqa`, before any ddriqa module
# imports torch (the command line gets it the same way); a value the user set is kept. When torch was
# imported before ddriqa, its OpenMP has read the environment already: set the variable before
# Python starts (README, "Python").
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

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
