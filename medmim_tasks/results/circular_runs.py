"""Circular runs (docs/circular.md): a results file's circular tasks read as a run of their own.

A results file may hold plain tasks, circular tasks or both. Its circular tasks become a separate
`Run` labelled `<label> [circular]` whose rows name the plain split (so reports and comparisons
line them up by split) and carry each ask's item key and shift; their `mc_acc` counts every shift.
"""

from __future__ import annotations

import json
from pathlib import Path

from medmim_tasks.benchmark.circular_splits import circular_name
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results.runs import Run, load_run


def task_names(results_file: Path) -> set[str]:
    """The task names of a results file (empty when it cannot be read: load_run then says why)."""
    try:
        per_task = json.loads(results_file.read_text(encoding="utf-8")).get("results")
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError):
        return set()
    return set(per_task) if isinstance(per_task, dict) else set()


def load_run_variants(results_file: Path) -> list[Run]:
    """The plain run of a results file and, when it holds circular tasks, its circular run."""
    names = task_names(results_file)
    circular = any(circular_name(split.task) in names for split in SPLITS)
    plain = any(split.task in names for split in SPLITS)
    runs = [load_run(results_file)] if plain or not circular else []  # neither: load_run says why
    if circular:
        runs.append(load_run(results_file, circular=True))
    return runs
