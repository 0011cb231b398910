#!/usr/bin/env python
"""What the Med-MIM plugin costs beyond reading the pixels, each part against its physical floor.

Measured in one run (issue 7), on a stated sample of the real benchmark items and a synthetic
image tree at realistic sizes (`REALISTIC_SPECS`: 3000 x 4000 16-bit PNG mammograms, 2000 x 1500
JPEG fundus photographs, 256 x 256 and 512 x 512 MRI and X-ray slices), written to a temp dir:

1. building all six tasks (`build_docs`: load, validate, classify, clusters, find every image)
   against a plain `json.load` of the six files plus one `os.stat` per image reference
   (all items of the six real files; the images are empty files there, only their paths matter);
2. `doc_to_visual` per document against decoding the same files with Pillow alone:
   `Image.open(p).convert("RGB")`, the way lmms-eval tasks hand pictures to models (the
   decode without the RGB copy is shown too); also with `max_image_side` set;
3. an lmms-eval `dummy` run that opens every image (`read_bytes=1` makes the dummy model call
   `doc_to_visual` for each document) against (2)'s floor plus lmms-eval's own cost, measured by
   the same run without opening images (`read_bytes=0`);
4. the peak resident memory of that run at two sample sizes, and what stays resident between
   documents early and late in the responses (it must not grow with the docs);
5. reply scoring (`process_results`: answer extraction plus metrics) per second on one core,
   over a fixed mix of reply shapes (letters, phrases, option text, prose, ~220-word replies);
   and the worst time of one reply over the pathological replies of `utils/hostile_replies.py`
   (runs of spaces, quotes, brackets, backslashes, ... up to 100,000 characters; issue 18),
   scored as a multiple-choice and as an open-ended reply: `worst_pathological_reply_ms=<float>`;
6. with `--only prefetch` (only there): image prefetching in lmms-eval runs of a stand-in model
   that sleeps per document, against max(decode, model) + lmms-eval's fixed cost
   (utils/bench_prefetch.py): `prefetch_ratio=<float>`.

Times are CPU seconds of this process (`time.process_time`), so other work on a shared machine
does not inflate them; (1), (2) and (5) run pinned to one CPU, each document's time is its best
of `--repeats` with the methods interleaved. (3) gives the lmms-eval process's CPU time
(rusage) and its wall time. The last line is `overhead_ratio=<float>`: (2)'s plugin time over
its floor; the line before it (the last with `--only scoring`) is `worst_pathological_reply_ms=`.

    MEDMIM_BENCHMARK_DIR=../shared/med_mim/benchmark python utils/bench_overhead.py
    python utils/bench_overhead.py --benchmark-dir DIR --items-per-split 8 --small-items-per-split 2
    python utils/bench_overhead.py --only visual --datasets ODIR   # (2) alone, ODIR items only

The sample is `--items-per-split` items of every split, evenly spaced through the file (so the
mix of datasets and of multiple-choice and open items follows the file); the small memory
sample is an evenly spaced subset of it that keeps the big sample's heaviest item. Sample
files, images and run outputs live in a temp dir, removed at the end (`--work-dir` keeps and
reuses them). Takes about three and a half minutes on two cores at the defaults.
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
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hostile_replies import HOSTILE_REPLIES
from PIL import Image

from medmim_tasks.benchmark.checksum import ALLOW_MODIFIED_VARIABLE
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, OPEN_ENDED, load_split, read_split_file
from medmim_tasks.benchmark.sources import SOURCE_DATASETS_BY_NAME, dataset_for_source
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.task import ordering
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import doc_to_visual, process_results

# the synthetic image writer is test support (tests/), not part of the installed package
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from synthetic_images import REALISTIC_SPECS, write_image  # noqa: E402

TARGET_OVERHEAD_RATIO = 1.10
TARGET_BUILD_RATIO = 2.0
TARGET_REPLIES_PER_SECOND = 20_000
DOWNSCALE_SIDES = (1024, 448)
MODEL_SIDE = 448  # the input side of the model whose resize follows doc_to_visual in (2)
BUILD_REPEATS = 15


@dataclass
class Row:
    """One line of the printed table."""

    what: str
    measured: str
    floor: str = ""
    ratio: str = ""
    target: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, what: str, measured: str, floor: str = "", ratio: float | str = "", target: str = "") -> None:
        self.rows.append(Row(what, measured, floor, f"{ratio:.2f}" if isinstance(ratio, float) else ratio, target))

    def section(self, title: str) -> None:
        self.rows.append(Row(f"**{title}**", ""))

    def markdown(self) -> str:
        lines = ["| measurement | plugin | floor | ratio | target |", "|---|---|---|---|---|"]
        lines += [f"| {r.what} | {r.measured} | {r.floor} | {r.ratio} | {r.target} |" for r in self.rows]
        return "\n".join(lines)


# ---------------------------------------------------------------- set-up: sample and image trees


def evenly_spaced(count: int, total: int) -> list[int]:
    """`count` indices spread evenly over range(total) (all of them when count >= total)."""
    if count >= total:
        return list(range(total))
    return sorted({int((k + 0.5) * total / count) for k in range(count)})


def write_sample_benchmark(benchmark_dir: Path, target: Path, per_split: dict[str, list[int]]) -> int:
    """The six split files holding only the sampled items (temp dir only, never the repo)."""
    target.mkdir(parents=True, exist_ok=True)
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    items = 0
    for split in SPLITS:
        raw = read_split_file(split, environ)
        chosen = [raw[index] for index in per_split[split.task]]
        (target / split.file_name).write_text(json.dumps(chosen))
        items += len(chosen)
    return items


def _write_one(job: tuple[str, str, str]) -> None:
    root, dataset_name, relative = job
    dataset = SOURCE_DATASETS_BY_NAME[dataset_name]
    write_image(Path(root) / dataset.folder, relative, REALISTIC_SPECS[dataset_name])


def write_realistic_tree(image_root: Path, benchmark_dir: Path, jobs: int) -> int:
    """Realistic-size stand-ins for every image the (sample) benchmark files reference."""
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    wanted = sorted(
        {(item.dataset.name, relative) for split in SPLITS for item in load_split(split, environ) for relative in item.images},
        key=lambda pair: pair[0] != "EMBED",  # the slow ones first, so the pool ends evenly
    )
    todo = [(str(image_root), name, relative) for name, relative in wanted]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        list(pool.map(_write_one, todo, chunksize=1))
    return len(todo)


def write_empty_tree(image_root: Path, benchmark_dir: Path) -> int:
    """An empty file at every image path of the six full files (task building only stats them)."""
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    paths = {
        image_root / item.dataset.folder / relative
        for split in SPLITS
        for item in load_split(split, environ)
        for relative in item.images
    }
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch()
    return len(paths)


# ---------------------------------------------------------------- timing helpers


def pin_to_one_cpu() -> set[int] | None:
    """Pin this process to one CPU; returns the previous affinity (None where unsupported)."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    before = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(before)})
    return before


