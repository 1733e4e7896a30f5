"""ddriqa.sr: using a super-resolution network as such: tiled upscaling of whole images.

Modules (imported explicitly, nothing is loaded here): :mod:`~ddriqa.sr.upscale`.
"""
