"""Split a LIVE-layout folder by reference name into two LIVE-layout folders (symbolic links).

``ddriqa degrade`` writes one folder for all its references; a held-out check needs the
references of a test set apart. This writes ``--keep`` (references whose name starts with one of
``--prefix``) and ``--rest`` (the others), each with ``<class>/info.txt`` filtered, the images
linked, and ``refimgs/`` linked, so ``ddriqa benchmark`` / ``train`` read them as usual.

Usage (the BSDS500 sets of benchmarks/results/identification.md)::

    python tools/split_live_folder.py /tmp/live_bsds --prefix val_ --keep /tmp/live_bsds_val --rest /tmp/live_bsds_trte
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

CLASSES = ("jp2k", "jpeg", "wn", "gblur", "fastfading")


def split(src, prefixes, keep, rest):
    src = Path(src)
    counts = {}
    for dest, wanted in ((Path(keep), True), (Path(rest), False)):
        if dest.exists():
            raise SystemExit(f"{dest} exists; remove it first")
        (dest / "refimgs").mkdir(parents=True)
        n = 0
        for cls in CLASSES:
            info = src / cls / "info.txt"
            if not info.is_file():
                continue
            (dest / cls).mkdir()
            lines = [ln for ln in info.read_text(encoding="utf-8").splitlines(keepends=True)
                     if ln.split() and ln.split()[0].startswith(prefixes) == wanted]
            (dest / cls / "info.txt").write_text("".join(lines), encoding="utf-8")
            for ln in lines:
                name = ln.split()[1]
                os.symlink((src / cls / name).resolve(), dest / cls / name)
                n += 1
        for ref in sorted((src / "refimgs").iterdir()):
            if ref.name.startswith(prefixes) == wanted:
                os.symlink(ref.resolve(), dest / "refimgs" / ref.name)
        counts[str(dest)] = n
    return counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src")
    parser.add_argument("--prefix", action="append", required=True)
    parser.add_argument("--keep", required=True)
    parser.add_argument("--rest", required=True)
    args = parser.parse_args(argv)
    for dest, n in split(args.src, tuple(args.prefix), args.keep, args.rest).items():
        print(f"{dest}: {n} distorted images", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
