"""SRGAN training (the authors' MSRGAN configuration), resumable exactly.

The generator starts from an L1-trained SRResNet; the discriminator is the VGG-style network of
:mod:`ddriqa.models.discriminator` (128x128 input). Generator loss:
``1e-2 * L1(SR, HR) + 5e-3 * BCE(D(SR), real) [+ 1 * L1(VGG19_conv5_4(SR), VGG19_conv5_4(HR))]``;
the perceptual term is used only when VGG19 weights are given (none are available offline
here, so reported results say "no perceptual loss", and ``ddriqa train-sr`` then raises the pixel
weight to 1 so that the content stays anchored). Discriminator loss: ``BCE(D(HR), real) +
BCE(D(SR), fake)``, one D update per G update. Adam (1e-4, betas 0.9/0.99) for both, halved at
50k/100k/200k/300k of 400k, scaled to the run length.
"""

from __future__ import annotations

from ddriqa.errors import InputError
from ddriqa.training.schedules import SRGAN_SCHEDULE
from ddriqa.training.srresnet_trainer import SRResNetTrainer

__all__ = ["SRGANTrainer"]


class SRGANTrainer(SRResNetTrainer):
    """Adversarial fine-tuning of an SR generator.

    Parameters
    ----------
    generator : torch.nn.Module
        Initialised from SRResNet weights by the caller (e.g. :func:`ddriqa.models.weights.load_generator`).
    discriminator : torch.nn.Module
        E.g. ``VGGDiscriminator(input_size=scale * lr_patch)``.
    sampler, out_dir, iterations
        As :class:`SRResNetTrainer`.
    pixel_weight : float, default=1e-2
        The paper's value, which assumes the perceptual loss carries the content. Without one,
        use ~1: at 1e-2 the GAN term wins and the generator drifts (measured here from an
        SRResNet at Set5 31.6 dB: 24.8 dB after 250 steps, and 7.3 dB for the no-global-residual
        twin; ``ddriqa train-sr`` picks 1 when no ``--vgg-weights`` are given).
    gan_weight : float, default=5e-3
    perceptual : torch.nn.Module, optional
        A feature extractor such as :class:`ddriqa.models.vgg.VGG19Features`.
    perceptual_weight : float, default=1.0
    d_dtype : {"float32", "bfloat16"}, default="float32"
        How the discriminator is stored in checkpoints (see :mod:`ddriqa.training.checkpoint`).
    save_d_optimizer : bool, default=True
        Keep the discriminator's Adam moments in checkpoints (needed for an exact resume).
    **kwargs
        Passed to :class:`SRResNetTrainer` (schedule defaults to SRGAN's, scaled).

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
        betas=(0.9, 0.99),
        **kwargs,
    ):
        import torch

        if d_dtype not in ("float32", "bfloat16"):
            raise InputError(f"d_dtype must be 'float32' or 'bfloat16', got {d_dtype!r}")
        super().__init__(generator, sampler, out_dir, iterations=iterations, betas=betas, **kwargs)
        patch = sampler.lr_patch * sampler.scale
        size = getattr(discriminator, "input_size", patch)
        if size != patch:
            raise InputError(f"the discriminator takes {size}x{size} images but the HR patches are {patch}x{patch}")
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.discriminator = discriminator.to(self.device, memory_format=memory_format).train()
        self.d_optimizer = self._make_optimizer(self.discriminator.parameters(), betas)
        self.perceptual = perceptual.to(self.device) if perceptual is not None else None
        self.pixel_weight, self.gan_weight, self.perceptual_weight = float(pixel_weight), float(gan_weight), float(perceptual_weight)
        self.d_dtype, self.save_d_optimizer = d_dtype, bool(save_d_optimizer)

    def train_step(self):
        """One G update then one D update; returns the generator loss tensor (no sync)."""
        import torch
        import torch.nn.functional as F

        self.schedule.apply(self.g_optimizer, self.step)
        self.schedule.apply(self.d_optimizer, self.step)
        lr, hr = self._batch()
        d_params = list(self.discriminator.parameters())
        # generator
        for p in d_params:
            p.requires_grad_(False)
        with self._autocast():
            sr = self._forward_g(lr)
        sr32 = sr.float()
        l_pix = self.pixel_weight * F.l1_loss(sr32, hr)
        loss_g = l_pix
        if self.perceptual is not None:
            with self._autocast():
                f_sr = self.perceptual(sr32)
                with torch.no_grad():
                    f_hr = self.perceptual(hr)
            loss_g = loss_g + self.perceptual_weight * F.l1_loss(f_sr.float(), f_hr.float())
        with self._autocast():
            fake_logit = self.discriminator(sr)
        fake_logit = fake_logit.float()
        l_gan = self.gan_weight * F.binary_cross_entropy_with_logits(fake_logit, torch.ones_like(fake_logit))
        loss_g = loss_g + l_gan
        self.g_optimizer.zero_grad(set_to_none=True)
        loss_g.backward()
        self.g_optimizer.step()
        # discriminator
        for p in d_params:
            p.requires_grad_(True)
        self.d_optimizer.zero_grad(set_to_none=True)
        with self._autocast():
            real_logit = self.discriminator(hr.contiguous(memory_format=torch.channels_last) if self.channels_last else hr)
        real_logit = real_logit.float()
        l_real = F.binary_cross_entropy_with_logits(real_logit, torch.ones_like(real_logit))
        l_real.backward()
        with self._autocast():
            fake_logit = self.discriminator(sr.detach())
        fake_logit = fake_logit.float()
        l_fake = F.binary_cross_entropy_with_logits(fake_logit, torch.zeros_like(fake_logit))
        l_fake.backward()
        self.d_optimizer.step()
        self.step += 1
        self.last_losses_ = {"pix": l_pix.detach(), "gan": l_gan.detach(), "d_real": l_real.detach(), "d_fake": l_fake.detach()}
        return loss_g.detach()

    def _user_state(self):
        return super()._user_state() | {"loss_weights": self._loss_weights()}

    def _loss_weights(self):
        return {"pixel": self.pixel_weight, "gan": self.gan_weight,
                "perceptual": self.perceptual_weight if self.perceptual is not None else None}

    def save_checkpoint(self):
        from ddriqa.training.checkpoint import save_checkpoint

        return save_checkpoint(
            self.checkpoint_dir,
            step=self.step,
            generator=self.generator,
            g_optimizer=self.g_optimizer,
            state=self._user_state(),
            discriminator=self.discriminator,
            d_optimizer=self.d_optimizer,
            d_dtype=self.d_dtype,
            save_d_optimizer=self.save_d_optimizer,
            max_file_mib=self.max_file_mib,
        )

    def _load(self, ckpt_dir):
        from ddriqa.training.checkpoint import load_checkpoint

        state = load_checkpoint(
            ckpt_dir,
            generator=self.generator,
            g_optimizer=self.g_optimizer,
            discriminator=self.discriminator,
            d_optimizer=self.d_optimizer,
        )
        saved = state.get("user", {}).get("loss_weights")
        if saved is not None and saved != self._loss_weights():
            self._log(f"[{self.run_name or self.arch}] warning: the checkpoint was trained with loss weights {saved}, "
                      f"this run uses {self._loss_weights()}")
        return state

    def _provenance_extra(self):
        return {
            "loss": f"{self.pixel_weight:g} * L1 + {self.gan_weight:g} * vanilla GAN"
            + (f" + {self.perceptual_weight:g} * VGG19 conv5_4 L1" if self.perceptual is not None else "")
            + ("" if self.perceptual is not None else " (no perceptual loss)"),
        }
