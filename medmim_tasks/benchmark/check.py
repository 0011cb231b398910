"""The data doctor: what of the Med-MIM data this machine has, what it lacks, and how to fix it.

For each split: the benchmark file (present, SHA-256 as pinned, valid items), and per source
dataset the items, image references and distinct images present, missing and unreadable. For each
source dataset: where its images are looked for (and which variable said so), which path form
was found (e.g. MIMIC-CXR-JPG for MS-CXR-T), and with `decode` the image formats, modes and
sizes. Every problem carries its fix. Fast by default: existence checks only.
"""

from __future__ import annotations

import os
import sys
import time
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from PIL import Image
from tqdm import tqdm

from medmim_tasks.benchmark.fetch import sha256_of_file
from medmim_tasks.benchmark.image_paths import ImageLocator
from medmim_tasks.benchmark.items import (
    BENCHMARK_DIR_VARIABLE,
    BenchmarkFormatError,
    Item,
    benchmark_dir,
    load_split,
    split_file,
)
from medmim_tasks.benchmark.sources import (
    SOURCE_DATASETS,
    SourceDataset,
    image_root_and_origin,
    root_hint,
)
from medmim_tasks.benchmark.splits import (
    SPLITS,
    UPSTREAM_COMMIT,
    UPSTREAM_FOLDER,
    UPSTREAM_REPOSITORY,
)
from medmim_tasks.settings import raw_setting

MAX_EXAMPLES = 5

# What a user needs to know about a dataset beyond its root, layout, source and access terms.
DATASET_NOTES: dict[str, str] = {
    "EMBED": "EMBED is distributed as DICOM: `medmim data prepare embed --dicom-root DIR` writes the PNGs "
    "the benchmark names (only those) from the DICOM files with the same study, series and SOP UIDs.",
    "LUMIERE": "The `<seq>_LUMIERE_images_tumor1200px_256x256/Patient-NNN/slice_N/week_NNN.png` files are 2-D "
    "PNG slices prepared by the Med-MIM authors; the public LUMIERE download holds the MRI volumes "
    "(NIfTI), not these slices.",
    "MS-CXR-T": "MIMIC-CXR-JPG works as well: point MEDMIM_MS_CXR_T_ROOT at the folder that holds `files/` "
    "(files/pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.jpg), or at `files/` itself.",
    "ODIR": "Point the root at the folder that holds `Training Images/` (ODIR-5K).",
    "VQA-RAD": "Point the root at the VQA-RAD image folder (synpicNNNNN.jpg files).",
}


@dataclass
class Problem:
    """Something that stops or limits an evaluation, and how to fix it."""

    subject: str
    message: str
    fix: list[str]


@dataclass
class ImageCounts:
    """Items and image references of one split and dataset, and the state of its distinct images."""

    items: int = 0
    image_refs: int = 0
    images: int = 0
    present: int = 0
    missing: int = 0
    unreadable: int = 0


@dataclass
class SplitReport:
    task: str
    file: str
    path: str
    present: bool
    sha256_ok: bool | None
    sha256: str | None
    items: int | None
    error: str | None
    datasets: dict[str, ImageCounts] = field(default_factory=dict)


@dataclass
class DatasetReport:
    name: str
    root: str
    root_from: str
    root_exists: bool
    images: int = 0
    present: int = 0
    missing: int = 0
    unreadable: int = 0
    found_forms: dict[str, int] = field(default_factory=dict)
    formats: dict[str, int] = field(default_factory=dict)
    modes: dict[str, int] = field(default_factory=dict)
    width_range: list[int] | None = None
    height_range: list[int] | None = None
    missing_examples: list[str] = field(default_factory=list)
    unreadable_examples: list[dict[str, str]] = field(default_factory=list)
    layout: str = ""
    obtain: str = ""
    access: str = ""


@dataclass
class CheckReport:
    benchmark_dir: str
    benchmark_dir_from: str
    decoded: bool
    seconds: float
    splits: list[SplitReport]
    datasets: list[DatasetReport]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        return data


@dataclass
class _ImageState:
    path: Path | None = None
    form: str | None = None
    error: str | None = None
    format: str | None = None
    mode: str | None = None
    size: tuple[int, int] | None = None


def root_origin(dataset: SourceDataset, environ: Mapping[str, str]) -> str:
    """Which setting chose a dataset's image root (see sources.image_root_and_origin)."""
    return image_root_and_origin(dataset, environ)[1]


