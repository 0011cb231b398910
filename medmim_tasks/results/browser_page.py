"""The sample browser as one HTML page: data as JSON, styles and script inline, thumbnails beside it.

The page needs no server and no network: open it from the file system. Its thumbnails live in
`<page name>_files/` next to it (content-addressed JPEG files, loaded lazily), so moving the
page means moving that folder with it.
"""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from importlib import resources
from pathlib import Path
from typing import Any

from medmim_tasks.atomic_write import write_text_atomically
from medmim_tasks.results.browser_data import BrowserData
from medmim_tasks.results.browser_thumbnails import Thumbnail, write_thumbnail_files

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 200
ASSETS_PACKAGE, ASSETS_FOLDER = "medmim_tasks.results", "browser_assets"

_FILTERS = (
    ("split", "split"), ("dataset", "dataset"), ("subtype", "source sub-type"), ("kind", "item kind"),
    ("n_images", "images"), ("outcome", "outcome (A)"), ("outcome_b", "outcome (B)"), ("compare", "A against B"),
)


def files_folder(page: Path) -> Path:
    """The folder beside the page that holds its thumbnails: `<page stem>_files`."""
    return page.with_name(f"{page.stem}_files")


def _asset(name: str) -> str:
    return resources.files(ASSETS_PACKAGE).joinpath(ASSETS_FOLDER).joinpath(name).read_text(encoding="utf-8")


def embedded_json(value: Any) -> str:
    """JSON that can sit inside a <script> element: every `<` escaped, so no text can close it."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).replace("<", "\\u003c")


def _filters_html() -> str:
    selects = "".join(f'<label>{html.escape(label)}<select id="f-{name}"></select></label>' for name, label in _FILTERS)
    return f'{selects}<label>search<input type="search" id="f-search" placeholder="words in question, reply, key, source"></label>'


def page_html(payload: dict[str, Any], title: str) -> str:
    """The whole page for a payload whose images table and files folder are filled in."""
    return "\n".join(
        [
            "<!DOCTYPE html>",
            '<html lang="en"><head><meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{html.escape(title)}</title>",
            f"<style>{_asset('browser.css')}</style></head><body>",
            f'<header><h1>{html.escape(title)}</h1><div class="runs" id="runs"></div>',
            f'<div class="filters">{_filters_html()}</div>',
            '<div class="pager"><button id="prev">previous</button><span id="page"></span>'
            '<button id="next">next</button><span id="count"></span></div></header>',
            '<main id="docs"></main>',
            f'<script type="application/json" id="medmim-data">{embedded_json(payload)}</script>',
            f"<script>{_asset('browser.js')}</script>",
            "</body></html>",
        ]
    ) + "\n"


def write_browser_page(
    data: BrowserData, thumbnails: Sequence[Thumbnail], page: Path, page_size: int = DEFAULT_PAGE_SIZE
) -> Path:
    """Write the page and its thumbnail folder; returns the page's path."""
    if not 1 <= page_size <= MAX_PAGE_SIZE:
        raise ValueError(f"page size must be 1 to {MAX_PAGE_SIZE} documents; got {page_size}")
    if len(thumbnails) != len(data.image_requests):
        raise ValueError(f"{len(thumbnails)} thumbnails for {len(data.image_requests)} images")
    folder = files_folder(page)
    names = write_thumbnail_files(thumbnails, folder)
    images = [
        [name, *(thumbnail.model_size or (None, None)), thumbnail.problem]
        for name, thumbnail in zip(names, thumbnails)
    ]
    labels = " vs ".join(run["label"] for run in data.payload["runs"])
    payload = {**data.payload, "images": images, "files_folder": folder.name, "page_size": page_size}
    write_text_atomically(page, page_html(payload, f"Med-MIM samples: {labels}"))
    return page
