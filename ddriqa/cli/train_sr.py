"""``ddriqa train-sr``: train an SRResNet (L1) or SRGAN backbone, resumably.

The command only reads its options into a :class:`ddriqa.training.config.TrainConfig`; building
the run (:func:`ddriqa.training.config.build_trainer`) and the loop
(:meth:`ddriqa.training.trainer.Trainer.fit`) live in :mod:`ddriqa.training`.
"""

from __future__ import annotations

import click

from ddriqa.cli._common import device_option, exits_on_errors, log


def _steps(ctx, param, text):
    if not text:
        return ()
    try:
        return tuple(int(float(s)) for s in text.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated step numbers, got {text!r}") from None


def _names(ctx, param, text):
    return tuple(s.strip() for s in text.split(",") if s.strip())


def output_options(help_text, **path_kwargs):
    """``-o/--output`` (required) plus the hidden, deprecated ``--out`` alias; see :func:`output_value`."""

    def decorate(command):
        command = click.option("--out", "out_alias", default=None, hidden=True, type=click.Path(**path_kwargs),
                               help="Deprecated name of -o/--output.")(command)
        return click.option("-o", "--output", default=None, type=click.Path(**path_kwargs),
                            help=help_text + "  [required]")(command)

    return decorate


def output_value(output, out_alias):
    """The output path from ``-o/--output`` or the deprecated ``--out`` (which says so on stderr)."""
    if out_alias is not None:
        log("warning: --out is deprecated, use -o/--output")
        if output is not None and output != out_alias:
            raise click.UsageError("give the output once: -o/--output (--out is its deprecated name)")
        output = out_alias
    if output is None:
        raise click.UsageError("Missing option '-o' / '--output'.")
    return output


@click.command("train-sr")
@exits_on_errors
@click.option("--arch", type=click.Choice(["srresnet", "srgan", "rrdb", "rrdb-ddr"]), default="srresnet",
              show_default=True,
              help="srresnet: L1 training; srgan: adversarial fine-tuning of an SRResNet (needs --init); rrdb: an "
                   "RRDBNet (L1); rrdb-ddr: an RRDBNet whose RRDBs are modulated (StyleMod) by the DDR embedding "
                   "of the frozen --ddr-weights network.")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True),
              help="Folder of HR training images or a pack from `ddriqa pack-sr-data` (repeatable).")
@click.option("--iterations", type=click.IntRange(min=1), required=True,
              help="Total updates of the run; the paper's lr milestones are scaled to it.")
@output_options("Run folder (checkpoint/, generator.safetensors, val_log.csv, train_log.csv, snapshots/).",
                file_okay=False)
@click.option("--resume", is_flag=True, help="Continue the run in OUTPUT from its checkpoint (exactly).")
@click.option("--overwrite", is_flag=True,
              help="Start again in an OUTPUT that holds a run, removing that run's files first.")
@click.option("--global-residual/--no-global-residual", default=None,
              help="Add the bilinear upsampling of the input to the output (wGR / woGR). Default: wGR for a "
                   "new SRResNet; an SRGAN or a resumed run keeps its weights' choice (a contradicting flag "
                   "is refused).")
@click.option("--init", "init", default=None, metavar="NAME|PATH",
              help="Initial generator weights (required for srgan): a weights file or an SRResNet run folder.")
