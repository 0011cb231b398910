"""`medmim browse`: the page built from real lmms-eval runs holds every document, its images and its outcome."""

from __future__ import annotations

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from browser_runs import LIMIT, REPLIES, BrowserRuns
from PIL import Image

from medmim_tasks.benchmark.images import load_image
from medmim_tasks.benchmark.items import load_split
from medmim_tasks.benchmark.splits import SPLITS, SPLITS_BY_TASK
from medmim_tasks.results import browser_thumbnails
from medmim_tasks.results.browser_build import BrowserError, build_browser, check_outside_image_folders
from medmim_tasks.results.browser_data import browser_data
from medmim_tasks.results.browser_page import embedded_json, files_folder
from medmim_tasks.results.browser_thumbnails import ImageRequest, cache_key, make_thumbnails
from medmim_tasks.results.runs import load_runs

DATA = re.compile(r'<script type="application/json" id="medmim-data">(.*?)</script>', re.DOTALL)


def page_data(page: Path) -> dict[str, Any]:
    found = DATA.search(page.read_text(encoding="utf-8"))
    assert found, f"{page}: no embedded data"
    return json.loads(found.group(1))


def tree_state(root: Path) -> dict[str, tuple[int, int]]:
    return {str(path): (path.stat().st_mtime_ns, path.stat().st_size) for path in root.rglob("*")}


def test_embedded_json_cannot_close_its_script_element() -> None:
    text = embedded_json({"reply": "</script><script>alert(1)</script>"})
    assert "</" not in text and json.loads(text) == {"reply": "</script><script>alert(1)</script>"}


def test_cache_key_follows_file_and_render_settings(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    Image.new("L", (8, 8), 3).save(image)
    first = cache_key(str(image), None)
    assert cache_key(str(image), 64) != first and cache_key(str(image), None, side=64) != first
    os.utime(image, ns=(1, 1))
    assert cache_key(str(image), None) != first


def test_missing_and_unreadable_images_become_placeholders_naming_them(tmp_path: Path) -> None:
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG not really")
    thumbnails = make_thumbnails(
        [ImageRequest(None, "/data/EMBED/x.png", None), ImageRequest(str(broken), str(broken), None)],
        cache=tmp_path / "cache", jobs=2, progress=False,
    )  # fmt: skip
    assert [t.jpeg for t in thumbnails] == [None, None]
    assert thumbnails[0].problem == "missing image: /data/EMBED/x.png"
    assert str(broken) in str(thumbnails[1].problem) and "unreadable" in str(thumbnails[1].problem)


def test_a_page_inside_an_image_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BrowserError, match="never writes into image folders"):
        check_outside_image_folders(tmp_path / "images" / "ODIR" / "page.html", {"MEDMIM_IMAGE_ROOT": str(tmp_path / "images")})
    check_outside_image_folders(tmp_path / "elsewhere" / "page.html", {"MEDMIM_IMAGE_ROOT": str(tmp_path / "images")})
    with pytest.raises(BrowserError, match="MEDMIM_THUMBNAIL_CACHE"):
        check_outside_image_folders(
            tmp_path / "page.html", {"MEDMIM_IMAGE_ROOT": str(tmp_path / "images")}, cache=tmp_path / "images" / "EMBED" / "thumbs"
        )


def test_cli_takes_one_or_two_runs_and_refuses_a_page_in_an_image_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from medmim_tasks.cli.main import main

    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(tmp_path / "images"))
    assert main(["browse", "a", "b", "c", "-o", str(tmp_path / "page.html")]) == 2
    assert "give one run, or two runs to compare side by side; got 3" in capsys.readouterr().err
    (tmp_path / "images" / "ODIR").mkdir(parents=True)
    assert main(["browse", "a", "-o", str(tmp_path / "images" / "ODIR" / "page.html")]) == 2
    assert "never writes into image folders" in capsys.readouterr().err
    assert list((tmp_path / "images").rglob("*")) == [tmp_path / "images" / "ODIR"]


def test_only_thumbnails_of_the_page_are_removed_from_its_folder(tmp_path: Path) -> None:
    image = tmp_path / "a.png"
    Image.new("L", (8, 8), 3).save(image)
    thumbnails = make_thumbnails([ImageRequest(str(image), str(image), None)], cache=tmp_path / "cache", progress=False)
    folder = tmp_path / "page_files"
    folder.mkdir()
    stale, foreign = folder / ("0" * 24 + ".jpg"), folder / "holiday.jpg"
    stale.write_bytes(b"old")
    foreign.write_bytes(b"mine")
    [name] = browser_thumbnails.write_thumbnail_files(thumbnails, folder)
    assert sorted(path.name for path in folder.iterdir()) == sorted([str(name), "holiday.jpg"])


