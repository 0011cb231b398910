"""Representative document order: every prefix (what `--limit N` scores) holds each stratum in its share."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from medmim_tasks.benchmark.items import load_split
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.task.ordering import balanced_order, document_strata, representative_order

SMALLEST_LIMIT = 20


def worst_prefix_deviation(strata: list[tuple[object, ...]], order: list[int], start: int = 1) -> tuple[float, int, object]:
    """max over prefixes N >= start and strata g of |count_g(N) - N * share_g|, with where it happens."""
    total = len(order)
    sizes = Counter(group for key in strata for group in key)
    counts: Counter[object] = Counter()
    worst: tuple[float, int, object] = (0.0, 0, None)
    for length, position in enumerate(order, start=1):
        counts.update(strata[position])
        if length < start:
            continue
        for group, size in sizes.items():
            deviation = abs(counts[group] - length * size / total)
            if deviation > worst[0]:
                worst = (deviation, length, group)
    return worst


def test_a_permutation_that_keeps_order_within_a_stratum() -> None:
    strata = [("open",)] * 5 + [("mc",)] * 15
    order = balanced_order(strata)
    assert sorted(order) == list(range(20))
    assert [p for p in order if p < 5] == [0, 1, 2, 3, 4]  # file order inside each stratum
    assert [p for p in order if p >= 5] == list(range(5, 20))


def test_two_kinds_in_proportion_at_every_prefix() -> None:
    strata = [("open",)] * 5 + [("mc",)] * 15  # file order: all open-ended first
    order = balanced_order(strata)
    assert [strata[p][0] for p in order[:8]] == ["mc", "open", "mc", "mc", "mc", "open", "mc", "mc"]
    assert worst_prefix_deviation(strata, order)[0] < 1


def test_crossed_stratifications_stay_within_one() -> None:
    # kind x dataset x source, crossed as in Temporal: one dataset holds both kinds
    strata = (
        [(("kind", "open"), ("dataset", "EMBED"), ("source", "conv"))] * 3
        + [(("kind", "mc"), ("dataset", "LUMIERE"), ("source", "typeC"))] * 63
        + [(("kind", "mc"), ("dataset", "EMBED"), ("source", "typeB"))] * 27
    )
    order = balanced_order(strata)
    assert worst_prefix_deviation(strata, order)[0] < 1
    assert balanced_order(strata) == order  # deterministic


def test_nothing_to_order() -> None:
    assert balanced_order([]) == []
    assert balanced_order([("one source",)] * 3) == [0, 1, 2]  # one stratum: file order
    assert representative_order([]) == []


def split_docs(split_task: str) -> list[dict[str, object]]:
    split = next(s for s in SPLITS if s.task == split_task)
    return [
        {"index": item.index, "kind": item.kind, "dataset": item.dataset.name, "source": item.source}
        for item in load_split(split)
    ]


@pytest.mark.parametrize("task", [split.task for split in SPLITS])
def test_every_prefix_of_a_real_split_is_representative(benchmark_dir: Path, monkeypatch: pytest.MonkeyPatch, task: str) -> None:
    """For N from 20 to the split's size, the first N documents hold every kind and source dataset,
    and every count (kind, dataset, source sub-type, source entry) is within one of N times its share."""
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    docs = split_docs(task)
    ordered = representative_order(docs)
    assert sorted(doc["index"] for doc in ordered) == list(range(len(docs)))
    strata = [document_strata(doc) for doc in ordered]
    needed = {group for key in strata for group in key if group[0] in ("kind", "dataset")}
    first_twenty = {group for key in strata[:SMALLEST_LIMIT] for group in key}
    assert needed <= first_twenty, f"{task}: the first {SMALLEST_LIMIT} documents lack {needed - first_twenty}"
    deviation, length, group = worst_prefix_deviation(strata, list(range(len(strata))), start=SMALLEST_LIMIT)
    assert deviation <= 1, f"{task}: the first {length} documents hold {group} {deviation:.2f} away from its share"
    kinds = {doc["kind"] for doc in docs}
    assert len(kinds) == 2  # every split has both kinds, so the check above covers both
