"""Items whose gold option's text is listed under two letters (`medmim check` lists them).

A reply naming the twin letter is wrong for the letter-exact `mc_acc` and right for `mc_text_acc`
(medmim_tasks.scoring.text_credit; docs/circular.md).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from medmim_tasks.benchmark.items import BenchmarkFormatError, Item, load_split
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.scoring.text_credit import twin_letters


@dataclass(frozen=True)
class GoldTwin:
    """One multiple-choice item whose gold text also stands under other letters."""

    task: str
    index: int
    gold_letter: str
    twin_letters: tuple[str, ...]
    text: str


def gold_twins(task: str, items: Sequence[Item]) -> list[GoldTwin]:
    """The items of a split whose gold option's text is listed under another letter too."""
    found = []
    for item in items:
        if item.gold_letter is None:
            continue
        options = dict(item.options)
        twins = twin_letters(options, item.gold_letter)
        if twins:
            found.append(GoldTwin(task, item.index, item.gold_letter, tuple(twins), options[item.gold_letter]))
    return found


def gold_twins_by_split(environ: Mapping[str, str]) -> dict[str, tuple[int, list[GoldTwin]]]:
    """(multiple-choice items, items with a gold twin) of every split whose file can be read."""
    found = {}
    for split in SPLITS:
        try:
            items = load_split(split, environ)  # type: ignore[arg-type]
        except BenchmarkFormatError:
            continue  # `medmim check` reports the file's problem itself
        found[split.task] = (sum(item.gold_letter is not None for item in items), gold_twins(split.task, items))
    return found


def format_gold_twins(found: Mapping[str, tuple[int, list[GoldTwin]]]) -> list[str]:
    """Lines for `medmim check`: per split, how many items list the gold text twice, and which."""
    lines = ["", "Gold option text under two letters (mc_acc counts the gold letter only, mc_text_acc either)"]
    for task, (mc_items, twins) in found.items():
        if not twins:
            continue
        listed = ", ".join(f"{t.index} ({'='.join((t.gold_letter, *t.twin_letters))})" for t in twins)
        lines.append(f"  {task}: {len(twins)} of {mc_items} multiple-choice items; index (gold=twin): {listed}")
    if len(lines) == 2:
        lines.append("  none")
    return lines
