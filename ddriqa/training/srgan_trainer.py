"""SRGAN training (the authors' MSRGAN configuration), resumable exactly.

The generator starts from an L1-trained SRResNet; the discriminator is the VGG-style network of
:mod:`ddriqa.models.discriminator` (128x128 input). Generator loss:
``1e-2 * L1(SR, HR) + 5e-3 * BCE(D(SR), real) [+ 1 * L1(VGG19_conv5_4(SR), VGG19_conv5_4(HR))]``;
the perceptual term is used only when VGG19 weights are given (without them, reported results
say "no perceptual loss", and ``ddriqa train-sr`` then raises the pixel weight to 1 so that the
content stays anchored). Discriminator loss: ``BCE(D(HR), real) + BCE(D(SR), fake)``, one D
update per G update. Adam (1e-4, betas 0.9/0.99) for both, halved at 50k/100k/200k/300k of
400k, scaled to the run length. ``train_log.csv`` adds the mean loss terms
``pix,gan,d_real,d_fake`` to ``step,loss,lr,time``.
"""

from __future__ import annotations

from ddriqa.errors import InputError
from ddriqa.training.schedules import SRGAN_SCHEDULE
from ddriqa.training.trainer import Trainer

__all__ = ["SRGANTrainer"]


class SRGANTrainer(Trainer):
    """Adversarial fine-tuning of an SR generator.

    Parameters
    ----------
    generator : torch.nn.Module
        Initialised from SRResNet weights by the caller (e.g. :func:`ddriqa.models.weights.load_generator`).
    discriminator : torch.nn.Module
        E.g. ``VGGDiscriminator(input_size=scale * lr_patch)``.
    sampler, out_dir, iterations
        As :class:`~ddriqa.training.trainer.Trainer`.
    pixel_weight : float, default=1e-2
        The paper's value, which assumes the perceptual loss carries the content. Without one,
        use ~1: at 1e-2 the GAN term wins and the generator drifts (measured from an SRResNet
        at Set5 31.6 dB: 24.8 dB after 250 steps, and 7.3 dB for the no-global-residual twin;
        ``ddriqa train-sr`` picks 1 when no ``--vgg-weights`` are given).
    gan_weight : float, default=5e-3
    perceptual : torch.nn.Module, optional
        A feature extractor such as :class:`ddriqa.models.vgg.VGG19Features`.
    perceptual_weight : float, default=1.0
    d_dtype : {"float32", "bfloat16"}, default="float32"
        How the discriminator is stored in checkpoints (see :mod:`ddriqa.training.checkpoint`).
    save_d_optimizer : bool, default=True
        Keep the discriminator's Adam moments in checkpoints (needed for an exact resume).
    init_detail : dict, optional
        What the generator was initialised from (``path``, ``sha256``, ``step``, ``run``; see
        :func:`ddriqa.training.config.describe_init`). Kept in the checkpoint state, so that a
        resumed run still names the SRResNet state it started from after the file at ``path``
        has moved on, and written to the exported weights' provenance.
    **kwargs
        The options of :class:`~ddriqa.training.trainer.Trainer` (schedule defaults to SRGAN's, scaled).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from ddriqa.models.srresnet import SRResNet
    >>> from ddriqa.models.discriminator import VGGDiscriminator
    >>> from ddriqa.training.data import PatchSampler, make_lr_images
    >>> from ddriqa.training.srgan_trainer import SRGANTrainer
    >>> hr, lr = make_lr_images([np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)])
    >>> sampler = PatchSampler(hr, lr, lr_patch=8, batch_size=2, seed=0)
    >>> t = SRGANTrainer(SRResNet(num_features=4, num_blocks=1), VGGDiscriminator(num_features=2, input_size=32),
    ...                  sampler, tempfile.mkdtemp(), iterations=1)
    >>> t.fit()["step"]
    1
    """

    arch = "srgan"
    default_schedule = SRGAN_SCHEDULE
    loss_columns = ("pix", "gan", "d_real", "d_fake")

    def __init__(
        self,
        generator,
        discriminator,
        sampler,
        out_dir,
        *,
        iterations,
        pixel_weight=1e-2,
        gan_weight=5e-3,
        perceptual=None,
        perceptual_weight=1.0,
        d_dtype="float32",
        save_d_optimizer=True,
        init_detail=None,
        **kwargs,
    ):
        if d_dtype not in ("float32", "bfloat16"):
            raise InputError(f"d_dtype must be 'float32' or 'bfloat16', got {d_dtype!r}")
        super().__init__(generator, sampler, out_dir, iterations=iterations, **kwargs)
        patch = sampler.lr_patch * sampler.scale
        size = getattr(discriminator, "input_size", patch)
        if size != patch:
            raise InputError(f"the discriminator takes {size}x{size} images but the HR patches are {patch}x{patch}")
        self.discriminator = self.prepare_network(discriminator)
        self.d_optimizer = self.make_optimizer(self.discriminator.parameters())
        self.perceptual = perceptual.to(self.device) if perceptual is not None else None
        self.pixel_weight, self.gan_weight = float(pixel_weight), float(gan_weight)
        self.perceptual_weight = float(perceptual_weight)
        self.d_dtype, self.save_d_optimizer = d_dtype, bool(save_d_optimizer)
        self.init_detail = dict(init_detail) if init_detail else None

    # -- hooks ---------------------------------------------------------------------------
    def update(self, lr, hr):
        """One G update then one D update; returns the generator loss and the four terms."""
        d_params = list(self.discriminator.parameters())
        for p in d_params:
            p.requires_grad_(False)
        sr, loss_g, l_pix, l_gan = self._generator_update(lr, hr)
        for p in d_params:
            p.requires_grad_(True)
        l_real, l_fake = self._discriminator_update(sr, hr)
        terms = {"pix": l_pix.detach(), "gan": l_gan.detach(), "d_real": l_real.detach(), "d_fake": l_fake.detach()}
        return loss_g.detach(), terms

    def _generator_update(self, lr, hr):
        import torch
        import torch.nn.functional as F

        with self.autocast():
            sr = self._forward_g(lr)
        sr32 = sr.float()
        l_pix = self.pixel_weight * F.l1_loss(sr32, hr)
        loss_g = l_pix
        if self.perceptual is not None:
            with self.autocast():
                f_sr = self.perceptual(sr32)
                with torch.no_grad():
                    f_hr = self.perceptual(hr)
            loss_g = loss_g + self.perceptual_weight * F.l1_loss(f_sr.float(), f_hr.float())
        with self.autocast():
            fake_logit = self.discriminator(sr)
        fake_logit = fake_logit.float()
        l_gan = self.gan_weight * F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        loss_g = loss_g + l_gan
        self.g_optimizer.zero_grad(set_to_none=True)
        loss_g.backward()
        self.g_optimizer.step()
        return sr, loss_g, l_pix, l_gan

    def _discriminator_update(self, sr, hr):
        import torch
        import torch.nn.functional as F

        self.d_optimizer.zero_grad(set_to_none=True)
        real = hr.contiguous(memory_format=torch.channels_last) if self.channels_last else hr
        with self.autocast():
            real_logit = self.discriminator(real)
        real_logit = real_logit.float()
        l_real = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
        l_real.backward()
        with self.autocast():
            fake_logit = self.discriminator(sr.detach())
        fake_logit = fake_logit.float()
        l_fake = F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        l_fake.backward()
        self.d_optimizer.step()
        return l_real, l_fake

    def networks_to_save(self):
        return super().networks_to_save() | {"discriminator": self.discriminator, "d_optimizer": self.d_optimizer}

    def checkpoint_options(self):
        return {"d_dtype": self.d_dtype, "save_d_optimizer": self.save_d_optimizer}

    def extra_state(self):
        state = {"loss_weights": self._loss_weights()}
        if self.init_detail:
            state["init_detail"] = self.init_detail
        return state

    def check_resumed_state(self, state):
        saved = state.get("loss_weights")
        if saved is not None and saved != self._loss_weights():
            self._log(f"[{self.label}] warning: the checkpoint was trained with loss weights {saved}, "
                      f"this run uses {self._loss_weights()}")
        if state.get("init_detail"):  # the run's own start wins over an --init given again
            self.init_detail = dict(state["init_detail"])
        if self.init_detail and not self.provenance.get("init"):
            self.provenance["init"] = self.init_detail.get("path")

    def _provenance_extra(self):
        extra = super()._provenance_extra()
        if self.init_detail:
            extra["init_detail"] = self.init_detail
        return extra

    def loss_description(self):
        return (f"{self.pixel_weight:g} * L1 + {self.gan_weight:g} * vanilla GAN"
                + (f" + {self.perceptual_weight:g} * VGG19 conv5_4 L1" if self.perceptual is not None
                   else " (no perceptual loss)"))

    def _loss_weights(self):
        return {"pixel": self.pixel_weight, "gan": self.gan_weight,
                "perceptual": self.perceptual_weight if self.perceptual is not None else None}
