"""ddriqa.degradations: image distortions, numpy in and numpy out.

Modules (import them explicitly; nothing is imported here):

* :mod:`~ddriqa.degradations.resize` -- MATLAB-compatible bicubic ``imresize``, ``bicubic_downsample``
* :mod:`~ddriqa.degradations.blur` -- ``gaussian_kernel`` (fspecial semantics), ``gaussian_blur``
* :mod:`~ddriqa.degradations.noise` -- ``add_gaussian_noise``
* :mod:`~ddriqa.degradations.compression` -- ``jpeg``, ``jpeg2000`` and their encoders
* :mod:`~ddriqa.degradations.fastfading` -- LIVE's fast fading (JPEG 2000 over a Rayleigh channel)
* :mod:`~ddriqa.degradations.combine` -- ``blur_then_noise``
* :mod:`~ddriqa.degradations.live_preset` -- the five LIVE classes, their parameter ranges and sampling

Every random function takes an explicit ``numpy.random.Generator``.
"""