@pytest.mark.slow
def test_page_from_two_real_runs_shows_every_document(browser_runs: BrowserRuns) -> None:
    data = page_data(browser_runs.page)
    assert [run["label"] for run in data["runs"]] == [f"dummy (response={letter})" for letter in REPLIES]
    docs = data["docs"]
    assert len(docs) == LIMIT * len(SPLITS) and len({doc["key"] for doc in docs}) == len(docs)
    items = {split.task: load_split(split, browser_runs.env) for split in SPLITS}
    for doc in docs:
        task, index = doc["key"].split(":")
        item = items[task][int(index)]
        assert (doc["split"], doc["dataset"], doc["source"]) == (SPLITS_BY_TASK[task].alias, item.dataset.name, item.source)
        assert doc["gold"] == item.answer and doc["question"] in item.question and doc["n_images"] == len(item.images)
        assert doc["options"] == [list(option) for option in item.options] and doc["gold_letter"] == item.gold_letter
        for run, letter in zip(doc["runs"], REPLIES):
            assert run["reply"] == letter
            if item.gold_letter is None:
                assert run["outcome"] == "open-ended" and run["parsed"] is None
                assert set(run["scores"]) >= {"open_token_f1", "open_token_recall", "open_bleu", "open_rouge_l"}
            elif letter not in {option_letter for option_letter, _ in item.options}:
                # documents come in representative order: some have fewer options than the reply's letter
                assert run["parsed"] is None and run["outcome"] == "unparsed"
            else:
                assert run["parsed"] == letter
                assert run["outcome"] == ("right" if item.gold_letter == letter else "wrong")
        assert [len(images) for images in doc["images"]] == [len(item.images)] * 2
    kinds = {doc["kind"] for doc in docs}
    assert kinds == {"multiple_choice", "open_ended"}
    outcomes = {tuple(run["outcome"] for run in doc["runs"]) for doc in docs}
    assert {("right", "wrong"), ("wrong", "right"), ("open-ended", "open-ended")} <= outcomes


@pytest.mark.slow
def test_thumbnails_show_what_the_model_saw_and_missing_images_name_their_path(browser_runs: BrowserRuns) -> None:
    data = page_data(browser_runs.page)
    folder = files_folder(browser_runs.page)
    assert data["files_folder"] == folder.name
    items = {split.task: load_split(split, browser_runs.env) for split in SPLITS}
    checked_embed = 0
    for doc in data["docs"]:
        item = items[doc["key"].split(":")[0]][int(doc["key"].split(":")[1])]
        for reference, index in zip(item.images, doc["images"][0]):
            src, width, height, problem = data["images"][index]
            if item.dataset.name == "VQA-RAD":  # its root was an empty folder while the page was built
                assert src is None and problem == f"missing image: {browser_runs.missing_root / reference}"
                continue
            original = browser_runs.image_root / item.dataset.folder / reference
            assert problem is None and (width, height) == Image.open(original).size
            with Image.open(folder / src) as thumbnail:
                assert thumbnail.format == "JPEG" and max(thumbnail.size) <= browser_thumbnails.THUMBNAIL_SIDE
                if item.dataset.name == "EMBED" and checked_embed < 5:  # 16-bit: stretched as the model saw it
                    seen = np.asarray(load_image(original).resize(thumbnail.size), dtype=float)
                    assert np.abs(np.asarray(thumbnail.convert("RGB"), dtype=float) - seen).mean() < 4
                    checked_embed += 1
    assert checked_embed == 5
    assert {path.name for path in folder.iterdir()} == {entry[0] for entry in data["images"] if entry[0]}


@pytest.mark.slow
def test_rebuild_reads_the_cache_and_never_touches_the_image_folders(
    browser_runs: BrowserRuns, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in browser_runs.env.items():
        if key.startswith("MEDMIM_"):
            monkeypatch.setenv(key, value)
    monkeypatch.setenv("MEDMIM_VQA_RAD_ROOT", str(browser_runs.missing_root))
    before = tree_state(browser_runs.image_root)

    def no_decoding(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a cached thumbnail was rendered again")

    monkeypatch.setattr(browser_thumbnails, "render_thumbnail", no_decoding)
    page = tmp_path / "again.html"
    built = build_browser([browser_runs.run_a, browser_runs.run_b], page, page_size=10, progress=False)
    assert page_data(page)["images"] == page_data(browser_runs.page)["images"]
    assert built.documents == LIMIT * len(SPLITS) and built.missing > 0
    assert tree_state(browser_runs.image_root) == before


@pytest.mark.slow
def test_recorded_max_image_side_renders_the_smaller_view(browser_runs: BrowserRuns, monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in browser_runs.env.items():
        if key.startswith("MEDMIM_"):
            monkeypatch.setenv(key, value)
    (run,) = load_runs([browser_runs.run_a])
    results = json.loads(json.dumps(run.results))
    for config in results["configs"].values():
        config["lmms_eval_specific_kwargs"]["default"]["max_image_side"] = 20
    data = browser_data([replace(run, results=results)])
    assert {request.max_image_side for request in data.image_requests} == {20}
    thumbnails = make_thumbnails(data.image_requests[:6], cache=browser_runs.page.parent / "side-cache", progress=False)
    assert all(max(t.model_size) == 20 for t in thumbnails if t.model_size)
    assert all(max(Image.open(__import__("io").BytesIO(t.jpeg)).size) == 20 for t in thumbnails if t.jpeg)


@pytest.mark.slow
def test_browser_measurement_script_runs(benchmark_dir: Path, tmp_path: Path) -> None:
    """utils/browser_full_run.py's quickest part (its numbers are read by people, never asserted)."""
    import subprocess
    import sys

    repo = Path(__file__).resolve().parents[2]
    done = subprocess.run(
        [sys.executable, "utils/browser_full_run.py", "--benchmark-dir", str(benchmark_dir), "--skip-full", "--per-split", "1",
         "--work-dir", str(tmp_path)],
        cwd=repo, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "full run, thumbnails from realistic images" in done.stdout
