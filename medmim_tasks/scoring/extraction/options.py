"""The options as the rules read them (`_Options`, built once per option set), and option text at
the start of a stretch of reply."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import NamedTuple

from medmim_tasks.scoring.extraction.normalise import (
    _ORDINALS,
    _UNDECIDED,
    _loose,
    _normalise,
    _words,
)

_PLACE_FILLER = _words(
    "image images in sequence order line row one examination exam offered very displayed listed shown presented "
    "provided given scan picture view study series position mammogram radiograph film slice photo"
)

_FIRST_CLAUSE = re.compile(r"[^,.;:!?\n]+")
# "First: X, Second: Y". The findings keep spaces and a final "." around them (_normalise drops those);
# X is the shortest stretch that starts with a non-space and is followed by a separator and a valid
# rest, else (the second pattern) nothing but spaces, one of them no line break, before the first separator.
_PAIR_OPTION_SECOND = r"[,;]\s*second\s*:(?:\s*\n)?(.+)(?:\n\s*(?:\.\s*)?)?"
_PAIR_OPTION = re.compile(r"\s*first\s*:\s*(\S.*?)(?:\n\s*)?" + _PAIR_OPTION_SECOND, re.IGNORECASE)
_PAIR_OPTION_BLANK_FIRST = re.compile(r"\s*first\s*:(\n*[^\S\n]\s*)" + _PAIR_OPTION_SECOND, re.IGNORECASE)
_FINDING_SEPARATOR = re.compile(r"[,;]|\band\b", re.IGNORECASE)


class _Options(NamedTuple):
    letters: frozenset[str]
    texts: tuple[tuple[str, str], ...]  # (letter, padded normalised text), longest text first
    heads: dict[str, frozenset[str]]  # padded normalised whole text or head clause -> letters
    loose_heads: dict[str, frozenset[str]]  # the same without image nouns
    by_letter: dict[str, str]  # letter -> padded normalised text
    pairs: dict[str, tuple[frozenset[str], frozenset[str]]] | None  # "First: X, Second: Y" options, if all are
    pair_phrases: tuple[str, ...]  # every padded X/Y finding of the pair options, longest first
    ordinals: dict[str, str] | None  # ordinal -> letter when every option only names an image by its place


@lru_cache(maxsize=4096)
def _prepare(items: tuple[tuple[str, str], ...]) -> _Options:
    heads: dict[str, set[str]] = {}
    loose_heads: dict[str, set[str]] = {}
    by_letter: dict[str, str] = {}
    for letter, text in items:
        if not (isinstance(letter, str) and len(letter) == 1 and "A" <= letter <= "Z"):
            raise ValueError(f"extract_choice: option letters must be single capital letters A-Z, got {letter!r}")
        if not isinstance(text, str):
            raise TypeError(f"extract_choice: the text of option {letter} must be a string, got {type(text).__name__}")
        folded = unicodedata.normalize("NFKC", text)
        normalised = _normalise(folded)
        by_letter[letter] = normalised
        if not normalised.strip():
            continue
        names = {normalised}
        first = _FIRST_CLAUSE.match(folded.strip())
        head = _normalise(first.group(0)) if first else " "
        if head.strip() and head != normalised and len(head.split()) >= 2:
            names.add(head)
        for name in names:
            heads.setdefault(name, set()).add(letter)
            if _loose(name).strip():
                loose_heads.setdefault(_loose(name), set()).add(letter)
    texts = tuple(sorted(((letter, text) for letter, text in by_letter.items() if text.strip()), key=lambda lt: -len(lt[1])))
    pairs = _pair_options(items)
    phrases = {phrase for first, second in (pairs or {}).values() for phrase in first | second}
    ordinals = _ordinal_options(by_letter)
    return _Options(
        frozenset(by_letter),
        texts,
        {k: frozenset(v) for k, v in heads.items()},
        {k: frozenset(v) for k, v in loose_heads.items()},
        by_letter,
        pairs,
        tuple(sorted(phrases, key=lambda phrase: (-len(phrase), phrase))),
        ordinals,
    )


def _ordinal_options(by_letter: dict[str, str]) -> dict[str, str] | None:
    """{ordinal: letter} when every option is a place like 'the second in sequence' or 'image 2'."""
    ordinals: dict[str, str] = {}
    for letter, normalised in by_letter.items():
        tokens = normalised.split()
        places = [token for token in tokens if token in _ORDINALS]
        if len(places) != 1 or not set(tokens) - _ORDINALS <= _PLACE_FILLER or places[0] in ordinals:
            return None
        ordinals[places[0]] = letter
    return ordinals if len(ordinals) >= 2 else None


def _pair_options(items: tuple[tuple[str, str], ...]) -> dict[str, tuple[frozenset[str], frozenset[str]]] | None:
    """{letter: (first-image findings, second-image findings)} when every option reads "First: X, Second: Y"."""
    pairs: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
    for letter, text in items:
        folded = unicodedata.normalize("NFKC", text)
        match = _PAIR_OPTION.fullmatch(folded) or _PAIR_OPTION_BLANK_FIRST.fullmatch(folded)
        if not match:
            return None
        pairs[letter] = tuple(  # type: ignore[assignment]
            frozenset(_normalise(part) for part in _FINDING_SEPARATOR.split(side) if _normalise(part).strip()) for side in match.groups()
        )
    return pairs if len(pairs) >= 2 else None


def _starts_with_option(normalised: str, options: _Options) -> tuple[str | None, int]:
    """(letter, length) of the longest option text that `normalised` (padded) starts with; '?' if shared."""
    for letter, text in options.texts:
        if normalised.startswith(text):
            letters = options.heads.get(text, frozenset({letter}))
            return (letter if len(letters) == 1 else _UNDECIDED), len(text)
    return None, 0


def _contradicts(letter: str, rest: str, options: _Options) -> bool:
    """A letter whose accompanying text is another option's text ('C: cataract' when cataract is B)."""
    normalised = _normalise(rest)
    if not normalised.strip() or normalised.startswith(options.by_letter.get(letter, "\0")):
        return False
    other, _ = _starts_with_option(normalised, options)
    return other is not None and other != letter
