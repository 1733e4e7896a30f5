"""Deep degradation representations (DDR): raw SR-network features of a central image crop.

:class:`DDRExtractor` is a scikit-learn transformer that maps images (paths or arrays) to the
flattened feature map of one layer of a super-resolution network (by default ``ResBlock16`` of
the SRGAN-trained SRResNet with global residual), computed on the central ``crop x crop`` patch
of each image at its own resolution: ``64 * 96 * 96 = 589,824`` float32 values per image in
channel, row, column order (Liu et al. 2021, Sec. 5 / distortion identification).

Speed on CPU: the network runs under ``torch.inference_mode`` with the model and the input in
channels-last memory format, float32 (bfloat16 on CPU was measured about 100x slower on the
development machine, so it is never used on CPU), in small batches (``batch_size=None`` picks
:data:`CPU_BATCH_SIZE` 96 x 96 crops, the fastest of 1, 2, 4, 8 measured by
``benchmarks/extract_speed.py``, or as many smaller crops as hold the same pixels: :func:`cpu_batch_size`);
a reader thread decodes and crops the next batch while the network computes the current one.
On CUDA the default batch is :data:`CUDA_BATCH_SIZE` and ``autocast="float16"`` or
``"bfloat16"`` optionally runs the convolutions in half precision.

``import ddriqa`` sets the environment variable ``OMP_WAIT_POLICY=PASSIVE`` unless it is set
(GNU OpenMP reads it when torch loads, so this works when ddriqa is imported before torch; import
torch first and set it yourself before Python starts): with the OpenMP default (idle threads
spin) the many short parallel regions of small batches wait for descheduled threads (the reader
thread, other processes) and extraction can slow down several-fold
(``benchmarks/extract_speed.py`` compares both policies). Thread counts are left as they are.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ddriqa.errors import ImageReadError, InputError, hint

__all__ = ["CPU_BATCH_CROP", "CPU_BATCH_SIZE", "CUDA_BATCH_SIZE", "DDRExtractor", "central_crop", "cpu_batch_size"]

#: Default CPU batch size (fastest of 1, 2, 4, 8 on the 2-core development machine, channels-last float32).
CPU_BATCH_SIZE = 2
#: The crop side that :data:`CPU_BATCH_SIZE` was measured at (the paper's crop).
CPU_BATCH_CROP = 96


def cpu_batch_size(crop):
    """The default CPU batch for crops of side ``crop``: :data:`CPU_BATCH_SIZE` crops of 96 x 96,
    or as many smaller crops as hold the same pixels (4 of 64 x 64, 18 of 32 x 32).

    Small crops make small convolutions, and on CPU each forward pass pays a fixed cost (the
    worker threads wake up for every layer): batching by pixels took ``ddriqa classify --model
    fast`` (nine 32 x 32 crops per image) from 3.05 to 3.74 images/s on 48 images on the 2-core
    development machine, with the same features.

    Examples
    --------
    >>> [cpu_batch_size(c) for c in (96, 128, 64, 32)]
    [2, 2, 4, 18]
    """
    return max(CPU_BATCH_SIZE, CPU_BATCH_SIZE * CPU_BATCH_CROP * CPU_BATCH_CROP // (int(crop) * int(crop)))


#: Default CUDA batch size.
CUDA_BATCH_SIZE = 32

_PADS = ("error", "reflect")
_AUTOCAST = (None, "float16", "bfloat16")
_POOLINGS = ("none", "stats")
_AGGREGATES = ("mean", "none")
_STATS = ("mean", "std", "absmean")


def _reflect_to(image, height, width):
    """Pad ``image`` (H, W, C) by mirror reflection (repeatedly when needed) to at least height x width."""
    while image.shape[0] < height or image.shape[1] < width:
        h, w = image.shape[:2]
        need_h, need_w = max(0, height - h), max(0, width - w)
        # one reflection adds at most (size - 1) on each side; a 1-pixel side can only be repeated
        step_h = min(need_h, 2 * (h - 1)) if h > 1 else need_h
        step_w = min(need_w, 2 * (w - 1)) if w > 1 else need_w
        mode_h = "reflect" if h > 1 else "edge"
        mode_w = "reflect" if w > 1 else "edge"
        if step_h:
            image = np.pad(image, ((step_h // 2, step_h - step_h // 2), (0, 0), (0, 0)), mode=mode_h)
        if step_w:
            image = np.pad(image, ((0, 0), (step_w // 2, step_w - step_w // 2), (0, 0)), mode=mode_w)
    return image


def central_crop(image, crop, pad="error", name=None):
    """The central ``crop x crop`` patch of an (H, W, C) image.

    The top-left corner is ``((H - crop) // 2, (W - crop) // 2)``.

    Parameters
    ----------
    image : numpy.ndarray of shape (H, W, C)
    crop : int
    pad : {"error", "reflect"}, default="error"
        What to do when the image is smaller than the crop: raise, or pad it by mirror
        reflection (centred) first.
    name : str, optional
        The file path (raises :class:`~ddriqa.errors.ImageReadError` naming it) or an array
        description (raises :class:`~ddriqa.errors.InputError`), for the error message.

    Returns
    -------
    numpy.ndarray of shape (crop, crop, C)

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.features.ddr import central_crop
    >>> central_crop(np.arange(25).reshape(5, 5, 1), 3)[..., 0]
    array([[ 6,  7,  8],
           [11, 12, 13],
           [16, 17, 18]])
    """
    h, w = image.shape[:2]
    if h < crop or w < crop:
        if pad == "reflect":
            image = _reflect_to(image, crop, crop)
            h, w = image.shape[:2]
        else:
            reason = (
                f"image too small: {w}x{h} (width x height), smaller than the {crop}x{crop} DDR crop; "
                f"use a larger image, or {hint('pad')}"
            )
            if name is not None and not name.startswith("<array"):
                raise ImageReadError(name, reason)
            raise InputError(f"{name or 'image'}: {reason}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return image[top:top + crop, left:left + crop]


class DDRExtractor(TransformerMixin, BaseEstimator):
    """Deep degradation representation of image crops: an SR network's features, flat or pooled.

    With the defaults it is the paper's representation: the flattened ``ResBlock16`` map of the
    central 96x96 crop (``DDRExtractor(**preset_params("paper"))``, :mod:`ddriqa.features.presets`). The options make other
    representations of the same network: several layers concatenated, per-channel statistics
    instead of the flattened map (``pooling="stats"``), several crops per image (a grid, random
    positions, or tiles covering the image) whose features are averaged (``aggregate="mean"``) or
    kept side by side for a classifier that averages its decisions over crops
    (``aggregate="none"`` with :class:`~ddriqa.classification.voting.CropVoteClassifier`).

    Parameters
    ----------
    weights : str, os.PathLike or torch.nn.Module, default="srgan_x4_gr"
        The SR network: a weights name (see :func:`ddriqa.models.weights.shipped_weights`;
        ``"realesrgan_x4plus"`` is the third-party Real-ESRGAN generator), a ``.safetensors``
        path, an ``nn.Module`` with ``forward_features(x, layer)`` (a copy is used), or
        ``"random"`` for a randomly initialised default :class:`~ddriqa.models.srresnet.SRResNet`
        (seeded by ``random_state``; the random-init control).
    layer : str or sequence of str, default="ResBlock16"
        Feature tap(s), e.g. ``"Conv1"``, ``"ResBlock4"``, ``("ResBlock8", "ResBlock16")``
        (``"RRDB12"`` for an RRDBNet). Several layers are computed in one pass and concatenated
        in the order given.
    crop : int, default=96
        Side of each square crop, taken at the image's own resolution.
    crops : {"center", "grid", "random", "tiles"}, default="center"
        Where the crops are taken (:func:`ddriqa.features.pooling.crop_boxes`): the central crop;
        ``n_crops`` crops on a regular grid spanning the image; ``n_crops`` seeded random
        positions; every tile of the largest centred tiling (the whole image).
    n_crops : int, default=1
        Crops per image for ``"grid"`` (a square number) and ``"random"``; ignored otherwise.
    pooling : {"none", "stats"}, default="none"
        ``"none"``: the flattened map (``C * crop * crop`` values per layer and crop, channel,
        row, column order); ``"stats"``: per-channel mean, standard deviation and mean absolute
        value (``3 * C`` values per layer and crop, :func:`~ddriqa.features.pooling.channel_stats`).
    aggregate : {"mean", "none"}, default="mean"
        Several crops: average their feature vectors, or keep one block per crop side by side
        (crop-major; not with ``crops="tiles"``, whose number of crops varies with the image).
    pad : {"error", "reflect"}, default="error"
        Images smaller than the crop raise an error naming the file and its size, or are padded
        by mirror reflection.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    batch_size : int, optional
        Images read together, and crops per forward pass; None: :func:`cpu_batch_size` of the
        crop on CPU (2 crops of 96 x 96, 18 of 32 x 32), :data:`CUDA_BATCH_SIZE` on CUDA.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the ``"random"`` initialisation and of ``crops="random"``. None draws fresh
        entropy at ``fit``.
    autocast : {None, "float16", "bfloat16"}, default=None
        CUDA only: run the network under ``torch.autocast`` in this dtype (output still float32).

    Attributes
    ----------
    model_ : torch.nn.Module
        The network (eval mode, channels-last, on ``device_``).
    device_ : torch.device
    batch_size_ : int
    layers_ : list of str
    n_channels_ : int
        Channels of the first tapped feature map.
    n_crops_ : int or None
        Crops per image (None for ``"tiles"``: it depends on the image size).
    n_features_per_crop_ : int
    n_features_out_ : int
    seed_ : int
        The seed used for random weights and random crops.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.models.srresnet import SRResNet
    >>> from ddriqa.features.ddr import DDRExtractor
    >>> net = SRResNet(num_features=4, num_blocks=2)
    >>> images = np.random.default_rng(0).integers(0, 256, (3, 20, 24, 3), dtype=np.uint8)
    >>> ddr = DDRExtractor(weights=net, layer="ResBlock2", crop=8, device="cpu")
    >>> ddr.fit_transform(images).shape
    (3, 256)
    >>> ddr.get_feature_names_out()[:2]
    array(['ddr_ResBlock2_0', 'ddr_ResBlock2_1'], dtype=object)
    >>> pooled = DDRExtractor(weights=net, layer=("Conv1", "ResBlock2"), crop=8, crops="grid",
    ...                       n_crops=4, pooling="stats", device="cpu")
    >>> pooled.fit_transform(images).shape
    (3, 24)
    >>> pooled.get_feature_names_out()[:2]
    array(['ddr_Conv1_mean_0', 'ddr_Conv1_mean_1'], dtype=object)
    """

    def __init__(
        self,
        weights="srgan_x4_gr",
        layer="ResBlock16",
        crop=96,
        crops="center",
        n_crops=1,
        pooling="none",
        aggregate="mean",
        pad="error",
        device="auto",
        batch_size=None,
        random_state=None,
        autocast=None,
    ):
        self.weights = weights
        self.layer = layer
        self.crop = crop
        self.crops = crops
        self.n_crops = n_crops
        self.pooling = pooling
        self.aggregate = aggregate
        self.pad = pad
        self.device = device
        self.batch_size = batch_size
        self.random_state = random_state
        self.autocast = autocast

    # ------------------------------------------------------------------ fitting
    def _resolve_device(self):
        from ddriqa.device import resolve_device

        return resolve_device(self.device)

    def _seed(self):
        """The seed of the ``"random"`` initialisation from ``random_state`` (sklearn convention)."""
        rs = self.random_state
        if isinstance(rs, np.random.Generator):
            return int(rs.integers(0, 2**63 - 1))
        if rs is None:
            return int(np.random.default_rng().integers(0, 2**63 - 1))
        if isinstance(rs, (int, np.integer)) and not isinstance(rs, bool):
            return int(rs)
        raise InputError(
            f"random_state must be None, an int or a numpy Generator, got {type(rs).__name__} {rs!r:.60}"
        )

    @staticmethod
    def _positive_int(value, name):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
        return int(value)

    def _check_params(self):
        from ddriqa.features.pooling import CROP_LAYOUTS

        self._positive_int(self.crop, "crop")
        if self.pad not in _PADS:
            raise InputError(f"pad must be one of {_PADS}, got {self.pad!r}")
        if self.batch_size is not None:
            self._positive_int(self.batch_size, "batch_size")
        if self.autocast not in _AUTOCAST:
            raise InputError(f"autocast must be one of {_AUTOCAST}, got {self.autocast!r}")
        if self.crops not in CROP_LAYOUTS:
            raise InputError(f"crops must be one of {CROP_LAYOUTS}, got {self.crops!r}")
        n = self._positive_int(self.n_crops, "n_crops")
        if self.crops == "grid" and math.isqrt(n) ** 2 != n:
            raise InputError(f"crops='grid' needs a square n_crops (1, 4, 9, 16, ...), got {n}")
        if self.pooling not in _POOLINGS:
            raise InputError(f"pooling must be one of {_POOLINGS}, got {self.pooling!r}")
        if self.aggregate not in _AGGREGATES:
            raise InputError(f"aggregate must be one of {_AGGREGATES}, got {self.aggregate!r}")
        if self.aggregate == "none" and self.crops == "tiles":
            raise InputError(
                "aggregate='none' keeps one block per crop, but crops='tiles' gives a number of crops "
                "that depends on the image size; use aggregate='mean', or crops='grid'/'random'"
            )
        layers = [self.layer] if isinstance(self.layer, str) else list(self.layer)
        if not all(isinstance(name, str) for name in layers):
            raise InputError(f"layer must be a layer name or a sequence of names, got {self.layer!r}")
        return layers

    def fit(self, X=None, y=None):
        """Validate the parameters and load the network; the images are not read.

        Parameters
        ----------
        X : ignored
        y : ignored

        Returns
        -------
        self
        """
        import torch

        layers = self._check_params()
        device = self._resolve_device()
        if self.autocast is not None and device.type != "cuda":
            raise InputError(
                f"autocast={self.autocast!r} is only supported on CUDA (device is {device}); "
                "CPU extraction runs in float32 (bfloat16 on CPU is ~100x slower here)"
            )
        from ddriqa.models.backbones import build_backbone, check_layers, is_random

        weights = self.weights
        seed = self._seed()
        model = build_backbone(weights, seed=seed if is_random(weights) else 0,
                               copy_module=True)
        layers = check_layers(model, layers)
        model = model.to(device).eval().to(memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(False)
        in_channels = getattr(model, "in_channels", 3)
        from ddriqa.models.backbones import forward_layers

        with torch.inference_mode():
            probe = forward_layers(model, torch.zeros(1, in_channels, 4, 4, device=device), layers)
        crop = int(self.crop)
        self.model_ = model
        self.device_ = device
        self.layers_ = layers
        self.seed_ = seed
        self.batch_size_ = int(self.batch_size) if self.batch_size is not None else (
            CUDA_BATCH_SIZE if device.type == "cuda" else cpu_batch_size(int(self.crop))
        )
        self._channels = [int(probe[name].shape[1]) for name in layers]
        self.n_channels_ = self._channels[0]
        per = (lambda c: c * crop * crop) if self.pooling == "none" else (lambda c: len(_STATS) * c)
        self.n_features_per_crop_ = sum(per(c) for c in self._channels)
        self.n_crops_ = None if self.crops == "tiles" else (1 if self.crops == "center" else int(self.n_crops))
        blocks = self.n_crops_ if self.aggregate == "none" else 1
        self.n_features_out_ = self.n_features_per_crop_ * blocks
        return self

    # ---------------------------------------------------------------- transform
    def _image_crops(self, image, name):
        """The crops of one (H, W, 3) float32 image, as a list of (crop, crop, 3) arrays."""
        from ddriqa.features.pooling import crop_boxes

        crop = int(self.crop)
        if self.crops == "center":
            return [central_crop(image, crop, self.pad, name=name)]
        h, w = image.shape[:2]
        if h < crop or w < crop:
            central_crop(image, crop, self.pad, name=name)  # raises for pad="error"
            image = _reflect_to(image, crop, crop)
            h, w = image.shape[:2]
        boxes = crop_boxes(h, w, crop, self.crops, int(self.n_crops), seed=self.seed_)
        return [image[t:t + crop, l:l + crop] for t, l in boxes]

    def _load_batch(self, items, start):
        """Read and crop a batch: an (N, crop, crop, 3) float32 array and the crops per image."""
        from ddriqa.features._inputs import describe_item, load_item

        crops, counts = [], []
        for j, item in enumerate(items):
            name = describe_item(item, start + j)
            try:
                image = load_item(item, dtype="float32")
            except InputError as exc:  # a bad array: say which one (a bad file is an ImageReadError)
                raise InputError(f"{name}: {exc}") from None
            these = self._image_crops(image, name)
            crops.extend(these)
            counts.append(len(these))
        return np.ascontiguousarray(np.stack(crops), dtype=np.float32), counts

    def _forward(self, x):
        import torch

        from ddriqa.models.backbones import forward_layers

        if self.autocast is not None:
            with torch.autocast("cuda", dtype=getattr(torch, self.autocast)):
                return forward_layers(self.model_, x, self.layers_)
        return forward_layers(self.model_, x, self.layers_)

    def _crop_features(self, batch):
        """Per-crop features (N, n_features_per_crop_) of stacked crops (N, crop, crop, 3), float32."""
        import torch

        from ddriqa.features.pooling import channel_stats

        out = np.empty((len(batch), self.n_features_per_crop_), dtype=np.float32)
        bs = self.batch_size_
        with torch.inference_mode():
            for s in range(0, len(batch), bs):
                # NHWC numpy -> NCHW view with channels-last strides: no copy
                x = torch.from_numpy(batch[s:s + bs]).permute(0, 3, 1, 2).to(self.device_)
                x = x.contiguous(memory_format=torch.channels_last)
                maps = self._forward(x)
                col = 0
                for name in self.layers_:
                    fea = maps[name]
                    if self.pooling == "stats":
                        fea = channel_stats(fea, _STATS)
                    n = int(np.prod(fea.shape[1:]))
                    block, t = out[s:s + len(fea), col:col + n], fea.float().cpu()
                    if block.flags.c_contiguous:
                        # one strided copy does the channels-last -> C, H, W reordering in place
                        torch.from_numpy(block).view(t.shape).copy_(t)
                    else:
                        block[...] = t.reshape(len(t), n).numpy()
                    col += n
        return out

    def _image_rows(self, per_crop, counts):
        """Rows (n_images, n_features_out_) from per-crop features and crops per image."""
        if self.aggregate == "none" or all(c == 1 for c in counts):
            return per_crop.reshape(len(counts), -1)
        rows = np.empty((len(counts), self.n_features_per_crop_), dtype=np.float32)
        pos = 0
        for i, c in enumerate(counts):
            rows[i] = per_crop[pos:pos + c].mean(axis=0, dtype=np.float64)
            pos += c
        return rows

    def _iter_batches(self, items):
        """Yield ``(start, rows)`` per batch of images; the next batch is read while this one computes."""
        bs = self.batch_size_
        batches = [(s, items[s:s + bs]) for s in range(0, len(items), bs)]
        if not batches:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ddriqa-ddr-reader") as pool:
            pending = pool.submit(self._load_batch, batches[0][1], batches[0][0])
            for k, (start, _) in enumerate(batches):
                batch, counts = pending.result()
                pending = (
                    pool.submit(self._load_batch, batches[k + 1][1], batches[k + 1][0]) if k + 1 < len(batches) else None
                )
                try:
                    rows = self._image_rows(self._crop_features(batch), counts)
                except BaseException:
                    if pending is not None:
                        pending.cancel()
                    raise
                yield start, rows

    def iter_transform(self, X, chunk_size=64):
        """Stream the features in chunks of ``chunk_size`` rows.

        The next batch is read and cropped in a background thread while the network computes
        the current one.

        Parameters
        ----------
        X : list of paths or images, or an NxHxWx3 array
        chunk_size : int, default=64

        Yields
        ------
        start : int
            Index of the first row of the block in ``X``.
        block : numpy.ndarray of shape (m, n_features_out_), float32
        """
        check_is_fitted(self, "model_")
        from ddriqa.features._inputs import as_image_list

        if isinstance(chunk_size, bool) or not isinstance(chunk_size, (int, np.integer)) or chunk_size < 1:
            raise InputError(f"chunk_size must be a positive integer, got {chunk_size!r}")
        items = as_image_list(X)
        n = len(items)
        block = None
        block_start = 0
        filled = 0
        for start, rows in self._iter_batches(items):
            pos = 0
            while pos < len(rows):
                if block is None:
                    block_start = start + pos
                    block = np.empty((min(chunk_size, n - block_start), self.n_features_out_), dtype=np.float32)
                    filled = 0
                take = min(len(rows) - pos, len(block) - filled)
                block[filled:filled + take] = rows[pos:pos + take]
                filled += take
                pos += take
                if filled == len(block):
                    yield block_start, block
                    block = None

    def transform(self, X):
        """DDR features of every image.

        Parameters
        ----------
        X : list of paths or images, or an NxHxWx3 array
            Paths are read with :func:`ddriqa.io.read_image`; arrays are uint8 on 0..255 or float
            on [0, 1].

        Returns
        -------
        numpy.ndarray of shape (n_images, n_features_out_), float32
        """
        check_is_fitted(self, "model_")
        from ddriqa.features._inputs import as_image_list

        items = as_image_list(X)
        out = np.empty((len(items), self.n_features_out_), dtype=np.float32)
        for start, rows in self._iter_batches(items):
            out[start:start + len(rows)] = rows
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names.

        ``ddr_{layer}_{i}`` (flattened maps) or ``ddr_{layer}_{stat}_{channel}`` (pooled), per
        layer in order; with ``aggregate="none"`` and several crops, each block is prefixed with
        ``crop{k}_``.
        """
        check_is_fitted(self, "n_features_out_")
        names = []
        crop = int(self.crop)
        for name, c in zip(self.layers_, self._channels):
            if self.pooling == "none":
                names.append(np.array(f"ddr_{name}_", dtype=object) + np.arange(c * crop * crop).astype(str).astype(object))
            else:
                names.append(np.array([f"ddr_{name}_{s}_{i}" for s in _STATS for i in range(c)], dtype=object))
        block = np.concatenate(names)
        if self.aggregate == "none" and self.n_crops_ and self.n_crops_ > 1:
            block = np.concatenate([np.array(f"crop{k}_", dtype=object) + block for k in range(self.n_crops_)])
        return block

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
