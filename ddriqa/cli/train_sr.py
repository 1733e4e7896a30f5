"""``ddriqa train-sr``: train an SRResNet (L1) or SRGAN backbone, resumably."""

from __future__ import annotations

import os

import click

from ddriqa.cli._common import fail, log


def _parse_steps(text):
    if not text:
        return ()
    try:
        return tuple(int(float(s)) for s in text.split(",") if s.strip())
    except ValueError:
        raise click.BadParameter(f"expected comma-separated step numbers, got {text!r}") from None


def load_training_images(sources, log_fn=log):
    """HR images from folders and/or ``.npz`` packs; unreadable files are logged and skipped."""
    from pathlib import Path

    from ddriqa.errors import ImageReadError
    from ddriqa.io import list_images, read_image
    from ddriqa.training.data import load_pack

    images = []
    for src in sources:
        path = Path(src)
        if path.is_file():
            images += load_pack(path)["images"]
            continue
        for file in list_images(path):
            try:
                images.append(read_image(file))
            except ImageReadError as exc:
                log_fn(f"warning: skipped {exc}")
    return images


@click.command("train-sr")
@click.option("--arch", type=click.Choice(["srresnet", "srgan"]), default="srresnet", show_default=True,
              help="srresnet: L1 training; srgan: adversarial fine-tuning of an SRResNet (needs --init).")
@click.option("--data", "data", multiple=True, required=True, type=click.Path(exists=True),
              help="Folder of HR training images or a pack from `ddriqa pack-sr-data` (repeatable).")
@click.option("--iterations", type=click.IntRange(min=1), required=True,
              help="Total updates of the run; the paper's lr milestones are scaled to it.")
@click.option("--out", "out_dir", required=True, type=click.Path(file_okay=False),
              help="Run folder (checkpoint/, generator.safetensors, val_log.csv, train_log.csv, snapshots/).")
@click.option("--resume", is_flag=True, help="Continue from OUT/checkpoint when there is one (exactly).")
@click.option("--global-residual/--no-global-residual", default=True, show_default=True,
              help="Add the bilinear upsampling of the input to the output (wGR / woGR).")
@click.option("--init", "init", default=None, metavar="NAME|PATH",
              help="Initial generator weights (required for srgan): a weights file or an SRResNet run folder.")
@click.option("--val-root", type=click.Path(exists=True, file_okay=False), default=None,
              help="Folder holding Set5/, Set14/, BSDS500/val/ (BSD100).")
@click.option("--val-pack", type=click.Path(exists=True, dir_okay=False), default=None,
              help="A pack with groups Set5 / Set14 / BSD100 (instead of --val-root).")
@click.option("--val-sets", default="Set5,Set14,BSD100", show_default=True, help="Validation sets to use.")
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
@click.option("--tiny", is_flag=True, help="Tiny networks for tests (4 features, 1 block, D with 2 features).")
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
@click.option("--snapshot-steps", default="0,10000,50000", show_default=True,
              help="Steps at which to keep float16 generator snapshots (plus the final step).")
