"""Deep degradation representations (DDR): raw SR-network features of a central image crop.

:class:`DDRExtractor` is a scikit-learn transformer that maps images (paths or arrays) to the
flattened feature map of one layer of a super-resolution network (by default ``ResBlock16`` of
the SRGAN-trained SRResNet with global residual), computed on the central ``crop x crop`` patch
of each image at its own resolution: ``64 * 96 * 96 = 589,824`` float32 values per image in
channel, row, column order (Liu et al. 2021, Sec. 5 / distortion identification).

Speed on CPU: the network runs under ``torch.inference_mode`` with the model and the input in
channels-last memory format, float32 (bfloat16 on CPU was measured about 100x slower on the
development machine, so it is never used on CPU), in small batches (``batch_size=None`` picks
:data:`CPU_BATCH_SIZE`, the fastest of 1, 2, 4, 8 measured by ``benchmarks/extract_speed.py``);
a reader thread decodes and crops the next batch while the network computes the current one.
On CUDA the default batch is :data:`CUDA_BATCH_SIZE` and ``autocast="float16"`` or
``"bfloat16"`` optionally runs the convolutions in half precision.

On a CPU shared with other busy processes, set the environment variable
``OMP_WAIT_POLICY=PASSIVE`` before Python starts (torch reads it when it loads): with the OpenMP
default (idle threads spin) the many short parallel regions of small batches wait for descheduled
threads and extraction can slow down several-fold (``benchmarks/extract_speed.py`` compares
both policies).
The library itself never changes thread settings.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ddriqa.errors import ImageReadError, InputError

__all__ = ["CPU_BATCH_SIZE", "CUDA_BATCH_SIZE", "DDRExtractor", "central_crop"]

#: Default CPU batch size (fastest of 1, 2, 4, 8 on the 2-core development machine, channels-last float32).
CPU_BATCH_SIZE = 2
#: Default CUDA batch size.
CUDA_BATCH_SIZE = 32

_PADS = ("error", "reflect")
_AUTOCAST = (None, "float16", "bfloat16")


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
                f"image is {w}x{h} (width x height), smaller than the {crop}x{crop} DDR crop; "
                "use a larger image or pad='reflect'"
            )
            if name is not None and not name.startswith("<array"):
                raise ImageReadError(name, reason)
            raise InputError(f"{name or 'image'}: {reason}")
    top, left = (h - crop) // 2, (w - crop) // 2
    return image[top:top + crop, left:left + crop]


class DDRExtractor(TransformerMixin, BaseEstimator):
    """Deep degradation representation of the central crop of each image.

    Parameters
    ----------
    weights : str, os.PathLike or torch.nn.Module, default="srgan_x4_gr"
        The SR network: a shipped weights name (see
        :func:`ddriqa.models.weights.shipped_weights`), a ``.safetensors`` path, an ``nn.Module``
        with ``forward_features(x, layer)`` (a copy is used), or ``"random"`` for a randomly
        initialised default :class:`~ddriqa.models.srresnet.SRResNet` (seeded by
        ``random_state``; the random-init control).
    layer : str, default="ResBlock16"
        Feature tap, e.g. ``"Conv1"``, ``"ResBlock4"``, ``"ResBlock16"``.
    crop : int, default=96
        Side of the central square crop, taken at the image's own resolution.
    pad : {"error", "reflect"}, default="error"
        Images smaller than the crop raise an error naming the file and its size, or are padded
        by mirror reflection.
    device : str, default="auto"
        ``"auto"`` (CUDA when available, else CPU), ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ...
    batch_size : int, optional
        Images per forward pass; None: :data:`CPU_BATCH_SIZE` on CPU, :data:`CUDA_BATCH_SIZE` on CUDA.
    random_state : int, numpy.random.Generator or None, default=None
        Seed of the ``"random"`` initialisation (ignored otherwise). None draws fresh entropy.
    autocast : {None, "float16", "bfloat16"}, default=None
        CUDA only: run the network under ``torch.autocast`` in this dtype (output still float32).

    Attributes
    ----------
    model_ : torch.nn.Module
        The network (eval mode, channels-last, on ``device_``).
    device_ : torch.device
    batch_size_ : int
    n_channels_ : int
        Channels of the tapped feature map.
    n_features_out_ : int
        ``n_channels_ * crop * crop``.

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
    """

    def __init__(
        self,
        weights="srgan_x4_gr",
        layer="ResBlock16",
        crop=96,
        pad="error",
        device="auto",
        batch_size=None,
        random_state=None,
        autocast=None,
    ):
        self.weights = weights
        self.layer = layer
        self.crop = crop
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

        crop = self.crop
        if isinstance(crop, bool) or not isinstance(crop, (int, np.integer)) or crop < 1:
            raise InputError(f"crop must be a positive integer, got {crop!r}")
        if self.pad not in _PADS:
            raise InputError(f"pad must be one of {_PADS}, got {self.pad!r}")
        if self.batch_size is not None and (
            isinstance(self.batch_size, bool) or not isinstance(self.batch_size, (int, np.integer)) or self.batch_size < 1
        ):
            raise InputError(f"batch_size must be None or a positive integer, got {self.batch_size!r}")
        if self.autocast not in _AUTOCAST:
            raise InputError(f"autocast must be one of {_AUTOCAST}, got {self.autocast!r}")
        device = self._resolve_device()
        if self.autocast is not None and device.type != "cuda":
            raise InputError(
                f"autocast={self.autocast!r} is only supported on CUDA (device is {device}); "
                "CPU extraction runs in float32 (bfloat16 on CPU is ~100x slower here)"
            )
        from ddriqa.models.backbones import RANDOM, build_backbone, check_layers

        weights = self.weights
        seed = self._seed() if isinstance(weights, str) and weights.lower() == RANDOM else 0
        model = build_backbone(weights, seed=seed, copy_module=True)
        check_layers(model, self.layer)
        model = model.to(device).eval().to(memory_format=torch.channels_last)
        for p in model.parameters():
            p.requires_grad_(False)
        in_channels = getattr(model, "in_channels", 3)
        with torch.inference_mode():
            probe = model.forward_features(torch.zeros(1, in_channels, 4, 4, device=device), self.layer)
        self.model_ = model
        self.device_ = device
        self.batch_size_ = int(self.batch_size) if self.batch_size is not None else (
            CUDA_BATCH_SIZE if device.type == "cuda" else CPU_BATCH_SIZE
        )
        self.n_channels_ = int(probe.shape[1])
        self.n_features_out_ = self.n_channels_ * int(crop) * int(crop)
        return self

    # ---------------------------------------------------------------- transform
    def _load_batch(self, items, start):
        """Read, crop and stack a batch into an (B, crop, crop, 3) float32 array."""
        from ddriqa.features._inputs import describe_item, load_item

        crops = []
        for j, item in enumerate(items):
            name = describe_item(item, start + j)
            try:
                image = load_item(item, dtype="float32")
            except InputError as exc:  # a bad array: say which one (a bad file is an ImageReadError)
                raise InputError(f"{name}: {exc}") from None
            crops.append(central_crop(image, int(self.crop), self.pad, name=name))
        return np.ascontiguousarray(np.stack(crops), dtype=np.float32)

    def _run(self, batch):
        """Feature maps (B, C, crop, crop) of a stacked (B, crop, crop, 3) batch, as a CPU float32 tensor."""
        import torch

        from ddriqa.models.backbones import forward_layers

        # NHWC numpy -> NCHW view with channels-last strides: no copy
        x = torch.from_numpy(batch).permute(0, 3, 1, 2).to(self.device_)
        x = x.contiguous(memory_format=torch.channels_last)
        with torch.inference_mode():
            if self.autocast is not None:
                with torch.autocast("cuda", dtype=getattr(torch, self.autocast)):
                    fea = forward_layers(self.model_, x, [self.layer])[self.layer]
            else:
                fea = forward_layers(self.model_, x, [self.layer])[self.layer]
            return fea.float().cpu()

    @staticmethod
    def _fill(dest, fea):
        """Copy feature maps (b, C, H, W) into the float32 rows ``dest`` (b, C*H*W) in C, H, W order."""
        import torch

        with torch.inference_mode():
            # one strided copy does the channels-last -> C, H, W reordering straight into place
            torch.from_numpy(dest).view(fea.shape).copy_(fea)

    def _iter_batches(self, items):
        """Yield ``(start, features)`` per network batch; the next batch is read while this one computes."""
        bs = self.batch_size_
        batches = [(s, items[s:s + bs]) for s in range(0, len(items), bs)]
        if not batches:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="ddriqa-ddr-reader") as pool:
            pending = pool.submit(self._load_batch, batches[0][1], batches[0][0])
            for k, (start, _) in enumerate(batches):
                batch = pending.result()
                pending = (
                    pool.submit(self._load_batch, batches[k + 1][1], batches[k + 1][0]) if k + 1 < len(batches) else None
                )
                try:
                    fea = self._run(batch)
                except BaseException:
                    if pending is not None:
                        pending.cancel()
                    raise
                yield start, fea

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
        for start, fea in self._iter_batches(items):
            pos = 0
            while pos < len(fea):
                if block is None:
                    block_start = start + pos
                    block = np.empty((min(chunk_size, n - block_start), self.n_features_out_), dtype=np.float32)
                    filled = 0
                take = min(len(fea) - pos, len(block) - filled)
                self._fill(block[filled:filled + take], fea[pos:pos + take])
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
        for start, fea in self._iter_batches(items):
            self._fill(out[start:start + len(fea)], fea)
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names ``ddr_{layer}_{i}`` for ``i`` in ``0 .. n_features_out_ - 1``."""
        check_is_fitted(self, "n_features_out_")
        prefix = np.array(f"ddr_{self.layer}_", dtype=object)
        return prefix + np.arange(self.n_features_out_).astype(str).astype(object)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.two_d_array = False
        tags.input_tags.string = True
        tags.transformer_tags.preserves_dtype = []
        return tags