def inspect_image(path: Path) -> tuple[str, str, tuple[int, int]]:
    """(format, mode, size) of an image, after decoding all of it (a truncated file raises)."""
    with Image.open(path) as image:
        image.load()
        return str(image.format), image.mode, image.size


def _decode_all(states: list[_ImageState], jobs: int, stream: IO[str], show_bar: bool | None) -> None:
    def work(state: _ImageState) -> None:
        try:
            state.format, state.mode, state.size = inspect_image(state.path)  # type: ignore[arg-type]
        except Exception as error:  # noqa: BLE001 (Pillow raises OSError, SyntaxError, ValueError, DecompressionBombError...)
            state.error = f"{type(error).__name__}: {error}"

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool, tqdm(
        total=len(states), desc="decoding images", unit="image", file=stream,
        disable=(not show_bar) if show_bar is not None else None,
    ) as bar:
        for _ in pool.map(work, states):
            bar.update(1)


def _split_problems(report: SplitReport) -> list[Problem]:
    fetch_fix = f"run `medmim data fetch` (downloads {report.file} from {UPSTREAM_REPOSITORY}, {UPSTREAM_FOLDER}/ at commit {UPSTREAM_COMMIT[:12]})"
    if not report.present:
        return [Problem(report.task, f"{report.path} not found", [fetch_fix, f"or set {BENCHMARK_DIR_VARIABLE} to the folder that holds {report.file}"])]
    problems = []
    if report.sha256_ok is False:
        problems.append(Problem(
            report.task,
            f"{report.path} differs from the pinned upstream file (sha256 {report.sha256})",
            [fetch_fix + "; it replaces the file only once the download matches"],
        ))
    if report.error is not None:
        problems.append(Problem(report.task, report.error, [fetch_fix]))
    return problems


def _dataset_problems(dataset: SourceDataset, report: DatasetReport) -> list[Problem]:
    problems = []
    about = [f"obtain: {dataset.obtain}", f"access: {dataset.access}", DATASET_NOTES[dataset.name]]
    if report.missing:
        if not report.root_exists:
            where = f"the root {report.root} (from {report.root_from}) does not exist"
        elif report.present == 0:
            where = f"the root {report.root} (from {report.root_from}) exists but holds none of them"
        else:
            where = f"under {report.root} (from {report.root_from})"
        problems.append(Problem(
            dataset.name,
            f"{report.missing} of {report.images} images missing: {where}; e.g. {report.missing_examples[0]}",
            [root_hint(dataset), *about],
        ))
    if report.unreadable:
        first = report.unreadable_examples[0]
        problems.append(Problem(
            dataset.name,
            f"{report.unreadable} of {report.present} present images cannot be decoded; e.g. {first['path']} ({first['error']})",
            [
                (
                    "replace these files with intact copies from the source dataset "
                    f"(`medmim check --decode --json` lists the first {MAX_EXAMPLES})"
                ),
                *about[:2],
            ],
        ))
    return problems


def _range(values: list[int]) -> list[int] | None:
    return [min(values), max(values)] if values else None


def check_data(
    environ: Mapping[str, str] | None = None,
    decode: bool = False,
    jobs: int | None = None,
    stream: IO[str] | None = None,
    show_bar: bool | None = None,
) -> CheckReport:
    """Check the benchmark files and every image they reference; `decode` also opens every image."""
    stream = sys.stderr if stream is None else stream
    start = time.perf_counter()
    env: Mapping[str, str] = os.environ if environ is None else environ
    locator = ImageLocator(env)
    split_reports, items_by_task, problems = _check_split_files(env)
    states, images_by_split = _locate_images(split_reports, items_by_task, locator)
    if decode:
        _decode_all([state for state in states.values() if state.path is not None],
                    jobs or min(8, os.cpu_count() or 1), stream, show_bar)
    _count_split_images(split_reports, states, images_by_split)
    dataset_reports = []
    for dataset in SOURCE_DATASETS:
        report = _dataset_report(dataset, env, locator, states)
        problems += _dataset_problems(dataset, report)
        dataset_reports.append(report)
    bench_from = BENCHMARK_DIR_VARIABLE if raw_setting(BENCHMARK_DIR_VARIABLE, env) else f"default (no {BENCHMARK_DIR_VARIABLE} set)"
    return CheckReport(
        str(benchmark_dir(env)),  # type: ignore[arg-type]
        bench_from,
        decode,
        round(time.perf_counter() - start, 3),
        split_reports,
        dataset_reports,
        problems,
    )


