"""Image file input and output.

:func:`read_image` turns any common image file into an RGB array (``uint8`` on 0..255 or
``float32`` on [0, 1]) and turns every failure into an :class:`~ddriqa.errors.ImageReadError`
that names the file and the reason; :func:`read_image_size` reads only the size. :func:`write_image`
writes PNG, BMP, TIFF, WebP, JPEG (at a quality) and JPEG 2000 (at a bit rate).
:func:`list_images` lists the image files of a folder (:func:`has_subfolders` tells whether it
has sub-folders); :func:`float_to_uint8` is the one float [0, 1] -> uint8 conversion (round half
to even).
"""

from ddriqa.io._listing import IMAGE_EXTENSIONS, has_subfolders, list_images, list_inputs
from ddriqa.io._read import DEFAULT_MAX_PIXELS, apply_exif_orientation, read_image, read_image_size
from ddriqa.io._write import float_to_uint8, write_image

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "IMAGE_EXTENSIONS",
    "apply_exif_orientation",
    "float_to_uint8",
    "has_subfolders",
    "list_images",
    "list_inputs",
    "read_image",
    "read_image_size",
    "write_image",
]
