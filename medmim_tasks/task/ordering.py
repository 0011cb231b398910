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
from functools import lru_cache
from typing import Any

from medmim_tasks.benchmark.source_parts import parse_source

Strata = tuple[Hashable, ...]  # one stratum per stratification, e.g. (kind, dataset, sub-type, source)


def document_strata(doc: Mapping[str, Any]) -> Strata:
    """The strata a document belongs to: its kind, source dataset, source sub-type and source entry."""
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


def _distinct_strata(leaves: list[Strata], leaf_sizes: list[int]) -> tuple[list[tuple[int, ...]], list[int]]:
    """Per leaf, the numbers of the strata it belongs to, and each stratum's size.

    Strata that hold the same leaves (ODIR's one dataset and one sub-type, a source that is the only
    one of its kind) always deviate alike, and one that holds every leaf never deviates: each such
    set is counted once, and those holding everything not at all (less work per step, same rule).
    """
    holders: dict[Hashable, set[int]] = {}
    for leaf_number, leaf in enumerate(leaves):
        for group in leaf:
            holders.setdefault(group, set()).add(leaf_number)
    distinct = sorted({frozenset(held) for held in holders.values() if len(held) < len(leaves)}, key=sorted)
    own = [tuple(i for i, held in enumerate(distinct) if leaf_number in held) for leaf_number in range(len(leaves))]
    return own, [sum(leaf_sizes[leaf_number] for leaf_number in held) for held in distinct]


def balanced_order(strata: Sequence[Strata]) -> list[int]:
    """Positions 0..n-1 reordered so every prefix holds each stratum in (about) its share.

    Element i belongs to every stratum in `strata[i]`; elements with equal tuples keep their
    relative order. Deterministic and exact (integer arithmetic); O(n * (strata + leaves)).
    Remembered per sequence: a run builds each split twice (the data check, then lmms-eval).
    """
    return list(_balanced_order(tuple(strata)))


def _choose(active: list[int], own: list[tuple[int, ...]], deviation: list[int], magnitude: list[int], total: int, largest_first: list[int]) -> int:
    """The leaf whose choice leaves the largest |deviation| smallest; then the most behind; then the first.

    `magnitude` holds |deviation|; `largest_first` lists strata by it, largest first, at least one
    more than a leaf serves.
    Plain loops: this runs once per document and is most of the cost of ordering.
    """
    best: tuple[int, int, int] | None = None
    for leaf in active:
        mine = own[leaf]
        worst = 0
        for g in largest_first:  # the strata it does not serve keep their deviation
            if g not in mine:
                worst = magnitude[g]
                break
        behind = 0
        for g in mine:  # the ones it serves gain one document
            served = deviation[g] + total
            served = served if served >= 0 else -served
            if served > worst:
                worst = served
            behind += deviation[g]
        rank = (worst, behind, leaf)
        if best is None or rank < best:
            best = rank
    return best[2]  # type: ignore[index]


@lru_cache(maxsize=16)
def _balanced_order(strata: tuple[Strata, ...]) -> tuple[int, ...]:
    total = len(strata)
    leaves, members = _leaves(strata)
    own, size = _distinct_strata(leaves, [len(positions) for positions in members])
    groups = range(len(size))
    most_owned = max((len(groups_of_leaf) for groups_of_leaf in own), default=0)
    # deviation of each stratum from its share before this step's choice, scaled by `total`:
    # count * total - step * size (integers), starting at step 1 with nothing counted
    deviation = [-group_size for group_size in size]
    taken = [0] * len(leaves)
    active = list(range(len(leaves)))
    ordered: list[int] = []
    for _step in range(total):
        magnitude = [value if value >= 0 else -value for value in deviation]
        largest_first = sorted(groups, key=magnitude.__getitem__, reverse=True)[: most_owned + 1]  # stable on ties
        chosen = _choose(active, own, deviation, magnitude, total, largest_first)
        ordered.append(members[chosen][taken[chosen]])
        taken[chosen] += 1
        if taken[chosen] == len(members[chosen]):
            active.remove(chosen)
        for g in own[chosen]:
            deviation[g] += total
        for g in groups:
            deviation[g] -= size[g]
    return tuple(ordered)


def representative_order(docs: Sequence[Mapping[str, Any]]) -> list[Any]:
    """The documents in an order whose every prefix is representative (see the module docstring)."""
    strata: dict[tuple[str, str, str], Strata] = {}  # a split names a few sources: parse each once
    for doc in docs:
        key = (doc["kind"], doc["dataset"], doc["source"])
        if key not in strata:
            strata[key] = document_strata(doc)
    positions = balanced_order([strata[(doc["kind"], doc["dataset"], doc["source"])] for doc in docs])
    return [docs[position] for position in positions]
