"""The browser page in headless Chromium: filters change what is shown, paging works, thumbnails load."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any

import pytest
from browser_runs import LIMIT, PAGE_SIZE, BrowserRuns
from chromium_cdp import CHROMIUM, Chromium

from medmim_tasks.benchmark.splits import SPLITS

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="needs Debian's chromium package (apt-get install -y chromium; .ci/run installs it)"),
]

SHOWN = "[...document.querySelectorAll('article.doc')].map((a) => a.dataset.key)"
TOTAL = LIMIT * len(SPLITS)


def choose(browser: Chromium, filter_name: str, value: str) -> list[str]:
    """Set one filter as a user would (the value, then a change event); the keys shown afterwards."""
    browser.evaluate(
        f"(() => {{ const s = document.getElementById('f-{filter_name}'); s.value = {json.dumps(value)};"
        " s.dispatchEvent(new Event('change')); })()"
    )
    return browser.evaluate(SHOWN)


def all_shown(browser: Chromium) -> list[str]:
    """Every key the current filters leave, page by page through the pager's own button."""
    keys = browser.evaluate(SHOWN)
    while not browser.evaluate("document.getElementById('next').disabled"):
        browser.evaluate("document.getElementById('next').click()")
        keys += browser.evaluate(SHOWN)
    browser.evaluate("window.medmimBrowser.show(0)")
    return keys


IMAGES_LOADED = """(async () => {
  const results = [];
  for (const img of document.querySelectorAll('article.doc img')) {
    img.scrollIntoView();
    if (!img.complete) await new Promise((done) => { img.onload = done; img.onerror = done; setTimeout(done, 10000); });
    results.push([img.getAttribute('src'), img.complete, img.naturalWidth]);
  }
  return results;
})()"""


@pytest.fixture
def browser(browser_runs: BrowserRuns, tmp_path: Path) -> Any:
    with Chromium(tmp_path / "profile") as chromium:
        chromium.open(browser_runs.page.as_uri())
        yield chromium


def test_filters_search_and_paging_change_what_is_shown(browser: Chromium, browser_runs: BrowserRuns) -> None:
    docs = json.loads(browser.evaluate("document.getElementById('medmim-data').textContent"))["docs"]
    first_page = browser.evaluate(SHOWN)
    assert first_page == [doc["key"] for doc in docs[:PAGE_SIZE]]
    assert browser.evaluate("document.getElementById('count').textContent") == f"{TOTAL} of {TOTAL} documents"
    assert sorted(all_shown(browser)) == sorted(doc["key"] for doc in docs)

    odir = choose(browser, "dataset", "ODIR")
    assert odir == [doc["key"] for doc in docs if doc["dataset"] == "ODIR"] and 0 < len(odir) < TOTAL
    assert browser.evaluate("document.getElementById('count').textContent") == f"{len(odir)} of {TOTAL} documents"
    choose(browser, "dataset", "")
    a_right = choose(browser, "compare", "A right, B wrong")
    b_right = choose(browser, "compare", "A wrong, B right")
    outcomes = {doc["key"]: (doc["runs"][0]["outcome"], doc["runs"][1]["outcome"]) for doc in docs}
    # an unparsed reply counts as wrong, as in accuracy
    assert a_right and all(outcomes[key][0] == "right" and outcomes[key][1] in ("wrong", "unparsed") for key in a_right)
    assert b_right and all(outcomes[key][0] in ("wrong", "unparsed") and outcomes[key][1] == "right" for key in b_right)
    assert set(a_right).isdisjoint(b_right)
    choose(browser, "compare", "")
    assert sorted(all_shown(browser)) == sorted(outcomes)

    choose(browser, "kind", "open_ended")
    open_ended = all_shown(browser)
    assert sorted(open_ended) == sorted(doc["key"] for doc in docs if doc["kind"] == "open_ended") and len(open_ended) < TOTAL
    choose(browser, "kind", "")
    choose(browser, "n_images", "2")
    two_images = all_shown(browser)
    assert two_images and sorted(two_images) == sorted(doc["key"] for doc in docs if doc["n_images"] == 2)
    choose(browser, "n_images", "")

    key = docs[-1]["key"]
    browser.evaluate(f"(() => {{ const s = document.getElementById('f-search'); s.value = {json.dumps(key)}; s.dispatchEvent(new Event('input')); }})()")
    assert browser.evaluate(SHOWN) == [key]
    shown_text = browser.evaluate("document.querySelector('article.doc').innerText")
    assert docs[-1]["gold"][:40] in shown_text and "Image 1" in shown_text


def test_every_thumbnail_loads_and_missing_images_name_their_path(browser: Chromium, browser_runs: BrowserRuns) -> None:
    choose(browser, "dataset", "")
    seen = 0
    while True:
        for src, complete, width in browser.evaluate(IMAGES_LOADED):
            assert complete and width > 0, f"broken thumbnail {src}"
            seen += 1
        if browser.evaluate("document.getElementById('next').disabled"):
            break
        browser.evaluate("document.getElementById('next').click()")
    data = json.loads(browser.evaluate("document.getElementById('medmim-data').textContent"))
    assert seen == sum(1 for doc in data["docs"] for index in doc["images"][0] if data["images"][index][0])
    rad = choose(browser, "dataset", "VQA-RAD")
    assert rad
    placeholders = browser.evaluate("[...document.querySelectorAll('.missing')].map((m) => m.textContent)")
    assert placeholders and all(text.startswith(f"missing image: {browser_runs.missing_root}/") for text in placeholders)


def test_filters_in_the_address_are_restored(browser: Chromium, browser_runs: BrowserRuns) -> None:
    browser.open(browser_runs.page.as_uri())
    data = json.loads(browser.evaluate("document.getElementById('medmim-data').textContent"))
    a_right = [doc for doc in data["docs"] if doc["runs"][0]["outcome"] == "right" and doc["runs"][1]["outcome"] in ("wrong", "unparsed")]
    dataset = a_right[0]["dataset"]  # one that has an "A right, B wrong" document in these runs
    browser.open("about:blank")  # a fresh load, so the page reads its address
    browser.open(browser_runs.page.as_uri() + f"#dataset={urllib.parse.quote_plus(dataset)}&compare=A+right%2C+B+wrong")
    expected = [doc["key"] for doc in a_right if doc["dataset"] == dataset]
    assert expected and browser.evaluate(SHOWN) == expected
    assert browser.evaluate("document.getElementById('f-compare').value") == "A right, B wrong"
    choose(browser, "dataset", "")
    assert browser.evaluate("location.hash") == "#compare=A+right%2C+B+wrong"
