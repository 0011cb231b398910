"""Where a finished lmms-eval run's files are, and whether they are a complete record of it.

A run is one `<date>_results.json` written by lmms-eval together with the `<date>_samples_<task>.jsonl`
files that `--log_samples` writes beside it, and, for a run made by `medmim sweep`, the sweep's
record in its folder. Reading the documents into a table is medmim_tasks.results.runs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from medmim_tasks.results import lm_eval_runs

RESULTS_SUFFIX = "_results.json"
SWEEP_RUN_FILE = "medmim-sweep-run.json"  # written by `medmim sweep` into each run folder


class RunFormatError(ValueError):
    """A run folder or file that cannot be read as a Med-MIM lmms-eval run."""


def samples_file(results_file: Path, task: str) -> Path:
    """The `<date>_samples_<task>.jsonl` that `--log_samples` writes beside a `<date>_results.json`."""
    if lm_eval_runs.is_lm_eval_results_file(results_file):
        return lm_eval_runs.lm_eval_samples_file(results_file, task)
    date = results_file.name[: -len(RESULTS_SUFFIX)]
    return results_file.parent / f"{date}_samples_{task}.jsonl"


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


def samples_problems(results_file: Path) -> list[str]:
    """What keeps a results file's sample files from being a complete record of its run (empty: complete).

    lmms-eval writes the results file before the sample files, so a killed run can leave a results file
    with short, cut or missing sample files. For every task in `n-samples` the sample file must hold
    exactly `effective` lines, each a JSON object, with document ids 0 .. effective-1 once each and
    per-document keys (`doc_key` of the Med-MIM records) never repeated.
    """
    try:
        results = read_json(results_file)
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
            return read_json(record_file)
    return None


def not_utf8(path: Path, error: UnicodeDecodeError) -> str:
    return (
        f"{path}: not UTF-8 text ({error.reason}); lmms-eval writes UTF-8, so the file was damaged or "
        "replaced: restore it from a copy of the run, or rerun the evaluation"
    )


def read_json(path: Path) -> dict[str, Any]:
    try:
        with path.open(encoding="utf-8") as handle:
            data = json.load(handle)
    except json.JSONDecodeError as error:
        raise RunFormatError(f"{path}: not valid JSON ({error}); the run may have been cut off while writing") from None
    except UnicodeDecodeError as error:
        raise RunFormatError(not_utf8(path, error)) from None
    if not isinstance(data, dict):
        raise RunFormatError(f"{path}: expected a JSON object at the top level")
    return data