def unpin(before: set[int] | None) -> None:
    if before is not None:
        os.sched_setaffinity(0, before)


def cpu_seconds() -> float:
    """CPU time of this process (user + system, all threads): what the work costs, whatever
    else runs on the machine. The timed work is single-threaded, so on a quiet machine this is
    its wall time."""
    return time.process_time()


def best_time(function: Callable[[], Any], repeats: int) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = cpu_seconds()
        function()
        best = min(best, cpu_seconds() - start)
    return best


# ---------------------------------------------------------------- (1) task building


def stat_floor(benchmark_dir: Path, image_root: Path) -> int:
    """json.load of the six files and one os.stat per image reference; returns the references."""
    references = 0
    root = str(image_root)
    for split in SPLITS:
        with open(os.path.join(benchmark_dir, split.file_name), "rb") as handle:
            raw = json.load(handle)
        for item in raw:
            folder = f"{root}/{dataset_for_source(item['source']).folder}/"  # type: ignore[union-attr]
            for relative in item["images"]:
                os.stat(folder + relative)
                references += 1
    return references


def measure_task_building(report: Report, benchmark_dir: Path, image_root: Path, repeats: int) -> None:
    import datasets

    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir), "MEDMIM_IMAGE_ROOT": str(image_root)}
    counts: dict[str, int] = {}

    def build_all() -> None:
        ordering._balanced_order.cache_clear()  # as the first build in a process: the order is computed
        docs = [build_docs(split.task, environ) for split in SPLITS]
        counts["docs"] = sum(len(task_docs) for task_docs in docs)

    def build_all_again() -> None:  # lmms-eval's build after the data check: the order is remembered
        for split in SPLITS:
            build_docs(split.task, environ)

    def build_all_as_datasets() -> None:
        datasets.disable_progress_bars()
        for split in SPLITS:
            datasets.Dataset.from_list(build_docs(split.task, environ))

    build_all()  # warm the page and dentry caches once for both sides
    references = stat_floor(benchmark_dir, image_root)
    plugin, floor = float("inf"), float("inf")
    for _ in range(BUILD_REPEATS):  # interleaved, so both see the same machine
        plugin = min(plugin, best_time(build_all, 1))
        floor = min(floor, best_time(lambda: stat_floor(benchmark_dir, image_root), 1))
    with_arrow = best_time(build_all_as_datasets, repeats)
    again = best_time(build_all_again, repeats)
    report.section(f"1. build all six tasks ({counts['docs']:,} docs, {references:,} image references)")
    report.add("build_docs vs json.load + os.stat per reference", f"{plugin:.3f} s", f"{floor:.3f} s", plugin / floor, f"<= {TARGET_BUILD_RATIO:.1f}")
    report.add("  + datasets.Dataset.from_list (process_docs, info)", f"{with_arrow:.3f} s", "", "", "")
    report.add("  build_docs again, representative order remembered (info)", f"{again:.3f} s", "", "", "")


