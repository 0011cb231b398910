"""Hedges around a letter: a lean with a second thought in the same sentence ("I'd lean to B, but C
cannot be excluded", "leaning towards C, though D is also possible"; a firm choice with the same tail
stays a choice), letters left open at the end of the reply ("... - C or
maybe D"), and "X is the one I would exclude" (issue 13). Each is read in a bounded window, so the
work per letter stays constant."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.options import _Options

_LEAN_LEAD = re.compile(r"(?:i\s+)?lean", re.IGNORECASE)  # the answer phrases that only lean ("I'd lean to B")
_SECOND_THOUGHT_WINDOW = 160  # characters after a letter read for a second thought (to the sentence's end)
_SENTENCE_ENDS = ".!?\n;"
# "could also be C" / "C is also possible" / "C cannot be excluded": another option left open.
_SECOND_THOUGHT = re.compile(
    r"(?i:could|might|may|can)[ \t]+(?i:also|equally)[ \t]+(?i:be)[ \t]+[(\[]?([A-Z])(?![A-Za-z0-9])"
    r"|(?<![A-Za-z0-9])[(\[]?([A-Z])[)\]]?[ \t]+(?:(?i:is|remains)[ \t]+(?i:also|equally|still)[ \t]+"
    r"(?i:possible|likely|plausible)|(?i:cannot|can.t|can[ \t]+not)[ \t]+(?i:be)[ \t]+(?i:excluded|ruled[ \t]+out))"
)
# "C or maybe D" ending the reply: the reply leaves two letters open, whatever came before.
_LETTERS_LEFT_OPEN_AT_END = re.compile(
    r"(?<![A-Za-z0-9])[(\[]?([A-Z])[)\]]?(?:[ \t]*,[ \t]*|[ \t]+)(?i:or)[ \t]+(?:(?i:possibly|maybe|perhaps|even)[ \t]+)?"
    r"[(\[]?([A-Z])[)\]]?[ \t]*(?:[.!][ \t]*)?$"
)
_LEFT_OPEN_WINDOW = 80  # characters before the end of the reply where _LETTERS_LEFT_OPEN_AT_END is looked for
# "D is the one I would exclude": the letter is named to be set aside.
_ONE_TO_EXCLUDE = re.compile(
    r"[)\]]?[ \t]+(?i:is|was)[ \t]+(?i:the[ \t]+)?(?i:one|option|choice)[ \t]+(?i:i|we|to)\b[^.!?\n]{0,40}?"
    r"(?i:exclud|rul(?:e|ed|ing)[ \t]+out|eliminat|discard|drop|reject)"
)


def _is_lean(lead: str) -> bool:
    return bool(_LEAN_LEAD.match(lead))


def _second_thought(text: str, after: int, letter: str, options: _Options) -> bool:
    """Whether the rest of the sentence after the letter leaves another option open."""
    rest = text[after : after + _SECOND_THOUGHT_WINDOW]
    ends = [at for at in (rest.find(mark) for mark in _SENTENCE_ENDS) if at != -1]
    if ends:
        rest = rest[: min(ends)]
    for match in _SECOND_THOUGHT.finditer(rest):
        other = match.group(1) or match.group(2)
        if other != letter and other in options.letters:
            return True
    return False


def _named_to_exclude(text: str, after: int) -> bool:
    return bool(_ONE_TO_EXCLUDE.match(text, after))


def _letters_left_open_at_end(text: str, options: _Options) -> int | None:
    """Where "C or maybe D" (two option letters) ends the reply, or None."""
    match = _LETTERS_LEFT_OPEN_AT_END.search(text, max(0, len(text) - _LEFT_OPEN_WINDOW))
    if match and match.group(1) != match.group(2) and {match.group(1), match.group(2)} <= options.letters:
        return match.start(1)
    return None
