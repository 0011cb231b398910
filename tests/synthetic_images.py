"""Synthetic image trees that mirror the real Med-MIM paths and formats (for tests and benchmarks).

No machine here has the real images (EMBED and MS-CXR-T are access-controlled), so tests and
`utils/bench_overhead.py` write stand-ins: same relative paths, same file formats and modes
(EMBED 16-bit grayscale PNG, LUMIERE 8-bit PNG slices, MS-CXR-T 8-bit PNG, ODIR RGB JPEG,
VQA-RAD grayscale JPEG), content derived deterministically from the path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from medmim_tasks.benchmark.items import Item, load_split
from medmim_tasks.benchmark.sources import SourceDataset
from medmim_tasks.benchmark.splits import SPLITS


@dataclass(frozen=True)
class ImageSpec:
    """Size (width, height), PIL mode and file format of a dataset's stand-in images."""

    size: tuple[int, int]
    mode: str
    format: str


SMALL_SPECS: dict[str, ImageSpec] = {
    "EMBED": ImageSpec((48, 64), "I;16", "PNG"),
    "LUMIERE": ImageSpec((32, 32), "L", "PNG"),
    "MS-CXR-T": ImageSpec((48, 48), "L", "PNG"),
    "ODIR": ImageSpec((64, 48), "RGB", "JPEG"),
    "VQA-RAD": ImageSpec((48, 48), "L", "JPEG"),
}

REALISTIC_SPECS: dict[str, ImageSpec] = {
    "EMBED": ImageSpec((3000, 4000), "I;16", "PNG"),
    "LUMIERE": ImageSpec((256, 256), "L", "PNG"),
    "MS-CXR-T": ImageSpec((512, 512), "L", "PNG"),
    "ODIR": ImageSpec((2000, 1500), "RGB", "JPEG"),
    "VQA-RAD": ImageSpec((512, 512), "L", "JPEG"),
}


def _seed(relative: str) -> int:
    return int.from_bytes(hashlib.sha256(relative.encode()).digest()[:4], "little")


def synthetic_image(relative: str, spec: ImageSpec) -> Image.Image:
    """A smooth, deterministic picture for one path (12-bit values for 16-bit mammograms)."""
    width, height = spec.size
    rng = np.random.default_rng(_seed(relative))
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * width, rng.uniform(0.2, 0.8) * height
    blob = np.exp(-(((x - cx) / (0.3 * width)) ** 2 + ((y - cy) / (0.3 * height)) ** 2))
    if spec.mode == "I;16":
        values = (300 + 3500 * blob).astype(np.uint16)  # a 12-bit range inside a 16-bit PNG
        return Image.fromarray(values)  # uint16 -> mode I;16
    gray = (40 + 200 * blob).astype(np.uint8)
    if spec.mode == "RGB":
        return Image.fromarray(np.stack([gray, (gray * 0.6).astype(np.uint8), (gray * 0.3).astype(np.uint8)], axis=-1))
    return Image.fromarray(gray)


def write_image(root: Path, relative: str, spec: ImageSpec) -> Path:
    path = root / relative
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        synthetic_image(relative, spec).save(path, format=spec.format)
    return path


def write_image_tree(image_root: Path, items: Iterable[Item], specs: dict[str, ImageSpec] | None = None) -> int:
    """Write every image the items reference under `image_root/<dataset folder>/`; returns files written."""
    specs = SMALL_SPECS if specs is None else specs
    written = 0
    for item in items:
        dataset: SourceDataset = item.dataset
        for relative in item.images:
            target = image_root / dataset.folder / relative
            if not target.exists():
                write_image(image_root / dataset.folder, relative, specs[dataset.name])
                written += 1
    return written


def write_tree_for_benchmark(image_root: Path, benchmark_dir: Path, specs: dict[str, ImageSpec] | None = None) -> int:
    """Write stand-ins for every image of the six splits found in `benchmark_dir`."""
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    return sum(write_image_tree(image_root, load_split(split, environ), specs) for split in SPLITS)
