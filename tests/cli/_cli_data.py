"""Tiny generated data sets for the CLI tests (no ../shared needed)."""

from __future__ import annotations

import numpy as np
from conftest import easy_degrade as degrade
from conftest import textured_image
from PIL import Image

TINY_CLASSES = ("gblur", "jpeg", "wn")


def make_tiny_live(root, n_refs=5, per_ref=2, size=(48, 48), seed=0):
    """A LIVE-layout set: root/refimgs, root/<class>/img<k>.bmp and info.txt; returns root."""
    rng = np.random.default_rng(seed)
    (root / "refimgs").mkdir(parents=True)
    refs = []
    for r in range(n_refs):
        img = textured_image(*size, seed=300 + r)
        name = f"ref{r}.bmp"
        Image.fromarray(img).save(root / "refimgs" / name)
        refs.append((name, img))
    for kind in TINY_CLASSES:
        folder = root / kind
        folder.mkdir()
        lines, k = [], 0
        for name, img in refs:
            for _ in range(per_ref):
                k += 1
                Image.fromarray(degrade(img, kind, rng)).save(folder / f"img{k}.bmp")
                lines.append(f"{name} img{k}.bmp 1.0")
        (folder / "info.txt").write_text("\n".join(lines) + "\n")
    return root
