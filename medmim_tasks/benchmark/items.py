"""Read a Med-MIM benchmark file: validate every item and classify it (multiple choice or open)."""

from __future__ import annotations

import json
import os
import posixpath
import re
from functools import lru_cache
from pathlib import Path
from typing import Any, NamedTuple

from medmim_tasks.benchmark.sources import SOURCE_DATASETS, SourceDataset, dataset_for_source
from medmim_tasks.benchmark.splits import Split
from medmim_tasks.settings import setting

BENCHMARK_DIR_VARIABLE = "MEDMIM_BENCHMARK_DIR"

IMAGE_PLACEHOLDER = "<image>"
OPTION_LINE = re.compile(r"^([A-G]):[ \t]*(.*?)[ \t]*$", re.MULTILINE)  # what parse_options finds
_OPTION_LETTERS = "ABCDEFG"
GOLD_PREFIX = re.compile(r"^\s*([A-G]):")
# The same letters written slightly differently: `b:`, `B :`, `(B)`, `(b):` (an option line or a gold answer).
# Recognised as the capital letter; prose such as "A cataract ..." or "A large lesion: ..." is not.
LOOSE_OPTION_LINE = re.compile(r"[ \t]*(?:\(([A-Ga-g])\)[ \t]*:?|([A-Ga-g])[ \t]*:)(.*)")  # no backtracking
LOOSE_GOLD_PREFIX = re.compile(r"\s*(?:\(([A-Ga-g])\)|([A-Ga-g])[ \t]*:)")
_LOOSE_LINE_STARTS = frozenset("( \tABCDEFGabcdefg")
MAX_LISTED_PROBLEMS = 10

MULTIPLE_CHOICE = "multiple_choice"
OPEN_ENDED = "open_ended"


class BenchmarkFormatError(ValueError):
    """A benchmark file is missing, unreadable or holds items that break the Med-MIM format."""


class Item(NamedTuple):
    """One validated benchmark item of one split, in file order (immutable; a tuple, cheap to build)."""

    # the item's position in its split file; a field may shadow tuple.index (Item is never searched with .index())
    index: int  # type: ignore[assignment]
    id: str
    images: tuple[str, ...]
    user_turn: str
    question: str
    answer: str
    source: str
    dataset: SourceDataset
    options: tuple[tuple[str, str], ...]
    gold_letter: str | None

    @property
    def kind(self) -> str:
        return MULTIPLE_CHOICE if self.gold_letter is not None else OPEN_ENDED


