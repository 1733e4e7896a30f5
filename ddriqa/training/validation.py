"""SR validation: PSNR on the Y channel, the standard test sets, and a CSV log.

Convention (as in the SR literature's MATLAB scripts and BasicSR): the images are uint8 RGB;
Y is MATLAB's ``rgb2ycbcr`` luma on [0, 1] inputs, BT.601 studio swing,
``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` (on the 0..255 scale, not rounded); the PSNR
``10 log10(255^2 / MSE)`` is taken after cropping ``border`` pixels (the scale, 4) from each
side. The HR image is first cropped to a multiple of the scale and the LR input is the MATLAB
bicubic x1/4 of that crop.
"""

from __future__ import annotations

import csv
import math
import time
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError

__all__ = [
    "VALIDATION_SETS",
    "ValidationLog",
    "evaluate_pairs",
    "load_validation_pairs",
    "psnr_y",
    "rgb_to_y",
]

#: Set name -> folder below the data root (BSD100 is the BSDS500 validation split).
VALIDATION_SETS = {"Set5": "Set5", "Set14": "Set14", "BSD100": "BSDS500/val"}


def _as_float255(image, name):
    image = np.asarray(image)
    if image.ndim != 3 or image.shape[2] != 3:
        raise InputError(f"{name}: expected an HxWx3 RGB image, got shape {image.shape}")
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    if image.dtype.kind == "f":
        if image.size and (np.nanmin(image) < 0 or np.nanmax(image) > 1):
            raise InputError(f"{name}: float images must lie in [0, 1], got [{image.min():.4g}, {image.max():.4g}]")
        return image.astype(np.float64) * 255.0
    raise InputError(f"{name}: expected uint8 or float in [0, 1], got dtype {image.dtype}")


def rgb_to_y(image):
    """BT.601 luma of an RGB image on the 0..255 scale (MATLAB ``rgb2ycbcr``, not rounded).

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W, 3)
        uint8 on 0..255 or float on [0, 1].

    Returns
    -------
    numpy.ndarray of shape (H, W), float64 in [16, 235]

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.training.validation import rgb_to_y
    >>> float(rgb_to_y(np.full((1, 1, 3), 255, np.uint8))[0, 0])
    235.0
    """
    rgb = _as_float255(image, "rgb_to_y") / 255.0
    return 16.0 + rgb[..., 0] * 65.481 + rgb[..., 1] * 128.553 + rgb[..., 2] * 24.966


