"""Content-aligned degraded test sets for the degradation-representation analysis.

The paper's protocol (Liu et al., arXiv 2108.00406, Sec. 4.1 and A.6/A.11) compares the features of
the *same* images under different degradations, all made from the clean low-resolution (LR) image:

* ``clean``: the HR image bicubic-downsampled x4 (MATLAB ``imresize``);
* ``blur``: the clean LR blurred with a 15x15 Gaussian kernel, width ``sigma ~ U[2, 4]`` per image;
* ``noise``: the clean LR plus Gaussian noise, ``sigma ~ U[5, 30]`` (0..255 scale) per image;
* degree sets (paper Table 7): ``noise5``, ``noise10``, ``noise20``, ``noise30`` (fixed sigma),
  ``blur1``, ``blur4`` (fixed kernel width), grouped as ``noise{5,10,30}``, ``noise{10,30}``,
  ``noise{10,20}``, ``blur{1,4}``.

The features are taken from ``patch x patch`` (default 32x32) LR patches: the centre crop of the
degraded LR image (the image is degraded whole, then cropped, so the blur sees no border).

Set names accepted by :func:`make_test_sets`: ``clean``, ``blur``, ``noise``, ``noise<S>``
(Gaussian noise of standard deviation S on the 0..255 scale), ``blur<W>`` (15x15 Gaussian of width
W), and the groups in :data:`DEGREE_GROUPS`. Every random draw comes from a generator seeded by
``(seed, set name)``, so a set is the same whichever other sets are built with it.
"""

from __future__ import annotations

import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError

__all__ = [
    "BLUR_KERNEL_SIZE",
    "BLUR_SIGMA_RANGE",
    "DEGREE_GROUPS",
    "NOISE_SIGMA_RANGE",
    "TestSets",
    "expand_sets",
    "load_hr_test_sets",
    "make_test_sets",
    "write_test_sets",
]

BLUR_KERNEL_SIZE = 15
BLUR_SIGMA_RANGE = (2.0, 4.0)
NOISE_SIGMA_RANGE = (5.0, 30.0)

DEGREE_GROUPS = {
    "clean,blur,noise": ("clean", "blur", "noise"),
    "noise{5,10,30}": ("noise5", "noise10", "noise30"),
    "noise{10,30}": ("noise10", "noise30"),
    "noise{10,20}": ("noise10", "noise20"),
    "blur{1,4}": ("blur1", "blur4"),
}

_FIXED_RE = re.compile(r"^(noise|blur)(\d+(?:\.\d+)?)$")
_GROUP_RE = re.compile(r"^(noise|blur)\{([\d.,\s]+)\}$")


@dataclass
class TestSets:
    """Degraded LR test patches and their labels.

    Attributes
    ----------
    images : list of numpy.ndarray
        uint8 ``patch x patch x 3`` LR patches (or whole LR images when ``patch`` is None),
        ordered set by set, the same source order within each set.
    labels : numpy.ndarray of str, shape (n,)
        The set name of each image (e.g. ``"clean"``, ``"blur"``, ``"noise10"``).
    params : numpy.ndarray of float, shape (n,)
        The degradation parameter drawn for each image (blur width or noise sigma; NaN for clean).
    sources : list of str
        The source (HR) name of each image.
    """

    __test__ = False  # not a pytest class

    images: list
    labels: np.ndarray
    params: np.ndarray
    sources: list

    def __len__(self):
        return len(self.images)


def expand_sets(sets):
    """Expand set names and groups into a flat tuple of set names.

    Parameters
    ----------
    sets : str or sequence of str
        E.g. ``"clean,blur,noise"``, ``["noise{5,10,30}"]`` or ``("blur1", "blur4")``.

    Returns
    -------
    tuple of str

    Examples
    --------
    >>> from ddriqa.analysis.testsets import expand_sets
    >>> expand_sets("clean,blur,noise")
    ('clean', 'blur', 'noise')
    >>> expand_sets(["noise{5,10,30}"])
    ('noise5', 'noise10', 'noise30')
    """
    if isinstance(sets, str):
        # split on commas that are not inside braces
        sets = [s for s in re.split(r",(?![^{]*\})", sets)]
    out = []
    for raw in sets:
        name = str(raw).strip()
        if not name:
            continue
        if name in DEGREE_GROUPS:
            out.extend(DEGREE_GROUPS[name])
            continue
        m = _GROUP_RE.match(name)
        if m:
            out.extend(f"{m.group(1)}{v.strip()}" for v in m.group(2).split(",") if v.strip())
            continue
        if name in ("clean", "blur", "noise") or _FIXED_RE.match(name):
            out.append(name)
            continue
        raise InputError(
            f"unknown test set {name!r}; expected clean, blur, noise, noise<sigma>, blur<width> "
            f"or one of {sorted(DEGREE_GROUPS)}"
        )
    if not out:
        raise InputError("no test set named")
    if len(set(out)) != len(out):
        raise InputError(f"test set names repeat: {out}")
    return tuple(out)


