"""Open benchmark images as 8-bit RGB the way every model should see them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

_HIGH_BIT_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}


def _stretch_to_8_bit(image: Image.Image) -> Image.Image:
    """Scale a 16-bit, 32-bit or float image to 0-255 by its real value range (no clipping)."""
    pixels = np.asarray(image)
    low = pixels.min()
    high = pixels.max()
    if high <= low:
        return Image.new("L", image.size, 0)
    if pixels.dtype.kind in "iu":
        span = int(high) - int(low)
        scaled = ((pixels.astype(np.int64) - int(low)) * 255 + span // 2) // span
    else:
        scaled = np.rint((pixels.astype(np.float64) - float(low)) * (255.0 / (float(high) - float(low))))
    return Image.fromarray(scaled.astype(np.uint8))


def to_rgb(image: Image.Image) -> Image.Image:
    """EXIF orientation applied, high bit depth stretched, every other mode made RGB.

    The EXIF transpose happens in place on the decoded picture (no extra copy).
    """
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        image = _stretch_to_8_bit(image)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode != "RGB":
        image = image.convert("RGB")
    return image


def load_image(path: str | Path, max_image_side: int | None = None) -> Image.Image:
    """Decode one image to RGB; with max_image_side, shrink while decoding (off by default)."""
    image = Image.open(path)
    if max_image_side:
        _shrink_while_decoding(image, max_image_side)
    image.load()  # single-frame decoders close their file here
    image = to_rgb(image)
    if max_image_side and max(image.size) > max_image_side:
        image.thumbnail((max_image_side, max_image_side), Image.Resampling.LANCZOS)
    return image


def _shrink_while_decoding(image: Image.Image, max_image_side: int) -> None:
    """Ask the decoder for a smaller picture where it can (JPEG DCT scaling)."""
    if image.format == "JPEG":
        image.draft(image.mode, (max_image_side, max_image_side))
