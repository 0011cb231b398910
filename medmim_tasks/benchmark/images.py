"""Open benchmark images as 8-bit RGB the way every model should see them.

Speed matters here: a full Med-MIM run decodes about 9,500 image references, most of them
12-megapixel 16-bit mammograms, and every pass over such a picture costs milliseconds. So the
16-bit stretch is one table lookup (no 64-bit arithmetic per pixel), grayscale becomes RGB by
copying the band (the same pixels as `convert("RGB")`, faster), and the optional
`max_image_side` shrinks while decoding (JPEG DCT scaling) or by an integer box reduction
before the final bicubic resampling. `utils/bench_overhead.py` measures all of it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageFile, ImageOps

from medmim_tasks.settings import FROM_TASK_YAML, FromTaskYaml, setting

_HIGH_BIT_DEPTH_MODES = {"I;16", "I;16L", "I;16B", "I;16N", "I", "F"}
# Pixels mapped per np.take call in the 16-bit lookup: keeps its index temporaries in cache.
_LOOKUP_CHUNK_PIXELS = 1 << 19
_NUMPY_16_BIT_TYPES = {"I;16": "<u2", "I;16L": "<u2", "I;16B": ">u2"}
_DECODED_INTO = "_medmim_decoded_into"  # (Pillow image memory, the NumPy array it wraps)
# Modes whose bands are resampled independently, so shrinking before the RGB conversion gives
# the same pixels as shrinking after it (and touches a third of the bytes for grayscale).
_SHRINK_BEFORE_RGB_MODES = {"L", "RGB"}

MAX_IMAGE_SIDE_KEY = "max_image_side"
RESAMPLING = Image.Resampling.BICUBIC
REDUCING_GAP = 1.0


def checked_max_image_side(value: Any) -> int | None:
    """The `max_image_side` setting as a positive pixel count, or None (off, the default)."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"{MAX_IMAGE_SIDE_KEY} must be a whole number of pixels (1 or more) or null to keep images at "
            f"full size; got {value!r}. Set it in lmms_eval_specific_kwargs of the Med-MIM task YAML "
            "(_default_template_yaml in the folder `medmim tasks-path` prints)."
        )
    return value


MAX_IMAGE_SIDE_VARIABLE = "MEDMIM_MAX_IMAGE_SIDE"


