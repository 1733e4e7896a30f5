"""The jobs behind ``ddriqa upscale`` and ``ddriqa eval-sr``: an SR network over a folder of images.

:func:`upscale_files` super-resolves image files into PNG files and counts honestly what it
wrote, what it kept (outputs that existed) and what failed. :func:`evaluate_sr` measures the
Y-PSNR of the network, and of bicubic upsampling, on HR images; :func:`finite_mean` is how its
mean treats images the network reproduces exactly (PSNR ``inf``).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path

from ddriqa.errors import DDRIQAError, InputError

__all__ = ["EvalSummary", "UpscaleSummary", "check_separate_folders", "evaluate_sr", "finite_mean", "upscale_files",
           "upscale_target"]


@dataclass
class UpscaleSummary:
    """What :func:`upscale_files` did.

    Attributes
    ----------
    written : int
        Output files written by this run.
    kept : int
        Inputs skipped because their output existed (and ``overwrite`` was False).
    failed : list of (str, str)
        ``(input path, reason)`` of each input that could not be done.
    """

    written: int = 0
    kept: int = 0
    failed: list = field(default_factory=list)

    @property
    def total(self):
        return self.written + self.kept + len(self.failed)


def upscale_target(path, src, dst):
    """The output file of input ``path``: its place below ``src`` mirrored below ``dst``, as PNG.

    Examples
    --------
    >>> from ddriqa.jobs.sr import upscale_target
    >>> upscale_target("in/sub/a.jpg", "in", "out").as_posix()
    'out/sub/a.png'
    """
    return (Path(dst) / Path(path).relative_to(src)).with_suffix(".png")


def check_separate_folders(src, dst):
    """Refuse an output folder ``dst`` that is the input folder ``src``, lies inside it or holds it.

    Outputs written into the inputs' folder would replace them (``a.png`` is both an input and
    the output of ``a.png``) or be read back as inputs by a later recursive run; symbolic links
    are resolved first.

    Raises
    ------
    ddriqa.errors.InputError
        ``"DST: is the input folder SRC; ..."`` (or "lies inside", "contains").

    Examples
    --------
    >>> from ddriqa.jobs.sr import check_separate_folders
    >>> check_separate_folders("photos", "photos_x4")
    >>> try:
    ...     check_separate_folders("photos", "photos/x4")
    ... except Exception as exc:
    ...     print(exc)
    photos/x4: lies inside the input folder photos; choose an output folder outside it
    """
    a = Path(os.path.realpath(os.fspath(src)))
    b = Path(os.path.realpath(os.fspath(dst)))
    if a == b:
        how = "is the input folder"
    elif a in b.parents:
        how = "lies inside the input folder"
    elif b in a.parents:
        how = "contains the input folder"
    else:
        return
    raise InputError(f"{os.fspath(dst)}: {how} {os.fspath(src)}; choose an output folder outside it")


def upscale_files(model, files, src, dst, *, tile=None, overlap=16, overwrite=False, on_item=None):
    """Super-resolve image files below ``src`` into PNG files below ``dst``.

    Parameters
    ----------
    model : torch.nn.Module
        SR network (see :func:`ddriqa.sr.upscale.upscale_image`).
    files : sequence of path
        Images below ``src`` (e.g. :func:`ddriqa.io.list_images`).
    src, dst : str or os.PathLike
        Input and output folders; sub-folders are mirrored.
    tile, overlap : see :func:`ddriqa.sr.upscale.upscale_tensor`
    overwrite : bool, default=False
        Replace existing outputs; by default they are kept (so a rerun resumes).
    on_item : callable, optional
        ``on_item(path, status, reason)`` after each input, ``status`` one of ``"written"``,
        ``"kept"``, ``"failed"`` (``reason`` None unless failed).

    Returns
    -------
    UpscaleSummary

    Raises
    ------
    ddriqa.errors.InputError
        ``dst`` is ``src``, inside it, or holds it (:func:`check_separate_folders`), whatever
        ``overwrite`` says.

    Notes
    -----
    Two inputs with the same output name (``a.jpg`` and ``a.png``) would write the same file: the
    second one fails with a reason naming the first.
    """
    from ddriqa.io import read_image, write_image
    from ddriqa.sr.upscale import upscale_image

    check_separate_folders(src, dst)
    summary, claimed = UpscaleSummary(), {}
    for path in files:
        target = upscale_target(path, src, dst)
        status, reason = "written", None
        if target in claimed:
            status, reason = "failed", f"same output file {target} as {claimed[target]}"
        elif target.exists() and not overwrite:
            status = "kept"
        else:
            try:
                out = upscale_image(model, read_image(path), tile=tile, overlap=overlap)
                target.parent.mkdir(parents=True, exist_ok=True)
                write_image(target, out)
            except (DDRIQAError, OSError) as exc:
                status, reason = "failed", getattr(exc, "reason", None) or str(exc)
        claimed.setdefault(target, os.fspath(path))
        if status == "written":
            summary.written += 1
        elif status == "kept":
            summary.kept += 1
        else:
            summary.failed.append((os.fspath(path), reason))
        if on_item is not None:
            on_item(path, status, reason)
    return summary


def finite_mean(values):
    """Mean of the finite values and the number of infinite ones left out.

    The mean PSNR of a set is the mean of its per-image PSNRs (as in the super-resolution
    literature); an image reproduced exactly has an infinite PSNR, which would make any mean
    infinite, so it is counted apart.

    Returns
    -------
    mean : float
        NaN when no value is finite.
    n_infinite : int

    Examples
    --------
    >>> from ddriqa.jobs.sr import finite_mean
    >>> finite_mean([30.0, float("inf"), 32.0])
    (31.0, 1)
    """
    finite = [float(v) for v in values if math.isfinite(v)]
    mean = sum(finite) / len(finite) if finite else float("nan")
    return mean, len(values) - len(finite)


@dataclass
class EvalSummary:
    """What :func:`evaluate_sr` measured.

    Attributes
    ----------
    psnr, psnr_bicubic : list of float
        Y-PSNR of the network and of bicubic upsampling, per image done (``inf``: identical).
    failed : list of (str, str)
        ``(path, reason)`` of the images that could not be evaluated.
    """

    psnr: list = field(default_factory=list)
    psnr_bicubic: list = field(default_factory=list)
    failed: list = field(default_factory=list)

    def means(self):
        """``((mean, n_inf), (mean_bicubic, n_inf_bicubic))``, see :func:`finite_mean`."""
        return finite_mean(self.psnr), finite_mean(self.psnr_bicubic)

    def mean_note(self):
        """The words for the ``mean`` row when identical images were left out ("" otherwise)."""
        (_, n_inf), (_, n_inf_bic) = self.means()
        if not (n_inf or n_inf_bic):
            return ""
        n = len(self.psnr)
        return (f"inf (image identical to its HR image) left out of the means: psnr_y {n_inf} of {n}, "
                f"psnr_y_bicubic {n_inf_bic} of {n}")


def evaluate_sr(model, files, *, tile=None, scale=4, on_row=None):
    """Y-PSNR of ``model`` and of bicubic upsampling on HR image files.

    Each HR image is cropped to a multiple of ``scale`` and its LR input made by MATLAB bicubic
    1/``scale`` (:func:`ddriqa.training.data.make_lr_images`); the network's output (uint8) and
    the bicubic upsampling of the same LR are compared with the HR image on the Y channel, with
    ``scale`` pixels cropped from each border (:func:`ddriqa.training.validation.psnr_y`).

    Parameters
    ----------
    model : torch.nn.Module
    files : sequence of path
    tile : int, optional
        LR tile side (None: whole images).
    scale : int, default=4
    on_row : callable, optional
        ``on_row(path, psnr, psnr_bicubic, error)`` after each image (PSNRs None on an error).

    Returns
    -------
    EvalSummary
    """
    from ddriqa.degradations.resize import imresize
    from ddriqa.io import read_image
    from ddriqa.sr.upscale import upscale_image
    from ddriqa.training.data import make_lr_images
    from ddriqa.training.validation import psnr_y

    summary = EvalSummary()
    for path in files:
        try:
            (hr,), (lr,) = make_lr_images([read_image(path)], scale)
            p = psnr_y(upscale_image(model, lr, tile=tile), hr, scale)
            pb = psnr_y(imresize(lr, scale=scale), hr, scale)
        except DDRIQAError as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            summary.failed.append((os.fspath(path), reason))
            if on_row is not None:
                on_row(path, None, None, reason)
            continue
        summary.psnr.append(p)
        summary.psnr_bicubic.append(pb)
        if on_row is not None:
            on_row(path, p, pb, None)
    return summary
