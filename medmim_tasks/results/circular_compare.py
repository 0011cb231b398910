"""`medmim compare` on two circular runs: circular accuracy paired by item (docs/circular.md).

The accuracy rows of a comparison pair asks by document key (`<task>:<index>:<shift>`); the shifts
of one item are not independent, so two circular runs also get one `mc_circular_acc` row per split
whose exact McNemar test and paired bootstrap pair items (right in every shift or not).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results.circular_report import circular_items
from medmim_tasks.results.runs import Run
from medmim_tasks.results.statistics import mcnemar_exact, paired_bootstrap

METRIC = "mc_circular_acc"


def _items(run: Run, task: str) -> pd.Series:
    """Item key -> right in every shift, for the complete items of one split."""
    docs = run.docs[run.docs["task"] == task]
    items, _ = circular_items(docs)
    return items["correct"]


def circular_comparison_rows(
    run_a: Run, run_b: Run, alpha: float, resamples: int, seed: int, confidence: float
) -> list[dict[str, Any]]:
    """One item-level row per split both circular runs hold (none unless both are circular)."""
    from medmim_tasks.results.compare import _row

    if not (run_a.circular and run_b.circular):
        return []
    rows = []
    for split in SPLITS:
        if split.task not in run_a.tasks or split.task not in run_b.tasks:
            continue
        paired = pd.concat([_items(run_a, split.task), _items(run_b, split.task)], axis=1, join="inner", keys=["a", "b"])
        if paired.empty:
            continue
        a, b = paired["a"].to_numpy(), paired["b"].to_numpy()
        test = mcnemar_exact(a == 1, b == 1)
        interval = paired_bootstrap(a, b, resamples, seed, confidence)
        rows.append(_row(
            split.alias, METRIC, True, len(paired), a.mean(), b.mean(), interval.low, interval.high, test.p_value,
            f"exact McNemar over items ({test.only_a_right} vs {test.only_b_right} discordant)", alpha,
        ))
    return rows


def paired_variants(runs_a: list[Run], runs_b: list[Run]) -> list[tuple[Run, Run]]:
    """The (plain, plain) and (circular, circular) pairs of two results files' runs, plain first.

    A results file with plain and circular tasks is two runs (medmim_tasks.results.circular_runs);
    `medmim compare` compares each kind the two files share; ComparisonError when they share none.
    """
    from medmim_tasks.results.compare import ComparisonError

    pairs = [(a, b) for a in runs_a for b in runs_b if a.circular == b.circular]
    if not pairs:
        kinds = {False: "plain", True: "circular"}
        raise ComparisonError(
            f"{runs_a[0].results_file} holds {' and '.join(kinds[r.circular] for r in runs_a)} tasks, "
            f"{runs_b[0].results_file} {' and '.join(kinds[r.circular] for r in runs_b)} tasks: they share no documents; "
            "compare circular runs with circular runs"
        )
    return pairs
