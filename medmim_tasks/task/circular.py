"""Documents of the circular tasks: every multiple-choice item once per cyclic shift of its option texts.

Shift s moves each option text s letters on among the item's rotating letters (the letters it
lists, in order, consecutive or not: ODIR index 62 rotates over A, B, D), the gold letter moving
with the gold text; shift 0 is the item as published. An option whose meaning depends on its place
or on the other options ("None of the above", `positional_option`) keeps its letter, and the
others rotate around it (one shift fewer). Open-ended items are not part of circular tasks; an
item whose gold option keeps its letter, or with fewer than two rotating options, cannot be
shifted and is left out (`circular_exclusions`; none on the pinned files). Documents stay in the
order of the plain task with each item's shifts adjacent, keyed `<task>:<index>:<shift>`.
See docs/circular.md.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from medmim_tasks.benchmark.circular_splits import is_circular, plain_name
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, option_lines
from medmim_tasks.scoring.metrics import normalised_tokens
from medmim_tasks.task.documents import build_docs

logger = logging.getLogger(__name__)

# Option texts (as normalised tokens, articles dropped) whose meaning depends on the other options.
POSITIONAL_PREFIXES: tuple[tuple[str, ...], ...] = tuple(
    tuple(phrase.split())
    for phrase in (
        "none of above", "all of above", "none of these", "all of these", "none of options",
        "all of options", "none of preceding", "all of preceding", "neither of above",
        "both of above", "none above", "all above",
    )
)
GOLD_KEEPS_LETTER = "its gold option keeps its letter (it names other options), so no shift moves the gold"
TOO_FEW_ROTATING = "fewer than two of its options rotate"


def positional_option(text: str) -> bool:
    """Whether an option's meaning depends on the other options ("None of the above", "All of these")."""
    tokens = normalised_tokens(text)
    return any(tuple(tokens[: len(prefix)]) == prefix for prefix in POSITIONAL_PREFIXES)


def rotating_letters(options: Sequence[tuple[str, str]]) -> tuple[str, ...]:
    """The letters whose texts rotate, in listed order: every letter but those of positional options."""
    return tuple(letter for letter, text in options if not positional_option(text))


def exclusion_reason(options: Sequence[tuple[str, str]], gold_letter: str) -> str | None:
    """Why a multiple-choice item cannot be asked circularly, or None when it can."""
    rotating = rotating_letters(options)
    if gold_letter not in rotating:
        return GOLD_KEEPS_LETTER
    if len(rotating) < 2:
        return TOO_FEW_ROTATING
    return None


def shifted_options(options: Sequence[tuple[str, str]], rotating: Sequence[str], shift: int) -> list[tuple[str, str]]:
    """The options of one shift: the text at the j-th rotating letter moves to the (j + shift)-th."""
    texts = [text for letter, text in options if letter in rotating]
    position = {letter: j for j, letter in enumerate(rotating)}
    return [
        (letter, texts[(position[letter] - shift) % len(rotating)] if letter in position else text)
        for letter, text in options
    ]


def shifted_letter(letter: str, rotating: Sequence[str], shift: int) -> str:
    """Where the text at `letter` stands after `shift` (a letter that keeps its text stays)."""
    if letter not in rotating:
        return letter
    return rotating[(rotating.index(letter) + shift) % len(rotating)]


def rewrite_option_lines(text: str, options: Sequence[tuple[str, str]], where: str) -> str:
    """`text` with each option line's text replaced by the new text of its letter (its prefix kept)."""
    new_text = dict(options)
    lines = text.split("\n")
    seen: list[str] = []
    for number, line in enumerate(lines):
        found = option_lines(line)
        if not found:
            continue
        letter, old = found[0]
        head = line.rstrip(" \t")
        if letter not in new_text or not head.endswith(old):
            raise ValueError(f"{where}: option line {line!r} cannot be rotated (letter {letter} or its text not as parsed)")
        lines[number] = head[: len(head) - len(old)] + new_text[letter]
        seen.append(letter)
    if seen != [letter for letter, _ in options]:
        raise ValueError(f"{where}: its text lists options {seen}, but the item has {[letter for letter, _ in options]}")
    return "\n".join(lines)


def shift_docs(doc: Mapping[str, Any], task: str) -> list[dict[str, Any]]:
    """The circular documents of one multiple-choice document of the plain task, shift 0 first."""
    options = [(option["letter"], option["text"]) for option in doc["options"]]
    gold = doc["gold_letter"]
    rotating = rotating_letters(options)
    gold_text = dict(options)[gold]
    shifts: list[dict[str, Any]] = []
    for shift in range(len(rotating)):
        moved = shifted_options(options, rotating, shift)
        where = f"{task} item {doc['index']}"
        new_gold = shifted_letter(gold, rotating, shift)
        shifts.append({
            **doc,
            "doc_key": f"{task}:{doc['index']}:{shift}",
            "task": task,
            "item_key": f"{task}:{doc['index']}",
            "shift": shift,
            "n_shifts": len(rotating),
            "fixed_letters": [letter for letter, _ in options if letter not in rotating],
            "published_gold_letter": gold,
            "gold_letter": new_gold,
            "answer": f"{new_gold}: {gold_text}",
            "options": [{"letter": letter, "text": text} for letter, text in moved],
            "question": rewrite_option_lines(doc["question"], moved, where),
            "user_turn": rewrite_option_lines(doc["user_turn"], moved, where),
        })
    return shifts


def circular_exclusions(docs: Sequence[Mapping[str, Any]]) -> list[tuple[int, str]]:
    """(index, reason) of each multiple-choice document that cannot be asked circularly."""
    excluded = []
    for doc in docs:
        if doc["kind"] == MULTIPLE_CHOICE:
            reason = exclusion_reason([(o["letter"], o["text"]) for o in doc["options"]], doc["gold_letter"])
            if reason is not None:
                excluded.append((doc["index"], reason))
    return excluded


def build_circular_docs(task: str, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every document of a circular task: the plain task's multiple-choice items, each once per shift."""
    if not is_circular(task):
        raise ValueError(f"{task!r} is not a circular Med-MIM task (expected med_mim_circular_<split>)")
    plain_docs = build_docs(plain_name(task), environ)
    excluded = dict(circular_exclusions(plain_docs))
    if excluded:
        logger.warning(
            "task %s: %d multiple-choice items left out (they cannot be shifted): %s",
            task, len(excluded), "; ".join(f"index {index}: {reason}" for index, reason in excluded.items()),
        )
    return [
        shifted
        for doc in plain_docs
        if doc["kind"] == MULTIPLE_CHOICE and doc["index"] not in excluded
        for shifted in shift_docs(doc, task)
    ]
