"""Read finished lmms-eval runs of the Med-MIM tasks: the results file and its per-sample logs.

A run is one `<date>_results.json` written by lmms-eval (any run, swept or not) together with the
`<date>_samples_<task>.jsonl` files that `--log_samples` writes beside it. Every document becomes
one row of a pandas table with its record (doc key, dataset, source, images, options, cluster,
gold, parsed letter, reply) and one column per metric (`mc_*`, `open_*`: read generically, so
metrics added later are picked up without changes here).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from medmim_tasks.benchmark.circular_splits import circular_name, plain_name, split_of_task
from medmim_tasks.benchmark.source_parts import SourceParts, UnknownSourceError
from medmim_tasks.benchmark.source_parts import parse_source as parse_benchmark_source
from medmim_tasks.benchmark.splits import SPLITS, SPLITS_BY_TASK
from medmim_tasks.results import lm_eval_runs
from medmim_tasks.results.run_files import (
    RESULTS_SUFFIX,
    RunFormatError,
    find_results_files,
    not_utf8,
    read_json,
    samples_file,
    sweep_record,
)

METRIC_PREFIXES = ("mc_", "open_")
PRIMARY_RECORD_KEYS = ("doc_key", "kind")  # the metric entry that carries the per-sample record
RECORD_COLUMNS = ("doc_key", "dataset", "source", "n_images", "n_options", "cluster", "kind", "gold", "parsed", "reply")
# items of the split that became documents, and items in the split (absent from runs made before they existed)
COVERAGE_COLUMNS = ("items_evaluated", "items_total")
CIRCULAR_COLUMNS = ("item_key", "shift", "n_shifts", "chosen_text")  # records of circular tasks only (docs/circular.md)
CONSISTENCY_TOLERANCE = 1e-9

def parse_source(source: str) -> SourceParts:
    """benchmark/source_parts.py's parse_source; a source of no known dataset is a RunFormatError here."""
    try:
        return parse_benchmark_source(source)
    except UnknownSourceError as error:
        raise RunFormatError(str(error)) from None


@dataclass(frozen=True)
class Run:
    """One lmms-eval run: where it is, what was evaluated, and one row per logged document."""

    results_file: Path
    label: str
    model: str
    model_args: str
    date: str
    limit: float | None
    tasks: tuple[str, ...]
    docs: pd.DataFrame = field(repr=False)
    results: dict[str, Any] = field(repr=False)
    circular: bool = False  # the circular tasks of a results file: tasks name their plain splits
    framework: str = "lmms-eval"  # which framework wrote the run: lmms-eval or lm-eval (results/lm_eval_runs.py)

    @property
    def metrics(self) -> list[str]:
        """Metric columns present in this run's samples (`mc_*` first, then `open_*`)."""
        return [c for c in self.docs.columns if c.startswith(METRIC_PREFIXES)]


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """All runs under the given folders/files, labelled uniquely (a date is added to repeated labels)."""
    from medmim_tasks.results.circular_runs import load_run_variants

    runs = [run for path in find_results_files(paths) for run in load_run_variants(path)]
    return with_unique_labels(runs)


def load_run(results_file: str | Path, circular: bool = False) -> Run:
    """Read one results file and its sample files (`circular`: its circular tasks); errors name the file, line and fix."""
    results_file = Path(results_file)
    results = read_json(results_file)
    date = lm_eval_runs.lm_eval_date(results_file) if lm_eval_runs.is_lm_eval_results_file(results_file) else results_file.name[: -len(RESULTS_SUFFIX)]
    per_task = results.get("results")
    if not isinstance(per_task, dict):
        raise RunFormatError(f"{results_file}: no 'results' mapping; is this an lmms-eval results file?")
    names = tuple(circular_name(split.task) if circular else split.task for split in SPLITS)
    tasks = tuple(name for name in names if name in per_task)
    if not tasks:
        raise RunFormatError(
            f"{results_file}: no Med-MIM split among its tasks ({', '.join(sorted(per_task)) or 'none'}); "
            f"expected one of {', '.join(SPLITS_BY_TASK)}"
        )
    frames = [_read_samples(results_file, date, task, results) for task in tasks]
    docs = pd.concat(frames, ignore_index=True)
    if docs.empty:
        raise RunFormatError(
            f"{results_file}: its Med-MIM splits ({', '.join(tasks)}) hold no documents, so there is nothing to report. "
            "The run evaluated nothing (e.g. MEDMIM_ON_MISSING=skip with every image missing, or --limit 0): "
            "`medmim check` shows what is missing; rerun once the data is in place, or leave this run out."
        )
    metrics = [c for c in docs.columns if c.startswith(METRIC_PREFIXES)]
    ordered = sorted(metrics, key=lambda m: (METRIC_PREFIXES.index(m[: m.index("_") + 1]), metrics.index(m)))
    docs = docs[[c for c in docs.columns if c not in metrics] + ordered]
    config = results.get("config") or {}
    model = str(config.get("model") or results.get("model_source") or "")
    model_args = _args_text(config.get("model_args"))
    limit = config.get("limit")
    return Run(
        results_file=results_file,
        label=_label(results_file, results, model, model_args) + (" [circular]" if circular else ""),
        model=model,
        model_args=model_args,
        date=date,
        limit=float(limit) if limit is not None else None,
        tasks=tuple(map(plain_name, tasks)),
        docs=docs,
        results=results,
        circular=circular,
        framework=lm_eval_runs.framework_of(results_file),
    )


