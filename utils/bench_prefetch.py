"""Section 6 of utils/bench_overhead.py (`--only prefetch`): decoding the next documents' images
while the model answers (issue 16), in real lmms-eval runs.

The model is the stand-in `medmim_sleepy` (tests/standins/medmim_standin_models): it opens every
document's images through `doc_to_visual`, then sleeps a fixed time standing for GPU generation
(100 ms and 300 ms), asking for the documents in file order (as lmms-eval hands them over) or in
the sorted order of the Hugging Face wrappers (`lmms_eval.utils.Collator` by prompt length).
Per repeat, one serial run (MEDMIM_PREFETCH_BYTES=0, 100 ms, file order) gives the total decode
time: the CPU seconds its `doc_to_visual` calls took (what decoding costs on a free core; their
wall time on a shared machine includes waiting for one); then the four prefetching runs. lmms-eval's fixed cost is
each run's wall time outside the model's `generate_until` (start-up, task building, scoring,
writing results: on a shared machine it varies from run to run, so each run's own is used). The
floor of a run is max(total decode time, total model time) + its fixed cost; `prefetch_ratio` is
the worst of the four configurations' median wall time over their floor. The model's
`generate_until` alone against max(decode, model) is shown too (the part prefetching changes).
Peak memory (the child's ru_maxrss) is compared with the serial run's.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

STANDINS = Path(__file__).resolve().parents[1] / "tests" / "standins"
SPEEDS_MS = (100, 300)
ORDERS = ("file", "sorted")
TARGET_PREFETCH_RATIO = 1.15
TARGET_MEMORY_RATIO = 1.3


@dataclass
class StandinRun:
    seconds: float
    max_rss_mb: float
    docs: int
    visual_seconds: float  # doc_to_visual wall time summed over the documents (the model's clock)
    generate_seconds: float  # the model's generate_until, all documents: decode waits + model time
    visual_cpu_seconds: float = 0.0  # CPU seconds of the calling thread in doc_to_visual: all decoding when serial


def run_standin(
    benchmark_dir: Path, image_root: Path, work: Path, name: str, sleep_ms: int, order: str, prefetch_bytes: str | None
) -> StandinRun:
    """One `lmms-eval --model medmim_sleepy` run over the sample: wall time and the child's peak RSS."""
    record = work / f"{name}-record"
    environ = {key: value for key, value in os.environ.items() if not key.startswith("MEDMIM_")}
    environ.update(
        MEDMIM_BENCHMARK_DIR=str(benchmark_dir), MEDMIM_IMAGE_ROOT=str(image_root), MEDMIM_ALLOW_MODIFIED_BENCHMARK="1",
        HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_HOME=str(work / "hf"),
        TOKENIZERS_PARALLELISM="false", PYTHONPATH=str(STANDINS), LMMS_EVAL_PLUGINS="medmim_standin_models",
    )  # fmt: skip
    if prefetch_bytes is not None:
        environ["MEDMIM_PREFETCH_BYTES"] = prefetch_bytes
    command = [
        sys.executable, "-m", "lmms_eval", "--model", "medmim_sleepy",
        "--model_args", f"sleep_ms={sleep_ms},order={order},record={record}",
        "--tasks", "med_mim", "--output_path", str(work / name),
    ]  # fmt: skip
    log = work / f"{name}.log"
    start = time.perf_counter()
    with log.open("w") as handle:
        child = subprocess.Popen(command, env=environ, stdout=handle, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    returncode = os.waitstatus_to_exitcode(status)
    if returncode != 0 or not list((work / name).rglob("*_results.json")):  # lmms-eval exits 0 even when it failed
        raise SystemExit(f"lmms-eval run {name} wrote no results (exit {returncode}); log {log}:\n{log.read_text()[-4000:]}")
    lines = [json.loads(line) for line in Path(f"{record}.rank0.jsonl").read_text().splitlines()]
    docs = [line for line in lines if "doc_key" in line]
    generate = sum(line["generate_s"] for line in lines if "generate_s" in line)
    visual = sum(line["visual_s"] for line in docs)
    run = StandinRun(seconds, usage.ru_maxrss / 1024, len(docs), visual, generate, sum(line["visual_cpu_s"] for line in docs))
    print(f"{name}: {run}", file=sys.stderr)  # every run as it ends: a cut-short measurement still says something
    return run


def _median(runs: list[StandinRun], value: Callable[[StandinRun], float]) -> float:
    return statistics.median(value(run) for run in runs)


def measure_prefetch(report: Any, sample_dir: Path, image_root: Path, work: Path, repeats: int) -> float:
    """Section 6; returns prefetch_ratio (the worst configuration's median wall over its floor)."""
    serial: list[StandinRun] = []
    runs: dict[tuple[int, str], list[StandinRun]] = defaultdict(list)
    for repeat in range(repeats):  # interleaved, so every configuration sees the same machine
        serial.append(run_standin(sample_dir, image_root, work, f"serial-{repeat}", SPEEDS_MS[0], "file", "0"))
        for speed in SPEEDS_MS:
            for order in ORDERS:
                name = f"prefetch-{speed}-{order}-{repeat}"
                runs[speed, order].append(run_standin(sample_dir, image_root, work, name, speed, order, None))
        print(f"prefetch: repeat {repeat + 1} of {repeats} done", file=sys.stderr)
    return report_prefetch(report, serial, runs)


def _fixed(run: StandinRun) -> float:
    """lmms-eval's fixed cost in this run: its wall time outside the model's generate_until."""
    return run.seconds - run.generate_seconds


def report_prefetch(report: Any, serial: list[StandinRun], runs: dict[tuple[int, str], list[StandinRun]]) -> float:
    """The table rows of section 6 (medians over the repeats) and prefetch_ratio."""
    docs = serial[0].docs
    decode = _median(serial, lambda run: run.visual_cpu_seconds)
    serial_rss = _median(serial, lambda run: run.max_rss_mb)
    report.section(f"6. image prefetching, lmms-eval runs of {docs} docs, medians of {len(serial)} (default MEDMIM_PREFETCH_BYTES)")
    fixed = _median(serial, _fixed)
    serial_floor = max(decode, docs * SPEEDS_MS[0] / 1000) + fixed
    report.add(
        f"serial (prefetch off), {SPEEDS_MS[0]} ms/doc: wall vs max(decode {decode:.1f} s, model) + fixed {fixed:.1f} s",
        f"{_median(serial, lambda run: run.seconds):.1f} s", f"{serial_floor:.1f} s",
        _median(serial, lambda run: run.seconds) / serial_floor, f"peak {serial_rss:,.0f} MB",
    )  # fmt: skip
    worst = phase_worst = 0.0
    for (speed, order), config_runs in runs.items():
        model = docs * speed / 1000
        fixed = _median(config_runs, _fixed)
        wall = _median(config_runs, lambda run: run.seconds)
        worst = max(worst, wall / (max(decode, model) + fixed))
        report.add(
            f"prefetch, {speed} ms/doc, {order} order: wall vs max(decode, model {model:.1f} s) + fixed {fixed:.1f} s",
            f"{wall:.1f} s", f"{max(decode, model) + fixed:.1f} s", wall / (max(decode, model) + fixed),
            f"<= {TARGET_PREFETCH_RATIO:.2f}",
        )  # fmt: skip
        rss = _median(config_runs, lambda run: run.max_rss_mb)
        report.add(
            "  peak memory vs the serial run's",
            f"{rss:,.0f} MB",
            f"{serial_rss:,.0f} MB",
            rss / serial_rss,
            f"<= {TARGET_MEMORY_RATIO:.1f}",
        )
        generate = _median(config_runs, lambda run: run.generate_seconds)
        phase_worst = max(phase_worst, generate / max(decode, model))
        report.add(
            "  the model's generate_until alone vs max(decode, model)",
            f"{generate:.1f} s",
            f"{max(decode, model):.1f} s",
            generate / max(decode, model),
            "",
        )
    print(f"prefetch_phase_ratio={phase_worst:.3f}", file=sys.stderr)
    return worst
