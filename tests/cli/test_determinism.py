"""Determinism on CPU: two separate runs of `ddriqa classify` write byte-identical CSV files.

Separate processes (not two calls in one interpreter), so nothing cached in memory, no thread
pool state and no seeding side effect of the first run can make the second agree by accident.
Covered: the shipped BRISQUE classifier, and a DDR pipeline whose backbone is a random-init
SRResNet (stored by its seed) -- the network, PCA and SVM path of the DDR method.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from conftest import REPO, easy_degrade, textured_image
from PIL import Image


def _images(folder, n=4, size=(40, 48)):
    folder.mkdir()
    rng = np.random.default_rng(11)
    kinds = ("gblur", "wn", "jpeg")
    for i in range(n):
        img = easy_degrade(textured_image(*size, seed=700 + i), kinds[i % 3], rng)
        Image.fromarray(img).save(folder / f"img{i}.png")
    return folder


def _classify_twice(folder, model, tmp_path, extra=()):
    """Two concurrent runs (they also compete for the cores: timing must not matter)."""
    env = dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    procs, outs = [], []
    for run in range(2):
        out = tmp_path / f"run{run}.csv"
        cmd = [sys.executable, "-m", "ddriqa.cli", "classify", str(folder), "--model", model,
               "--output", str(out), *extra]
        procs.append(subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE))
        outs.append(out)
    for proc in procs:
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
    return [out.read_bytes() for out in outs]


def test_brisque_classify_is_bitwise_reproducible(tmp_path):
    folder = _images(tmp_path / "imgs")
    first, second = _classify_twice(folder, "brisque", tmp_path)
    assert first.count(b"\n") == 5  # header + 4 rows, all classified
    assert b",," not in first.split(b"\n", 1)[1]  # no error rows (empty decision columns)
    assert first == second


@pytest.mark.slow
def test_random_ddr_classify_is_bitwise_reproducible(tmp_path):
    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_ddr_classifier

    rng = np.random.default_rng(2)
    X, y = [], []
    for i in range(4):
        ref = textured_image(40, 40, seed=900 + i)
        for kind in ("gblur", "wn", "jpeg"):
            X.append(easy_degrade(ref, kind, rng))
            y.append(kind)
    model = make_ddr_classifier(weights="random", layer="ResBlock2", crop=24, n_components=5,
                                device="cpu", random_state=3).fit(X, y)
    path = save_classifier(model, tmp_path / "ddr_random.npz")
    folder = _images(tmp_path / "imgs", n=5)
    first, second = _classify_twice(folder, str(path), tmp_path, extra=["--batch-size", "2"])
    assert first.count(b"\n") == 6
    assert first == second
