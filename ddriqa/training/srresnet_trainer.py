"""SRResNet training with the L1 loss (paper appendix A.3), resumable exactly.

Adam (lr 2e-4, betas 0.9/0.99), batch 16, LR patches 32x32 (HR 128x128 at x4), the step
schedule halving the rate at 100k/300k/500k/600k of 600k scaled to the run length
(:data:`ddriqa.training.schedules.SRRESNET_SCHEDULE`). The loop, the run folder and its files
come from :class:`ddriqa.training.trainer.Trainer`; ``train_log.csv`` has ``step,loss,lr,time``.
"""

from __future__ import annotations

from ddriqa.training.schedules import SRRESNET_SCHEDULE
from ddriqa.training.trainer import Trainer

__all__ = ["RRDBDDRTrainer", "RRDBTrainer", "SRResNetTrainer"]


class SRResNetTrainer(Trainer):
    """Train an SR generator with the L1 loss on batches from a :class:`PatchSampler`.

    Parameters
    ----------
    generator : torch.nn.Module
        E.g. :class:`ddriqa.models.srresnet.SRResNet`; moved to the sampler's device.
    sampler : ddriqa.training.data.PatchSampler
    out_dir : str or os.PathLike
        The run folder.
    iterations : int
        Total updates of the run (also sets the scaled schedule).
    **kwargs
        The options of :class:`~ddriqa.training.trainer.Trainer` (schedule, amp, validation,
        snapshots, checkpoints, logging, provenance, overwrite).

    Examples
    --------
    >>> import tempfile, numpy as np
    >>> from ddriqa.models.srresnet import SRResNet
    >>> from ddriqa.training.data import PatchSampler, make_lr_images
    >>> from ddriqa.training.srresnet_trainer import SRResNetTrainer
    >>> hr, lr = make_lr_images([np.random.default_rng(0).integers(0, 256, (64, 64, 3), dtype=np.uint8)])
    >>> sampler = PatchSampler(hr, lr, lr_patch=8, batch_size=2, seed=0)
    >>> trainer = SRResNetTrainer(SRResNet(num_features=4, num_blocks=1), sampler, tempfile.mkdtemp(), iterations=2)
    >>> trainer.fit()["step"]
    2
    """

    arch = "srresnet"
    default_schedule = SRRESNET_SCHEDULE

    def update(self, lr, hr):
        """One Adam step on the L1 loss of the batch; returns ``(loss, {})``."""
        import torch.nn.functional as F

        with self.autocast():
            sr = self._forward_g(lr)
        loss = F.l1_loss(sr.float(), hr)
        self.g_optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.g_optimizer.step()
        return loss.detach(), {}

    def loss_description(self):
        return "L1"


class RRDBTrainer(SRResNetTrainer):
    """L1 training of an RRDBNet (``train-sr --arch rrdb``), the same loop, loss and schedule.

    Parameters are those of :class:`SRResNetTrainer`. The sampler may be a
    :class:`~ddriqa.training.degrade.BlurNoiseSampler` ("b+n" data); its settings go into the
    checkpoint state and the provenance.
    """

    arch = "rrdb"

    def extra_state(self):
        describe = getattr(self.sampler, "describe", None)
        return {"degrade": describe() if describe else "none: MATLAB-bicubic x1/4 LR of the whole image"}

    def _provenance_extra(self):
        return super()._provenance_extra() | {"train_lr": self.extra_state()["degrade"]}


class RRDBDDRTrainer(RRDBTrainer):
    """L1 training of an RRDBNetDDR (``--arch rrdb-ddr``): the embedding's backbone stays frozen."""

    arch = "rrdb-ddr"
