"""Judge a finished run's open-ended replies from its samples files (`medmim judge RUN_DIR`).

Judging after the run keeps generation safe from the judge: run lmms-eval without
MEDMIM_JUDGE_URL, then judge. Every open-ended document of every Med-MIM split in a results file
is judged with the same prompt, cache and verdict grammar as the in-run judge (medmim_tasks.scoring.judge),
from the document's question and gold answer and the reply the scores were computed from. The
question comes from the document lmms-eval logged with the sample when there is one, else (lmms-eval
0.7 logs none) from the benchmark file (MEDMIM_BENCHMARK_DIR), by document key, after checking that
its gold answer is the run's. The verdicts are added to the run in place, as if the judge had been on during the
run: each open document's samples line gets an `open_judge` entry, and the results file gets the
per-split means (`open_judge,none`), the macro means of the Med-MIM groups it holds, and a
`medmim_judge` block saying which judge gave them. `medmim report` then shows `open_judge` like
any other metric. Lines are otherwise kept as they were; every file is rewritten atomically, the
samples files before the results file, so an interrupted rewrite never leaves a results file whose
means its samples do not reproduce. When the judge fails for good, nothing is rewritten; the
verdicts obtained so far are in the judge's cache, so the next `medmim judge` asks only the rest.
"""

from __future__ import annotations

import hashlib
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from tqdm import tqdm

from medmim_tasks.atomic_write import write_text_atomically
from medmim_tasks.benchmark.items import (
    BENCHMARK_DIR_VARIABLE,
    OPEN_ENDED,
    Item,
    load_split,
    split_file,
)
from medmim_tasks.benchmark.splits import GROUPS, SPLITS, split_for_task
from medmim_tasks.results.run_files import RunFormatError, samples_file
from medmim_tasks.results.runs import PRIMARY_RECORD_KEYS, load_run
from medmim_tasks.scoring.judge import (
    METRIC,
    PROMPT_TEMPLATE,
    JudgeConfig,
    judge_score,
)
from medmim_tasks.task.hooks import CLUSTER_KEY, SCORE_KEY

PROVENANCE_KEY = "medmim_judge"


@dataclass(frozen=True)
class JudgedRun:
    """What `judge_run` added to one results file: per split, the open documents judged and their mean."""

    results_file: Path
    documents: dict[str, int]
    means: dict[str, float]


@dataclass(frozen=True)
class _OpenDocument:
    line_index: int
    question: str
    reference: str
    reply: str


def judge_run(results_file: Path, config: JudgeConfig, workers: int = 4, stream: IO[str] | None = None) -> JudgedRun:
    """Judge every open-ended document of one run and add the verdicts to its files (see the module doc)."""
    stream = sys.stderr if stream is None else stream
    run = load_run(results_file)  # a complete, consistent run, or a RunFormatError naming what is wrong
    results = json.loads(results_file.read_text(encoding="utf-8"))
    new_lines: dict[Path, list[str]] = {}
    documents: dict[str, int] = {}
    means: dict[str, float] = {}
    for task in run.tasks:
        sample_file = samples_file(results_file, task)
        samples, open_documents = _read_samples(sample_file, task)
        scores = _judge_all(config, open_documents, workers, f"{sample_file.name}", stream)
        for document, score in zip(open_documents, scores):
            sample = samples[document.line_index]
            record = _record(sample)
            sample[METRIC] = {SCORE_KEY: score, CLUSTER_KEY: record["cluster"], "doc_key": record["doc_key"]}
        new_lines[sample_file] = [json.dumps(sample, ensure_ascii=False) for sample in samples]
        documents[task] = len(open_documents)
        if open_documents:
            means[task] = sum(scores) / len(scores)
    _add_to_results(results, means, documents, config)
    for sample_file, lines in new_lines.items():
        write_text_atomically(sample_file, "".join(f"{line}\n" for line in lines))
    write_text_atomically(results_file, json.dumps(results, ensure_ascii=False, indent=2) + "\n")
    return JudgedRun(results_file, documents, means)


def _read_samples(sample_file: Path, task: str) -> tuple[list[dict[str, Any]], list[_OpenDocument]]:
    samples: list[dict[str, Any]] = []
    open_documents: list[_OpenDocument] = []
    with sample_file.open(encoding="utf-8") as handle:
        lines = [line for line in handle if line.strip()]
    items: dict[str, Item] | None = None
    for index, line in enumerate(lines):
        where = f"{sample_file}, document line {index + 1}"
        sample = json.loads(line)  # load_run has read every line already
        samples.append(sample)
        record = _record(sample)
        if record["kind"] != OPEN_ENDED:
            continue
        doc = sample.get("doc")
        if isinstance(doc, dict) and isinstance(doc.get("question"), str) and isinstance(doc.get("answer"), str):
            if doc.get("doc_key", record["doc_key"]) != record["doc_key"]:
                raise RunFormatError(f"{where}: the logged document {doc.get('doc_key')!r} is not {record['doc_key']!r}")
            question, reference = doc["question"], doc["answer"]
        else:  # lmms-eval 0.7 logs no document: its question comes from the benchmark file
            if items is None:
                items = {f"{task}:{item.index}": item for item in load_split(split_for_task(task))}
            item = items.get(str(record["doc_key"]))
            if item is None or item.answer.strip() != str(record["gold"]).strip():
                found = "no such item" if item is None else "another gold answer"
                raise RunFormatError(
                    f"{where}: document {record['doc_key']} has {found} in {split_file(split_for_task(task))}: the run "
                    f"was made with other benchmark files; set {BENCHMARK_DIR_VARIABLE} to the files of that run"
                )
            question, reference = item.question, item.answer
        open_documents.append(_OpenDocument(index, question, reference, str(record["reply"])))
    return samples, open_documents


def _record(sample: dict[str, Any]) -> dict[str, Any]:
    """The per-document record (the metric entry carrying doc_key and kind); load_run checked there is one."""
    return next(
        value for key, value in sample.items()
        if isinstance(value, dict) and key != "doc" and all(k in value for k in PRIMARY_RECORD_KEYS)
    )


def _judge_all(config: JudgeConfig, documents: list[_OpenDocument], workers: int, label: str, stream: IO[str]) -> list[float]:
    if not documents:
        return []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(judge_score, config, d.question, d.reference, d.reply) for d in documents]
        return [future.result() for future in tqdm(futures, desc=label, unit="doc", file=stream, leave=False)]
    finally:  # on the first failure, documents not yet started are not asked
        pool.shutdown(wait=True, cancel_futures=True)


def _add_to_results(results: dict[str, Any], means: dict[str, float], documents: dict[str, int], config: JudgeConfig) -> None:
    per_task = results["results"]
    for task, mean in means.items():
        per_task[task][f"{METRIC},none"] = mean
        per_task[task][f"{METRIC}_stderr,none"] = "N/A"
    for group in GROUPS:  # lmms-eval's group score: the macro mean over the leaf splits that have the metric
        members = [split.task for split in SPLITS if group in (split.group, "med_mim")]
        judged = [means[task] for task in members if task in means]
        for table in (per_task, results.get("groups") or {}):
            if group in table and judged:
                table[group][f"{METRIC},none"] = sum(judged) / len(judged)
                table[group][f"{METRIC}_stderr,none"] = "N/A"
    results[PROVENANCE_KEY] = {
        "model": config.model,
        "url": config.url,
        "prompt_sha256": hashlib.sha256(PROMPT_TEMPLATE.encode("utf-8")).hexdigest(),
        "documents": documents,
        "by": "medmim judge (after the run)",
    }