def _check_split_files(env: Mapping[str, str]) -> tuple[list[SplitReport], dict[str, list[Item]], list[Problem]]:
    """A report per split file (present, checksum, items), the items of the readable ones, and the problems."""
    split_reports: list[SplitReport] = []
    items_by_task: dict[str, list[Item]] = {}
    problems: list[Problem] = []
    for split in SPLITS:
        path = split_file(split, env)  # type: ignore[arg-type]
        report = SplitReport(split.task, split.file_name, str(path), path.is_file(), None, None, None, None)
        if report.present:
            report.sha256 = sha256_of_file(path)
            report.sha256_ok = report.sha256 == split.sha256
            try:
                items_by_task[split.task] = load_split(split, env)  # type: ignore[arg-type]
                report.items = len(items_by_task[split.task])
            except BenchmarkFormatError as error:
                report.error = str(error)
        problems += _split_problems(report)
        split_reports.append(report)
    return split_reports, items_by_task, problems


def _locate_images(
    split_reports: list[SplitReport], items_by_task: dict[str, list[Item]], locator: ImageLocator
) -> tuple[dict[tuple[str, str], _ImageState], dict[tuple[str, str], set[str]]]:
    """Every distinct image once, by (dataset, relative path), found or not; and the images of each (task, dataset)."""
    states: dict[tuple[str, str], _ImageState] = {}
    images_by_split: dict[tuple[str, str], set[str]] = {}
    for report in split_reports:
        for item in items_by_task.get(report.task, []):
            counts = report.datasets.setdefault(item.dataset.name, ImageCounts())
            counts.items += 1
            counts.image_refs += len(item.images)
            keys = images_by_split.setdefault((report.task, item.dataset.name), set())
            for relative in item.images:
                keys.add(relative)
                key = (item.dataset.name, relative)
                if key not in states:
                    found = locator.resolve_form(item.dataset, relative)
                    states[key] = _ImageState() if found is None else _ImageState(path=found[1], form=found[0])
    return states, images_by_split


def _count_split_images(
    split_reports: list[SplitReport], states: dict[tuple[str, str], _ImageState], images_by_split: dict[tuple[str, str], set[str]]
) -> None:
    """Distinct images present, missing and unreadable per split and dataset."""
    for report in split_reports:
        for name, counts in report.datasets.items():
            relatives = images_by_split[(report.task, name)]
            counts.images = len(relatives)
            for relative in relatives:
                state = states[(name, relative)]
                if state.path is None:
                    counts.missing += 1
                else:
                    counts.present += 1
                    counts.unreadable += state.error is not None


def _dataset_report(
    dataset: SourceDataset, env: Mapping[str, str], locator: ImageLocator, states: dict[tuple[str, str], _ImageState]
) -> DatasetReport:
    """One source dataset's root and its distinct images: present, missing, unreadable, forms, formats, sizes."""
    root = locator.root(dataset)
    report = DatasetReport(
        dataset.name, str(root), root_origin(dataset, env), root.is_dir(),
        layout=dataset.layout, obtain=dataset.obtain, access=dataset.access,
    )
    mine = {relative: state for (name, relative), state in states.items() if name == dataset.name}
    forms: Counter[str] = Counter()
    formats: Counter[str] = Counter()
    modes: Counter[str] = Counter()
    widths: list[int] = []
    heights: list[int] = []
    for relative in sorted(mine):
        state = mine[relative]
        report.images += 1
        if state.path is None:
            report.missing += 1
            if len(report.missing_examples) < MAX_EXAMPLES:
                report.missing_examples.append(str(locator.expected(dataset, relative)))
            continue
        report.present += 1
        forms[state.form or ""] += 1
        if state.error is not None:
            report.unreadable += 1
            if len(report.unreadable_examples) < MAX_EXAMPLES:
                report.unreadable_examples.append({"path": str(state.path), "error": state.error})
        elif state.size is not None:
            formats[state.format or "?"] += 1
            modes[state.mode or "?"] += 1
            widths.append(state.size[0])
            heights.append(state.size[1])
    report.found_forms, report.formats, report.modes = dict(forms), dict(formats), dict(modes)
    report.width_range, report.height_range = _range(widths), _range(heights)
    return report
