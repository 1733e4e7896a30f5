"""On-the-fly blur + noise of the training patches ("b+n" data of the paper's blind-SR models).

:class:`BlurNoiseSampler` wraps a :class:`~ddriqa.training.data.PatchSampler` and remakes the LR
patch of every pair from its HR patch:

1. with probability ``p_blur`` the HR patch is blurred by a circular Gaussian of standard
   deviation ``sigma_b ~ U(blur_range)`` HR pixels (separable kernel of ``2 * ceil(3 sigma_b) + 1``
   taps, symmetric border: the conventions of :func:`ddriqa.degradations.blur.gaussian_blur`);
2. the (blurred or clean) HR patch is downsampled x1/4 by the MATLAB-compatible bicubic
   (:func:`ddriqa.degradations.resize.resize_matrix`, antialiased, the patch's own symmetric
   border) and rounded to 8 bits;
3. with probability ``p_noise`` Gaussian noise of standard deviation ``sigma_n ~ U(noise_range)``
   (on the 0-255 scale) is added, and the result is rounded to 8 bits and clipped to 0-255 again
   (as an 8-bit LR image file would hold it).

So with the defaults a quarter of the patches is clean, a quarter only blurred, a quarter only
noisy and a quarter both. All random choices (which patches, sigmas, the noise itself) come from
one seeded numpy ``Generator`` whose state is JSON, stored with the patch sampler's state, so a
resumed run continues the same stream.
"""

from __future__ import annotations

import math

import numpy as np

from ddriqa.errors import InputError

__all__ = ["BlurNoiseSampler", "DEFAULT_BN"]

#: The b+n settings of ``train-sr --degrade bn``.
DEFAULT_BN = {"blur_range": (0.2, 3.0), "noise_range": (0.0, 25.0), "p_blur": 0.5, "p_noise": 0.5}


def _check_range(name, value, low):
    lo, hi = (float(v) for v in value)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo < low or hi < lo:
        raise InputError(f"{name} must be (low, high) with {low} <= low <= high, got {value!r}")
    return lo, hi


