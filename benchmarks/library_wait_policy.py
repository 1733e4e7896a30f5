"""The README's Python fit with and without the OpenMP wait policy that ``import ddriqa`` sets.

Each variant runs the README's Python example with preset ``ddr-9-fast`` in a fresh subprocess
(``from ddriqa import load_live`` first, then ``make_preset_classifier("ddr-9-fast").fit(...)`` on a
LIVE-layout folder with its clean references as ``pristine``), timed from the start of the process
(imports included), variants alternated ``--reps`` times, with the 1-minute load average before each:

- ``openmp-default``: ``OMP_WAIT_POLICY`` set to the empty string, which ``import ddriqa`` keeps and
  GNU OpenMP ignores: its default (idle threads spin a while), what the library did before it set
  the policy itself;
- ``library``: ``OMP_WAIT_POLICY`` unset, as a user runs it: ``import ddriqa`` sets ``PASSIVE``;
- ``library+blas1``: the same with numpy's BLAS on one thread during the fit (what the CLI does);
- ``cli``: ``ddriqa train DATA --preset ddr-9-fast --pristine -o MODEL`` (the same fit).

Usage (from the repository root; DATA made by ``ddriqa degrade``)::

    ddriqa degrade REFS /tmp/set --per-class 4 --seed 0
    python benchmarks/library_wait_policy.py --data /tmp/set --reps 2
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

FIT = r'''
import contextlib, json, sys, time
t0 = float(sys.argv[2])
from ddriqa import load_live
from ddriqa.classification.pipelines import make_preset_classifier
from ddriqa.datasets.live_database import with_pristine
data = with_pristine(load_live(sys.argv[1]), sys.argv[1])
clf = make_preset_classifier("ddr-9-fast")
ctx = contextlib.nullcontext()
if sys.argv[3] == "blas1":
    from threadpoolctl import threadpool_limits
    ctx = threadpool_limits(limits=1, user_api="blas")
with ctx:
    clf.fit(data.path, data.distortion, vote__groups=data.reference)
import os, torch
print(json.dumps({"n_images": len(data), "torch_threads": torch.get_num_threads(),
                  "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY")}))
'''


def _env(policy):
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["PYTHONPATH"] = REPO + os.pathsep + env.get("PYTHONPATH", "")
    if policy is not None:
        env["OMP_WAIT_POLICY"] = policy
    return env


def run_variant(name, data, out_dir):
    t0 = time.time()
    if name == "cli":
        model = os.path.join(out_dir, "model.npz")
        cmd = [sys.executable, "-m", "ddriqa.cli", "train", data, "--preset", "ddr-9-fast", "--pristine",
               "-o", model, "--overwrite"]
        subprocess.run(cmd, env=_env(None), check=True, capture_output=True)
        info = {}
    else:
        policy = "" if name == "openmp-default" else None
        mode = "blas1" if name == "library+blas1" else "-"
        done = subprocess.run([sys.executable, "-c", FIT, data, repr(t0), mode], env=_env(policy), check=True,
                              capture_output=True, text=True)
        info = json.loads(done.stdout.strip().splitlines()[-1])
    return time.time() - t0, info


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--variants", default="openmp-default,library,library+blas1,cli")
    args = parser.parse_args(argv)
    variants = args.variants.split(",")
    with tempfile.TemporaryDirectory() as tmp:
        for rep in range(1, args.reps + 1):
            for v in variants:
                load = os.getloadavg()[0]
                seconds, info = run_variant(v, args.data, tmp)
                print(json.dumps({"rep": rep, "variant": v, "seconds": round(seconds, 1), "load_1min_before": load,
                                  **info}), flush=True)


if __name__ == "__main__":
    main()
