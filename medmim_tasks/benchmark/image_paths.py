"""Where each image reference of the benchmark lives on this machine."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from stat import S_ISREG

from medmim_tasks.benchmark.sources import SourceDataset, image_root, root_hint

PUBLISHED_FORM = "published layout"
MIMIC_CXR_JPG_FORM = "MIMIC-CXR-JPG (files/pNN/.../<dicom_id>.jpg)"
MIMIC_CXR_JPG_FILES_FORM = "MIMIC-CXR-JPG files/ folder (pNN/.../<dicom_id>.jpg)"


def candidate_forms(dataset: SourceDataset, root: Path, relative: str) -> list[tuple[str, Path]]:
    """(form name, path) pairs that may hold an image, best first (the published layout first).

    MS-CXR-T images are named as MIMIC-CXR PNGs (`pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.png`); most
    users hold MIMIC-CXR-JPG instead, whose root has `files/pNN/.../<dicom_id>.jpg`, or point the
    root at that `files/` folder itself (`pNN/.../<dicom_id>.jpg`).
    """
    forms = [(PUBLISHED_FORM, root / relative)]
    if dataset.name == "MS-CXR-T":
        jpg = str(Path(relative).with_suffix(".jpg"))
        forms.append((MIMIC_CXR_JPG_FORM, root / "files" / jpg))
        forms.append((MIMIC_CXR_JPG_FILES_FORM, root / jpg))
    return forms


_POSIX_PATHS = os.sep == "/"


def _joins_plainly(relative: str) -> bool:
    """True when `str(root / relative)` is surely `root + "/" + relative`.

    Anything pathlib might normalise (a leading or trailing "/", "//", "." parts) says False, and
    so do harmless look-alikes such as ".hidden" names: those simply take the Path route.
    """
    return (
        _POSIX_PATHS
        and relative != ""
        and relative[0] not in "/."
        and relative[-1] != "/"
        and "//" not in relative
        and "/." not in relative
    )


LISTING_THRESHOLD = 16  # references in one folder from which one listing beats a stat each


def _regular_file_names(folder: str) -> set[str] | None:
    """Names of the regular files (symlinks to files included) in a folder, or None if unreadable."""
    try:
        with os.scandir(folder or ".") as entries:
            return {entry.name for entry in entries if entry.is_file()}
    except (OSError, ValueError):
        return None


@dataclass
class ImageLocator:
    """Resolves `images` entries against the configured dataset roots (roots read once)."""

    environ: Mapping[str, str] | None = None
    _roots: dict[str, Path] = field(default_factory=dict)
    _root_prefixes: dict[str, str] = field(default_factory=dict)

    def root(self, dataset: SourceDataset) -> Path:
        if dataset.name not in self._roots:
            self._roots[dataset.name] = image_root(dataset, self.environ)
        return self._roots[dataset.name]

    def resolve(self, dataset: SourceDataset, relative: str) -> Path | None:
        """The first existing path for an image reference, or None."""
        found = self.resolve_form(dataset, relative)
        return None if found is None else found[1]

    def resolve_str(self, dataset: SourceDataset, relative: str) -> str | None:
        """`str(resolve(...))`, without building Path objects when the published path exists.

        Task building resolves about 9,500 references; joining strings keeps it near the cost of
        one stat per reference. References pathlib would normalise ('./', '//', absolute, ...)
        take the Path route, so the result is always the string `resolve` gives.
        """
        if _joins_plainly(relative):
            prefix = self._root_prefixes.get(dataset.name)
            published = (self._root_prefix(dataset) if prefix is None else prefix) + relative
            try:  # os.path.isfile, inlined
                if S_ISREG(os.stat(published).st_mode):
                    return published
            except (OSError, ValueError):
                pass
        found = self.resolve(dataset, relative)
        return None if found is None else str(found)

    def resolve_all(self, dataset: SourceDataset, relatives: Iterable[str]) -> dict[str, str | None]:
        """`resolve_str` for many references of one dataset, each distinct reference checked once.

        A folder that holds many of the references (ODIR's `Training Images/`, VQA-RAD's root)
        is listed once with `os.scandir` instead of one stat per file; anything not found that
        way still takes `resolve_str`, so the other layouts are tried as usual.
        """
        resolved: dict[str, str | None] = {}
        by_folder: dict[str, list[str]] = {}
        for relative in relatives:
            if relative in resolved:
                continue
            resolved[relative] = None
            if _joins_plainly(relative):
                by_folder.setdefault(relative.rpartition("/")[0], []).append(relative)
            else:
                resolved[relative] = self.resolve_str(dataset, relative)
        prefix = self._root_prefix(dataset)
        stat = os.stat
        for folder, members in by_folder.items():
            listed = _regular_file_names(prefix + folder) if len(members) >= LISTING_THRESHOLD else None
            for relative in members:
                published = prefix + relative
                if listed is not None:
                    found = relative.rpartition("/")[2] in listed
                else:
                    try:  # os.path.isfile, inlined: one stat
                        found = S_ISREG(stat(published).st_mode)
                    except (OSError, ValueError):
                        found = False
                # not in the published layout: try the other layouts (MIMIC-CXR-JPG, ...)
                resolved[relative] = published if found else self.resolve_str(dataset, relative)
        return resolved

    def _root_prefix(self, dataset: SourceDataset) -> str:
        """The dataset root as a string that a plain relative path can be appended to."""
        prefix = self._root_prefixes.get(dataset.name)
        if prefix is None:
            root = str(self.root(dataset))
            prefix = "" if root == "." else root if root.endswith("/") else f"{root}/"
            self._root_prefixes[dataset.name] = prefix
        return prefix

    def resolve_form(self, dataset: SourceDataset, relative: str) -> tuple[str, Path] | None:
        """(form name, path) of the first existing candidate for an image reference, or None."""
        for form, path in candidate_forms(dataset, self.root(dataset), relative):
            if os.path.isfile(path):
                return form, path
        return None

    def expected(self, dataset: SourceDataset, relative: str) -> Path:
        """Where the published layout puts an image (what a missing-image error shows)."""
        return self.root(dataset) / relative


class MissingImagesError(FileNotFoundError):
    """Images referenced by a task are not on disk; raised before any model runs."""


def missing_images_message(task: str, missing: Iterable[tuple[SourceDataset, Path]], total: int, shown: int = 5) -> str:
    """An error text naming the task, how many images are missing, the first paths and the fix."""
    missing = list(missing)
    by_dataset: dict[str, SourceDataset] = {}
    for dataset, _ in missing:
        by_dataset.setdefault(dataset.name, dataset)
    first = "\n  ".join(str(path) for _, path in missing[:shown])
    fixes = "\n  ".join(f"{name}: {root_hint(dataset)}" for name, dataset in by_dataset.items())
    return (
        f"task {task}: {len(missing)} of {total} image references are missing, e.g.\n  {first}\n"
        f"Fix:\n  {fixes}\n"
        "Run `medmim check` for a full report, or set MEDMIM_ON_MISSING=skip to evaluate only complete items."
    )
