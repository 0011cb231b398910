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
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pandas as pd

from medmim_tasks.benchmark.sources import dataset_for_source
from medmim_tasks.benchmark.splits import SPLITS, SPLITS_BY_TASK
from medmim_tasks.results import lm_eval_runs

RESULTS_SUFFIX = "_results.json"


def samples_file(results_file: Path, task: str) -> Path:
    """The `<date>_samples_<task>.jsonl` that `--log_samples` writes beside a `<date>_results.json`."""
    if lm_eval_runs.is_lm_eval_results_file(results_file):
        return lm_eval_runs.lm_eval_samples_file(results_file, task)
    date = results_file.name[: -len(RESULTS_SUFFIX)]
    return results_file.parent / f"{date}_samples_{task}.jsonl"
SWEEP_RUN_FILE = "medmim-sweep-run.json"  # written by `medmim sweep` into each run folder
METRIC_PREFIXES = ("mc_", "open_")
PRIMARY_RECORD_KEYS = ("doc_key", "kind")  # the metric entry that carries the per-sample record
RECORD_COLUMNS = ("doc_key", "dataset", "source", "n_images", "n_options", "cluster", "kind", "gold", "parsed", "reply")
# items of the split that became documents, and items in the split (absent from runs made before they existed)
COVERAGE_COLUMNS = ("items_evaluated", "items_total")
CONSISTENCY_TOLERANCE = 1e-9

_TRAILING_STAMP = re.compile(r"(?:_\d{4}(?:_\d{2}){2,5}|_\d{8}(?:_?\d{6})?)$")
_TYPE_TOKEN = re.compile(r"^type([A-Z0-9]+)$")
_KIND_WORDS = {"multichoice": "multichoice", "vqa": "vqa", "conv": "conv", "conversation": "conv"}
_DROPPED_WORDS = {"instruction"}


class RunFormatError(ValueError):
    """A run folder or file that cannot be read as a Med-MIM lmms-eval run."""


@dataclass(frozen=True)
class SourceParts:
    """What an item's `source` string says: dataset, question kind word and sub-type label."""

    dataset: str
    kind_word: str
    subtype: str


def parse_source(source: str) -> SourceParts:
    """Split a `source` like `EMBED_multichoice_typeA_VQA_..._2024_12_07_12_00_22` into its parts.

    The sub-type ignores the question kind (multiple choice and open-ended questions of one type
    share it) and the generation date: `EMBED type A`, `LUMIERE type C`, `MS-CXR-T pleural effusion`,
    `ODIR`, `VQA-RAD GPT4o`.
    """
    dataset = dataset_for_source(source)
    if dataset is None:
        raise RunFormatError(
            f"source {source!r} names no known Med-MIM source dataset (expected a prefix such as "
            "EMBED_, LUMIERE_, MS_CXR_T_, VQA_ODIR_ or VQA_RAD_)"
        )
    rest = _TRAILING_STAMP.sub("", source[len(dataset.source_prefix) :])
    kind_word = ""
    detail: list[str] = []
    type_label = ""
    for token in (t for t in rest.split("_") if t):
        lowered = token.lower()
        if lowered in _KIND_WORDS and not kind_word and token == lowered:
            kind_word = _KIND_WORDS[lowered]
        elif lowered in _DROPPED_WORDS or token == "VQA":
            continue
        elif (match := _TYPE_TOKEN.match(token)) and not type_label:
            type_label = f"type {match.group(1)}"
        else:
            detail.append(token)
    if type_label:  # EMBED/LUMIERE: the type names the question family; the rest are generation knobs
        subtype = f"{dataset.name} {type_label}"
    elif detail:
        subtype = f"{dataset.name} {' '.join(detail)}"
    else:
        subtype = dataset.name
    return SourceParts(dataset=dataset.name, kind_word=kind_word, subtype=subtype)


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
    framework: str = "lmms-eval"  # which framework wrote the run: lmms-eval or lm-eval (results/lm_eval_runs.py)

    @property
    def metrics(self) -> list[str]:
        """Metric columns present in this run's samples (`mc_*` first, then `open_*`)."""
        return [c for c in self.docs.columns if c.startswith(METRIC_PREFIXES)]


