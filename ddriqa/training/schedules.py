"""Learning-rate schedules of the paper's SR trainings, as pure functions of the step.

A schedule is stateless (``lr_at(step)``), so resuming a run needs only the step counter. The
paper's step schedules (Liu et al. 2021, appendix A.3; BasicSR configs) are defined for a
reference run length; :meth:`StepSchedule.scaled` moves the milestones proportionally for a
shorter (or longer) run, e.g. SRResNet's 100k/300k/500k/600k of 600k becomes 1k/3k/5k/6k of 6k.
"""

from __future__ import annotations

from dataclasses import dataclass

from ddriqa.errors import InputError

__all__ = ["SRGAN_SCHEDULE", "SRRESNET_SCHEDULE", "StepSchedule"]


@dataclass(frozen=True)
class StepSchedule:
    """Multiply the base learning rate by ``gamma`` at each milestone reached.

    Parameters
    ----------
    base_lr : float
    milestones : tuple of int
        Steps (counted from 0, the number of updates done) at which the rate drops.
    gamma : float, default=0.5
    reference_iterations : int, optional
        The run length the milestones were written for (used by :meth:`scaled`).

    Examples
    --------
    >>> from ddriqa.training.schedules import SRRESNET_SCHEDULE
    >>> s = SRRESNET_SCHEDULE.scaled(6000)
    >>> s.milestones
    (1000, 3000, 5000, 6000)
    >>> s.lr_at(0), s.lr_at(1000), s.lr_at(3500)
    (0.0002, 0.0001, 5e-05)
    """

    base_lr: float
    milestones: tuple = ()
    gamma: float = 0.5
    reference_iterations: int | None = None

    def __post_init__(self):
        if not self.base_lr > 0:
            raise InputError(f"base_lr must be positive, got {self.base_lr!r}")
        ms = tuple(int(m) for m in self.milestones)
        if list(ms) != sorted(ms) or any(m < 0 for m in ms):
            raise InputError(f"milestones must be non-negative and increasing, got {self.milestones!r}")
        object.__setattr__(self, "milestones", ms)

    def lr_at(self, step):
        """Learning rate for the update that follows ``step`` completed updates."""
        drops = sum(1 for m in self.milestones if step >= m)
        return self.base_lr * self.gamma**drops

    def scaled(self, iterations):
        """The same schedule with milestones scaled from ``reference_iterations`` to ``iterations``."""
        if self.reference_iterations is None:
            return self
        if iterations < 1:
            raise InputError(f"iterations must be positive, got {iterations!r}")
        ratio = iterations / self.reference_iterations
        ms = tuple(max(1, round(m * ratio)) for m in self.milestones)
        return StepSchedule(self.base_lr, ms, self.gamma, iterations)

    def apply(self, optimizer, step):
        """Set every parameter group's ``lr`` to :meth:`lr_at` ``(step)``; returns the rate."""
        lr = self.lr_at(step)
        for group in optimizer.param_groups:
            group["lr"] = lr
        return lr


#: SRResNet (L1): 2e-4 halved at 100k/300k/500k/600k of 600k (paper appendix A.3).
SRRESNET_SCHEDULE = StepSchedule(2e-4, (100_000, 300_000, 500_000, 600_000), 0.5, 600_000)
#: SRGAN (G and D): 1e-4 halved at 50k/100k/200k/300k of 400k (authors' MSRGAN config).
SRGAN_SCHEDULE = StepSchedule(1e-4, (50_000, 100_000, 200_000, 300_000), 0.5, 400_000)