class BlurNoiseSampler:
    """Patch batches whose LR side is a freshly blurred, downsampled and noised HR patch.

    Parameters
    ----------
    base : ddriqa.training.data.PatchSampler
        Draws the aligned HR patches (its LR patches are not used).
    blur_range : (float, float), default=(0.2, 3.0)
        Range of the Gaussian blur's sigma in HR pixels (uniform).
    noise_range : (float, float), default=(0.0, 25.0)
        Range of the noise's sigma on the 0-255 scale (uniform).
    p_blur, p_noise : float, default=0.5
        Probability that a patch is blurred / noised (independently).
    seed : int, optional
        Seed of the degradation stream; default: the base sampler's seed.

    Examples
    --------
    >>> import numpy as np
    >>> from ddriqa.training.data import PatchSampler, make_lr_images
    >>> from ddriqa.training.degrade import BlurNoiseSampler
    >>> hr, lr = make_lr_images([np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)])
    >>> s = BlurNoiseSampler(PatchSampler(hr, lr, lr_patch=8, batch_size=2, seed=0))
    >>> [tuple(t.shape) for t in s.sample()]
    [(2, 3, 8, 8), (2, 3, 32, 32)]
    """

    def __init__(self, base, *, blur_range=(0.2, 3.0), noise_range=(0.0, 25.0), p_blur=0.5, p_noise=0.5, seed=None):
        import torch

        from ddriqa.degradations.resize import resize_matrix

        self.base = base
        self.blur_range = _check_range("blur_range", blur_range, 1e-3)
        self.noise_range = _check_range("noise_range", noise_range, 0.0)
        for name, p in (("p_blur", p_blur), ("p_noise", p_noise)):
            if not 0.0 <= float(p) <= 1.0:
                raise InputError(f"{name} must be in [0, 1], got {p!r}")
        self.p_blur, self.p_noise = float(p_blur), float(p_noise)
        self.seed = int(base.seed if seed is None else seed)
        self._rng = np.random.default_rng([self.seed, 0xB1])
        s, p = base.scale, base.lr_patch
        mat = resize_matrix(s * p, p, 1.0 / s, True).toarray()
        self._down = torch.from_numpy(mat).to(torch.float32).to(base.device)
        self._radius = int(math.ceil(3.0 * self.blur_range[1]))

    # the PatchSampler interface the trainers use
    device = property(lambda self: self.base.device)
    batch_size = property(lambda self: self.base.batch_size)
    lr_patch = property(lambda self: self.base.lr_patch)
    scale = property(lambda self: self.base.scale)
    n_images_ = property(lambda self: self.base.n_images_)
    n_skipped_ = property(lambda self: self.base.n_skipped_)

    def describe(self):
        """The settings as JSON (provenance, and the check that a resumed run keeps them)."""
        return {"kind": "bn", "blur_range": list(self.blur_range), "noise_range": list(self.noise_range),
                "p_blur": self.p_blur, "p_noise": self.p_noise, "seed": self.seed,
                "order": "blur HR -> MATLAB bicubic x1/s -> uint8 -> + noise -> uint8"}

    def state_dict(self):
        """The base sampler's state plus this stream's generator state."""
        return self.base.state_dict() | {"degrade": {"bit_generator": self._rng.bit_generator.state,
                                                     "settings": self.describe()}}

    def load_state_dict(self, state):
        if "degrade" not in state:
            raise InputError("the sampler state has no blur+noise stream (the run was trained on clean LR)")
        saved = state["degrade"].get("settings")
        if saved is not None and saved != self.describe():
            raise InputError(f"the run was trained with other blur+noise settings: {saved}, now {self.describe()}")
        self.base.load_state_dict(state)
        self._rng.bit_generator.state = state["degrade"]["bit_generator"]

    def draw_degradations(self, n):
        """Per patch: blur sigma (0 = none) and noise sigma (0 = none), plus the noise field."""
        p = self.base.lr_patch
        blur = np.where(self._rng.random(n) < self.p_blur, self._rng.uniform(*self.blur_range, size=n), 0.0)
        noise = np.where(self._rng.random(n) < self.p_noise, self._rng.uniform(*self.noise_range, size=n), 0.0)
        field = self._rng.standard_normal((n, 3, p, p)).astype(np.float32)
        return blur, noise, field

    def _kernels(self, sigmas):
        """(B, 2r + 1) normalised 1-D Gaussians, zero beyond 3 sigma (a delta for sigma 0)."""
        r = self._radius
        x = np.arange(-r, r + 1, dtype=np.float64)
        k = np.zeros((len(sigmas), 2 * r + 1))
        for i, sigma in enumerate(sigmas):
            if sigma <= 0:
                k[i, r] = 1.0
                continue
            half = int(math.ceil(3.0 * sigma))
            row = np.exp(-(x * x) / (2.0 * sigma * sigma))
            row[np.abs(x) > half] = 0.0
            k[i] = row / row.sum()
        return k

    def _blur(self, hr, sigmas):
        """Blur each HR patch by its sigma (separable, symmetric border)."""
        import torch
        import torch.nn.functional as F

        b, c, h, w = hr.shape
        r = self._radius
        k = torch.from_numpy(self._kernels(sigmas)).to(hr.dtype).to(hr.device)
        weight = k.repeat_interleave(c, dim=0)  # (B*C, 2r+1)

        def sym(n):  # indices of a symmetric pad (edge repeated) of r on each side
            idx = np.concatenate([np.arange(r)[::-1], np.arange(n), np.arange(n - 1, n - 1 - r, -1)])
            return torch.from_numpy(np.clip(np.abs(idx), 0, n - 1)).to(hr.device)

        if r > min(h, w):
            raise InputError(f"blur radius {r} exceeds the HR patch side {min(h, w)}")
        x = hr.reshape(1, b * c, h, w).index_select(2, sym(h))
        x = F.conv2d(x, weight.view(b * c, 1, -1, 1), groups=b * c)
        x = x.index_select(3, sym(w))
        x = F.conv2d(x, weight.view(b * c, 1, 1, -1), groups=b * c)
        return x.view(b, c, h, w)

    def degrade(self, hr, blur, noise, field):
        """The LR batch of an HR batch in [0, 1] for given blur / noise sigmas and noise field."""
        import torch

        x = self._blur(hr, blur) if np.any(blur > 0) else hr
        lr = torch.einsum("ij,bcjk,lk->bcil", self._down, x, self._down)
        lr = torch.round(lr.clamp(0, 1) * 255.0)
        if np.any(noise > 0):
            sig = torch.from_numpy(noise.astype(np.float32)).to(lr.device).view(-1, 1, 1, 1)
            lr = torch.round(lr + sig * torch.from_numpy(field).to(lr.device)).clamp_(0, 255)
        return lr / 255.0

    def sample(self, dtype=None):
        """The next batch ``(lr, hr)``: the degraded LR and the clean HR, floats in [0, 1]."""
        import torch

        _, hr = self.base.sample(torch.float32)
        blur, noise, field = self.draw_degradations(hr.shape[0])
        lr = self.degrade(hr, blur, noise, field)
        dtype = dtype or torch.float32
        return lr.to(dtype), hr.to(dtype)
