"""Shared test fixtures: generated images and the optional ../shared data root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DDRIQA_SHARED", REPO.parent / "shared"))


def shared_path(*parts):
    """Path under ../shared, or skip the calling test cleanly when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared is not present on this machine)")
    return path


def textured_image(height, width, seed=0, channels=3):
    """A deterministic, photo-like uint8 image: smooth shapes, edges and fine texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, channels))
    for c in range(channels):
        fx, fy = rng.uniform(0.01, 0.08, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        img[..., c] = 110 + 60 * np.sin(fx * xx + phase) * np.cos(fy * yy)
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(5, max(6, min(height, width) / 3))
        img[..., c] += np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, 50, 0)
    img += rng.normal(0, 12, size=img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


@pytest.fixture
def rng():
    return np.random.default_rng(12345)
