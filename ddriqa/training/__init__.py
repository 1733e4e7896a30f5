"""ddriqa.training: train the SR backbones whose features are the DDR.

Modules: :mod:`~ddriqa.training.config` (the settings of a run and :func:`build_trainer`),
:mod:`~ddriqa.training.trainer` (the loop shared by the trainers),
:mod:`~ddriqa.training.srresnet_trainer` (L1), :mod:`~ddriqa.training.srgan_trainer` (GAN),
:mod:`~ddriqa.training.run_folder` (the files of a run folder, and when it may be reused),
:mod:`~ddriqa.training.data` (training images, packs of HR images, the on-device patch sampler),
:mod:`~ddriqa.training.schedules` (the paper's step schedules),
:mod:`~ddriqa.training.checkpoint` (exact-resume checkpoints) and
:mod:`~ddriqa.training.validation` (Y-PSNR). The command line is ``ddriqa train-sr``; the
operations scripts ``tools/gpu_run.py`` and ``tools/adopt.py`` (see ``tools/TRAINING.md``) run it
on a training machine and file the results with provenance.
"""
