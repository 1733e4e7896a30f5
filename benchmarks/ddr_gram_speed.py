"""Time the DDR Gram matrix of the benchmark: the old float64 spill-file route against the new one.

Synthetic float32 feature rows of the DDR size (64 x 96 x 96 = 589,824 values, SRResNet
ResBlock16 on a 96x96 crop) are streamed in chunks as the extractor yields them;
``ddriqa.classification.pca.streaming_gram`` (float64 products over small column slabs, every
earlier chunk read back from a spill file per new chunk) and
``ddriqa.classification.gram.gram_from_chunks`` (rows kept in memory as float32, one
float32 BLAS product per 65,536-column slab) compute the same N x N matrix; both cost
``N^2 * D`` multiply-adds up to a factor 2, so the time for N = 720 is extrapolated as
``t * (720 / N)^2`` (the matrix-product part; the extraction itself is not included). Each
route runs with one BLAS thread and with the BLAS default (threadpoolctl); the table printed is
Markdown.

Run with ``OMP_WAIT_POLICY=PASSIVE`` on the shared machine::

    OMP_WAIT_POLICY=PASSIVE python benchmarks/ddr_gram_speed.py --n 96 --chunk 16
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=96, help="rows (images)")
    ap.add_argument("--dim", type=int, default=64 * 96 * 96, help="features per row")
    ap.add_argument("--chunk", type=int, default=16, help="rows per streamed chunk")
    ap.add_argument("--skip-old", action="store_true", help="time only the new route")
    args = ap.parse_args()

    from ddriqa.classification.gram import gram_from_chunks
    from ddriqa.classification.pca import iter_row_chunks, streaming_gram

    rng = np.random.default_rng(0)
    # DDR-like rows: non-negative-ish, a large common mean (centring matters)
    X = (rng.standard_normal((args.n, args.dim), dtype=np.float32) * 0.3 + 1.0).astype(np.float32)
    print(f"load (1 min) at start: {os.getloadavg()[0]:.2f}; N={args.n}, D={args.dim}, chunk={args.chunk}")

    from threadpoolctl import threadpool_limits

    # reference: the exact centred Gram matrix in float64
    H = np.eye(args.n) - 1.0 / args.n
    ref = np.zeros((args.n, args.n))
    for c0 in range(0, args.dim, 65536):
        b = X[:, c0:c0 + 65536].astype(np.float64)
        ref += b @ b.T
    ref = H @ ref @ H
    scale = (720 / args.n) ** 2
    print("| route | BLAS threads | s for N | ~s for N=720 | max centred error / max centred Gram | 1-min load |")
    print("|---|---|---:|---:|---:|---:|")
    for threads in (1, None):
        label = "1" if threads else "default (2)"
        t = time.perf_counter()
        G = gram_from_chunks(iter_row_chunks(X, args.chunk), args.n, blas_threads=threads)
        dt = time.perf_counter() - t
        err = np.abs(H @ G @ H - ref).max() / np.abs(ref).max()
        print(f"| new `gram_from_chunks` | {label} | {dt:.2f} | {dt * scale:.1f} | {err:.1e} | {os.getloadavg()[0]:.1f} |")
        if args.skip_old:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            with threadpool_limits(threads, user_api="blas"):
                G = streaming_gram(iter_row_chunks(X, args.chunk), args.n, chunk_size=args.chunk, spill_dir=tmp)
            dt = time.perf_counter() - t
        err = np.abs(H @ G @ H - ref).max() / np.abs(ref).max()
        print(f"| old `streaming_gram` | {label} | {dt:.2f} | {dt * scale:.1f} | {err:.1e} | {os.getloadavg()[0]:.1f} |")
    print(f"load (1 min) at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
