"""Scoring of the circular tasks: per-shift records, and aggregations that group them by item.

lmms-eval aggregates each metric over the list of per-document values `process_results` returned,
so the item-level metrics return one record per shift (item key, shift, number of shifts, cluster,
whether the shift was answered right, the option text chosen) and their aggregation groups the
records by item. These records have no `score` (lmms-eval's score_key) on purpose: lmms-eval's own
`*_stderr_clustered` would treat the shifts as the samples, so it reports N/A for them, and
`mc_circular_stderr_items` gives the clustered standard error over items instead.

An item counts only when all of its shifts are present: `--limit` counts documents, and a limit
that cuts an item's shifts drops that item from the item-level metrics (`mc_circular_incomplete`
counts such items: 0 in a full run). See docs/circular.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from medmim_tasks.scoring.text_credit import credited_by_text, text_key

CIRCULAR_METRICS: tuple[str, ...] = (
    "mc_circular_acc",
    "mc_circular_text_acc",
    "mc_circular_consistency",
    "mc_circular_chance",
)
CIRCULAR_SPLIT_ONLY_METRICS: tuple[str, ...] = ("mc_circular_stderr_items", "mc_circular_items", "mc_circular_incomplete")
SHIFT_RECORD_KEYS = ("item_key", "shift", "n_shifts", "cluster", "correct", "correct_text", "chosen_text", "chance")


class ItemOutcome(NamedTuple):
    """One item over all of its shifts."""

    item_key: str
    cluster: str
    correct: bool  # every shift answered with the gold letter
    correct_text: bool  # every shift answered with a letter whose text is the gold text
    consistent: bool  # every shift answered with the same option text (a reply that names none: not)
    chance: float  # a uniform random letter right in every shift


def shift_record(doc: Mapping[str, Any], parsed: str | None, options: Mapping[str, str]) -> dict[str, Any]:
    """The record each item-level metric gets for one shift (no `score`: see the module's note)."""
    return {
        "item_key": doc["item_key"],
        "shift": int(doc["shift"]),
        "n_shifts": int(doc["n_shifts"]),
        "cluster": doc["cluster"],
        "correct": parsed == doc["gold_letter"],
        "correct_text": credited_by_text(parsed, options, doc["gold_letter"]),
        "chosen_text": " ".join(text_key(options[parsed])) if parsed is not None and parsed in options else None,
        "chance": (1.0 / len(options)) ** int(doc["n_shifts"]),
    }


def item_outcomes(records: Sequence[Mapping[str, Any]]) -> tuple[list[ItemOutcome], int]:
    """(outcome of every item whose shifts are all present, number of items with shifts missing)."""
    by_item: dict[str, list[Mapping[str, Any]]] = {}
    for record in records:
        by_item.setdefault(record["item_key"], []).append(record)
    outcomes: list[ItemOutcome] = []
    incomplete = 0
    for key, shifts in by_item.items():
        numbers = sorted(record["shift"] for record in shifts)
        if len(numbers) != len(set(numbers)):
            raise ValueError(f"item {key}: shift records repeat ({numbers}); two runs were merged into one")
        if numbers != list(range(shifts[0]["n_shifts"])):
            incomplete += 1
            continue
        chosen = {record["chosen_text"] for record in shifts}
        outcomes.append(ItemOutcome(
            item_key=key,
            cluster=str(shifts[0]["cluster"]),
            correct=all(record["correct"] for record in shifts),
            correct_text=all(record["correct_text"] for record in shifts),
            consistent=len(chosen) == 1 and None not in chosen,
            chance=float(shifts[0]["chance"]),
        ))
    return outcomes, incomplete


def _item_mean(records: Sequence[Mapping[str, Any]], field: str) -> float:
    outcomes, _ = item_outcomes(records)
    if not outcomes:
        return math.nan  # --limit below one item's shifts: no complete item (mc_circular_incomplete says so)
    return sum(float(getattr(outcome, field)) for outcome in outcomes) / len(outcomes)


def circular_accuracy(records: Sequence[Mapping[str, Any]]) -> float:
    """Share of items answered with the gold letter in every shift (`mc_circular_acc`)."""
    return _item_mean(records, "correct")


def circular_accuracy_text(records: Sequence[Mapping[str, Any]]) -> float:
    """Share of items answered with the gold text in every shift, a twin letter counting (`mc_circular_text_acc`)."""
    return _item_mean(records, "correct_text")


def circular_consistency(records: Sequence[Mapping[str, Any]]) -> float:
    """Share of items answered with the same option text in every shift (`mc_circular_consistency`)."""
    return _item_mean(records, "consistent")


def circular_chance(records: Sequence[Mapping[str, Any]]) -> float:
    """Mean over items of (1 / options) ** shifts: a uniform random letter right in every shift."""
    return _item_mean(records, "chance")


def circular_accuracy_stderr(records: Sequence[Mapping[str, Any]]) -> float:
    """Clustered standard error of `mc_circular_acc` over items (lmms-eval's `_stderr_clustered` estimator)."""
    from medmim_tasks.results.statistics import clustered_stderr

    outcomes, _ = item_outcomes(records)
    return clustered_stderr([float(o.correct) for o in outcomes], [o.cluster for o in outcomes])


def circular_item_count(records: Sequence[Mapping[str, Any]]) -> float:
    """Number of items whose shifts are all present (`mc_circular_items`)."""
    return float(len(item_outcomes(records)[0]))


def circular_incomplete_count(records: Sequence[Mapping[str, Any]]) -> float:
    """Number of items a --limit cut, left out of the item-level metrics (`mc_circular_incomplete`)."""
    return float(item_outcomes(records)[1])


# Each item-level metric and its aggregation (the YAMLs name these functions through utils.py).
CIRCULAR_AGGREGATIONS: dict[str, Any] = {
    "mc_circular_acc": circular_accuracy,
    "mc_circular_text_acc": circular_accuracy_text,
    "mc_circular_consistency": circular_consistency,
    "mc_circular_chance": circular_chance,
    "mc_circular_stderr_items": circular_accuracy_stderr,
    "mc_circular_items": circular_item_count,
    "mc_circular_incomplete": circular_incomplete_count,
}
