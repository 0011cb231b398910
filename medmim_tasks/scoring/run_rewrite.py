"""Adding after-the-run scores to a finished run: what `medmim judge` and `medmim assist` share.

The per-document record of a samples line, the benchmark item behind a document (when lmms-eval
logged none), asking a chat model about many documents at once, per-split and group means in the
results file, and rewriting the run's files atomically, samples before results, so an interrupted
rewrite never leaves a results file whose means its samples do not reproduce.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, TypeVar

from tqdm import tqdm

from medmim_tasks.atomic_write import write_text_atomically
from medmim_tasks.benchmark.items import BENCHMARK_DIR_VARIABLE, MULTIPLE_CHOICE, Item, load_split, split_file
from medmim_tasks.benchmark.splits import GROUPS, SPLITS, split_for_task
from medmim_tasks.results.run_files import RunFormatError
from medmim_tasks.results.runs import PRIMARY_RECORD_KEYS, load_run

Answer = TypeVar("Answer")


@dataclass(frozen=True)
class ScoredRun:
    """What was added to one results file, per split: the documents scored and the mean of the added metric."""

    results_file: Path
    documents: dict[str, int]
    means: dict[str, float]


def sample_record(sample: dict[str, Any]) -> dict[str, Any]:
    """The per-document record (the metric entry carrying doc_key and kind); load_run checked there is one."""
    return next(
        value for key, value in sample.items()
        if isinstance(value, dict) and key != "doc" and all(k in value for k in PRIMARY_RECORD_KEYS)
    )


def benchmark_item(task: str, record: dict[str, Any], where: str, items: dict[str, Item]) -> Item:
    """The benchmark item of a document (`items` caches the split), after checking its gold answer is the run's."""
    if not items:
        items.update({f"{task}:{item.index}": item for item in load_split(split_for_task(task))})
    item = items.get(str(record["doc_key"]))
    gold = None if item is None else (item.gold_letter if item.kind == MULTIPLE_CHOICE else item.answer)
    if item is None or str(gold).strip() != str(record["gold"]).strip():
        found = "no such item" if item is None else "another gold answer"
        raise RunFormatError(
            f"{where}: document {record['doc_key']} has {found} in {split_file(split_for_task(task))}: the run "
            f"was made with other benchmark files; set {BENCHMARK_DIR_VARIABLE} to the files of that run"
        )
    return item


def ask_all(
    ask: Callable[..., Answer], arguments: Sequence[tuple[Any, ...]], workers: int, label: str, stream: IO[str]
) -> list[Answer]:
    """`ask(*each)` for every argument tuple, `workers` at once, in order; the first failure stops the rest."""
    if not arguments:
        return []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(ask, *each) for each in arguments]
        return [future.result() for future in tqdm(futures, desc=label, unit="doc", file=stream, leave=False)]
    finally:  # on the first failure, documents not yet started are not asked
        pool.shutdown(wait=True, cancel_futures=True)


def add_metric_means(results: dict[str, Any], metric: str, means: dict[str, float]) -> None:
    """Per-split means of `metric`, and the macro means of the Med-MIM groups the results file holds."""
    per_task = results["results"]
    for task, mean in means.items():
        per_task[task][f"{metric},none"] = mean
        per_task[task][f"{metric}_stderr,none"] = "N/A"
    for group in GROUPS:  # lmms-eval's group score: the macro mean over the leaf splits that have the metric
        members = [split.task for split in SPLITS if group in (split.group, "med_mim")]
        scored = [means[task] for task in members if task in means]
        for table in (per_task, results.get("groups") or {}):
            if group in table and scored:
                table[group][f"{metric},none"] = sum(scored) / len(scored)
                table[group][f"{metric}_stderr,none"] = "N/A"


def rewrite_run(results_file: Path, results: dict[str, Any], samples: dict[Path, list[dict[str, Any]]]) -> None:
    """Write the samples files, then the results file, each atomically."""
    for sample_file, lines in samples.items():
        write_text_atomically(sample_file, "".join(f"{json.dumps(line, ensure_ascii=False)}\n" for line in lines))
    write_text_atomically(results_file, json.dumps(results, ensure_ascii=False, indent=2) + "\n")


def read_samples(sample_file: Path) -> list[dict[str, Any]]:
    """The samples of one samples file, one per non-blank line (load_run has checked every line)."""
    with sample_file.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def logged_doc(sample: dict[str, Any], record: dict[str, Any], where: str, *fields: str) -> dict[str, Any] | None:
    """The document lmms-eval logged with the sample when it has `fields` (0.7 logs none), checked to be the record's."""
    doc = sample.get("doc")
    if not (isinstance(doc, dict) and all(field in doc for field in fields)):
        return None
    if doc.get("doc_key", record["doc_key"]) != record["doc_key"]:
        raise RunFormatError(f"{where}: the logged document {doc.get('doc_key')!r} is not {record['doc_key']!r}")
    return doc


def load_for_rewrite(results_file: Path) -> tuple[list[str], dict[str, Any]]:
    """The run's tasks and its results file's content; a RunFormatError unless the run is complete and consistent."""
    run = load_run(results_file)
    return list(run.tasks), json.loads(results_file.read_text(encoding="utf-8"))


def provenance(model: str, url: str, prompt_template: str, by: str, **counts: dict[str, int]) -> dict[str, Any]:
    """The block a results file gets naming the model that gave the added scores, and how many it gave per split."""
    prompt_sha256 = hashlib.sha256(prompt_template.encode("utf-8")).hexdigest()
    return {"model": model, "url": url, "prompt_sha256": prompt_sha256, **counts, "by": by}
