#!/usr/bin/env python
"""How big and how slow `medmim browse` is on a full run, and the screenshot in docs/browser.png.

1. A synthetic full run: every item of the six real benchmark files (4,190 documents, 9,463
   image references) answered by deterministic dummy-like replies (right, wrong, unparsed and
   open-ended replies), scored by the package's own `process_results` and written as lmms-eval
   writes a run (results file and sample files), twice (runs A and B). The images are the small
   synthetic stand-ins of the tests (`tests/synthetic_images.py`, same paths and formats).
   Measured: the page's size (one run, and A against B), its thumbnail folder, the time to build
   it with an empty thumbnail cache and again with a full one.
2. Thumbnail time on realistic images (`REALISTIC_SPECS`: 3000 x 4000 16-bit PNG mammograms,
   2000 x 1500 JPEG fundus photographs, ...): `--per-split` evenly spaced items of every split
   get realistic stand-ins, their thumbnails are rendered per dataset with the default thread
   pool, and the wall time per image times the full run's distinct images of that dataset gives
   the estimate for a full run (writing 3,632 realistic mammograms takes longer than the point).
3. The screenshot: the realistic sample's A-against-B page in headless Chromium.

    MEDMIM_BENCHMARK_DIR=../shared/med_mim/benchmark python utils/browser_full_run.py --screenshot docs/browser.png
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, load_split
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results.browser_build import build_browser
from medmim_tasks.results.browser_thumbnails import THUMBNAIL_SIDE, ImageRequest, default_jobs, make_thumbnails
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import process_results

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_images import REALISTIC_SPECS, write_image, write_tree_for_benchmark  # noqa: E402

CLEARED = ("MEDMIM_JUDGE_URL", "MEDMIM_ON_MISSING", "MEDMIM_MAX_IMAGE_SIDE", "MEDMIM_PROMPT_VARIANT")


def reply_for(doc: Mapping[str, Any], number: int, style: int) -> str:
    """A deterministic reply: right, wrong, unparsed or a sentence, varied by document and run."""
    if doc["kind"] != MULTIPLE_CHOICE:
        return doc["answer"].split(".")[0] + "." if (number + style) % 2 else "The images show no change."
    letters = [option["letter"] for option in doc["options"]]
    choice = (number * 7 + style * 3) % 5
    if choice in (0, 1):
        return doc["gold_letter"]
    if choice in (2, 3):
        return next(letter for letter in letters if letter != doc["gold_letter"]) if choice == 2 else letters[-1]
    return "I cannot tell from these images."


def write_run(folder: Path, docs_by_task: Mapping[str, Sequence[dict[str, Any]]], style: int) -> Path:
    """One run as lmms-eval writes it: `<date>_results.json` and one samples file per task."""
    folder.mkdir(parents=True, exist_ok=True)
    date = f"20250101_00000{style}"
    results: dict[str, Any] = {"results": {}, "n-samples": {}, "configs": {},
                               "config": {"model": "dummy", "model_args": f"synthetic_replies={style}", "limit": None}}
    for task, docs in docs_by_task.items():
        sums: dict[str, float] = {}
        counts: dict[str, int] = {}
        with (folder / f"{date}_samples_{task}.jsonl").open("w", encoding="utf-8") as handle:
            for number, doc in enumerate(docs):
                scores = process_results(doc, [reply_for(doc, number, style)])
                for metric, value in scores.items():
                    sums[metric] = sums.get(metric, 0.0) + value["score"]
                    counts[metric] = counts.get(metric, 0) + 1
                handle.write(json.dumps({"doc_id": number, **scores}) + "\n")
        results["results"][task] = {f"{metric},none": total / counts[metric] for metric, total in sums.items()}
        results["n-samples"][task] = {"original": len(docs), "effective": len(docs)}
        results["configs"][task] = {"lmms_eval_specific_kwargs": {"default": {"max_image_side": None}}}
    results_file = folder / f"{date}_results.json"
    results_file.write_text(json.dumps(results), encoding="utf-8")
    return results_file


def folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def timed_build(runs: Sequence[Path], page: Path, cache: Path) -> tuple[float, Any]:
    started = time.perf_counter()
    built = build_browser(runs, page, cache=cache, progress=False)
    return time.perf_counter() - started, built


def measure_full_run(benchmark_dir: Path, work: Path) -> None:
    root = work / "small-images"
    write_tree_for_benchmark(root, benchmark_dir)
    os.environ["MEDMIM_IMAGE_ROOT"] = str(root)
    docs = {split.task: build_docs(split.task) for split in SPLITS}
    runs = [write_run(work / f"full-run-{name}", docs, style) for style, name in enumerate("AB")]
    cache = work / "full-cache"
    for label, chosen in (("one run", runs[:1]), ("A against B", runs)):
        page = work / "full-pages" / f"{label.replace(' ', '-')}.html"
        cold, built = timed_build(chosen, page, cache)
        warm, _ = timed_build(chosen, page, cache)
        print(f"full run, {label}: {built.documents} documents, {built.image_references} image references, "
              f"{built.thumbnails} thumbnail files")
        print(f"  page {page.stat().st_size / 2**20:.1f} MiB, thumbnail folder {folder_bytes(built.files) / 2**20:.1f} MiB "
              f"(small synthetic images); build {cold:.1f} s with an empty cache ({'first' if label == 'one run' else 'cache filled by the one-run page'}), "
              f"{warm:.1f} s again")


def sample_docs(per_split: int) -> dict[str, list[dict[str, Any]]]:
    chosen: dict[str, list[dict[str, Any]]] = {}
    for split in SPLITS:
        docs = build_docs(split.task)
        step = max(1, len(docs) // per_split)
        chosen[split.task] = docs[::step][:per_split]
    return chosen


def measure_realistic(benchmark_dir: Path, work: Path, per_split: int, screenshot: Path | None) -> None:
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    distinct: dict[str, set[str]] = {}
    for split in SPLITS:
        for item in load_split(split, environ):
            distinct.setdefault(item.dataset.name, set()).update(item.images)
    realistic = work / "realistic-images"
    if not (work / "small-images").is_dir():  # the documents are built against the small stand-ins
        write_tree_for_benchmark(work / "small-images", benchmark_dir)
    os.environ["MEDMIM_IMAGE_ROOT"] = str(work / "small-images")
    chosen = sample_docs(per_split)
    by_dataset: dict[str, dict[str, str]] = {}
    for docs in chosen.values():
        for doc in docs:
            for reference in doc["image_refs"]:
                folder = realistic / doc["dataset"]
                by_dataset.setdefault(doc["dataset"], {})[reference] = str(write_image(folder, reference, REALISTIC_SPECS[doc["dataset"]]))
    jobs = default_jobs()
    total_wall = total_cpu = total_bytes = 0.0
    for dataset, paths in sorted(by_dataset.items()):
        requests = [ImageRequest(path, path, None) for path in paths.values()]
        started, cpu_started = time.perf_counter(), time.process_time()
        thumbnails = make_thumbnails(requests, cache=work / "realistic-cache", jobs=jobs, progress=False)
        total_bytes += sum(len(t.jpeg or b"") for t in thumbnails) / len(thumbnails) * len(distinct[dataset])
        wall = (time.perf_counter() - started) / len(requests)
        cpu = (time.process_time() - cpu_started) / len(requests)
        count = len(distinct[dataset])
        total_wall, total_cpu = total_wall + wall * count, total_cpu + cpu * count
        print(f"realistic {dataset}: {len(requests)} images, {wall * 1000:.0f} ms wall and {cpu * 1000:.0f} ms CPU per image "
              f"with {jobs} threads; full run ({count} distinct images): {wall * count / 60:.1f} min wall")
    print(f"full run, thumbnails from realistic images with an empty cache: {total_wall / 60:.0f} min wall on {jobs} threads "
          f"(load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs); {total_cpu / 60:.0f} CPU-minutes in all, "
          f"so about {total_cpu / 60 / jobs:.0f} min on {jobs} idle cores")
    print(f"full run, thumbnail folder from realistic images: about {total_bytes / 2**20:.0f} MiB")
    if screenshot is not None:
        os.environ["MEDMIM_IMAGE_ROOT"] = str(realistic)
        runs = [write_run(work / f"sample-run-{name}", chosen, style) for style, name in enumerate("AB")]
        page = work / "sample-page" / "browse.html"
        build_browser(runs, page, cache=work / "realistic-cache", page_size=25, progress=False)
        take_screenshot(page, screenshot)


def take_screenshot(page: Path, target: Path) -> None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("no chromium on PATH for the screenshot (Debian: apt-get install -y chromium)")
    url = page.as_uri() + "#compare=different+outcome"
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", f"--user-data-dir={profile}",
             "--window-size=1400,1000", "--virtual-time-budget=10000", f"--screenshot={target.resolve()}", url],
            check=True, capture_output=True, timeout=120,
        )  # fmt: skip
    print(f"screenshot: {target}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--benchmark-dir", type=Path, default=None, help="the six benchmark files (default: MEDMIM_BENCHMARK_DIR)")
    parser.add_argument("--per-split", type=int, default=8, help="realistic sample: items per split (default: 8)")
    parser.add_argument("--screenshot", type=Path, help="write the sample page's screenshot here (e.g. docs/browser.png)")
    parser.add_argument("--skip-full", action="store_true", help="only the realistic sample (and screenshot)")
    parser.add_argument("--work-dir", type=Path, help="keep the runs, images and pages here (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    benchmark_dir = args.benchmark_dir or Path(os.environ.get("MEDMIM_BENCHMARK_DIR", "~/.cache/medmim/benchmark")).expanduser()
    for name in CLEARED:
        os.environ.pop(name, None)
    os.environ["MEDMIM_BENCHMARK_DIR"] = str(benchmark_dir)
    work = args.work_dir or Path(tempfile.mkdtemp(prefix="medmim-browse-"))
    try:
        if not args.skip_full:
            measure_full_run(benchmark_dir, work)
        measure_realistic(benchmark_dir, work, args.per_split, args.screenshot)
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    print(f"thumbnails: {THUMBNAIL_SIDE} px longest side, JPEG; {default_jobs()} threads")
    return 0


if __name__ == "__main__":
    sys.exit(main())