# ---------------------------------------------------------------- (2) doc_to_visual


def decode_only(paths: Sequence[str]) -> None:
    for path in paths:
        image = Image.open(path)
        image.load()
        image.close()


def decode_to_rgb(paths: Sequence[str]) -> None:
    for path in paths:
        Image.open(path).convert("RGB")


@dataclass
class VisualTimes:
    """Per-dataset totals (seconds) of each method over the sampled documents."""

    seconds: dict[str, dict[str, float]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(float)))
    images: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    docs: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    pixels: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def total(self, method: str) -> float:
        return sum(per_method[method] for per_method in self.seconds.values())


def plugin_method(max_image_side: int | None) -> Callable[[dict[str, Any]], list[Any]]:
    kwargs = {"max_image_side": max_image_side}
    return lambda doc: doc_to_visual(doc, kwargs)


def model_resize(images: Sequence[Image.Image]) -> list[Image.Image]:
    """What a fixed-resolution model's processor does next: bicubic resize to MODEL_SIDE square."""
    return [image.resize((MODEL_SIDE, MODEL_SIDE), Image.Resampling.BICUBIC) for image in images]


def measure_doc_to_visual(docs: Sequence[dict[str, Any]], repeats: int) -> VisualTimes:
    methods: dict[str, Callable[[dict[str, Any]], Any]] = {
        "decode": lambda doc: decode_only(doc["image_paths"]),
        "decode_rgb": lambda doc: decode_to_rgb(doc["image_paths"]),
        "plugin": plugin_method(None),
        **{f"plugin_{side}": plugin_method(side) for side in DOWNSCALE_SIDES},
        "plugin+model": lambda doc: model_resize(plugin_method(None)(doc)),
        f"plugin_{MODEL_SIDE}+model": lambda doc: model_resize(plugin_method(MODEL_SIDE)(doc)),
    }
    times = VisualTimes()
    for doc in docs:  # warm-up: page cache, imports, first-call costs
        for method in methods.values():
            method(doc)
    for doc in docs:
        dataset = doc["dataset"]
        times.docs[dataset] += 1
        times.images[dataset] += len(doc["image_paths"])
        best = {name: float("inf") for name in methods}
        for repeat in range(repeats):
            names = list(methods)
            names = names[repeat % len(names) :] + names[: repeat % len(names)]  # rotate the order
            for name in names:
                start = cpu_seconds()
                result = methods[name](doc)
                best[name] = min(best[name], cpu_seconds() - start)
                del result
        for name, seconds in best.items():
            times.seconds[dataset][name] += seconds
        for name in ["plugin", *(f"plugin_{side}" for side in DOWNSCALE_SIDES)]:
            for image in methods[name](doc):
                times.pixels[dataset][name] += image.size[0] * image.size[1]
    return times


