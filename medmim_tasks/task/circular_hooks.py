"""The functions lmms-eval calls for the circular tasks (`med_mim_circular_<split>`, docs/circular.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medmim_tasks.scoring.circular import CIRCULAR_METRICS, CIRCULAR_SPLIT_ONLY_METRICS, shift_record
from medmim_tasks.task.circular import build_circular_docs
from medmim_tasks.task.hooks import process_results

SHIFT_FIELDS = ("item_key", "shift", "n_shifts", "published_gold_letter")


def process_circular_docs(dataset: Any) -> Any:
    """Replace the one-row manifest of a circular task with its documents (each item once per shift)."""
    import datasets

    tasks = {row["task"] for row in dataset}
    if len(tasks) != 1:
        raise ValueError(f"a Med-MIM task manifest must name exactly one task, found {sorted(tasks)}")
    return datasets.Dataset.from_list(build_circular_docs(tasks.pop()))


def process_circular_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """The plain multiple-choice scores of one shift (`mc_acc` over all shifts), plus one shift record per
    item-level metric (grouped by item in their aggregations: medmim_tasks.scoring.circular)."""
    scores = process_results(doc, results)
    options = {option["letter"]: option["text"] for option in doc["options"]}
    record = shift_record(doc, scores["mc_acc"]["parsed"], options)
    scores["mc_acc"].update({field: doc[field] for field in SHIFT_FIELDS}, chosen_text=record["chosen_text"])  # for reports
    scores.update({metric: dict(record) for metric in CIRCULAR_METRICS + CIRCULAR_SPLIT_ONLY_METRICS})
    return scores
