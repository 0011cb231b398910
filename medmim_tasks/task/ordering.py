"""A document order in which every prefix is representative of its split (what `--limit N` takes).

lmms-eval's `--limit N` scores the first N documents of a task. The benchmark files list their
items by kind (open-ended first, ODIR multiple-choice first) and by source, so a file-order prefix
measures one kind of question from one source. `representative_order` interleaves the documents
deterministically (no randomness) so that every prefix holds each stratum in its share of the
split: the question kind (multiple choice, open-ended), the source dataset, the source sub-type
(`EMBED type A`, `MS-CXR-T edema`, as in the report's breakdowns) and the source file entry.

The rule (a largest-deficit interleave over several stratifications at once): for prefix length
t, a stratum g of size n_g in a split of size n is owed t * n_g / n documents. Each step appends
the next document (in file order) of the leaf stratum whose choice leaves the largest deviation
|count_g - t * n_g / n| over all strata smallest; ties go to the leaf whose strata are most
behind, then to the leaf met first in the file. All arithmetic is on integers (deviations are
scaled by n), so the order is exact and the same on every machine. On the six Med-MIM files every
prefix keeps every stratum within one document of its share (tests/task/test_ordering.py).

Documents keep their keys (`<task>:<file index>`), so runs in this order pair with earlier runs.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import Any

Strata = tuple[Hashable, ...]  # one stratum per stratification, e.g. (kind, dataset, sub-type, source)


def document_strata(doc: Mapping[str, Any]) -> Strata:
    """The strata a document belongs to: its kind, source dataset, source sub-type and source entry."""
    from medmim_tasks.results.runs import parse_source  # pandas: already loaded in every lmms-eval process

    return (
        ("kind", doc["kind"]),
        ("dataset", doc["dataset"]),
        ("subtype", parse_source(doc["source"]).subtype),
        ("source", doc["kind"], doc["source"]),
    )


def _leaves(strata: Sequence[Strata]) -> tuple[list[Strata], list[list[int]]]:
    """Distinct strata tuples in order of first appearance, and the positions holding each (in order)."""
    order: dict[Strata, int] = {}
    members: list[list[int]] = []
    for position, key in enumerate(strata):
        if key not in order:
            order[key] = len(members)
            members.append([])
        members[order[key]].append(position)
    return list(order), members


def balanced_order(strata: Sequence[Strata]) -> list[int]:
    """Positions 0..n-1 reordered so every prefix holds each stratum in (about) its share.

    Element i belongs to every stratum in `strata[i]`; elements with equal tuples keep their
    relative order. Deterministic and exact (integer arithmetic); O(n * (strata + leaves)).
    """
    total = len(strata)
    leaves, members = _leaves(strata)
    groups = sorted({group for leaf in leaves for group in leaf}, key=repr)
    group_index = {group: i for i, group in enumerate(groups)}
    size = [0] * len(groups)
    for leaf, positions in zip(leaves, members):
        for group in leaf:
            size[group_index[group]] += len(positions)
    leaf_groups = [frozenset(group_index[group] for group in leaf) for leaf in leaves]
    count = [0] * len(groups)
    taken = [0] * len(leaves)
    ordered: list[int] = []
    for step in range(1, total + 1):
        # deviation of each stratum before this step's choice, scaled by `total` (integers)
        deviation = [count[g] * total - step * size[g] for g in range(len(groups))]
        by_size = sorted(range(len(groups)), key=lambda g: -abs(deviation[g]))
        best: tuple[int, int, int] | None = None
        chosen = -1
        for leaf, own in enumerate(leaf_groups):
            if taken[leaf] == len(members[leaf]):
                continue
            others = next((abs(deviation[g]) for g in by_size if g not in own), 0)
            worst = max(others, max(abs(deviation[g] + total) for g in own))
            behind = -sum(deviation[g] for g in own)
            rank = (worst, -behind, leaf)
            if best is None or rank < best:
                best, chosen = rank, leaf
        ordered.append(members[chosen][taken[chosen]])
        taken[chosen] += 1
        for g in leaf_groups[chosen]:
            count[g] += 1
    return ordered


def representative_order(docs: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The documents in an order whose every prefix is representative (see the module docstring)."""
    strata: dict[tuple[str, str, str], Strata] = {}  # a split names a few sources: parse each once
    for doc in docs:
        key = (doc["kind"], doc["dataset"], doc["source"])
        if key not in strata:
            strata[key] = document_strata(doc)
    positions = balanced_order([strata[(doc["kind"], doc["dataset"], doc["source"])] for doc in docs])
    return [docs[position] for position in positions]