def find_results_files(paths: Iterable[str | Path]) -> list[Path]:
    """Every `*_results.json` named, or found anywhere under the named folders, in a stable order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_file():
            if not path.name.endswith(RESULTS_SUFFIX) and not lm_eval_runs.is_lm_eval_results_file(path):
                raise RunFormatError(
                    f"{path}: not an lmms-eval results file (expected a name ending in {RESULTS_SUFFIX}); "
                    "pass the run folder or its <date>_results.json (lm-eval: results_<date>.json)"
                )
            candidates = [path]
        elif path.is_dir():
            candidates = sorted([*path.rglob(f"*{RESULTS_SUFFIX}"), *path.rglob(lm_eval_runs.LM_EVAL_RESULTS_GLOB)])
            if not candidates:
                raise RunFormatError(
                    f"{path}: no lmms-eval results file (*{RESULTS_SUFFIX}) in this folder or below it. "
                    "Was the run started with --output_path pointing here, and did it finish? "
                    "(lmms-eval exits 0 even when an evaluation failed: read its log)"
                )
        else:
            raise RunFormatError(f"{path}: no such file or folder")
        for candidate in candidates:
            if candidate.resolve() not in {f.resolve() for f in found}:
                found.append(candidate)
    return found


def load_runs(paths: Iterable[str | Path]) -> list[Run]:
    """All runs under the given folders/files, labelled uniquely (a date is added to repeated labels)."""
    runs = [load_run(path) for path in find_results_files(paths)]
    return with_unique_labels(runs)


def load_run(results_file: str | Path) -> Run:
    """Read one results file and its sample files; errors name the file, the line and the fix."""
    results_file = Path(results_file)
    results = _read_json(results_file)
    date = lm_eval_runs.lm_eval_date(results_file) if lm_eval_runs.is_lm_eval_results_file(results_file) else results_file.name[: -len(RESULTS_SUFFIX)]
    per_task = results.get("results")
    if not isinstance(per_task, dict):
        raise RunFormatError(f"{results_file}: no 'results' mapping; is this an lmms-eval results file?")
    tasks = tuple(split.task for split in SPLITS if split.task in per_task)
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
        label=_label(results_file, results, model, model_args),
        model=model,
        model_args=model_args,
        date=date,
        limit=float(limit) if limit is not None else None,
        tasks=tasks,
        docs=docs,
        results=results,
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


def samples_problems(results_file: Path) -> list[str]:
    """What keeps a results file's sample files from being a complete record of its run (empty: complete).

    lmms-eval writes the results file before the sample files, so a killed run can leave a results file
    with short, cut or missing sample files. For every task in `n-samples` the sample file must hold
    exactly `effective` lines, each a JSON object, with document ids 0 .. effective-1 once each and
    per-document keys (`doc_key` of the Med-MIM records) never repeated.
    """
    try:
        results = _read_json(results_file)
    except (OSError, RunFormatError) as error:
        return [f"{results_file}: {error}"]
    n_samples = results.get("n-samples")
    if not isinstance(n_samples, dict) or not n_samples:
        return [f"{results_file}: no n-samples (documents per task); lmms-eval did not finish writing it"]
    problems: list[str] = []
    for task, counts in n_samples.items():
        expected = counts.get("effective") if isinstance(counts, dict) else None
        if not isinstance(expected, int) or isinstance(expected, bool):
            problems.append(f"{results_file}: n-samples of {task} has no document count")
            continue
        problem = _samples_file_problem(samples_file(results_file, task), expected)
        if problem:
            problems.append(problem)
    return problems


def _samples_file_problem(sample_file: Path, expected: int) -> str | None:
    if not sample_file.is_file():
        return f"{sample_file}: missing (lmms-eval writes it after the results file; the run was cut off or made without --log_samples)"
    doc_ids: set[Any] = set()
    doc_keys: set[str] = set()
    lines = 0
    try:
        with sample_file.open(encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                if not line.strip():
                    continue
                lines += 1
                try:
                    sample = json.loads(line)
                except json.JSONDecodeError:
                    return f"{sample_file}, line {line_number}: not a complete JSON line (the file was cut off while writing)"
                if not isinstance(sample, dict) or "doc_id" not in sample:
                    return f"{sample_file}, line {line_number}: not an lmms-eval sample (no doc_id)"
                if sample["doc_id"] in doc_ids:
                    return f"{sample_file}, line {line_number}: document {sample['doc_id']} appears twice (two runs wrote into one file?)"
                doc_ids.add(sample["doc_id"])
                keys = {value["doc_key"] for value in sample.values() if isinstance(value, dict) and isinstance(value.get("doc_key"), str)}
                repeated = keys & doc_keys
                if repeated:
                    return f"{sample_file}, line {line_number}: document key {min(repeated)} appears twice"
                doc_keys |= keys
    except (OSError, UnicodeDecodeError) as error:
        return f"{sample_file}: cannot be read ({error})"
    if lines < expected:
        return f"{sample_file}: {lines} of {expected} documents; the sample file is incomplete (the run was cut off)"
    if lines > expected:
        return f"{sample_file}: {lines} documents, but the results file counts {expected}; the file belongs to another run"
    if doc_ids != set(range(expected)):
        return f"{sample_file}: document ids are not 0..{expected - 1}; the file belongs to another run"
    return None


def sweep_record(results_file: Path) -> dict[str, Any] | None:
    """The `medmim sweep` record of the run folder holding this results file, if there is one."""
    for folder in (results_file.parent, results_file.parent.parent):
        record_file = folder / SWEEP_RUN_FILE
        if record_file.is_file():
            return _read_json(record_file)
    return None


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


def _not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    return (
        f"{path}: not UTF-8 text ({error.reason}); lmms-eval writes UTF-8, so the file was damaged or "
        "replaced: restore it from a copy of the run, or rerun the evaluation"
    )


def _read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise RunFormatError(f"{path}: not valid JSON ({error}); the run may have been cut off while writing") from None
    except UnicodeDecodeError as error:
        raise RunFormatError(_not_utf8(path, error)) from None
    if not isinstance(data, dict):
        raise RunFormatError(f"{path}: expected a JSON object at the top level")
    return data


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
        raise RunFormatError(_not_utf8(sample_file, error)) from None
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
    row.update(task=task, split=SPLITS_BY_TASK[task].alias, doc_id=sample.get("doc_id"), subtype=parts.subtype)
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