@click.option("--checkpoint-every", type=click.IntRange(min=1), default=None, help="Also checkpoint every N steps.")
@click.option("--log-every", type=click.IntRange(min=1), default=100, show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto (CUDA when available), cpu, cuda, cuda:1 ...")
@click.option("--amp", type=click.Choice(["auto", "on", "off"]), default="auto", show_default=True,
              help="bf16 autocast (auto: on CUDA only).")
@click.option("--compile", "use_compile", is_flag=True, help="torch.compile the generator's forward pass.")
@click.option("--max-file-mib", type=click.FloatRange(min=1), default=15.0, show_default=True,
              help="Shard checkpoint files above this size.")
@click.option("--name", "run_name", default=None, help="Run label in logs (default: the OUT folder's name).")
def train_sr(arch, data, iterations, out_dir, resume, global_residual, init, val_root, val_pack, val_sets, val_every,
             batch_size, lr_patch, max_minutes, stop_at, seed, num_features, num_blocks, tiny, d_features, pixel_weight, gan_weight, vgg_weights, d_dtype,
             d_optimizer_state, snapshot_steps, checkpoint_every, log_every, device, amp, use_compile, max_file_mib,
             run_name):
    """Train a x4 SR backbone (SRResNet with L1, or SRGAN) on HR images, resumably.

    LR inputs are the MATLAB-bicubic x1/4 of the HR images; random 32x32 LR / 128x128 HR
    patches with flips and rotations, Adam, the paper's step schedule scaled to --iterations.
    The run stops at --iterations or when --max-minutes is spent, and always leaves a
    checkpoint (exact resume with --resume), the exported weights OUT/generator.safetensors
    (+ generator.json provenance) and the Y-PSNR validation log OUT/val_log.csv.
    Progress goes to stderr; a JSON summary line to stdout.

    Exit status: 0 done (or budget reached); 2 bad input (no images, missing --init, ...).

    Example:

        ddriqa train-sr --arch srresnet --data ../shared/data/sr/T91 --iterations 600000
        --val-root ../shared/data/sr --val-every 5000 --out runs/srresnet_x4_gr
    """
    import json
    from pathlib import Path

    import torch

    from ddriqa.errors import DDRIQAError
    from ddriqa.models.srresnet import SRResNet
    from ddriqa.models.weights import load_generator, load_weights
    from ddriqa.training.data import PatchSampler, make_lr_images
    from ddriqa.training.validation import load_validation_pairs

    if tiny:
        num_features, num_blocks, d_features = 4, 1, 2
    snaps = _parse_steps(snapshot_steps)
    out = Path(out_dir)
    run_name = run_name or out.name
    from ddriqa.device import resolve_device

    try:
        dev = resolve_device(device)  # an InputError (unknown device, no CUDA) ends below as exit 2
        if dev.type == "cuda":
            torch.backends.cudnn.benchmark = True  # fixed patch size: let cuDNN pick the fastest kernels
        resuming = resume and (out / "checkpoint" / "generator.safetensors").is_file()
        if resume and not resuming:
            log(f"[{run_name}] --resume: no checkpoint in {out}, starting a new run")
        if init and os.path.isdir(init):  # a run folder: its exported weights
            init = os.path.join(init, "generator.safetensors")
        if arch == "srgan" and not init and not resuming:
            fail("--arch srgan needs --init (the weights of an L1-trained SRResNet)")
        images = load_training_images(data)
        if not images:
            fail("no readable training images in --data")
        hr, lr = make_lr_images(images, 4)
        del images
        sampler = PatchSampler(hr, lr, lr_patch=lr_patch, batch_size=batch_size, scale=4, seed=seed, device=dev)
        del hr, lr
        log(f"[{run_name}] {sampler.n_images_} training images on {dev}"
            + (f" ({sampler.n_skipped_} smaller than the patch left out)" if sampler.n_skipped_ else ""))
        val_pairs = {}
        sets = [s.strip() for s in val_sets.split(",") if s.strip()]
        if val_pack or val_root:
            val_pairs = load_validation_pairs(val_root, sets, pack=val_pack,
                                              on_error=lambda path, exc: log(f"warning: skipped {exc}"))
            log(f"[{run_name}] validation: " + ", ".join(f"{k} ({len(v)})" for k, v in val_pairs.items()))
        torch.manual_seed(seed)
        gen = torch.Generator().manual_seed(seed)
        if resuming:  # the architecture of the run being resumed
            generator = load_generator(out / "checkpoint" / "generator.safetensors")
        elif arch == "srgan":
            generator = load_generator(init)
            source = click.get_current_context().get_parameter_source("global_residual")
            if source is click.core.ParameterSource.COMMANDLINE and getattr(generator, "global_residual", global_residual) != global_residual:
                fail(f"--init {init}: its generator has global_residual={generator.global_residual}, but "
                      f"--{'' if global_residual else 'no-'}global-residual was given (an SRGAN keeps its init's "
                      "output path: drop the flag or pass the other init)")
        else:
            generator = SRResNet(num_features=num_features, num_blocks=num_blocks, scale=4,
                                 global_residual=global_residual)
            generator.reset_parameters(generator=gen)
            if init:
                from ddriqa.models.weights import resolve_weights

                load_weights(generator, resolve_weights(init))
        common = dict(
            iterations=iterations, amp={"auto": "auto", "on": True, "off": False}[amp], compile=use_compile,
            val_pairs=val_pairs, val_every=val_every, snapshot_steps=snaps, checkpoint_every=checkpoint_every,
            log_every=log_every, run_name=run_name, log=log, max_file_mib=max_file_mib,
            provenance={"data": [os.fspath(d) for d in data], "seed": seed, "batch_size": batch_size,
                        "lr_patch": lr_patch, "init": init},
        )
        if arch == "srresnet":
            from ddriqa.training.srresnet_trainer import SRResNetTrainer

            trainer = SRResNetTrainer(generator, sampler, out, **common)
        else:
            from ddriqa.models.discriminator import VGGDiscriminator
            from ddriqa.training.srgan_trainer import SRGANTrainer

            perceptual = None
            if vgg_weights:
                from ddriqa.models.vgg import VGG19Features

                perceptual = VGG19Features(vgg_weights)
            else:
                log(f"[{run_name}] no --vgg-weights: training WITHOUT the perceptual loss")
            if pixel_weight is None:
                pixel_weight = 1e-2 if perceptual is not None else 1.0
                log(f"[{run_name}] pixel L1 weight {pixel_weight:g}, GAN weight {gan_weight:g}")
            disc = VGGDiscriminator(num_features=d_features, input_size=4 * lr_patch)
            trainer = SRGANTrainer(generator, disc, sampler, out, perceptual=perceptual, d_dtype=d_dtype,
                                   pixel_weight=pixel_weight, gan_weight=gan_weight,
                                   save_d_optimizer=d_optimizer_state, **common)
        if resuming:
            trainer.resume()
        summary = trainer.fit(max_minutes=max_minutes, stop_at=stop_at)
    except DDRIQAError as exc:
        fail(str(exc))
    summary["run"] = run_name
    click.echo(json.dumps(summary, default=float))
