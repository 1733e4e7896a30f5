"""Training data for SR networks: a packed image file and a seeded on-device patch sampler.

Packing
-------
:func:`pack_images` decodes every image of some folders once and writes a single ``.npz``
(no pickles) that a GPU machine loads in a second or two. The decoded RGB pixels of T91 +
BSDS500 train+test (491 images) are 192 MiB raw and 107 MiB as PNG (lossless WebP: 72 MiB), a
lot to carry to a training machine; so a JPEG source whose bytes decode (with the packing
machine's OpenCV) to exactly the pixels :func:`ddriqa.io.read_image` returns is stored
*verbatim* (no re-encoding, no loss: the BSDS500 JPEGs are 30 MiB; the whole pack is 37.4 MiB),
and every other image is stored as lossless PNG. Each
entry keeps the SHA-256 of its decoded pixels, so :func:`load_pack` can tell whether another
machine's JPEG decoder reproduced the same pixels (it warns when not: a libjpeg difference of
at most a few grey levels on a few pixels, harmless for training).

Sampling
--------
The low-resolution (LR) image of each whole high-resolution (HR) image is computed once with
the project's MATLAB-compatible bicubic (:func:`ddriqa.degradations.resize.bicubic_downsample`,
HR first cropped to a multiple of the scale). An aligned pair of patches is then cut: LR
``p x p`` at ``(y, x)`` and HR ``s p x s p`` at ``(s y, s x)``. This equals downsampling the HR
patch itself except within the kernel's support (about 2 LR pixels) of the patch border, where
the whole-image LR uses real neighbouring pixels instead of MATLAB's replicated border: an
equally valid training pair, and it costs one resize per image instead of one per patch.

:class:`PatchSampler` keeps all images in one flat ``uint8`` tensor on the training device and
gathers a batch with a single index computation (flips / transposes folded into the indices),
so nothing waits on a DataLoader. Its randomness comes from a numpy ``Generator`` on the host
(a few numbers per patch), whose state is JSON, so a checkpoint restores it exactly and the
stream is the same on CPU and GPU.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from pathlib import Path

import numpy as np

from ddriqa.errors import InputError, ModelFileError

__all__ = ["PACK_FORMAT", "PatchSampler", "load_pack", "load_training_images", "make_lr_images", "pack_images"]

PACK_FORMAT = "ddriqa-srpack-1"
_JPEG_SUFFIXES = {".jpg", ".jpeg", ".jpe"}


def _pixels_sha(image):
    h = hashlib.sha256()
    h.update(np.asarray(image.shape, dtype=np.int64).tobytes())
    h.update(np.ascontiguousarray(image).tobytes())
    return h.hexdigest()


def _decode(data):
    import cv2

    bgr = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        return None
    return np.ascontiguousarray(bgr[:, :, ::-1])


def _encode_png(image):
    import cv2

    ok, buf = cv2.imencode(".png", np.ascontiguousarray(image[:, :, ::-1]), [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover - OpenCV always encodes a uint8 RGB array
        raise InputError(f"could not PNG-encode an image of shape {image.shape}")
    return buf.tobytes()


def pack_images(dirs, out_path, *, groups=None, recursive=False, on_error=None):
    """Decode every image of some folders once and write them into one ``.npz`` pack.

    Parameters
    ----------
    dirs : sequence of str or os.PathLike
        Folders of HR images (read with :func:`ddriqa.io.read_image`, listed with
        :func:`ddriqa.io.list_images`).
    out_path : str or os.PathLike
        The ``.npz`` file to write (atomically).
    groups : sequence of str, optional
        A label per folder (e.g. ``["Set5", "Set14"]``), kept per image; default: folder names.
    recursive : bool, default=False
        Also take images from sub-folders.
    on_error : callable, optional
        Called as ``on_error(path, exception)`` for an unreadable image, which is then skipped.
        Default: the :class:`~ddriqa.errors.ImageReadError` propagates.

    Returns
    -------
    dict
        Summary: ``n_images``, ``bytes`` (file size), ``raw_bytes`` (decoded pixels),
        ``n_verbatim_jpeg``, ``n_png``, ``skipped`` (list of paths).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> from ddriqa.training.data import pack_images, load_pack
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_image(d / "a.png", np.full((40, 48, 3), 7, np.uint8))
    >>> pack_images([d], d / "pack.npz")["n_images"]
    1
    >>> load_pack(d / "pack.npz")["images"][0].shape
    (40, 48, 3)
    """
    dirs = [Path(d) for d in dirs]
    if not dirs:
        raise InputError("pack_images: give at least one folder")
    if groups is None:
        groups = [d.name for d in dirs]
    if len(groups) != len(dirs):
        raise InputError(f"pack_images: {len(groups)} group labels for {len(dirs)} folders")
    entries, skipped = [], []
    for folder, group in zip(dirs, groups):
        entries += _pack_folder(folder, str(group), recursive, on_error, skipped)
    if not entries:
        raise InputError("pack_images: no readable images")
    out_path = _write_pack(entries, out_path)
    kinds = [e["kind"] for e in entries]
    return {
        "n_images": len(entries),
        "bytes": out_path.stat().st_size,
        "raw_bytes": int(sum(e["raw_bytes"] for e in entries)),
        "n_verbatim_jpeg": kinds.count("jpeg"),
        "n_png": kinds.count("png"),
        "skipped": skipped,
    }


def _pack_entry(path, image):
    """The stored bytes of one image: its JPEG file verbatim when it decodes to ``image``, else PNG."""
    if path.suffix.lower() in _JPEG_SUFFIXES:
        data = path.read_bytes()
        decoded = _decode(data)
        if decoded is not None and decoded.shape == image.shape and np.array_equal(decoded, image):
            return data, "jpeg"
        # e.g. EXIF rotation or CMYK: keep the decoded pixels instead
    return _encode_png(image), "png"


def _pack_folder(folder, group, recursive, on_error, skipped):
    """The pack entries of the images of one folder (unreadable ones go to ``on_error``)."""
    from ddriqa.errors import ImageReadError
    from ddriqa.io import list_images, read_image

    if not folder.is_dir():
        raise InputError(f"pack_images: {folder} is not a folder")
    files = list_images(folder, recursive=recursive)
    if not files:
        raise InputError(f"pack_images: no images in {folder}")
    entries = []
    for path in files:
        try:
            image = read_image(path, dtype="uint8")
        except ImageReadError as exc:
            if on_error is None:
                raise
            on_error(path, exc)
            skipped.append(os.fspath(path))
            continue
        data, kind = _pack_entry(path, image)
        entries.append({"blob": np.frombuffer(data, dtype=np.uint8), "shape": image.shape, "kind": kind,
                        "name": os.fspath(path.relative_to(folder)), "group": group,
                        "sha256": _pixels_sha(image), "raw_bytes": image.nbytes})
    return entries


def _write_pack(entries, out_path):
    """Write the entries as one ``.npz`` (via a temporary file and a rename); returns its path."""
    offsets = np.zeros(len(entries) + 1, dtype=np.int64)
    offsets[1:] = np.cumsum([e["blob"].size for e in entries])
    meta = {"format": PACK_FORMAT, "names": [e["name"] for e in entries], "groups": [e["group"] for e in entries],
            "sha256": [e["sha256"] for e in entries], "kinds": [e["kind"] for e in entries]}
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(out_path.name + ".tmp.npz")
    np.savez(
        tmp,
        blob=np.concatenate([e["blob"] for e in entries]),
        offsets=offsets,
        shapes=np.asarray([e["shape"] for e in entries], dtype=np.int32),
        meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8),
    )
    os.replace(tmp, out_path)
    return out_path


def load_training_images(sources, *, on_error=None):
    """The HR training images of folders and/or ``.npz`` packs, in the order given.

    Parameters
    ----------
    sources : sequence of str or os.PathLike
        Folders of images (:func:`ddriqa.io.list_images`, not recursive) or packs written by
        :func:`pack_images` (every group).
    on_error : callable, optional
        Called as ``on_error(path, exception)`` for an unreadable image, which is then skipped.
        Default: the :class:`~ddriqa.errors.ImageReadError` propagates.

    Returns
    -------
    list of uint8 (H, W, 3) arrays

    Raises
    ------
    InputError
        A source that is neither a pack file nor a folder.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from ddriqa.io import write_image
    >>> from ddriqa.training.data import load_training_images
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> _ = write_image(d / "a.png", np.zeros((8, 8, 3), np.uint8))
    >>> [im.shape for im in load_training_images([d])]
    [(8, 8, 3)]
    """
    from ddriqa.errors import ImageReadError
    from ddriqa.io import list_images, read_image

    images = []
    for src in sources:
        path = Path(src)
        if path.is_file():
            images += load_pack(path)["images"]
            continue
        if not path.is_dir():
            raise InputError(f"{path}: no such folder or pack of training images")
        for file in list_images(path):
            try:
                images.append(read_image(file))
            except ImageReadError as exc:
                if on_error is None:
                    raise
                on_error(file, exc)
    return images


def load_pack(path, *, groups=None, verify=True):
    """Decode a pack written by :func:`pack_images`.

    Parameters
    ----------
    path : str or os.PathLike
    groups : sequence of str, optional
        Keep only images of these groups.
    verify : bool, default=True
        Compare each decoded image with its stored SHA-256 and warn (RuntimeWarning) with the
        count of images that this machine's decoder reproduces differently.

    Returns
    -------
    dict
        ``images`` (list of uint8 HxWx3 arrays), ``names``, ``groups`` (lists of str) and
        ``n_mismatched`` (int).
    """
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(path, "no such pack file")
    try:
        with np.load(path, allow_pickle=False) as z:
            blob, offsets, shapes = z["blob"], z["offsets"], z["shapes"]
            meta = json.loads(bytes(z["meta"]).decode("utf-8"))
    except (OSError, ValueError, KeyError) as exc:
        raise ModelFileError(path, f"not a readable SR data pack ({type(exc).__name__}: {exc})") from None
    if meta.get("format") != PACK_FORMAT:
        raise ModelFileError(path, f"unknown pack format {meta.get('format')!r}, expected {PACK_FORMAT!r}")
    keep = set(groups) if groups is not None else None
    images, names, group_out, mismatched = [], [], [], 0
    for i, (name, group) in enumerate(zip(meta["names"], meta["groups"])):
        if keep is not None and group not in keep:
            continue
        image = _decode(blob[offsets[i] : offsets[i + 1]].tobytes())
        if image is None or image.shape != tuple(shapes[i]):
            raise ModelFileError(path, f"entry {name!r} does not decode to shape {tuple(shapes[i])}")
        if verify and _pixels_sha(image) != meta["sha256"][i]:
            mismatched += 1
        images.append(image)
        names.append(name)
        group_out.append(group)
    if keep is not None and not images:
        raise InputError(f"{path}: no images in groups {sorted(keep)}; the pack has {sorted(set(meta['groups']))}")
    if mismatched:
        warnings.warn(
            f"{path}: {mismatched} image(s) decode to slightly different pixels on this machine "
            "(a different JPEG decoder); training is unaffected in practice",
            RuntimeWarning,
            stacklevel=2,
        )
    return {"images": images, "names": names, "groups": group_out, "n_mismatched": mismatched}


def make_lr_images(images, scale=4):
    """Crop each HR image to a multiple of ``scale`` and make its LR image by MATLAB bicubic.

    Parameters
    ----------
    images : list of uint8 (H, W, 3) arrays
    scale : int, default=4

    Returns
    -------
    (list, list)
        The cropped HR images and their uint8 LR images (``H // scale``, ``W // scale``).
    """
    from ddriqa.degradations.resize import bicubic_downsample

    hrs, lrs = [], []
    for image in images:
        image = np.asarray(image)
        if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
            raise InputError(f"expected uint8 HxWx3 images, got shape {image.shape} dtype {image.dtype}")
        h, w = image.shape[0] - image.shape[0] % scale, image.shape[1] - image.shape[1] % scale
        if h == 0 or w == 0:
            raise InputError(f"image of shape {image.shape} is smaller than the scale {scale}")
        hr = np.ascontiguousarray(image[:h, :w])
        hrs.append(hr)
        lrs.append(bicubic_downsample(hr, scale))
    return hrs, lrs


class PatchSampler:
    """Seeded random aligned LR/HR patch batches, gathered on the training device.

    Each patch: an image drawn uniformly, a position drawn uniformly, and (``augment=True``) one
    of the 8 flips/90-degree rotations drawn uniformly, the same for LR and HR.

    Parameters
    ----------
    hr_images, lr_images : list of uint8 (H, W, 3) arrays
        Pairs from :func:`make_lr_images` (``hr.shape == scale * lr.shape``). Images whose LR
        side is below ``lr_patch`` are left out (``n_skipped_``).
    lr_patch : int, default=32
        LR patch side; the HR patch is ``scale * lr_patch`` (128 at x4).
    batch_size : int, default=16
    scale : int, default=4
    augment : bool, default=True
    seed : int, default=0
    device : str or torch.device, default="cpu"

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.training.data import PatchSampler, make_lr_images
    >>> hr, lr = make_lr_images([np.zeros((64, 80, 3), np.uint8)])
    >>> s = PatchSampler(hr, lr, lr_patch=8, batch_size=2, seed=0)
    >>> [tuple(t.shape) for t in s.sample()]
    [(2, 3, 8, 8), (2, 3, 32, 32)]
    """

    def __init__(self, hr_images, lr_images, *, lr_patch=32, batch_size=16, scale=4, augment=True, seed=0, device="cpu"):
        import torch

        if len(hr_images) != len(lr_images):
            raise InputError(f"{len(hr_images)} HR images but {len(lr_images)} LR images")
        if lr_patch < 1 or batch_size < 1 or scale < 1:
            raise InputError(f"lr_patch, batch_size and scale must be positive, got {lr_patch}, {batch_size}, {scale}")
        self.lr_patch, self.batch_size, self.scale, self.augment = int(lr_patch), int(batch_size), int(scale), bool(augment)
        self.seed = int(seed)
        self.device = torch.device(device)
        hr_flat, lr_flat, rows = [], [], []
        hr_off = lr_off = 0
        skipped = 0
        for hr, lr in zip(hr_images, lr_images):
            hr, lr = np.asarray(hr), np.asarray(lr)
            if hr.shape != (lr.shape[0] * scale, lr.shape[1] * scale, 3) or hr.dtype != np.uint8 or lr.dtype != np.uint8:
                raise InputError(
                    f"HR {hr.shape} {hr.dtype} and LR {lr.shape} {lr.dtype} are not a uint8 x{scale} pair"
                )
            if lr.shape[0] < lr_patch or lr.shape[1] < lr_patch:
                skipped += 1
                continue
            rows.append((hr_off, lr_off, lr.shape[0], lr.shape[1]))
            hr_flat.append(hr.reshape(-1))
            lr_flat.append(lr.reshape(-1))
            hr_off += hr.size
            lr_off += lr.size
        if not rows:
            raise InputError(f"no image has an LR side of at least {lr_patch} pixels")
        self.n_images_ = len(rows)
        self.n_skipped_ = skipped
        table = np.asarray(rows, dtype=np.int64)
        self._hr_off, self._lr_off = table[:, 0], table[:, 1]
        self._h, self._w = table[:, 2], table[:, 3]
        self._hr = torch.from_numpy(np.concatenate(hr_flat)).to(self.device)
        self._lr = torch.from_numpy(np.concatenate(lr_flat)).to(self.device)
        self._rng = np.random.default_rng(self.seed)
        self.batches_drawn_ = 0

    # -- state ---------------------------------------------------------------------------
    def state_dict(self):
        """JSON-serialisable state: the host generator's state and the batch count."""
        return {"bit_generator": self._rng.bit_generator.state, "batches_drawn": self.batches_drawn_, "seed": self.seed}

    def load_state_dict(self, state):
        """Restore :meth:`state_dict` output, so that the next batches are the same."""
        self._rng.bit_generator.state = state["bit_generator"]
        self.batches_drawn_ = int(state["batches_drawn"])

    # -- sampling ------------------------------------------------------------------------
    def draw(self):
        """The random choices of the next batch (host numpy arrays): image, y, x, flip code."""
        b = self.batch_size
        idx = self._rng.integers(0, self.n_images_, size=b)
        y = self._rng.integers(0, self._h[idx] - self.lr_patch + 1)
        x = self._rng.integers(0, self._w[idx] - self.lr_patch + 1)
        code = self._rng.integers(0, 8, size=b) if self.augment else np.zeros(b, dtype=np.int64)
        self.batches_drawn_ += 1
        return idx, y, x, code

    def _gather(self, flat, offsets, widths, y, x, code, p):
        import torch

        dev = self.device
        b = len(offsets)
        # params per patch: [offset, width, y, x, hflip, vflip, transpose]
        params = np.stack(
            [offsets, widths, y, x, code & 1, (code >> 1) & 1, (code >> 2) & 1], axis=1
        ).astype(np.int64)
        prm = torch.from_numpy(params)
        if dev.type == "cuda":  # pinned: the copy is queued without waiting for the GPU to drain
            prm = prm.pin_memory()
        prm = prm.to(dev, non_blocking=True)
        off, wid, y0, x0, hf, vf, tr = (prm[:, k].view(b, 1, 1, 1) for k in range(7))
        ar = torch.arange(p, device=dev)
        u = ar.view(1, 1, p, 1)  # output row
        v = ar.view(1, 1, 1, p)  # output column
        c = torch.arange(3, device=dev).view(1, 3, 1, 1)
        # the patch is transposed, then flipped vertically / horizontally: output (u, v) reads
        # the transposed patch at (a, b) = flipped (u, v), i.e. the source at (b, a) or (a, b)
        a = torch.where(vf.bool(), p - 1 - u, u)
        b_ = torch.where(hf.bool(), p - 1 - v, v)
        su = torch.where(tr.bool(), b_, a)
        sv = torch.where(tr.bool(), a, b_)
        index = off + ((y0 + su) * wid + (x0 + sv)) * 3 + c
        return flat[index.reshape(-1)].view(b, 3, p, p)

    def sample(self, dtype=None):
        """The next batch ``(lr, hr)``: float tensors in [0, 1] on the device.

        Returns
        -------
        lr : torch.Tensor of shape (batch_size, 3, lr_patch, lr_patch)
        hr : torch.Tensor of shape (batch_size, 3, scale * lr_patch, scale * lr_patch)
        """
        import torch

        dtype = dtype or torch.float32
        idx, y, x, code = self.draw()
        s, p = self.scale, self.lr_patch
        lr = self._gather(self._lr, self._lr_off[idx], self._w[idx], y, x, code, p)
        hr = self._gather(self._hr, self._hr_off[idx], self._w[idx] * s, y * s, x * s, code, p * s)
        return lr.to(dtype).div_(255.0), hr.to(dtype).div_(255.0)
