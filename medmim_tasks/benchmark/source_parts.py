"""What an item's `source` string says: its dataset, question kind word and sub-type.

The sub-types are the report's breakdowns and one of the strata of the representative document
order (task/ordering.py), so they belong to the benchmark stage.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from medmim_tasks.benchmark.sources import dataset_for_source


class UnknownSourceError(ValueError):
    """A `source` that names no Med-MIM source dataset; the message names it and the prefixes expected."""


_TRAILING_STAMP = re.compile(r"(?:_\d{4}(?:_\d{2}){2,5}|_\d{8}(?:_?\d{6})?)$")
_TYPE_TOKEN = re.compile(r"^type([A-Z0-9]+)$")
_KIND_WORDS = {"multichoice": "multichoice", "vqa": "vqa", "conv": "conv", "conversation": "conv"}
_DROPPED_WORDS = {"instruction"}


@dataclass(frozen=True)
class SourceParts:
    """What an item's `source` string says: dataset, question kind word and sub-type label."""

    dataset: str
    kind_word: str
    subtype: str


def parse_source(source: str) -> SourceParts:
    """Split a `source` like `EMBED_multichoice_typeA_VQA_..._2024_12_07_12_00_22` into its parts.

    The sub-type ignores the question kind (multiple choice and open-ended questions of one type
    share it) and the generation date: `EMBED type A`, `LUMIERE type C`, `MS-CXR-T pleural effusion`,
    `ODIR`, `VQA-RAD GPT4o`.
    """
    dataset = dataset_for_source(source)
    if dataset is None:
        raise UnknownSourceError(
            f"source {source!r} names no known Med-MIM source dataset (expected a prefix such as "
            "EMBED_, LUMIERE_, MS_CXR_T_, VQA_ODIR_ or VQA_RAD_)"
        )
    rest = _TRAILING_STAMP.sub("", source[len(dataset.source_prefix) :])
    kind_word = ""
    detail: list[str] = []
    type_label = ""
    for token in (t for t in rest.split("_") if t):
        lowered = token.lower()
        if lowered in _KIND_WORDS and not kind_word and token == lowered:
            kind_word = _KIND_WORDS[lowered]
        elif lowered in _DROPPED_WORDS or token == "VQA":
            continue
        elif (match := _TYPE_TOKEN.match(token)) and not type_label:
            type_label = f"type {match.group(1)}"
        else:
            detail.append(token)
    if type_label:  # EMBED/LUMIERE: the type names the question family; the rest are generation knobs
        subtype = f"{dataset.name} {type_label}"
    elif detail:
        subtype = f"{dataset.name} {' '.join(detail)}"
    else:
        subtype = dataset.name
    return SourceParts(dataset=dataset.name, kind_word=kind_word, subtype=subtype)
