"""Shared test fixtures: generated images and the optional ../shared data root."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("DDRIQA_SHARED", REPO.parent / "shared"))


def shared_path(*parts):
    """Path under ../shared, or skip the calling test cleanly when it is absent."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"needs {path} (../shared is not present on this machine)")
    return path


def textured_image(height, width, seed=0, channels=3):
    """A deterministic, photo-like uint8 image: smooth shapes, edges and fine texture."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    img = np.zeros((height, width, channels))
    for c in range(channels):
        fx, fy = rng.uniform(0.01, 0.08, size=2)
        phase = rng.uniform(0, 2 * np.pi)
        img[..., c] = 110 + 60 * np.sin(fx * xx + phase) * np.cos(fy * yy)
        cy, cx, r = rng.uniform(0, height), rng.uniform(0, width), rng.uniform(5, max(6, min(height, width) / 3))
        img[..., c] += np.where((yy - cy) ** 2 + (xx - cx) ** 2 < r * r, 50, 0)
    img += rng.normal(0, 12, size=img.shape)
    img = np.clip(np.round(img), 0, 255).astype(np.uint8)
    return img[..., 0] if channels == 1 else img


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


# ------------------------------------------------------------------ the bad-input corpus (issue 9)
def easy_degrade(img, kind, rng):
    """A strong, easy-to-tell distortion of a uint8 RGB image (gblur, wn or jpeg)."""
    import cv2

    if kind == "gblur":
        return cv2.GaussianBlur(img, (0, 0), 2.0)
    if kind == "wn":
        return np.clip(img + rng.normal(0, 30, img.shape), 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 8])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def png_with_claimed_size(path, width, height):
    """A small valid PNG whose IHDR claims width x height (a decompression bomb header)."""
    import zlib

    from PIL import Image

    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(path)
    data = bytearray(path.read_bytes())
    # IHDR chunk: 8-byte signature, 4 length, 4 'IHDR', 13 data, 4 crc
    data[16:20] = width.to_bytes(4, "big")
    data[20:24] = height.to_bytes(4, "big")
    data[29:33] = zlib.crc32(bytes(data[12:29])).to_bytes(4, "big")
    path.write_bytes(bytes(data))


def make_bad_input_corpus(folder):
    """The issue-9 bad-input corpus in ``folder`` (a pathlib.Path; created).

    Returns ``(good, bad)``: the names (relative paths) of the files that must decode, and
    ``{bad name: expected reason fragment (or tuple of alternatives)}`` for those that must fail.
    The "too small" files (1x1, 10x10) fail only where a minimum size applies (BRISQUE: 16,
    DDR: the crop); everything else in ``bad`` fails in :func:`ddriqa.io.read_image`.
    """
    import cv2
    from PIL import Image

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(7)
    good, bad = [], {}

    def rgb(seed, h=40, w=56):
        return textured_image(h, w, seed=seed)

    # plain good images, one per distortion look
    for i, kind in enumerate(("gblur", "wn", "jpeg")):
        Image.fromarray(easy_degrade(rgb(i), kind, rng)).save(folder / f"plain_{kind}.png")
        good.append(f"plain_{kind}.png")
    # formats and pixel modes that must decode
    cv2.imwrite(str(folder / "deep16.png"), (rgb(10).astype(np.uint16) * 257)[:, :, ::-1])
    Image.fromarray(rgb(11)[:, :, 0]).save(folder / "gray.png")
    Image.fromarray(np.dstack([rgb(12), np.full((40, 56), 128, np.uint8)])).save(folder / "rgba.png")
    Image.fromarray(rgb(13)).convert("P", palette=Image.Palette.ADAPTIVE).save(folder / "palette.png")
    Image.fromarray(rgb(14)).convert("CMYK").save(folder / "cmyk.jpg", quality=90)
    pages = [Image.fromarray(rgb(15)), Image.fromarray(rgb(16))]
    pages[0].save(folder / "multipage.tif", save_all=True, append_images=pages[1:])
    frames = [Image.fromarray(rgb(17)).convert("P"), Image.fromarray(rgb(18)).convert("P")]
    frames[0].save(folder / "animated.gif", save_all=True, append_images=frames[1:], duration=100, loop=0)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    Image.fromarray(rgb(19, 40, 64)).save(folder / "exif_rotated.jpg", exif=exif, quality=90)
    Image.fromarray(rgb(20)).save(folder / "name with spaces.png")
    Image.fromarray(rgb(21)).save(folder / "café_ünï_画像.png")
    good += ["deep16.png", "gray.png", "rgba.png", "palette.png", "cmyk.jpg", "multipage.tif",
             "animated.gif", "exif_rotated.jpg", "name with spaces.png", "café_ünï_画像.png"]

    # bad files
    (folder / "empty.jpg").write_bytes(b"")
    bad["empty.jpg"] = "empty"
    Image.fromarray(rgb(30)).save(folder / "full.jpg", quality=95)
    data = (folder / "full.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "full.jpg").unlink()
    bad["truncated.jpg"] = "truncated"
    Image.fromarray(rgb(31)).save(folder / "full.png")
    data = (folder / "full.png").read_bytes()
    (folder / "truncated.png").write_bytes(data[: len(data) // 2])
    (folder / "full.png").unlink()
    bad["truncated.png"] = "truncated"
    (folder / "text.jpg").write_text("this is not an image\n")
    bad["text.jpg"] = "not a recognised image"
    png_with_claimed_size(folder / "bomb.png", 12000, 12000)
    bad["bomb.png"] = "pixels"
    Image.fromarray(np.full((1, 1, 3), 90, np.uint8)).save(folder / "one_pixel.png")
    bad["one_pixel.png"] = ("too small", "smaller than")
    Image.fromarray(rgb(32, 10, 10)).save(folder / "ten_pixels.png")
    bad["ten_pixels.png"] = ("too small", "smaller than")
    if os.geteuid() != 0:  # root reads a chmod-000 file anyway: the case is skipped there
        Image.fromarray(rgb(33)).save(folder / "unreadable.png")
        os.chmod(folder / "unreadable.png", 0)
        bad["unreadable.png"] = "permission"
    # a folder symlink loop (recursive listing must terminate, no duplicates)
    (folder / "sub").mkdir()
    Image.fromarray(rgb(40)).save(folder / "sub" / "nested.png")
    os.symlink("..", folder / "sub" / "loop")
    good.append(os.path.join("sub", "nested.png"))
    return good, bad
