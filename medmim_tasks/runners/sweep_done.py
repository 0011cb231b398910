"""When a model of a sweep is finished: a results file that covers every task, with complete sample files.

lmms-eval exits 0 even when an evaluation failed, so success is decided by these files alone.
"""

from __future__ import annotations

import json
from pathlib import Path

from medmim_tasks.results.run_files import RunFormatError, find_results_files, samples_problems
from medmim_tasks.runners.sweep_plan import HASH_LENGTH, ModelSpec, Sweep, config_hash, run_folder


def completed_results(folder: Path, tasks: str) -> Path | None:
    """The newest results file in a run folder that covers every requested task with complete sample files."""
    for results_file in results_files_newest_first(folder):
        if completion_problem(results_file, tasks) is None:
            return results_file
    return None


def results_files_newest_first(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    try:
        candidates = find_results_files([folder])
    except RunFormatError:
        return []
    return sorted(candidates, key=lambda p: p.name, reverse=True)


def completion_problem(results_file: Path, tasks: str) -> str | None:
    """Why a results file is not a finished run of these tasks (None: it is)."""
    try:
        data = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"{results_file}: unreadable ({error})"
    if not isinstance(data, dict):
        return f"{results_file}: not a JSON object"
    names = set(data.get("results") or {}) | set(data.get("groups") or {})
    absent = [task for task in tasks.split(",") if task not in names]
    if absent:
        return f"{results_file}: no results for {', '.join(absent)}"
    problems = samples_problems(results_file)
    return "; ".join(problems) if problems else None


def find_finished(sweep: Sweep, spec: ModelSpec) -> tuple[Path, Path] | None:
    """(run folder, results file) of a finished run of this configuration in the output folder, if any."""
    digest = config_hash(sweep, spec)[:HASH_LENGTH]
    own = run_folder(sweep, spec)
    folders = [own, *sorted(p for p in sweep.output.glob(f"*-{digest}") if p != own)] if sweep.output.is_dir() else [own]
    for folder in folders:
        found = completed_results(folder, sweep.tasks)
        if found is not None:
            return folder, found
    return None