def report_doc_to_visual(report: Report, times: VisualTimes) -> float:
    docs = sum(times.docs.values())
    images = sum(times.images.values())
    plugin, floor, decode = times.total("plugin"), times.total("decode_rgb"), times.total("decode")
    ratio = plugin / floor
    report.section(f"2. doc_to_visual, {docs} docs, {images} images (best of repeats, one CPU)")
    report.add('all datasets vs Image.open(p).convert("RGB")', f"{plugin:.3f} s", f"{floor:.3f} s", ratio, f"<= {TARGET_OVERHEAD_RATIO:.2f}")
    report.add("all datasets vs Image.open(p).load() (decode only, info)", f"{plugin:.3f} s", f"{decode:.3f} s", plugin / decode, "")
    for dataset in sorted(times.seconds):
        per = times.seconds[dataset]
        report.add(
            f"  {dataset}: {times.docs[dataset]} docs, {times.images[dataset]} images",
            f"{per['plugin'] * 1000:.1f} ms",
            f"{per['decode_rgb'] * 1000:.1f} ms",
            per["plugin"] / per["decode_rgb"],
            f"decode only {per['decode'] * 1000:.1f} ms",
        )
    for side in DOWNSCALE_SIDES:
        name = f"plugin_{side}"
        megapixels = sum(per[name] for per in times.pixels.values()) / 1e6
        full = sum(per["plugin"] for per in times.pixels.values()) / 1e6
        report.add(
            f"max_image_side={side} (vs off)",
            f"{times.total(name):.3f} s",
            f"{plugin:.3f} s",
            times.total(name) / plugin,
            f"{megapixels:.0f} of {full:.0f} MP to the model",
        )
        for dataset in sorted(times.seconds):
            per = times.seconds[dataset]
            report.add(f"  {dataset}", f"{per[name] * 1000:.1f} ms", f"{per['plugin'] * 1000:.1f} ms", per[name] / per["plugin"], "")
    with_model, off_with_model = times.total(f"plugin_{MODEL_SIDE}+model"), times.total("plugin+model")
    report.add(
        f"max_image_side={MODEL_SIDE} + the model's own bicubic resize to {MODEL_SIDE} px (vs off + the same resize)",
        f"{with_model:.3f} s",
        f"{off_with_model:.3f} s",
        with_model / off_with_model,
        "",
    )
    return ratio


# ---------------------------------------------------------------- (3, 4) lmms-eval runs


@dataclass
class LmmsRun:
    seconds: float
    cpu_seconds: float
    max_rss_mb: float
    docs: int
    doc_to_visual_seconds: float | None
    # resident memory between documents while the model responds, first and last quarter (MB)
    settled_rss_mb: tuple[float, float] | None = None


RESPONDING = "Model Responding"


def wait_watching_memory(child: subprocess.Popen[bytes], log: Path, watch: bool) -> tuple[int, Any, tuple[float, float] | None]:
    """Wait for the child: (exit status, its rusage, settled RSS). With `watch`, poll its RSS
    meanwhile and give the lowest RSS in the first and last quarter of its "Model Responding"
    phase: what stays resident between documents (it would climb if documents or images were
    kept). Settled RSS is None without psutil or when the phase was too short to see."""
    try:
        import psutil

        process = psutil.Process(child.pid) if watch else None
    except ImportError:
        process = None
    samples: list[tuple[float, float]] = []
    started = ended = None
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid == child.pid:
            break
        if process is not None:
            now = time.perf_counter()
            try:
                samples.append((now, process.memory_info().rss / 2**20))
            except psutil.Error:
                pass
            if ended is None and len(samples) % 10 == 0:
                text = log.read_text(errors="replace")
                if started is None and RESPONDING in text:
                    started = now
                if started is not None and f"{RESPONDING}: 100%" in text:
                    ended = now
        time.sleep(0.005)
    child.returncode = os.waitstatus_to_exitcode(status)
    if started is None or ended is None:
        return child.returncode, usage, None
    phase = [rss for when, rss in samples if started <= when <= ended]
    if len(phase) < 8:
        return child.returncode, usage, None
    quarter = len(phase) // 4
    return child.returncode, usage, (min(phase[:quarter]), min(phase[-quarter:]))


