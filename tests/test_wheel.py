"""The built wheel works on its own: installed away from the repository, `ddriqa classify` runs.

The wheel is built offline (``pip wheel --no-deps --no-build-isolation --no-index``) from a
copy of the source tree in a temporary folder, so that the build's ``build/`` and
``*.egg-info`` folders never appear in the working tree. It is installed with
``pip install --no-deps --target`` into a private folder; the installed package is then run
from another temporary folder with ``PYTHONPATH`` pointing at that folder only. The current
interpreter's site-packages still provide torch, numpy, scikit-learn... (nothing is
downloaded); the repository's editable install of ddriqa is a meta-path finder that Python
consults only after ``PYTHONPATH``, and the test checks that ``ddriqa`` really comes from the
installed wheel, and its shipped classifier from the wheel's ``ddriqa/_weights``.

Skipped, with the reason, when the wheel cannot be built here (no setuptools able to build
wheels offline, for instance).
"""

from __future__ import annotations

import csv
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
N_IMAGES = 3


def _copy_source(dest):
    """The files a source distribution holds: packaging files, the package, the shipped weights."""
    dest.mkdir()
    for name in ("setup.py", "setup.cfg", "pyproject.toml", "MANIFEST.in", "README.md"):
        if (REPO / name).is_file():
            shutil.copy2(REPO / name, dest / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "_weights")
    shutil.copytree(REPO / "ddriqa", dest / "ddriqa", ignore=ignore)
    # setup.py ships weights/*.safetensors|json|md and weights/classifiers/, never the
    # training states of weights/checkpoints/ (tens of MiB): leave those out of the copy
    shutil.copytree(REPO / "weights", dest / "weights", ignore=shutil.ignore_patterns("checkpoints", "__pycache__"))


def _run(cmd, *, cwd, env=None, timeout=120):
    return subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


def _tail(proc, n=1500):
    """The last lines of a process's output, at most about ``n`` characters."""
    lines, size = [], 0
    for line in reversed((proc.stdout + proc.stderr).strip().splitlines()):
        size += len(line) + 1
        if size > n and lines:
            break
        lines.append(line)
    return "\n".join(reversed(lines))


def _build_wheel(tmp_path):
    src = tmp_path / "src"
    _copy_source(src)
    dist = tmp_path / "dist"
    try:
        proc = _run([sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation",
                     "--no-index", "-w", str(dist)], cwd=src, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip("building the wheel took over 180 s")
    wheels = sorted(dist.glob("ddriqa-*.whl"))
    if proc.returncode != 0 or not wheels:
        pytest.skip(f"cannot build the wheel offline here (pip exit {proc.returncode}): {_tail(proc, 600)}")
    return wheels[0]


def _write_images(folder):
    import cv2

    folder.mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:128, 0:128]
    for i in range(N_IMAGES):
        img = np.stack([110 + 60 * np.sin((0.03 + 0.02 * i + 0.01 * c) * xx) * np.cos(0.05 * yy)
                        for c in range(3)], axis=-1)
        img = np.clip(img + rng.normal(0, 8 + 10 * i, img.shape), 0, 255).astype(np.uint8)
        assert cv2.imwrite(str(folder / f"img{i}.png"), img)


@pytest.mark.slow
def test_wheel_installs_and_classifies_away_from_the_repository(tmp_path):
    wheel = _build_wheel(tmp_path)
    site = tmp_path / "site"
    proc = _run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "--no-compile",
                 "--target", str(site), str(wheel)], cwd=tmp_path)
    assert proc.returncode == 0, _tail(proc)

    work = tmp_path / "work"  # neither the repository nor the install folder
    work.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "DDRIQA_WEIGHTS_DIR", "PYTHONHOME")}
    env["PYTHONPATH"] = str(site)
    env["PYTHONNOUSERSITE"] = "1"

    probe = ("import ddriqa, ddriqa.models.weights as w, ddriqa.classification.persistence as p; "
             "print(ddriqa.__file__); print(w.weights_dir()); print(','.join(p.shipped_classifiers()))")
    proc = _run([sys.executable, "-s", "-c", probe], cwd=work, env=env)
    assert proc.returncode == 0, _tail(proc)
    package_file, weights, shipped = proc.stdout.strip().splitlines()[-3:]
    assert Path(package_file).resolve().is_relative_to(site.resolve()), package_file
    assert Path(weights).resolve() == (site / "ddriqa" / "_weights").resolve(), weights
    assert "brisque_kodak" in shipped.split(","), shipped

    images = work / "images"
    _write_images(images)
    out = work / "out.csv"
    script = site / "bin" / "ddriqa"
    assert script.is_file(), "the wheel installs no `ddriqa` console script"
    # the console script (entry point ddriqa.cli:main), run by this interpreter as its shebang says
    proc = _run([sys.executable, "-s", str(script), "classify", str(images), "--model", "brisque", "-o", str(out)],
                cwd=work, env=env)
    assert proc.returncode == 0, _tail(proc)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == N_IMAGES
    assert sorted(Path(r["path"]).name for r in rows) == [f"img{i}.png" for i in range(N_IMAGES)]
    for row in rows:
        assert row["error"] == "" and row["distortion"], row
    assert "ddr_live_like" in shipped.split(","), shipped

    # the default model (no --model): the shipped DDR classifier on Real-ESRGAN, six classes
    out = work / "default.csv"
    proc = _run([sys.executable, "-s", str(script), "classify", str(images), "-o", str(out)], cwd=work, env=env,
                timeout=600)
    assert proc.returncode == 0, _tail(proc)
    with open(out, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == N_IMAGES and "decision_pristine" in rows[0]
    assert all(r["error"] == "" and r["distortion"] in
               {"jp2k", "jpeg", "wn", "gblur", "fastfading", "pristine"} for r in rows), rows