def max_image_side_setting(
    lmms_eval_specific_kwargs: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> int | None:
    """The run's max_image_side: MEDMIM_MAX_IMAGE_SIDE when set (a whole number, or `off`), else the YAML's."""
    side: int | None | FromTaskYaml = setting(MAX_IMAGE_SIDE_VARIABLE, environ)
    if side is FROM_TASK_YAML:
        return checked_max_image_side((lmms_eval_specific_kwargs or {}).get(MAX_IMAGE_SIDE_KEY))
    return side


def fitted_size(size: tuple[int, int], max_image_side: int) -> tuple[int, int]:
    """(width, height) with the longest side at most max_image_side and the aspect ratio kept."""
    width, height = size
    longest = max(width, height)
    if longest <= max_image_side:
        return width, height
    if width >= height:
        return max_image_side, max(1, round(height * max_image_side / width))
    return max(1, round(width * max_image_side / height)), max_image_side


def _lookup_table_8_bit(low: int, high: int) -> np.ndarray:
    """0-255 for every 16-bit value: round((v - low) * 255 / (high - low)) in exact integers."""
    span = high - low
    table = np.zeros(1 << 16, dtype=np.uint8)
    steps = np.arange(span + 1, dtype=np.int64)
    table[low : high + 1] = (steps * 255 + span // 2) // span
    return table


def _load_16_bit_into_numpy(image: Image.Image) -> None:
    """Load an opened image; 16-bit grayscale straight into a NumPy array the stretch reads.

    `np.asarray(image)` copies the whole picture (24 MB for a mammogram). Pillow keeps an image
    memory set before `load()` (`ImageFile.load_prepare`), so the decoder can write into ours;
    if a Pillow version replaces it, the check after the load notices and the copy is taken.
    """
    dtype = _NUMPY_16_BIT_TYPES.get(image.mode)
    if dtype is None or getattr(image, "n_frames", 1) != 1 or not isinstance(image, ImageFile.ImageFile):
        image.load()
        return
    width, height = image.size
    pixels = np.empty((height, width), dtype=dtype)
    memory = Image.frombuffer(image.mode, image.size, pixels, "raw", image.mode, 0, 1).im
    image.im = memory
    image.load()
    if image.im is memory:
        setattr(image, _DECODED_INTO, (memory, pixels))


def _pixels(image: Image.Image) -> np.ndarray:
    """The image's pixels: the array it was decoded into when still current, else a copy."""
    decoded_into = getattr(image, _DECODED_INTO, None)
    if decoded_into is not None and decoded_into[0] is image.im:
        return decoded_into[1]
    return np.asarray(image)


def _constant_gray(value: float, is_float: bool) -> int:
    """The 0-255 gray a constant image's one value stands for.

    Integer values on the 16-bit scale: round(value * 255 / 65535), clipped to 0-255 (Pillow holds
    16-bit PNG and TIFF pixels in its I;16 and I modes). Float values on the 0-1 scale, clipped.
    """
    if is_float:
        return int(np.rint(min(max(float(value), 0.0), 1.0) * 255.0))
    clipped = min(max(int(value), 0), 65535)
    return (clipped * 255 + 65535 // 2) // 65535


def _stretch_to_8_bit(image: Image.Image) -> Image.Image:
    """Scale a 16-bit, 32-bit or float image to 0-255 by its real value range (no clipping).

    A constant image has no range to stretch: it becomes the gray its value stands for.
    """
    pixels = _pixels(image)
    low = pixels.min()
    high = pixels.max()
    if high <= low:
        return Image.new("L", image.size, _constant_gray(low.item(), pixels.dtype.kind == "f"))
    if pixels.dtype.kind == "u" and pixels.dtype.itemsize == 2:
        table = _lookup_table_8_bit(int(low), int(high))
        looked_up = np.empty(pixels.shape, dtype=np.uint8)
        rows = max(1, _LOOKUP_CHUNK_PIXELS // pixels.shape[1])
        for start in range(0, pixels.shape[0], rows):
            # every uint16 indexes the 65,536-entry table: "wrap" only skips the bounds checks
            np.take(table, pixels[start : start + rows], out=looked_up[start : start + rows], mode="wrap")
        return Image.fromarray(looked_up)
    if pixels.dtype.kind in "iu":
        span = int(high) - int(low)
        scaled = ((pixels.astype(np.int64) - int(low)) * 255 + span // 2) // span
    else:
        scaled = np.rint((pixels.astype(np.float64) - float(low)) * (255.0 / (float(high) - float(low))))
    return Image.fromarray(scaled.astype(np.uint8))


def _shrink_to_fit(image: Image.Image, max_image_side: int) -> Image.Image:
    """Longest side down to max_image_side: integer box reduction first, then bicubic.

    Bicubic is the filter CLIP-style image processors resize with; `reducing_gap=1.0` lets
    Pillow box-reduce by the largest integer factor that stays at or above the target first.
    """
    target = fitted_size(image.size, max_image_side)
    if target == image.size:
        return image
    return image.resize(target, RESAMPLING, reducing_gap=REDUCING_GAP)


def to_rgb(image: Image.Image, max_image_side: int | None = None) -> Image.Image:
    """EXIF orientation applied, high bit depth stretched, every other mode made RGB.

    The result's type is exactly `PIL.Image.Image` (never a decoder's subclass) and its mode RGB.

    The EXIF transpose happens in place on the decoded picture (no extra copy). With
    max_image_side the result's longest side is at most that many pixels (aspect kept).
    """
    max_image_side = checked_max_image_side(max_image_side)
    ImageOps.exif_transpose(image, in_place=True)
    if image.mode in _HIGH_BIT_DEPTH_MODES:
        image = _stretch_to_8_bit(image)
    if max_image_side is not None and image.mode in _SHRINK_BEFORE_RGB_MODES:
        image = _shrink_to_fit(image, max_image_side)
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    if image.mode == "L":
        image = Image.merge("RGB", (image, image, image))  # the pixels of convert("RGB"), faster
    elif image.mode != "RGB":
        image = image.convert("RGB")
    if max_image_side is not None:
        image = _shrink_to_fit(image, max_image_side)
    if type(image) is not Image.Image:
        # A decoder's own class (JpegImageFile, PngImageFile, ...) is left when nothing above made
        # a new image (an RGB file at full size). Some wrappers take a visual as an image only if
        # `type(visual) is PIL.Image.Image` (LLaVA-NeXT's llava_onevision and its kin), so hand
        # over a plain Image: `copy()` returns one, the same copy `convert("RGB")` makes of RGB.
        image = image.copy()
    return image


class ImageDecodeError(OSError):
    """An image file cannot be read or decoded (truncated, corrupt, gone); the message names it and the fix."""


# what Pillow raises for a cut-off, corrupt or unrecognised file (UnidentifiedImageError is an OSError)
_DECODE_ERRORS = (OSError, SyntaxError, ValueError, EOFError, Image.DecompressionBombError)


_truncation_lock = threading.Lock()
_strict_decodes = 0  # decodes under way that need truncated files to fail
_flag_before = False  # ImageFile.LOAD_TRUNCATED_IMAGES as it was when the first of them began


@contextmanager
def _truncated_files_fail() -> Iterator[None]:
    """Pillow raises on a cut-off file while this is open, whatever its global setting says.

    lmms-eval sets `ImageFile.LOAD_TRUNCATED_IMAGES = True` when it is imported
    (lmms_eval/api/task.py), and under it Pillow decodes a truncated file without an error, the
    missing part filled in gray: the model would see a damaged image and nobody would know. A
    count of the decodes under way keeps concurrent ones right; the setting is put back as it was
    when the last one ends.
    """
    global _strict_decodes, _flag_before
    with _truncation_lock:
        if _strict_decodes == 0:
            _flag_before = ImageFile.LOAD_TRUNCATED_IMAGES
            ImageFile.LOAD_TRUNCATED_IMAGES = False
        _strict_decodes += 1
    try:
        yield
    finally:
        with _truncation_lock:
            _strict_decodes -= 1
            if _strict_decodes == 0:
                ImageFile.LOAD_TRUNCATED_IMAGES = _flag_before


def load_image(path: str | Path, max_image_side: int | None = None) -> Image.Image:
    """Decode one image to RGB; with max_image_side, shrink while decoding (off by default).

    JPEG files are decoded straight at the smallest 1/2, 1/4 or 1/8 scale that still covers the
    target size (Pillow's `draft`); other formats are decoded in full and box-reduced. A file
    that cannot be decoded raises ImageDecodeError naming it.
    """
    max_image_side = checked_max_image_side(max_image_side)
    try:  # only opening and decoding the file: an error there is the file's, named with it
        image = Image.open(path)
        if max_image_side is not None:
            target = fitted_size(image.size, max_image_side)
            if target != image.size:
                image.draft(None, target)  # a no-op for formats without reduced decoding
        with _truncated_files_fail():
            _load_16_bit_into_numpy(image)  # single-frame decoders close their file here
    except _DECODE_ERRORS as error:
        raise ImageDecodeError(
            f"{path}: cannot read this image ({type(error).__name__}: {error}); a truncated or corrupt file, or "
            "one that went missing or unreadable after the task was built. Fix: put an intact, readable copy from "
            "its source dataset in its place; `medmim check --decode` lists every missing or unreadable image."
        ) from error
    return to_rgb(image, max_image_side)