@click.option("--val-root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder holding Set5/, Set14/, BSDS500/val/ (BSD100).")
@click.option("--val-pack", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A pack with groups Set5 / Set14 / BSD100 (instead of --val-root).")
@click.option("--val-sets", default="Set5,Set14,BSD100", show_default=True, callback=_names,
              help="Validation sets to use.")
@click.option("--val-every", type=click.IntRange(min=1), default=None, help="Validate every N steps (and at the end).")
@click.option("--batch-size", type=click.IntRange(min=1), default=16, show_default=True)
@click.option("--lr-patch", type=click.IntRange(min=4), default=32, show_default=True,
              help="LR patch side (HR patch = 4x; the discriminator's input size follows).")
@click.option("--max-minutes", type=click.FloatRange(min=0), default=None,
              help="Wall-clock budget: stop cleanly, checkpoint and export when spent.")
@click.option("--stop-at", type=click.IntRange(min=1), default=None,
              help="Stop at this global step (< --iterations), e.g. to train a twin to the same step as its sibling.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the init and the patch sampler.")
@click.option("--num-features", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--num-blocks", type=click.IntRange(min=0), default=16, show_default=True)
@click.option("--growth", type=click.IntRange(min=1), default=32, show_default=True,
              help="rrdb / rrdb-ddr: growth channels of the dense blocks.")
@click.option("--degrade", type=click.Choice(["none", "bn"]), default="none", show_default=True,
              help="bn: remake each LR patch from its HR patch: Gaussian blur (p 0.5, sigma U[0.2, 3] HR px), "
                   "MATLAB bicubic x1/4, 8 bits, Gaussian noise (p 0.5, sigma U[0, 25] on 0-255), 8 bits; seeded.")
@click.option("--ddr-weights", default="srgan_x4_gr", show_default=True, metavar="NAME|PATH",
              help="rrdb-ddr: the frozen DDR backbone (trained on clean data).")
@click.option("--ddr-layer", default="ResBlock16", show_default=True,
              help="rrdb-ddr: the backbone's layer pooled (channel mean and std) into the embedding.")
@click.option("--embed-dim", type=click.IntRange(min=1), default=64, show_default=True,
              help="rrdb-ddr: length of the degradation embedding.")
@click.option("--tiny", is_flag=True,
              help="Tiny networks for tests (4 features, 1 block, growth 2, D with 2 features).")
@click.option("--d-features", type=click.IntRange(min=1), default=64, show_default=True,
              help="srgan: channels of the discriminator's first stage.")
@click.option("--pixel-weight", type=click.FloatRange(min=0), default=None,
              help="srgan: weight of the pixel L1 loss. Default: the paper's 1e-2 with --vgg-weights; 1 without "
                   "(the 1e-2 assumes the VGG19 perceptual loss carries the content: without it the GAN term "
                   "wins and the generator drifts, see tools/TRAINING.md).")
@click.option("--gan-weight", type=click.FloatRange(min=0), default=5e-3, show_default=True,
              help="srgan: weight of the generator's vanilla GAN loss.")
@click.option("--vgg-weights", type=click.Path(exists=True, dir_okay=False), default=None,
              help="srgan: torchvision-layout VGG19 safetensors; enables the perceptual loss.")
@click.option("--d-dtype", type=click.Choice(["float32", "bfloat16"]), default="float32", show_default=True,
              help="srgan: storage type of the discriminator in checkpoints (bfloat16: inexact resume).")
@click.option("--d-optimizer-state/--no-d-optimizer-state", default=True, show_default=True,
              help="srgan: keep the discriminator's Adam moments in checkpoints (needed for exact resume).")
@click.option("--snapshot-steps", default="0,10000,50000", show_default=True, callback=_steps,
              help="Steps at which to keep float16 generator snapshots (plus the final step).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=None, help="Also checkpoint every N steps.")
@click.option("--log-every", type=click.IntRange(min=1), default=100, show_default=True,
              help="Write train_log.csv and a progress line (step, losses, lr, it/s) every N steps.")
@device_option
@click.option("--amp", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="bf16 autocast (auto: on CUDA only).")
@click.option("--compile", "compile", is_flag=True, help="torch.compile the generator's forward pass.")
@click.option("--max-file-mib", type=click.FloatRange(min=1), default=15.0, show_default=True,
              help="Shard checkpoint files above this size.")
@click.option("--name", "run_name", default=None, help="Run label in logs (default: the OUTPUT folder's name).")
def train_sr(**options):
    """Train a x4 SR network (SRResNet or RRDBNet with L1, SRGAN, RRDBNet-DDR) on HR images, resumably.

    LR inputs are the MATLAB-bicubic x1/4 of the HR images; random 32x32 LR / 128x128 HR
    patches with flips and rotations, Adam, the paper's step schedule scaled to --iterations.
    The run stops at --iterations, at --stop-at or when --max-minutes is spent, and always leaves
    a checkpoint (exact resume with --resume), the exported weights OUTPUT/generator.safetensors
    (+ generator.json provenance), train_log.csv and the Y-PSNR validation log val_log.csv. An
    OUTPUT that already holds a run needs --resume (continue it) or --overwrite (start again).
    Progress goes to stderr; a JSON summary line to stdout.

    Exit status: 0 done (or budget reached); 2 bad input (no images, missing --init, an OUTPUT
    holding a run without --resume/--overwrite, ...).

    Example:

        ddriqa train-sr --arch srresnet --data ../shared/data/sr/T91 --iterations 600000
        --val-root ../shared/data/sr --val-every 5000 -o runs/srresnet_x4_gr
    """
    import json

    from ddriqa.training.config import TINY_NETWORKS, TrainConfig, build_trainer

    options["output"] = output_value(options.pop("output"), options.pop("out_alias"))
    if options.pop("tiny"):
        options.update(TINY_NETWORKS)
    config = TrainConfig(**options)
    trainer = build_trainer(config, log=log)
    summary = trainer.fit(max_minutes=config.max_minutes, stop_at=config.stop_at)
    summary["run"] = config.name
    click.echo(json.dumps(summary, default=float))