def run_dummy(benchmark_dir: Path, image_root: Path, work: Path, name: str, open_images: bool) -> LmmsRun:
    """One `lmms-eval --model dummy` run over the sample files; wall time and the child's peak RSS."""
    output = work / name
    metrics = work / f"{name}-dummy-metrics.json"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MEDMIM_")}
    environ.update(
        MEDMIM_BENCHMARK_DIR=str(benchmark_dir),
        MEDMIM_IMAGE_ROOT=str(image_root),
        MEDMIM_ALLOW_MODIFIED_BENCHMARK="1",  # the sample files are subsets of the pinned ones
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(work / "hf"),
        TOKENIZERS_PARALLELISM="false",
    )
    model_args = f"response=A,read_bytes={1 if open_images else 0},metrics_output_path={metrics}"
    command = [
        sys.executable, "-m", "lmms_eval", "--model", "dummy", "--model_args", model_args,
        "--tasks", "med_mim", "--log_samples", "--output_path", str(output),
    ]  # fmt: skip
    log = work / f"{name}.log"
    start = time.perf_counter()
    with log.open("w") as handle:
        child = subprocess.Popen(command, env=environ, stdout=handle, stderr=subprocess.STDOUT)
        returncode, usage, settled = wait_watching_memory(child, log, watch=open_images)
    seconds = time.perf_counter() - start
    results_files = sorted(output.rglob("*_results.json"))
    if returncode != 0 or not results_files:  # lmms-eval exits 0 even when it failed
        tail = log.read_text()[-4000:]
        raise SystemExit(f"lmms-eval run {name} wrote no results (exit {returncode}); log {log}:\n{tail}")
    results = json.loads(results_files[-1].read_text())
    docs = sum(int(results["n-samples"][split.task]["effective"]) for split in SPLITS)
    visual_seconds = None
    if open_images:
        payload = json.loads(metrics.read_text())
        visual_seconds = float(payload["latency"]["resolve"]["total_s"])
    return LmmsRun(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, docs, visual_seconds, settled)


# ---------------------------------------------------------------- (5) scoring


VERBOSE_CHARACTERS = 600  # the table times longer and shorter replies apart
# A reply near the 256-token generation limit, as verbose models give.
VERBOSE_REPLY = " ".join(
    [
        "The first image shows a well-defined opacity in the upper outer region with smooth margins,",
        "while the second image, acquired later, shows the same region with slightly different contrast.",
        "Careful comparison of the two studies suggests that the overall appearance is broadly similar,",
        "although subtle differences in density and positioning make a definitive judgement difficult.",
    ]
    * 4
)


def replies_for(doc: dict[str, Any], number: int) -> str:
    """A deterministic mix of the reply shapes models give (letters, phrases, option text, prose)."""
    if doc["kind"] == MULTIPLE_CHOICE:
        options = doc["options"]
        option = options[number % len(options)]
        shapes = [
            option["letter"],
            f"The answer is {option['letter']}.",
            f"({option['letter']}) {option['text']}",
            option["text"],
            (
                f"Comparing the two images, the findings are consistent with {option['text'].lower()}, so the "
                f"correct option is {option['letter']}."
            ),
            "<think>The first image shows a lesion; the second one does not.</think> " + option["letter"],
            "I cannot determine this from the images provided.",
            VERBOSE_REPLY + f" Therefore the answer is {option['letter']}.",
        ]
        return shapes[number % len(shapes)]
    answer = doc["answer"]
    shapes = [
        answer,
        f"The images suggest that {answer[:1].lower()}{answer[1:]}",
        "There is no significant change between the two studies.",
        "",
        " ".join([answer] * 3),
        VERBOSE_REPLY,
    ]
    return shapes[number % len(shapes)]


def replies_per_second(pairs: Sequence[tuple[dict[str, Any], str]], passes: int = 3) -> float:
    """process_results calls per second over `pairs`, best of `passes` passes."""

    def one_pass() -> None:
        for doc, reply in pairs:
            process_results(doc, [reply])

    return len(pairs) / best_time(one_pass, passes)


def measure_scoring(report: Report, docs: Sequence[dict[str, Any]], calls: int) -> float:
    """Replies scored per second: the benchmark's own mix of multiple-choice and open documents."""
    by_kind: dict[str, list[tuple[dict[str, Any], str]]] = defaultdict(list)
    mixed: list[tuple[dict[str, Any], str]] = []
    for number in range(calls):
        doc = docs[(number * 7919) % len(docs)]  # a fixed stride through every split
        pair = (doc, replies_for(doc, number))
        mixed.append(pair)
        length = f"replies over {VERBOSE_CHARACTERS} characters" if len(pair[1]) > VERBOSE_CHARACTERS else "shorter replies"
        by_kind[f"{doc['kind']}, {length}"].append(pair)
    for doc, reply in mixed[:2000]:
        process_results(doc, [reply])  # warm-up: lazy imports, regex compilation
    rate = replies_per_second(mixed)
    report.section(f"5. reply scoring, {len(mixed):,} process_results calls (one CPU, LLM judge off)")
    report.add("all replies (the benchmark's mix of kinds and reply shapes)", f"{rate:,.0f} replies/s", "", "", f">= {TARGET_REPLIES_PER_SECOND:,}")
    for kind, pairs in sorted(by_kind.items()):
        report.add(f"  {kind} ({len(pairs):,})", f"{replies_per_second(pairs):,.0f} replies/s", "", "", "")
    return rate


