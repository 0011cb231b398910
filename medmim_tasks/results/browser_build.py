"""Build the sample browser of one run, or of two runs side by side: runs in, one HTML page out."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from medmim_tasks.benchmark.sources import SOURCE_DATASETS, image_root
from medmim_tasks.results.browser_data import browser_data
from medmim_tasks.results.browser_page import DEFAULT_PAGE_SIZE, files_folder, write_browser_page
from medmim_tasks.results.browser_thumbnails import (
    THUMBNAIL_CACHE_VARIABLE,
    THUMBNAIL_SIDE,
    make_thumbnails,
    thumbnail_cache_dir,
)
from medmim_tasks.results.runs import Run, RunFormatError, load_runs


class BrowserError(ValueError):
    """The browser cannot be built as asked (too many runs, a page inside an image folder, ...)."""


@dataclass(frozen=True)
class BrowserPage:
    """What was written: the page, its thumbnail folder, and how many documents and images it shows."""

    page: Path
    files: Path
    documents: int
    image_references: int
    thumbnails: int
    missing: int


def one_run(path: str | Path) -> Run:
    """The single run a path names (a run folder or a *_results.json); an error listing them if it holds several."""
    runs = load_runs([path])
    if len(runs) != 1:
        found = "\n  ".join(str(run.results_file) for run in runs)
        raise BrowserError(f"{path} holds {len(runs)} runs; name one of them (its folder or results file):\n  {found}")
    return runs[0]


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def check_outside_image_folders(page: Path, environ: Mapping[str, str] | None = None, cache: Path | None = None) -> None:
    """Refuse a page (with its thumbnail folder) or a thumbnail cache inside an image folder: never written there."""
    written = [(page, "choose a page path elsewhere with -o/--output")]
    if cache is not None:
        written.append((cache, f"set {THUMBNAIL_CACHE_VARIABLE} to a folder outside the image folders"))
    for path, fix in written:
        target = Path(os.path.realpath(path.expanduser()))
        for dataset in SOURCE_DATASETS:
            root = Path(os.path.realpath(image_root(dataset, environ)))
            if _inside(target, root):
                raise BrowserError(
                    f"{path} lies inside the {dataset.name} image folder {root}; the browser never writes into image "
                    f"folders. Fix: {fix}."
                )


def build_browser(
    run_paths: Sequence[str | Path],
    page: Path,
    *,
    page_size: int = DEFAULT_PAGE_SIZE,
    max_image_side: int | None = None,
    thumbnail_side: int = THUMBNAIL_SIDE,
    jobs: int | None = None,
    cache: Path | None = None,
    progress: bool = True,
    environ: Mapping[str, str] | None = None,
) -> BrowserPage:
    """Read the runs, render their images' thumbnails (cached) and write the page beside its `_files` folder."""
    if not 1 <= len(run_paths) <= 2:
        raise BrowserError(f"give one run, or two runs to compare side by side; got {len(run_paths)}")
    cache = thumbnail_cache_dir() if cache is None else cache
    check_outside_image_folders(page, environ, cache)
    runs = [one_run(path) for path in run_paths]
    if len(runs) == 2 and runs[0].results_file.resolve() == runs[1].results_file.resolve():
        raise BrowserError(f"both arguments name the same run ({runs[0].results_file}); give two different runs")
    data = browser_data(runs, max_image_side=max_image_side, environ=environ)
    thumbnails = make_thumbnails(data.image_requests, cache=cache, side=thumbnail_side, jobs=jobs, progress=progress)
    page.parent.mkdir(parents=True, exist_ok=True)
    write_browser_page(data, thumbnails, page, page_size)
    documents = data.payload["docs"]
    return BrowserPage(
        page=page,
        files=files_folder(page),
        documents=len(documents),
        image_references=sum(len(images) for doc in documents for images in doc["images"][:1]),
        thumbnails=sum(thumbnail.jpeg is not None for thumbnail in thumbnails),
        missing=sum(thumbnail.jpeg is None for thumbnail in thumbnails),
    )


__all__ = ["BrowserError", "BrowserPage", "RunFormatError", "build_browser", "check_outside_image_folders", "one_run"]
