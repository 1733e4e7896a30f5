"""Regenerate ddriqa's BRISQUE score tables from the LIVE release's files.

The LIVE MATLAB release of BRISQUE scores images with a LibSVM epsilon-SVR text model
(``allmodel``) after scaling the 36 features to [-1, 1] with a min/max table (``allrange``).
This script reads those two tables (the numbers are facts of the release) and writes them in
ddriqa's own pickle-free formats:

- ``ddriqa/data/brisque_live_model.npz``: ``support_vectors`` float64 (n_sv, 36),
  ``dual_coef`` float64 (n_sv,), ``rho`` and ``gamma`` float64 scalars (read with
  ``numpy.load(..., allow_pickle=False)``);
- ``ddriqa/data/brisque_live_range.csv``: ``feature,min,max`` (1-based feature index).

LibSVM's model format is sparse: an index missing from a support-vector line means 0.

Usage (from the repository root)::

    python benchmarks/tools/convert_brisque_model.py \
        --calibration ../shared/reference/brisque-calibration --out ddriqa/data
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np

N_FEATURES = 36


def read_libsvm_model(path):
    """Parse a LibSVM epsilon-SVR RBF text model into dense arrays."""
    header = {}
    coefs, rows = [], []
    with open(path, encoding="ascii") as fh:
        for line in fh:
            line = line.strip()
            if line == "SV":
                break
            key, _, value = line.partition(" ")
            header[key] = value
        for lineno, line in enumerate(fh, start=1):
            parts = line.split()
            if not parts:
                continue
            coefs.append(float(parts[0]))
            row = np.zeros(N_FEATURES)
            for item in parts[1:]:
                index, _, value = item.partition(":")
                k = int(index)
                if not 1 <= k <= N_FEATURES:
                    raise ValueError(f"{path}: SV line {lineno} has feature index {k} outside 1..{N_FEATURES}")
                row[k - 1] = float(value)
            rows.append(row)
    if header.get("svm_type") != "epsilon_svr" or header.get("kernel_type") != "rbf":
        raise ValueError(f"{path}: expected an epsilon_svr model with an rbf kernel, got {header}")
    n_sv = int(header["total_sv"])
    if len(rows) != n_sv:
        raise ValueError(f"{path}: header says {n_sv} support vectors, found {len(rows)}")
    return {
        "support_vectors": np.vstack(rows).astype(np.float64),
        "dual_coef": np.asarray(coefs, dtype=np.float64),
        "rho": np.float64(float(header["rho"])),
        "gamma": np.float64(float(header["gamma"])),
    }


def read_range(path):
    """Read the ``feature,min,max`` table (kept as the release's decimal strings)."""
    with open(path, newline="", encoding="ascii") as fh:
        rows = list(csv.DictReader(fh))
    if [int(r["feature"]) for r in rows] != list(range(1, N_FEATURES + 1)):
        raise ValueError(f"{path}: expected features 1..{N_FEATURES} in order")
    for r in rows:
        float(r["min"]), float(r["max"])  # validate
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calibration", type=Path,
                        default=Path(__file__).resolve().parents[3] / "shared" / "reference" / "brisque-calibration",
                        help="folder holding allmodel and allrange.csv")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[2] / "ddriqa" / "data")
    args = parser.parse_args(argv)

    model = read_libsvm_model(args.calibration / "allmodel")
    rows = read_range(args.calibration / "allrange.csv")
    args.out.mkdir(parents=True, exist_ok=True)
    np.savez(args.out / "brisque_live_model.npz", **model)
    with open(args.out / "brisque_live_range.csv", "w", newline="", encoding="ascii") as fh:
        fh.write("feature,min,max\n")
        for r in rows:
            fh.write(f"{int(r['feature'])},{r['min'].strip()},{r['max'].strip()}\n")
    print(f"wrote {args.out / 'brisque_live_model.npz'} ({model['support_vectors'].shape[0]} support vectors, "
          f"gamma {model['gamma']}, rho {model['rho']}) and {args.out / 'brisque_live_range.csv'}")


if __name__ == "__main__":
    main()