def measure_pathological_replies(report: Report, docs: Sequence[dict[str, Any]]) -> float:
    """The worst CPU time of one process_results call (ms) over the pathological replies, each
    scored for the first multiple-choice and the first open-ended document."""
    chosen = [next(doc for doc in docs if doc["kind"] == kind) for kind in (MULTIPLE_CHOICE, OPEN_ENDED)]
    worst: dict[str, tuple[float, str]] = {}
    for doc in chosen:
        for name, reply, _ in HOSTILE_REPLIES:
            start = cpu_seconds()
            process_results(doc, [reply])
            worst[doc["kind"]] = max(worst.get(doc["kind"], (0.0, "")), (cpu_seconds() - start, name))
    longest = max(len(reply) for _, reply, _ in HOSTILE_REPLIES)
    for kind, (seconds, name) in sorted(worst.items()):
        report.add(
            f"  worst of {len(HOSTILE_REPLIES)} pathological replies (up to {longest:,} characters), {kind}: {name}",
            f"{seconds * 1000:,.0f} ms",
            "",
            "",
            "",
        )
    return max(seconds for seconds, _ in worst.values()) * 1000


def measure_only_scoring(report: Report, benchmark_dir: Path, empty_root: Path, calls: int) -> tuple[float, float]:
    """(5) on the documents of the six full files, pinned to one CPU: (replies per second, the
    worst pathological reply's milliseconds)."""
    before = pin_to_one_cpu()
    try:
        full_environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir), "MEDMIM_IMAGE_ROOT": str(empty_root)}
        all_docs = [doc for split in SPLITS for doc in build_docs(split.task, full_environ)]
        return measure_scoring(report, all_docs, calls), measure_pathological_replies(report, all_docs)
    finally:
        unpin(before)


def write_realistic_sample(benchmark_dir: Path, work: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """The sampled split files (`--items-per-split`, `--datasets`) and their realistic images: (files, images)."""
    indices = sample_indices(benchmark_dir, args.items_per_split, args.datasets)
    sample_dir = work / f"sample-{args.items_per_split}-{'-'.join(args.datasets or ['all'])}"
    sampled = write_sample_benchmark(benchmark_dir, sample_dir, indices)
    images_root = work / "images"
    started = time.perf_counter()
    files = write_realistic_tree(images_root, sample_dir, args.jobs)
    print(f"set-up: {sampled} sampled items, {files} realistic image files ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
    return sample_dir, images_root


def measure_only_visual(report: Report, benchmark_dir: Path, work: Path, args: argparse.Namespace) -> float:
    """(2) alone: the sample of a full run (or only its `--datasets` items) at realistic sizes."""
    sample_dir, images_root = write_realistic_sample(benchmark_dir, work, args)
    # the sample files are subsets of the pinned ones
    environ = {"MEDMIM_BENCHMARK_DIR": str(sample_dir), "MEDMIM_IMAGE_ROOT": str(images_root), ALLOW_MODIFIED_VARIABLE: "1"}
    before = pin_to_one_cpu()
    try:
        docs = [doc for split in SPLITS for doc in build_docs(split.task, environ)]
        return report_doc_to_visual(report, measure_doc_to_visual(docs, args.repeats))
    finally:
        unpin(before)


# ---------------------------------------------------------------- main


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark-dir", type=Path, default=os.environ.get("MEDMIM_BENCHMARK_DIR"), help="the six Med-MIM JSON files (default: $MEDMIM_BENCHMARK_DIR)")
    parser.add_argument("--items-per-split", type=int, default=8, help="sampled items per split for (2)-(4) (default 8)")
    parser.add_argument("--small-items-per-split", type=int, default=2, help="items per split of the small memory run (default 2)")
    parser.add_argument("--repeats", type=int, default=3, help="timings per document and method; the best counts (default 3)")
    parser.add_argument("--scoring-calls", type=int, default=20_000, help="process_results calls timed in (5), each timed 3 times (default 20,000)")
    parser.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1), help="processes writing the image tree (default 2)")
    parser.add_argument("--work-dir", type=Path, help="keep the sample files, images and runs here (reused when run again)")
    parser.add_argument(
        "--only",
        choices=("scoring", "building", "visual", "prefetch"),
        help="run only this section (scoring: (5) alone, about a minute; building: (1) alone, seconds; "
        "visual: (2) alone on the same sample, and its overhead_ratio; prefetch: (6) image prefetching "
        "in lmms-eval runs of a stand-in model, and its prefetch_ratio)",
    )
    parser.add_argument(
        "--datasets",
        type=lambda text: [name.strip() for name in text.split(",") if name.strip()],
        help="with --only visual or prefetch: sample only items of these source datasets, e.g. ODIR or ODIR,VQA-RAD (default: all)",
    )
    return parser.parse_args(argv)


