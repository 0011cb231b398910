"""Thumbnails of benchmark images for the sample browser: rendered as the model saw them, cached, parallel.

Each image is decoded with the tasks' own `load_image` (16-bit stretch, EXIF orientation, RGB),
shrunk to the run's recorded `max_image_side` when it had one (what the model received), then to
the thumbnail side, and stored as a small JPEG. Rendered thumbnails are cached under
MEDMIM_THUMBNAIL_CACHE (default `~/.cache/medmim/thumbnails`), keyed by the image's absolute path,
modification time, size and the render settings, so a rerun decodes nothing that did not change.
The image folders are only read; nothing is ever written there.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from medmim_tasks.atomic_write import atomic_file
from medmim_tasks.benchmark.images import RESAMPLING, ImageDecodeError, fitted_size, load_image
from medmim_tasks.settings import setting

THUMBNAIL_CACHE_VARIABLE = "MEDMIM_THUMBNAIL_CACHE"
THUMBNAIL_SIDE = 384  # longest side of a thumbnail, in pixels
JPEG_QUALITY = 80
RENDER_VERSION = 1  # bump when the rendering changes, so cached thumbnails are made again
MAX_DEFAULT_JOBS = 8


@dataclass(frozen=True)
class ImageRequest:
    """One image to show: where it is (None when missing), where it was expected, the run's max_image_side."""

    path: str | None
    expected: str
    max_image_side: int | None


@dataclass(frozen=True)
class Thumbnail:
    """A rendered thumbnail (JPEG bytes), the size the model received, or why there is none."""

    jpeg: bytes | None
    model_size: tuple[int, int] | None
    problem: str | None


def thumbnail_cache_dir() -> Path:
    """MEDMIM_THUMBNAIL_CACHE, else ~/.cache/medmim/thumbnails."""
    folder: Path = setting(THUMBNAIL_CACHE_VARIABLE)
    return folder


def cache_key(path: str, max_image_side: int | None, side: int = THUMBNAIL_SIDE) -> str:
    """Hex key of a thumbnail: absolute path, mtime, size of the image file and the render settings."""
    status = os.stat(path)
    fields = [os.path.abspath(path), status.st_mtime_ns, status.st_size, max_image_side, side, JPEG_QUALITY, RENDER_VERSION]
    return hashlib.sha256(json.dumps(fields).encode("utf-8")).hexdigest()


def render_thumbnail(path: str, max_image_side: int | None, side: int = THUMBNAIL_SIDE) -> tuple[bytes, tuple[int, int]]:
    """(JPEG bytes of the thumbnail, (width, height) the model received) for one image file.

    With a recorded max_image_side the image is rendered at that size first (the model's view),
    then shrunk to `side`; without one, `load_image` shrinks straight to `side` (the same stretch
    and orientation, decoded at reduced scale where the format allows).
    """
    with Image.open(path) as header:
        full_size = header.size
    model_size = full_size if max_image_side is None else fitted_size(full_size, max_image_side)
    if max_image_side is not None and max_image_side > side:
        image = load_image(path, max_image_side)
        image = image.resize(fitted_size(image.size, side), RESAMPLING)
    else:
        image = load_image(path, min(side, max_image_side or side))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=JPEG_QUALITY, optimize=True)
    return buffer.getvalue(), model_size


def _cached_or_rendered(request: ImageRequest, cache: Path, side: int) -> Thumbnail:
    if request.path is None:
        return Thumbnail(None, None, f"missing image: {request.expected}")
    try:
        key = cache_key(request.path, request.max_image_side, side)
        cached = cache / f"{key}.jpg"
        size_file = cache / f"{key}.json"
        if cached.is_file() and size_file.is_file():
            width, height = json.loads(size_file.read_text(encoding="utf-8"))
            return Thumbnail(cached.read_bytes(), (width, height), None)
        jpeg, model_size = render_thumbnail(request.path, request.max_image_side, side)
    except (ImageDecodeError, OSError, ValueError) as error:
        return Thumbnail(None, None, f"unreadable image: {request.path} ({error})")
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with atomic_file(cached) as handle:
            handle.write(jpeg)
        with atomic_file(size_file) as handle:
            handle.write(json.dumps(list(model_size)).encode("utf-8"))
    except OSError:
        pass  # an unwritable cache costs a decode on the next run, nothing else
    return Thumbnail(jpeg, model_size, None)


def default_jobs() -> int:
    """Worker threads: the CPUs this process may use, at most MAX_DEFAULT_JOBS."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, MAX_DEFAULT_JOBS))


def make_thumbnails(
    requests: Sequence[ImageRequest],
    *,
    cache: Path | None = None,
    side: int = THUMBNAIL_SIDE,
    jobs: int | None = None,
    progress: bool = True,
) -> list[Thumbnail]:
    """One thumbnail per request, in order, rendered by a thread pool (Pillow decodes without the GIL).

    A missing or unreadable image gives a Thumbnail with `problem` naming its path, never an error.
    """
    from tqdm import tqdm

    cache = thumbnail_cache_dir() if cache is None else cache
    jobs = default_jobs() if jobs is None else jobs
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results: Iterable[Thumbnail] = pool.map(lambda request: _cached_or_rendered(request, cache, side), requests)
        return list(tqdm(results, total=len(requests), desc="thumbnails", unit="image", disable=not progress))


_CONTENT_NAME = re.compile(r"[0-9a-f]{24}\.jpg")  # what content_name gives; other files are left alone


def content_name(jpeg: bytes) -> str:
    """The file name a thumbnail gets beside the page: the start of its SHA-256 (identical ones shared)."""
    return f"{hashlib.sha256(jpeg).hexdigest()[:24]}.jpg"


def write_thumbnail_files(thumbnails: Sequence[Thumbnail], folder: Path) -> list[str | None]:
    """Write every thumbnail into `folder` (content-addressed); each one's file name, None where none."""
    folder.mkdir(parents=True, exist_ok=True)
    names: list[str | None] = []
    for thumbnail in thumbnails:
        if thumbnail.jpeg is None:
            names.append(None)
            continue
        name = content_name(thumbnail.jpeg)
        target = folder / name
        if not target.is_file():
            with atomic_file(target) as handle:
                handle.write(thumbnail.jpeg)
        names.append(name)
    kept = set(names)
    for old in folder.glob("*.jpg"):  # thumbnails of an earlier page at this path that this one no longer shows
        if old.name not in kept and _CONTENT_NAME.fullmatch(old.name):
            old.unlink()
    return names