def psnr_y(sr, hr, border=4):
    """PSNR (dB) between the Y channels of two RGB images, ``border`` pixels cropped per side.

    Parameters
    ----------
    sr, hr : numpy.ndarray of shape (H, W, 3)
        uint8 or float in [0, 1]; same shape.
    border : int, default=4

    Returns
    -------
    float
        ``inf`` for identical Y channels.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.training.validation import psnr_y
    >>> a = np.zeros((16, 16, 3), np.uint8); b = a.copy(); b[..., 1] = 10
    >>> round(psnr_y(a, b, border=0), 3)   # Y differs by 10 * 128.553 / 255 everywhere
    34.08
    """
    sr, hr = np.asarray(sr), np.asarray(hr)
    if sr.shape != hr.shape:
        raise InputError(f"psnr_y: shapes differ: {sr.shape} vs {hr.shape}")
    ys, yh = rgb_to_y(sr), rgb_to_y(hr)
    if border:
        if 2 * border >= ys.shape[0] or 2 * border >= ys.shape[1]:
            raise InputError(f"psnr_y: border {border} leaves nothing of a {ys.shape} image")
        ys, yh = ys[border:-border, border:-border], yh[border:-border, border:-border]
    mse = float(np.mean((ys - yh) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(255.0**2 / mse)


def load_validation_pairs(root=None, sets=("Set5", "Set14", "BSD100"), *, pack=None, scale=4, on_error=None):
    """(name, HR, LR) triples of the validation sets, from a data root or a pack.

    Parameters
    ----------
    root : str or os.PathLike, optional
        Folder holding ``Set5/``, ``Set14/`` and ``BSDS500/val/`` (see :data:`VALIDATION_SETS`);
        any other set name is taken as a folder name below ``root``. Missing sets are skipped.
    sets : sequence of str
    pack : str or os.PathLike, optional
        A pack from :func:`ddriqa.training.data.pack_images` with the set names as groups
        (used instead of ``root``).
    scale : int, default=4
    on_error : callable, optional
        Called as ``on_error(path, exception)`` for an unreadable image, which is then skipped;
        default: the :class:`~ddriqa.errors.ImageReadError` propagates.

    Returns
    -------
    dict
        ``{set_name: [(image_name, hr_uint8, lr_uint8), ...]}``
    """
    from ddriqa.training.data import load_pack, make_lr_images

    out = {}
    if pack is not None:
        data = load_pack(pack)
        for name in sets:
            chosen = [(n, im) for n, im, g in zip(data["names"], data["images"], data["groups"]) if g == name]
            if chosen:
                hrs, lrs = make_lr_images([im for _, im in chosen], scale)
                out[name] = [(n, h, l) for (n, _), h, l in zip(chosen, hrs, lrs)]
        return out
    if root is None:
        raise InputError("give a validation data root or a pack")
    from ddriqa.errors import ImageReadError
    from ddriqa.io import list_images, read_image

    root = Path(root)
    for name in sets:
        folder = root / VALIDATION_SETS.get(name, name)
        if not folder.is_dir():
            continue
        files, images = [], []
        for path in list_images(folder):
            try:
                images.append(read_image(path))
            except ImageReadError as exc:
                if on_error is None:
                    raise
                on_error(path, exc)
                continue
            files.append(path)
        if files:
            hrs, lrs = make_lr_images(images, scale)
            out[name] = [(p.name, h, l) for p, h, l in zip(files, hrs, lrs)]
    return out


def evaluate_pairs(model, pairs, *, border=None, tile=None):
    """Y-PSNR of ``model`` on (name, HR, LR) triples; returns a list of (name, psnr).

    The model runs in float32, in eval mode, on its own device; its output is rounded to uint8
    before the PSNR (as when saved as an image). The model's training mode is restored.
    """
    from ddriqa.sr.upscale import upscale_image

    scale = int(getattr(model, "scale", 4))
    border = scale if border is None else border
    was_training = model.training
    model.eval()
    try:
        return [(name, psnr_y(upscale_image(model, lr, tile=tile), hr, border)) for name, hr, lr in pairs]
    finally:
        model.train(was_training)


class ValidationLog:
    """Append-only CSV log of validation results: ``step,set,psnr,time`` (+ ``run``).

    Rows are flushed as they are written, so a killed run keeps every row it reached.

    Parameters
    ----------
    path : str or os.PathLike
    run : str, optional
        A run label written in a ``run`` column.
    """

    FIELDS = ("run", "step", "set", "psnr", "time")

    def __init__(self, path, run=""):
        self.path = Path(path)
        self.run = run
        self._t0 = time.time()

    def write(self, step, set_name, psnr, elapsed=None):
        """Append one row (``elapsed`` seconds default to the time since the log was opened)."""
        new = not self.path.exists() or self.path.stat().st_size == 0
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            if new:
                writer.writerow(self.FIELDS)
            t = time.time() - self._t0 if elapsed is None else elapsed
            writer.writerow([self.run, int(step), set_name, f"{psnr:.4f}", f"{t:.1f}"])

    @classmethod
    def read_rows(cls, path, run=None):
        """The rows of a log (as dicts), only those of ``run`` when given; [] when there is no file."""
        path = Path(path)
        if not path.is_file():
            return []
        with open(path, newline="", encoding="utf-8") as fh:
            return [r for r in csv.DictReader(fh) if run is None or r.get("run") == run]

    @classmethod
    def write_rows(cls, path, rows):
        """Write ``rows`` (dicts) as a whole log."""
        with open(path, "w", newline="", encoding="utf-8") as fh:
            writer = csv.DictWriter(fh, fieldnames=cls.FIELDS)
            writer.writeheader()
            writer.writerows({k: r.get(k, "") for k in cls.FIELDS} for r in rows)

    def truncate_after(self, step):
        """Drop rows of steps after ``step`` (used when resuming from an older checkpoint)."""
        if not self.path.exists():
            return
        self.write_rows(self.path, [r for r in self.read_rows(self.path) if int(r["step"]) <= step])