def benchmark_dir(environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """Folder with the six upstream JSON files: MEDMIM_BENCHMARK_DIR or ~/.cache/medmim/benchmark."""
    return setting(BENCHMARK_DIR_VARIABLE, environ)


def split_file(split: Split, environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    return benchmark_dir(environ) / split.file_name


def read_split_file(split: Split, environ: os._Environ[str] | dict[str, str] | None = None) -> list[Any]:
    """The raw JSON list of a split, or an error that says where it was looked for and how to get it."""
    path = split_file(split, environ)
    if not path.is_file():
        raise BenchmarkFormatError(
            f"{path}: Med-MIM benchmark file not found for task {split.task}. "
            f"Run `medmim data fetch` or set {BENCHMARK_DIR_VARIABLE} to the folder that holds "
            f"{split.file_name} (upstream: Benchmark_Dataset/ of github.com/Xikai97/Med-MIM)."
        )
    try:
        with path.open("rb") as handle:
            raw = json.load(handle)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise BenchmarkFormatError(
            f"{path}: cannot read it as JSON ({error}). Fetch it again with `medmim data fetch`."
        ) from error
    if not isinstance(raw, list):
        raise BenchmarkFormatError(f"{path}: expected a JSON list of items, found {type(raw).__name__}.")
    if not raw:
        raise BenchmarkFormatError(
            f"{path}: holds no items (an empty JSON list), so task {split.task} has nothing to evaluate. "
            "Fetch the upstream file again with `medmim data fetch`."
        )
    return raw


def parse_options(question: str) -> tuple[tuple[str, str], ...]:
    """Option lines `X: text` (X in A-G) of a question, in order.

    Exactly `OPTION_LINE.findall(question)`, computed line by line: the regex tries every
    character position and took a third of the time of building all six tasks.
    """
    options = []
    for line in question.split("\n"):
        if len(line) > 1 and line[1] == ":" and line[0] in _OPTION_LETTERS:
            options.append((line[0], line[2:].strip(" \t")))
    return tuple(options)


def option_lines(question: str) -> tuple[tuple[str, str], ...]:
    """Every option line of a question, in order, with its capital letter: `X: text` as parse_options
    finds it, and the same written differently (`x: text`, `X : text`, `(X) text`, `(x): text`)."""
    options = []
    for line in question.split("\n"):
        if len(line) > 1 and line[1] == ":" and line[0] in _OPTION_LETTERS:
            options.append((line[0], line[2:].strip(" \t")))
        elif line and line[0] in _LOOSE_LINE_STARTS:
            loose = LOOSE_OPTION_LINE.match(line)
            if loose is not None:
                options.append(((loose.group(1) or loose.group(2)).upper(), loose.group(3).strip(" \t")))
    return tuple(options)


def gold_letter_of(answer: str) -> str | None:
    """The capital letter a gold answer starts with (`B: ...`, `b: ...`, `B : ...`, `(B) ...`), or None."""
    gold = GOLD_PREFIX.match(answer)
    if gold is not None:
        return gold.group(1)
    loose = LOOSE_GOLD_PREFIX.match(answer)
    return None if loose is None else (loose.group(1) or loose.group(2)).upper()


@lru_cache(maxsize=1024)
def _dataset_of(source: str) -> SourceDataset | None:
    """dataset_for_source, remembered: a split names a few dozen distinct sources."""
    return dataset_for_source(source)


def contained_reference(reference: str) -> str | None:
    """An image reference as a path inside its dataset root, or None when it would leave the root.

    Lexical: absolute references leave; `..` steps are resolved on the text (`a/../b` is `b`), so
    no `..` ever reaches the file system (where it would climb out of a linked folder). References
    without a `..` part come back unchanged. Symlinks inside a root are the user's and are followed.
    """
    if reference.startswith("/"):
        return None
    if ".." not in reference.split("/"):
        return reference
    normalised = posixpath.normpath(reference)
    if normalised == ".." or normalised.startswith(("../", "/")):
        return None
    return normalised


def _item_problem(raw: Any, datasets: tuple[SourceDataset, ...]) -> str | None:
    """What makes a raw item unusable (its source must name one of `datasets`), or None."""
    if not isinstance(raw, dict):
        return f"is a {type(raw).__name__}, not an object"
    item_id = raw.get("id")
    if not isinstance(item_id, str) or not item_id:
        return "has no string `id`"
    images = raw.get("images")
    if not isinstance(images, list) or not images:
        return "has no non-empty `images` list"
    for path in images:
        if not isinstance(path, str) or not path:
            return "has an `images` entry that is not a non-empty string"
        if (path[0] == "/" or ".." in path) and contained_reference(path) is None:
            return (
                f"has image reference {path!r}, which leaves its dataset's image folder (an absolute path, "
                "or `..` past the folder); references must name files inside the dataset root"
            )
    source = raw.get("source")
    if not isinstance(source, str) or not source:
        return "has no string `source`"
    if _dataset_of(source) not in datasets:
        prefixes = ", ".join(d.source_prefix for d in datasets)
        return f"has source {source!r}, which starts with none of {prefixes}"
    turns = raw.get("conversation")
    if not isinstance(turns, list) or len(turns) < 2:
        return "has no `conversation` with a user and an assistant turn"
    for turn, role in ((turns[0], "user"), (turns[1], "assistant")):
        if not isinstance(turn, dict) or turn.get("role") != role or not isinstance(turn.get("content"), str):
            return f"has no {role} turn with string `content` where the {role} turn should be"
    user = turns[0]["content"]
    placeholders = user.count(IMAGE_PLACEHOLDER)
    if placeholders != len(images):
        return f"has {placeholders} `{IMAGE_PLACEHOLDER}` placeholders in its user turn for {len(images)} images"
    return None


def _classify(raw: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], str | None, str | None]:
    """(options, gold letter or None, problem or None) of a valid raw item.

    Letters written slightly differently (`b: ...`, `(B) ...`, `B : ...`) are read as their
    capital, in options and gold answer alike, so such an item is neither scored as open-ended
    nor loses an option; a letter that then repeats is an error naming the item.
    """
    question = raw["conversation"][0]["content"]
    answer = raw["conversation"][1]["content"]
    options = option_lines(question)
    if not options:
        return (), None, None
    gold = gold_letter_of(answer)
    if gold is None:
        return (), None, None
    letters = [letter for letter, _ in options]
    if len(set(letters)) != len(letters):
        return options, None, (
            f"repeats an option letter ({', '.join(letters)}; letters written as `b:` or `(B)` count as B): "
            "give each option its own letter"
        )
    if gold not in letters:
        return options, None, f"gives gold letter {gold} that is not among its options ({', '.join(letters)})"
    return options, gold, None


def parse_items(raw_items: list[Any], where: str, datasets: tuple[SourceDataset, ...] = SOURCE_DATASETS) -> list[Item]:
    """Validated, classified items; one error listing every bad item (file, index, id, problem, fix).

    Every item's `source` must name one of `datasets` (the benchmark's five by default; the
    generated sanity set passes its own), so a sanity item cannot pass as a benchmark item.
    """
    items: list[Item] = []
    problems: list[str] = []
    for index, raw in enumerate(raw_items):
        problem = _item_problem(raw, datasets)
        options: tuple[tuple[str, str], ...] = ()
        gold: str | None = None
        if problem is None:
            options, gold, problem = _classify(raw)
        if problem is not None:
            item_id = raw.get("id") if isinstance(raw, dict) else None
            problems.append(f"item {index} (id {item_id!r}) {problem}")
            continue
        user = raw["conversation"][0]["content"]
        images = raw["images"]
        if any(".." in path for path in images):  # rare: `a/../b` becomes `b` (escapes were refused above)
            images = [contained_reference(path) for path in images]
        items.append(
            Item(  # positional: index, id, images, user_turn, question, answer, source, dataset,
                # options, gold_letter
                index,
                raw["id"],
                tuple(images),
                user,
                user.replace(IMAGE_PLACEHOLDER, "").strip(),
                raw["conversation"][1]["content"].strip(),
                raw["source"],
                _dataset_of(raw["source"]),  # type: ignore[arg-type]
                options,
                gold,
            )
        )
    if problems:
        listed = "\n  ".join(problems[:MAX_LISTED_PROBLEMS])
        more = f"\n  ... and {len(problems) - MAX_LISTED_PROBLEMS} more" if len(problems) > MAX_LISTED_PROBLEMS else ""
        raise BenchmarkFormatError(
            f"{where}: {len(problems)} of {len(raw_items)} items break the Med-MIM format "
            f"(each needs id, non-empty images, a user and an assistant turn, source, and one "
            f"<image> per image):\n  {listed}{more}\n"
            "Use the unmodified upstream file (`medmim data fetch` re-downloads and checks it)."
        )
    return items


def load_split(split: Split, environ: os._Environ[str] | dict[str, str] | None = None) -> list[Item]:
    """Every item of a split, validated and classified."""
    return parse_items(read_split_file(split, environ), str(split_file(split, environ)))