def with_unique_labels(runs: Sequence[Run]) -> list[Run]:
    """Runs whose labels repeat get their date added (and a counter if that still repeats)."""
    counts: dict[str, int] = {}
    for run in runs:
        counts[run.label] = counts.get(run.label, 0) + 1
    labelled: list[Run] = []
    seen: set[str] = set()
    for run in runs:
        label = run.label if counts[run.label] == 1 else f"{run.label} [{run.date}]"
        base, n = label, 2
        while label in seen:
            label, n = f"{base} #{n}", n + 1
        seen.add(label)
        labelled.append(replace(run, label=label))
    return labelled


def _label(results_file: Path, results: dict[str, Any], model: str, model_args: str) -> str:
    record = sweep_record(results_file)
    if record and record.get("name"):
        return str(record["name"])
    if results.get("model_name"):
        return str(results["model_name"])
    if model_args:
        return f"{model} ({model_args})"
    return model or results_file.stem


def _args_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict):
        return ",".join(f"{k}={v}" for k, v in value.items())
    return str(value)


def _read_samples(results_file: Path, date: str, task: str, results: dict[str, Any]) -> pd.DataFrame:
    sample_file = samples_file(results_file, task)
    if not sample_file.is_file():
        raise RunFormatError(
            f"{results_file}: task {task} has no sample file {sample_file.name} beside it; "
            "rerun with --log_samples (reports need the per-document records)"
        )
    rows: list[dict[str, Any]] = []
    try:
        with sample_file.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if line.strip():
                    rows.append(_document_row(sample_file, line_number, line, task))
    except UnicodeDecodeError as error:
        raise RunFormatError(not_utf8(sample_file, error)) from None
    expected = ((results.get("n-samples") or {}).get(task) or {}).get("effective")
    if expected is not None and int(expected) != len(rows):
        raise RunFormatError(
            f"{sample_file}: {len(rows)} documents, but {results_file.name} says {int(expected)} were evaluated; "
            "the sample file is incomplete or belongs to another run"
        )
    if not rows:  # a split with no documents (e.g. every image missing under MEDMIM_ON_MISSING=skip)
        return pd.DataFrame(columns=[*RECORD_COLUMNS, *COVERAGE_COLUMNS, "task", "split", "doc_id", "subtype"])
    frame = pd.DataFrame(rows)
    duplicated = frame["doc_key"][frame["doc_key"].duplicated()]
    if not duplicated.empty:
        raise RunFormatError(f"{sample_file}: document key {duplicated.iloc[0]!r} appears more than once")
    _check_against_results(frame, results_file, sample_file, task, results["results"][task])
    return frame


def _document_row(sample_file: Path, line_number: int, line: str, task: str) -> dict[str, Any]:
    where = f"{sample_file}, line {line_number}"
    try:
        sample = json.loads(line)
    except json.JSONDecodeError as error:
        raise RunFormatError(f"{where}: not valid JSON ({error})") from None
    metrics = {
        key: value
        for key, value in sample.items()
        if key.startswith(METRIC_PREFIXES) and isinstance(value, dict) and "score" in value
    }
    records = [value for value in metrics.values() if all(k in value for k in PRIMARY_RECORD_KEYS)]
    if not records:
        raise RunFormatError(
            f"{where}: no per-document record (a metric entry such as mc_acc or open_token_f1 with "
            "doc_key, kind, dataset, source, ...); the run was made with an older medmim-tasks: rerun it"
        )
    record = records[0]
    missing = [key for key in RECORD_COLUMNS if key not in record]
    if missing:
        raise RunFormatError(f"{where}: the per-document record lacks {', '.join(missing)}")
    try:
        parts = parse_source(str(record["source"]))
    except RunFormatError as error:
        raise RunFormatError(f"{where} (document {record['doc_key']}): {error}") from None
    row: dict[str, Any] = {key: record[key] for key in RECORD_COLUMNS}
    row.update({key: record.get(key, math.nan) for key in COVERAGE_COLUMNS})
    row.update({key: record[key] for key in CIRCULAR_COLUMNS if key in record})
    row.update(task=plain_name(task), split=split_of_task(task).alias, doc_id=sample.get("doc_id"), subtype=parts.subtype)
    for name, value in metrics.items():
        row[name] = _score(value["score"], where, name)
    return row


def _score(value: Any, where: str, metric: str) -> float:
    if value is None:
        return math.nan  # an optional metric that was not computed for this document
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RunFormatError(f"{where}: {metric} score {value!r} is not a number")
    return float(value)


def _check_against_results(
    frame: pd.DataFrame, results_file: Path, sample_file: Path, task: str, task_results: dict[str, Any]
) -> None:
    """The samples must reproduce the results file's means, or the two files are from different runs."""
    for metric in (c for c in frame.columns if c.startswith(METRIC_PREFIXES)):
        reported = task_results.get(f"{metric},none")
        if not isinstance(reported, (int, float)) or isinstance(reported, bool):
            continue
        mean = frame[metric].mean()
        if math.isnan(mean) or abs(mean - reported) > CONSISTENCY_TOLERANCE:
            raise RunFormatError(
                f"{sample_file}: {task} {metric} averages {mean:.6f} over the samples but {results_file.name} "
                f"reports {reported:.6f}; the files are from different runs or one was edited"
            )
