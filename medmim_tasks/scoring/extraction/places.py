"""Options that name images: 'First: X, Second: Y' findings and places ('the second in sequence')."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.mentions import (
    _mentioned_phrases,
)
from medmim_tasks.scoring.extraction.negation import (
    _AFTER_NEGATED,
    _NEGATORS,
    _SCOPE_STOPS,
)
from medmim_tasks.scoring.extraction.normalise import (
    _ORDINALS,
    _SENTENCE_BREAK_TOKEN,
    _normalise,
    _words,
)
from medmim_tasks.scoring.extraction.options import (
    _Options,
)

_PLACE_NOUNS = _words("image images one examination exam scan picture view study mammogram radiograph film slice photo")
_PLACE_PHRASES = frozenset({"sequence", "order", "line", "row"})

_CLAUSE_SPLIT = re.compile(r"[,.;:!?\n]|\b(?:and|while|whereas|but|although)\b", re.IGNORECASE)


def _pair_choice(text: str, options: _Options) -> str | None:
    """The "First: X, Second: Y" option whose findings are exactly those the reply gives each image."""
    found: tuple[set[str], set[str]] = (set(), set())
    images: tuple[int, ...] = ()
    for clause in _CLAUSE_SPLIT.split(text):
        normalised = _normalise(clause)
        named = tuple(i for i, word in enumerate((" first ", " second ")) if word in normalised)
        images = (0, 1) if " both " in normalised else named or images  # a clause naming no image continues the last
        mentioned = _mentioned_phrases(normalised, options.pair_phrases)
        if mentioned and not images:
            return None  # a finding before any image is named: which image?
        for image in images:
            found[image].update(mentioned)
    matches = [letter for letter, (first, second) in options.pairs.items() if (first, second) == found]  # type: ignore[union-attr]
    return matches[0] if len(matches) == 1 else None


def _ordinal_choice(padded: str, ordinals: dict[str, str]) -> str | None:
    """The option whose place the reply names ('the second image', 'the last one'), if it names one place."""
    tokens = padded.split()
    named: set[str] = set()
    for index, token in enumerate(tokens):
        if token not in _ORDINALS:
            continue
        following = tokens[index + 1 : index + 3]
        refers = (
            not following
            or following[0] in _PLACE_NOUNS
            or following[0] == _SENTENCE_BREAK_TOKEN.strip()
            or (following[0] == "in" and following[1:2] and following[1] in _PLACE_PHRASES)
        )
        if refers and not _token_negated(tokens, index):
            named.add(token)
    if len(named) != 1:
        return None
    return ordinals.get(named.pop())


def _token_negated(tokens: list[str], index: int) -> bool:
    """Whether the place named at tokens[index] is negated ('not the first image', 'than the first one')."""
    for token in reversed(tokens[max(0, index - 3) : index]):
        if token in _SCOPE_STOPS or token in _ORDINALS or token[0] in "\0\x01":
            break  # another place ends the scope: "not the first image, the second image"
        if token in _NEGATORS:
            return True
    rest = tokens[index + 1 : index + 8]
    if rest[:1] == ["in"]:
        rest = rest[2:]  # "the first in line is not ..."
    elif rest[:1] and rest[0] in _PLACE_NOUNS:
        rest = rest[1:]  # "the first image is not ..."
    return bool(_AFTER_NEGATED.match(" " + " ".join(rest) + " ", 0))
