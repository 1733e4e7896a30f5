"""Ship the exported generator of a ``train-sr`` run as float16 weights with a provenance card.

Reads ``RUN/generator.safetensors`` and its provenance ``RUN/generator.json`` (written by the
trainer: architecture, data, steps, loss, schedule, hardware segments, validation), writes
``DEST/NAME.safetensors`` in float16 (loadable by ``load_generator``; the network runs in
float32 after loading) and ``DEST/NAME.json`` / ``.md``: the run's record plus ``--status``,
``--field KEY=JSON`` values and the sha256 of the shipped file. An existing ``NAME`` is refused
without ``--overwrite``.

Usage::

    python tools/ship_generator.py /tmp/runs/rrdb_x4_bn --name rrdb_x4_bn --dest weights \\
        --status "blind-SR RRDBNet trained on b+n LR" --field 'departures_from_paper="..."'
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def ship(run, name, dest, *, status=None, fields=None, overwrite=False):
    """Write ``dest/name.safetensors`` (float16) + provenance from a run folder; returns its path."""
    from ddriqa.models.weights import load_generator, write_provenance
    from ddriqa.training.checkpoint import save_snapshot

    run, dest = Path(run), Path(dest)
    source = run / "generator.safetensors"
    record_file = run / "generator.json"
    if not source.is_file() or not record_file.is_file():
        raise SystemExit(f"{run}: no generator.safetensors + generator.json (a finished or stopped train-sr run)")
    target = dest / f"{name}.safetensors"
    if target.exists() and not overwrite:
        raise SystemExit(f"{target} exists; pass --overwrite to replace it")
    record = json.loads(record_file.read_text(encoding="utf-8"))
    model = load_generator(source)
    step = int(record["step"])
    save_snapshot(model, target, step, dtype="float16")
    record = record | {"dtype": "float16 (trained in float32)", "source_run": record.get("run"), "run": name}
    if status:
        record["status"] = status
    record |= dict(fields or {})
    for key in ("file", "sha256", "bytes"):
        record.pop(key, None)
    write_provenance(target, **record)
    check = load_generator(target)  # the shipped file loads as the network it came from
    assert type(check) is type(model)
    return target


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path)
    ap.add_argument("--name", required=True)
    ap.add_argument("--dest", type=Path, default=REPO / "weights")
    ap.add_argument("--status", default=None)
    ap.add_argument("--field", action="append", default=[], help="KEY=JSON value added to the provenance")
    ap.add_argument("--overwrite", action="store_true")
    args = ap.parse_args(argv)
    fields = {}
    for item in args.field:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--field must be KEY=JSON, got {item!r}")
        fields[key] = json.loads(value)
    print(ship(args.run, args.name, args.dest, status=args.status, fields=fields, overwrite=args.overwrite))


if __name__ == "__main__":
    main()
