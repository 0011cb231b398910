"""The decision: fast paths for terse replies, then commitments, then option text."""

from __future__ import annotations

import re
from collections.abc import Mapping

from medmim_tasks.scoring.extraction.commitments import (
    _Commitment,
    _commitments,
)
from medmim_tasks.scoring.extraction.lead_reply import _lead_letter_reply
from medmim_tasks.scoring.extraction.normalise import (
    _normalise,
    _visible_text,
)
from medmim_tasks.scoring.extraction.option_text import (
    _text_choice,
)
from medmim_tasks.scoring.extraction.options import (
    _Options,
    _prepare,
)

# --- fast paths ------------------------------------------------------------------------------
_BARE_REPLY = re.compile(
    r"""[\s"'(\[{<]*(?:(?:option|choice|answer|letter)(?:\s*[:\-])?[\s"'(\[{]*)?([A-Za-z])[\s"')\]}>]*(?:[.:!?][\s"']*)?""",
    re.IGNORECASE,
)
_GOLD_REPLY = re.compile(  # group 2: the text after the separator, without spaces around it; group 3: a space alone
    r"[ \t(\[]*([A-Z])[ \t]*(?:[)\]][ \t]*(?:[:.\-\u2013\u2014][ \t]*)?|[:.\-\u2013\u2014][ \t]*)"
    r"(?:([^ \t\n](?:[^\n]*[^ \t\n])?)[ \t]*|([ \t]))"
)


def _decide(commitments: list[_Commitment], options: _Options) -> str | None:
    strong = [c for c in commitments if c.strong]
    if strong:
        last = max(c.position for c in strong)
        values = {c.value for c in strong if c.position == last}
    else:
        values = {c.value for c in commitments}
    if len(values) != 1:
        return None
    value = values.pop()
    return value if value in options.letters else None


def extract_choice(response: str, options: Mapping[str, str]) -> str | None:
    """The option letter a reply commits to, or None; deterministic, never guesses.

    `options` maps capital letters to option texts (e.g. {"A": "normal fundus", "B": "cataract"});
    the result is one of its letters or None. See the module docstring for the rules.
    """
    if not isinstance(response, str):
        raise TypeError(f"extract_choice: response must be a string, got {type(response).__name__}")
    if not isinstance(options, Mapping):
        raise TypeError(f"extract_choice: options must be a mapping of letter to text, got {type(options).__name__}")
    if not options:
        return None
    prepared = _prepare(tuple(options.items()))
    text = _visible_text(response)
    if not text:
        return None

    bare = _BARE_REPLY.fullmatch(text)
    if bare:
        letter = bare.group(1).upper()
        return letter if letter in prepared.letters else None
    gold = _GOLD_REPLY.fullmatch(text)
    if gold and gold.group(1) in prepared.letters and _normalise(gold.group(2) or gold.group(3)) == prepared.by_letter[gold.group(1)]:
        return gold.group(1)
    decided, letter = _lead_letter_reply(text, prepared)
    if decided:
        return letter

    return _rules_choice(text, prepared)


def _rules_choice(text: str, options: _Options) -> str | None:
    """What the rules read in a visible reply (the fast paths above only skip them)."""
    commitments = _commitments(text, options)
    if commitments:
        return _decide(commitments, options)
    return _text_choice(text, options)