def sample_indices(benchmark_dir: Path, per_split: int, datasets: Sequence[str] | None = None) -> dict[str, list[int]]:
    """`per_split` evenly spaced items of every split; only items of `datasets` when given."""
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    chosen: dict[str, list[int]] = {}
    for split in SPLITS:
        raws = read_split_file(split, environ)
        candidates = [
            index for index, raw in enumerate(raws)
            if datasets is None or dataset_for_source(raw["source"]).name in datasets  # type: ignore[union-attr]
        ]
        chosen[split.task] = [candidates[k] for k in evenly_spaced(per_split, len(candidates))]
    return chosen


def item_megapixels(raw: dict[str, Any]) -> float:
    """Pixels one item's images hold at the realistic sizes (what doc_to_visual has in memory at once)."""
    width, height = REALISTIC_SPECS[dataset_for_source(raw["source"]).name].size  # type: ignore[union-attr]
    return len(raw["images"]) * width * height / 1e6


def small_sample(benchmark_dir: Path, big: dict[str, list[int]], per_split: int) -> tuple[dict[str, list[int]], float]:
    """An evenly spaced subset of the big sample that holds its heaviest item too (so the two peak
    memories differ only by what grows with the number of docs); and that item's megapixels."""
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    raws = {split.task: read_split_file(split, environ) for split in SPLITS}
    small = {task: [indices[i] for i in evenly_spaced(per_split, len(indices))] for task, indices in big.items()}
    task, index = max(((task, index) for task, indices in big.items() for index in indices), key=lambda ti: item_megapixels(raws[ti[0]][ti[1]]))
    if index not in small[task]:
        nearest = min(range(len(small[task])), key=lambda k: abs(small[task][k] - index))
        small[task][nearest] = index
        small[task].sort()
    return small, item_megapixels(raws[task][index])


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    began = time.perf_counter()
    if args.benchmark_dir is None or not all((args.benchmark_dir / s.file_name).is_file() for s in SPLITS):
        raise SystemExit("set --benchmark-dir or MEDMIM_BENCHMARK_DIR to the folder with the six Med_MIM_benchmark_*.json files")
    if not 1 <= args.small_items_per_split < args.items_per_split:
        raise SystemExit("--small-items-per-split must be at least 1 and below --items-per-split")
    benchmark_dir = args.benchmark_dir.expanduser().resolve()
    os.environ.pop("MEDMIM_JUDGE_URL", None)  # scoring is timed without the optional LLM judge
    work = args.work_dir.resolve() if args.work_dir else Path(tempfile.mkdtemp(prefix="medmim-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    report = Report()
    if args.datasets and args.only not in ("visual", "prefetch"):
        raise SystemExit("--datasets goes with --only visual or --only prefetch")
    unknown = sorted(set(args.datasets or ()) - set(SOURCE_DATASETS_BY_NAME))
    if unknown:
        raise SystemExit(f"--datasets: unknown {unknown}; known: {sorted(SOURCE_DATASETS_BY_NAME)}")
    try:
        if args.only == "visual":
            overhead_ratio = measure_only_visual(report, benchmark_dir, work, args)
            print(report.markdown())
            print(f"overhead_ratio={overhead_ratio:.3f}")
            return 0
        if args.only == "prefetch":
            from bench_prefetch import measure_prefetch

            sample_dir, images_root = write_realistic_sample(benchmark_dir, work, args)
            prefetch_ratio = measure_prefetch(report, sample_dir, images_root, work, args.repeats)
            print(report.markdown())
            print(f"prefetch_ratio={prefetch_ratio:.3f}")
            return 0
        if args.only is not None:
            empty_root = work / "empty-images"
            write_empty_tree(empty_root, benchmark_dir)
            if args.only == "building":
                measure_task_building(report, benchmark_dir, empty_root, args.repeats)
                print(report.markdown())
            else:
                _rate, worst_ms = measure_only_scoring(report, benchmark_dir, empty_root, args.scoring_calls)
                print(report.markdown())
                print(f"worst_pathological_reply_ms={worst_ms:.1f}")
            return 0
        big = sample_indices(benchmark_dir, args.items_per_split)
        small, heaviest_megapixels = small_sample(benchmark_dir, big, args.small_items_per_split)
        big_dir, small_dir = work / f"sample-{args.items_per_split}", work / f"sample-{args.small_items_per_split}"
        sampled = write_sample_benchmark(benchmark_dir, big_dir, big)
        write_sample_benchmark(benchmark_dir, small_dir, small)
        images_root, empty_root = work / "images", work / "empty-images"
        started = time.perf_counter()
        files = write_realistic_tree(images_root, big_dir, args.jobs)
        print(f"set-up: {sampled} sampled items, {files} realistic image files ({time.perf_counter() - started:.0f} s)", file=sys.stderr)
        write_empty_tree(empty_root, benchmark_dir)

        before = pin_to_one_cpu()
        try:
            measure_task_building(report, benchmark_dir, empty_root, args.repeats)
            environ = {"MEDMIM_BENCHMARK_DIR": str(big_dir), "MEDMIM_IMAGE_ROOT": str(images_root), ALLOW_MODIFIED_VARIABLE: "1"}
            sample_docs = [doc for split in SPLITS for doc in build_docs(split.task, environ)]
            visual_times = measure_doc_to_visual(sample_docs, args.repeats)
            overhead_ratio = report_doc_to_visual(report, visual_times)
        finally:
            unpin(before)

        floor = visual_times.total("decode_rgb")
        with_images = run_dummy(big_dir, images_root, work, "dummy-images", open_images=True)
        without_images = run_dummy(big_dir, images_root, work, "dummy-no-images", open_images=False)
        small_run = run_dummy(small_dir, images_root, work, "dummy-images-small", open_images=True)
        report.section(f"3. lmms-eval dummy run, {with_images.docs} docs (read_bytes=1 opens every image)")
        report.add(
            "CPU time vs (2)'s floor + the same run without images",
            f"{with_images.cpu_seconds:.1f} s",
            f"{floor:.1f} + {without_images.cpu_seconds:.1f} s",
            with_images.cpu_seconds / (floor + without_images.cpu_seconds),
            "",
        )
        report.add(
            "wall time, same comparison",
            f"{with_images.seconds:.1f} s",
            f"{floor:.1f} + {without_images.seconds:.1f} s",
            with_images.seconds / (floor + without_images.seconds),
            "",
        )
        inside = with_images.doc_to_visual_seconds or 0.0
        report.add("  doc_to_visual inside the run (dummy's own wall clock)", f"{inside:.2f} s", f"{floor:.2f} s", inside / floor, "")
        report.section("4. peak resident memory of the lmms-eval run (ru_maxrss)")
        report.add(
            f"{with_images.docs} docs vs {small_run.docs} docs (both hold the heaviest doc, {heaviest_megapixels:.0f} MP)",
            f"{with_images.max_rss_mb:,.0f} MB",
            f"{small_run.max_rss_mb:,.0f} MB",
            with_images.max_rss_mb / small_run.max_rss_mb,
            "flat in docs",
        )
        report.add(f"  the same {without_images.docs} docs, no image opened", f"{without_images.max_rss_mb:,.0f} MB", "", "", "")
        for run in (small_run, with_images):
            if run.settled_rss_mb is not None:
                first, last = run.settled_rss_mb
                report.add(
                    f"  {run.docs} docs: resident between docs, first vs last quarter of the responses",
                    f"{last:,.0f} MB",
                    f"{first:,.0f} MB",
                    last / first,
                    "no climb",
                )

        scoring_rate, worst_ms = measure_only_scoring(report, benchmark_dir, empty_root, args.scoring_calls)

        print(report.markdown())
        print(f"\n{sampled} sampled items ({args.items_per_split} per split), repeats={args.repeats}, total {time.perf_counter() - began:.0f} s on {os.cpu_count()} CPUs; scoring {scoring_rate:,.0f} replies/s")
        print(f"worst_pathological_reply_ms={worst_ms:.1f}")
        print(f"overhead_ratio={overhead_ratio:.3f}")
    finally:
        if args.work_dir is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
