"""ddriqa.training: train the SR backbones whose features are the DDR.

Modules: :mod:`~ddriqa.training.data` (packs of HR images, the on-device patch sampler),
:mod:`~ddriqa.training.schedules` (the paper's step schedules), :mod:`~ddriqa.training.checkpoint`
(exact-resume checkpoints), :mod:`~ddriqa.training.srresnet_trainer` (L1),
:mod:`~ddriqa.training.srgan_trainer` (GAN), :mod:`~ddriqa.models.vgg` (optional perceptual
features), :mod:`~ddriqa.training.validation` (Y-PSNR), :mod:`~ddriqa.sr.upscale`
(tiled upscaling) and :mod:`~ddriqa.training.gpu_run` (the prepared GPU script, see GPU_RUN.md).
"""