def _set_rng(seed, name):
    return np.random.default_rng([int(seed), zlib.crc32(name.encode("utf-8"))])


def _degrade(lr, name, rng):
    """Apply the degradation called ``name`` to the clean LR image; returns (image, parameter)."""
    from ddriqa.degradations.blur import gaussian_blur
    from ddriqa.degradations.noise import add_gaussian_noise

    if name == "clean":
        return lr, float("nan")
    if name == "blur":
        sigma = float(rng.uniform(*BLUR_SIGMA_RANGE))
        return gaussian_blur(lr, sigma, size=BLUR_KERNEL_SIZE), sigma
    if name == "noise":
        sigma = float(rng.uniform(*NOISE_SIGMA_RANGE))
        return add_gaussian_noise(lr, sigma, rng), sigma
    kind, value = _FIXED_RE.match(name).groups()
    value = float(value)
    if kind == "blur":
        if value <= 0:
            raise InputError(f"blur width must be > 0; got set {name!r}")
        return gaussian_blur(lr, value, size=BLUR_KERNEL_SIZE), value
    return add_gaussian_noise(lr, value, rng), value


def _centre_crop(img, patch, source):
    h, w = img.shape[:2]
    if h < patch or w < patch:
        raise InputError(f"{source}: LR image of {h}x{w} is smaller than the {patch}x{patch} patch")
    top, left = (h - patch) // 2, (w - patch) // 2
    return np.ascontiguousarray(img[top:top + patch, left:left + patch])


def make_test_sets(hr_images, sets=("clean", "blur", "noise"), *, seed=0, patch=32, factor=4, names=None):
    """Build content-aligned degraded LR test patches from HR images.

    Parameters
    ----------
    hr_images : list of paths or uint8 HxWx3 arrays
        The high-resolution source images (paths are read with :func:`ddriqa.io.read_image`).
    sets : str or sequence of str, default=("clean", "blur", "noise")
        Set names or groups (see :func:`expand_sets`).
    seed : int, default=0
        Seed of every random draw (blur widths, noise sigmas, noise values).
    patch : int or None, default=32
        Side of the centre crop of each degraded LR image; None keeps the whole LR image.
    factor : int, default=4
        Bicubic downsampling factor HR -> LR.
    names : list of str, optional
        A name for each source (defaults to the file stem, or ``img<i>`` for arrays); error
        messages name a source by its path, else by this name.

    Returns
    -------
    TestSets
        ``len(sets) * len(hr_images)`` images.

    Raises
    ------
    ddriqa.errors.InputError
        Unknown set names, or a source whose LR image is smaller than the patch (use
        :func:`load_hr_test_sets` to skip such files instead).

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.analysis.testsets import make_test_sets
    >>> hr = [np.random.default_rng(i).integers(0, 256, (160, 160, 3), dtype=np.uint8) for i in range(2)]
    >>> ts = make_test_sets(hr, "clean,blur,noise", seed=0)
    >>> len(ts), ts.images[0].shape, ts.labels[:3].tolist()
    (6, (32, 32, 3), ['clean', 'clean', 'blur'])
    """
    from ddriqa.degradations.resize import bicubic_downsample
    from ddriqa.features._inputs import as_image_list, describe_item, load_item

    items = as_image_list(hr_images)
    set_names = expand_sets(sets)
    if names is None:
        names = [
            Path(it).stem if isinstance(it, (str, os.PathLike)) else f"img{i}" for i, it in enumerate(items)
        ]
    elif len(names) != len(items):
        raise InputError(f"names has {len(names)} entries for {len(items)} images")
    if patch is not None and (int(patch) != patch or patch < 1):
        raise InputError(f"patch must be a positive integer or None; got {patch!r}")

    lrs = []
    for i, it in enumerate(items):
        hr = load_item(it, dtype="uint8")
        lrs.append(bicubic_downsample(hr, factor))
    if patch is None and len({lr.shape for lr in lrs}) > 1:
        raise InputError("the LR images differ in size; give a patch size so that they can be batched")

    images, labels, params, sources = [], [], [], []
    for name in set_names:
        rng = _set_rng(seed, name)
        for i, lr in enumerate(lrs):
            img, p = _degrade(lr, name, rng)
            if patch is not None:
                source = describe_item(items[i], i) if isinstance(items[i], (str, os.PathLike)) else str(names[i])
                img = _centre_crop(img, int(patch), source)
            images.append(np.asarray(img, dtype=np.uint8))
            labels.append(name)
            params.append(p)
            sources.append(str(names[i]))
    return TestSets(images=images, labels=np.asarray(labels), params=np.asarray(params, dtype=np.float64), sources=sources)


