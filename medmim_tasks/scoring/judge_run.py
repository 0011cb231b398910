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

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from medmim_tasks.benchmark.items import OPEN_ENDED, Item
from medmim_tasks.results.run_files import samples_file
from medmim_tasks.scoring.judge import (
    METRIC,
    PROMPT_TEMPLATE,
    JudgeConfig,
    judge_score,
)
from medmim_tasks.scoring.run_rewrite import (
    ScoredRun,
    add_metric_means,
    ask_all,
    benchmark_item,
    load_for_rewrite,
    logged_doc,
    provenance,
    read_samples,
    rewrite_run,
    sample_record,
)
from medmim_tasks.task.hooks import CLUSTER_KEY, SCORE_KEY

PROVENANCE_KEY = "medmim_judge"


JudgedRun = ScoredRun  # per split: the open documents judged and their mean verdict


@dataclass(frozen=True)
class _OpenDocument:
    line_index: int
    question: str
    reference: str
    reply: str


def judge_run(results_file: Path, config: JudgeConfig, workers: int = 4, stream: IO[str] | None = None) -> JudgedRun:
    """Judge every open-ended document of one run and add the verdicts to its files (see the module doc)."""
    stream = sys.stderr if stream is None else stream
    tasks, results = load_for_rewrite(results_file)  # a complete, consistent run, or a RunFormatError
    new_samples: dict[Path, list[dict[str, Any]]] = {}
    documents: dict[str, int] = {}
    means: dict[str, float] = {}
    for task in tasks:
        sample_file = samples_file(results_file, task)
        samples, open_documents = _read_samples(sample_file, task)
        arguments = [(config, d.question, d.reference, d.reply) for d in open_documents]
        scores = ask_all(judge_score, arguments, workers, sample_file.name, stream)
        for document, score in zip(open_documents, scores):
            sample = samples[document.line_index]
            record = sample_record(sample)
            sample[METRIC] = {SCORE_KEY: score, CLUSTER_KEY: record["cluster"], "doc_key": record["doc_key"]}
        new_samples[sample_file] = samples
        documents[task] = len(open_documents)
        if open_documents:
            means[task] = sum(scores) / len(scores)
    add_metric_means(results, METRIC, means)
    by = "medmim judge (after the run)"
    results[PROVENANCE_KEY] = provenance(config.model, config.url, PROMPT_TEMPLATE, by, documents=documents)
    rewrite_run(results_file, results, new_samples)
    return JudgedRun(results_file, documents, means)


def _read_samples(sample_file: Path, task: str) -> tuple[list[dict[str, Any]], list[_OpenDocument]]:
    samples = read_samples(sample_file)
    open_documents: list[_OpenDocument] = []
    items: dict[str, Item] = {}
    for index, sample in enumerate(samples):
        where = f"{sample_file}, document line {index + 1}"
        record = sample_record(sample)
        if record["kind"] != OPEN_ENDED:
            continue
        doc = logged_doc(sample, record, where, "question", "answer")
        if doc is not None and isinstance(doc["question"], str) and isinstance(doc["answer"], str):
            question, reference = doc["question"], doc["answer"]
        else:  # lmms-eval 0.7 logs no document: its question comes from the benchmark file
            item = benchmark_item(task, record, where, items)
            question, reference = item.question, item.answer
        open_documents.append(_OpenDocument(index, question, reference, str(record["reply"])))
    return samples, open_documents
