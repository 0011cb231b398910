"""Which option letter a model's reply commits to (first version; see issue 3 for the full parser)."""

from __future__ import annotations

import re
from collections.abc import Mapping

_BARE = re.compile(r"^\s*[\(\[\*]*\s*([A-Ga-g])\s*[\)\]\.\*:]*\s*$")
_LEADING = re.compile(r"^\s*[\(\[\*]*([A-G])\s*[\)\]\.\*]*\s*[:\.\)\-]\s+\S")
_PHRASE = re.compile(r"\b(?:answer|option|choice)\s*(?:is|:)?\s*[\(\[\*]*([A-G])\b(?![\w'])")
_WORDS = re.compile(r"[^a-z0-9]+")


def _normalise(text: str) -> str:
    return _WORDS.sub(" ", text.lower()).strip()


def extract_choice(response: str, options: Mapping[str, str]) -> str | None:
    """The option letter a reply commits to, or None; never guesses."""
    if not isinstance(response, str) or not options:
        return None
    text = re.sub(r"<think>.*?</think>", " ", response, flags=re.DOTALL | re.IGNORECASE).strip()
    for pattern in (_BARE, _LEADING, _PHRASE):
        match = pattern.search(text)
        if match and match.group(1).upper() in options:
            return match.group(1).upper()
    normalised = _normalise(text)
    hits = {letter for letter, option in options.items() if _normalise(option) and _normalise(option) == normalised}
    return hits.pop() if len(hits) == 1 else None
