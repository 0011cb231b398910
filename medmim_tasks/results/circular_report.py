"""The circular columns of `medmim report` (docs/circular.md): item-level numbers of circular runs.

A circular run's rows are asks (one per shift of an item), so its Accuracy column counts asks. The
circular columns count items, from the same rows: an item is right when every one of its shifts
is (`mc_circular_acc`), consistent when every shift was answered with the same option text; its
chance is (1 / options) ** shifts. Intervals are cluster-aware over items, as for accuracy. Items
whose shifts are not all present (a --limit that cut them) are left out and counted in a note.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results.runs import Run
from medmim_tasks.results.statistics import CONFIDENCE, NO_ESTIMATE, Estimate, macro_mean_estimate, proportion_estimate

CIRCULAR = "circular"  # column of the item-level accuracy (with _ci_low, _ci_high)
CONSISTENCY = "circular_consistency"
CIRCULAR_CHANCE = "circular_chance"


def circular_items(docs: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """(one row per item whose shifts are all present: cluster, correct, consistent, chance; items cut short)."""
    if "item_key" not in docs.columns:
        return pd.DataFrame(columns=["cluster", "correct", "consistent", "chance"]), 0
    asks = docs[(docs["kind"] == MULTIPLE_CHOICE) & docs["item_key"].notna()]
    per_item = asks.groupby("item_key", sort=False).agg(
        asks=("shift", "size"),
        n_shifts=("n_shifts", "first"),
        n_options=("n_options", "first"),
        cluster=("cluster", "first"),
        correct=("mc_acc", lambda scores: bool((scores == 1).all())),
        texts=("chosen_text", lambda texts: texts.nunique(dropna=False) if texts.notna().all() else 2),
    )
    complete = per_item[per_item["asks"] == per_item["n_shifts"]]
    items = pd.DataFrame({
        "cluster": complete["cluster"],
        "correct": complete["correct"].astype(float),
        "consistent": (complete["texts"] == 1).astype(float),
        "chance": (1.0 / complete["n_options"].astype(float)) ** complete["n_shifts"].astype(float),
    })
    return items, int(len(per_item) - len(complete))


def circular_estimate(docs: pd.DataFrame, confidence: float = CONFIDENCE) -> Estimate:
    """Circular accuracy over items with its cluster-aware interval (NO_ESTIMATE for a plain run)."""
    items, _ = circular_items(docs)
    if items.empty:
        return NO_ESTIMATE
    return proportion_estimate(items["correct"].to_numpy(), items["cluster"].tolist(), confidence)


def circular_summary(docs: pd.DataFrame, confidence: float = CONFIDENCE) -> dict[str, float]:
    """The circular columns of one split's row (empty for a plain run)."""
    items, _ = circular_items(docs)
    if items.empty:
        return {}
    estimate = circular_estimate(docs, confidence)
    return {
        CIRCULAR: estimate.value,
        f"{CIRCULAR}_ci_low": estimate.low,
        f"{CIRCULAR}_ci_high": estimate.high,
        CONSISTENCY: float(items["consistent"].mean()),
        CIRCULAR_CHANCE: float(items["chance"].mean()),
    }


def circular_overall(run: Run, confidence: float = CONFIDENCE) -> dict[str, float]:
    """The leaderboard's circular column: the macro mean over the six splits (blank unless all are there)."""
    if not run.circular:
        return {}
    estimates = [circular_estimate(run.docs[run.docs["task"] == split.task], confidence) for split in SPLITS]
    overall = macro_mean_estimate(estimates, confidence) if all(e.n for e in estimates) else NO_ESTIMATE
    return {CIRCULAR: overall.value, f"{CIRCULAR}_ci_low": overall.low, f"{CIRCULAR}_ci_high": overall.high}


def circular_notes(run: Run) -> list[str]:
    """What a reader of a circular run must know: what its columns count, and items a --limit cut."""
    if not run.circular:
        return []
    items, cut = circular_items(run.docs)
    note = (
        f"{run.label}: circular run: each multiple-choice item is asked once per shift of its options, so MC items, "
        f"Accuracy, Parsed and Chance count asks; Circular is over the {len(items)} items (right when right in every shift)."
    )
    if cut:
        note += f" {cut} items whose shifts a --limit cut are left out of Circular."
    return [note]


def _fmt(value: object) -> str:
    return "" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{float(value):.1f}"  # type: ignore[arg-type]


def with_circular_columns(shown: pd.DataFrame, frame: pd.DataFrame, columns: Sequence[str] = (CONSISTENCY, CIRCULAR_CHANCE)) -> pd.DataFrame:
    """A displayed table with the circular columns added, when some row of `frame` has them."""
    if CIRCULAR not in frame.columns or frame[CIRCULAR].isna().all():
        return shown
    shown = shown.copy()
    rows = frame.reset_index(drop=True)
    shown["Circular %"] = [
        f"{_fmt(v)} ({_fmt(lo)}–{_fmt(hi)})" if _fmt(v) else ""
        for v, lo, hi in zip(rows[CIRCULAR], rows[f"{CIRCULAR}_ci_low"], rows[f"{CIRCULAR}_ci_high"])
    ]
    titles = {CONSISTENCY: "Consistency %", CIRCULAR_CHANCE: "Circular chance %"}
    for column in columns:
        if column in rows.columns:
            shown[titles[column]] = rows[column].map(_fmt)
    return shown