def load_hr_test_sets(folder, sets=("clean", "blur", "noise"), *, seed=0, patch=32, factor=4, limit=None,
                      on_skip=None):
    """Build the test sets of :func:`make_test_sets` from a folder of HR images, skipping unusable files.

    Parameters
    ----------
    folder : str or os.PathLike
        The HR images (its image files, sorted; not recursive).
    sets, seed, patch, factor : see :func:`make_test_sets`
    limit : int, optional
        Use at most the first ``limit`` image files of the folder.
    on_skip : callable, optional
        Called as ``on_skip(path, reason)`` for each file that is skipped: unreadable, or whose
        LR image (``ceil(side / factor)``) is smaller than ``patch``.

    Returns
    -------
    test_sets : TestSets
        Built from the usable images; sources are named by their file stems.
    skipped : list of (str, str)
        ``(path, reason)`` of the files left out.

    Raises
    ------
    ddriqa.errors.InputError
        Unknown set names, no image file in ``folder``, or no usable one.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> from ddriqa.analysis.testsets import load_hr_test_sets
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_image(d / "big.png", np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8))
    >>> _ = write_image(d / "small.png", np.zeros((60, 60, 3), np.uint8))
    >>> ts, skipped = load_hr_test_sets(d, "clean,noise")
    >>> len(ts), [pathlib.Path(p).name for p, _ in skipped]
    (2, ['small.png'])
    >>> skipped[0][1]
    'its x4 LR image (15x15) is smaller than the 32x32 patch'
    """
    from ddriqa.errors import DDRIQAError
    from ddriqa.io import list_images, read_image

    set_names = expand_sets(sets)  # bad names fail before any file is read
    files = list_images(folder)
    if not files:
        raise InputError(f"{folder}: no image files in this folder")
    if limit is not None:
        files = files[: int(limit)]
    hr, names, skipped = [], [], []
    for f in files:
        try:
            img = read_image(f)
            lr_h, lr_w = (-(-side // int(factor)) for side in img.shape[:2])
            if patch is not None and min(lr_h, lr_w) < patch:
                raise InputError(f"its x{factor} LR image ({lr_h}x{lr_w}) is smaller than the {patch}x{patch} patch")
        except DDRIQAError as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            skipped.append((os.fspath(f), reason))
            if on_skip is not None:
                on_skip(os.fspath(f), reason)
            continue
        hr.append(img)
        names.append(Path(f).stem)
    if not hr:
        raise InputError(f"{folder}: none of its {len(files)} image files is usable (see the skipped files)")
    return make_test_sets(hr, set_names, seed=seed, patch=patch, factor=factor, names=names), skipped


def write_test_sets(test_sets, out_dir):
    """Write test sets as PNG folders ``out_dir/<label>/<source>.png`` (lossless).

    Parameters
    ----------
    test_sets : TestSets
    out_dir : str or os.PathLike

    Returns
    -------
    dict
        ``{label: folder}``, the ``label=DIR`` pairs that ``ddriqa analyze --data`` takes.
    """
    from ddriqa.io import write_image

    out_dir = Path(out_dir)
    folders = {}
    for img, label, src in zip(test_sets.images, test_sets.labels, test_sets.sources):
        folder = folders.setdefault(str(label), out_dir / str(label))
        folder.mkdir(parents=True, exist_ok=True)
        write_image(folder / f"{src}.png", img)
    return folders
