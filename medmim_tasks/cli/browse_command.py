"""`medmim browse RUN [RUN_B]`: one offline HTML page to look through a run's answers, images included."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medmim_tasks.benchmark.items import BenchmarkFormatError
from medmim_tasks.cli.arguments import positive_int
from medmim_tasks.results.browser_build import BrowserError, build_browser, check_outside_image_folders
from medmim_tasks.results.browser_page import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from medmim_tasks.results.browser_thumbnails import THUMBNAIL_SIDE, thumbnail_cache_dir
from medmim_tasks.results.runs import RunFormatError
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder

DEFAULT_OUTPUT = "medmim-browse.html"


def page_size(text: str) -> int:
    value = positive_int(text)
    if value > MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PAGE_SIZE} documents per page, not {text}")
    return value


def run(args: argparse.Namespace) -> int:
    page = Path(args.output).expanduser()
    try:
        check_outside_image_folders(page, cache=thumbnail_cache_dir())  # before the write test below
        writable_folder(page.parent, "-o/--output")
        built = build_browser(
            args.runs, page, page_size=args.page_size, max_image_side=args.max_image_side,
            thumbnail_side=args.thumbnail_side, jobs=args.jobs, progress=not args.quiet,
        )
    except (BrowserError, RunFormatError, BenchmarkFormatError, OutputFolderError) as error:
        print(f"medmim browse: error: {error}", file=sys.stderr)
        return 2
    print(f"{built.documents} documents, {built.image_references} image references, {built.thumbnails} thumbnails")
    if built.missing:
        print(f"note: {built.missing} images are missing or unreadable; the page shows a placeholder naming each path")
    print(f"page: {built.page}")
    print(f"thumbnails: {built.files} (keep it beside the page)")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "browse",
        help="an offline HTML page of a run's answers with their images, for error analysis",
        description=(
            "Read one lmms-eval run (made with --log_samples), or two to compare side by side, and write one HTML page "
            "showing every document: its images as thumbnails in the order the model received them, the question, "
            "options, gold answer, reply, parsed letter, outcome and scores, with filters, search and paging. "
            "Images are found like the tasks find them (MEDMIM_IMAGE_ROOT and the per-dataset roots) and only read; "
            "thumbnails go into <page>_files/ beside the page and are cached in MEDMIM_THUMBNAIL_CACHE."
        ),
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="one run folder or *_results.json; a second one to compare")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"the HTML page to write (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--page-size", type=page_size, default=DEFAULT_PAGE_SIZE, help=f"documents per page, 1 to {MAX_PAGE_SIZE} (default: {DEFAULT_PAGE_SIZE})")
    parser.add_argument(
        "--max-image-side", type=positive_int, metavar="PIXELS",
        help="the max_image_side the run used, when it was set by MEDMIM_MAX_IMAGE_SIDE (not recorded); default: what the results file records",
    )
    parser.add_argument("--thumbnail-side", type=positive_int, default=THUMBNAIL_SIDE, help=f"longest side of a thumbnail in pixels (default: {THUMBNAIL_SIDE})")
    parser.add_argument("--jobs", type=positive_int, help="threads rendering thumbnails (default: the CPUs, at most 8)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(func=run)
