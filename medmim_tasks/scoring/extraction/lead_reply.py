"""A fast path for a reply that is, or ends with, one answer phrase and a capital letter: "The answer
is C.", "The correct option is (D)", "Final answer: B", "..., so the correct option is A.",
"... Therefore the answer is B." The rules would read it as that letter: the last strong commitment
decides, and only the answer phrase can commit to the reply's last letter (a clause break before
"the" ends whatever came before: no answer phrase reaches over "the", no negation over the break).
Deciding it here skips the rules. tests/scoring/test_lead_reply.py checks on large generated tables
of such replies, prose before them and option sets that the fast path and the rules agree."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.options import _Options

_ADJECTIVE = r"(?:(?:final|correct|right|best)[ ]+)"
_LEAD_LETTER_REPLY = re.compile(
    r"(?:the[ ]+)?(?:"
    rf"{_ADJECTIVE}?answer[ ]+is[ ]+(?:option[ ]+)?"  # "The answer is C", "The correct answer is option C"
    rf"|{_ADJECTIVE}(?:option|choice)[ ]+is[ ]+"  # "The correct option is C"
    rf"|{_ADJECTIVE}?answer[ ]*:[ ]*(?P<after_colon>)"  # "Final answer: C"
    r")(?P<bracket>[(\[])?(?-i:(?P<letter>[A-Z]))[)\]]?\.?",
    re.IGNORECASE | re.ASCII,
)
# The same after a clause break, with "the" (and a connective) before the phrase, ending the reply.
_LEAD_LETTER_ENDING = re.compile(
    r"(?:\A|[.,;:!?\n])[ \t]*(?:(?:so|therefore|thus|hence),?[ \t]+)?the[ \t]+(?:"
    rf"{_ADJECTIVE}?answer[ \t]+is[ \t]+(?:option[ \t]+)?|{_ADJECTIVE}(?:option|choice)[ \t]+is[ \t]+"
    r")[(\[]?(?-i:([A-Z]))[)\]]?\.?\Z",
    re.IGNORECASE | re.ASCII,
)
_ENDING_WINDOW = 100  # characters at the end of the reply where _LEAD_LETTER_ENDING is looked for


def _lead_letter_reply(text: str, options: _Options) -> tuple[bool, str | None]:
    """(True, the answer) when `text` is such a reply, else (False, None): then the rules decide.

    "answer: B" with no bracket also reads as option text after an answer phrase (the rules'
    answer_text_commitments): when an option's text is the letter itself ("B"), the rules decide."""
    end = _capital_end(text)
    if not end:
        return False, None  # most replies: no pattern is tried
    match = _LEAD_LETTER_REPLY.fullmatch(text)
    if match is None:
        before = end - 2 - (text[end - 2] in "([") if end >= 2 else -1
        ending = _LEAD_LETTER_ENDING.search(text, max(0, len(text) - _ENDING_WINDOW)) if before >= 0 and text[before] in " \t" else None
        return (False, None) if ending is None else (True, ending.group(1) if ending.group(1) in options.letters else None)
    letter = match.group("letter")
    if match.group("after_colon") is not None and match.group("bracket") is None:
        if f" {letter.lower()} " in options.by_letter.values():
            return False, None
    return True, (letter if letter in options.letters else None)


def _capital_end(text: str) -> int:
    """Where the capital letter that both patterns end with ends (before a ')' or ']', then a '.'),
    or 0 when the text ends otherwise."""
    end = len(text) - text.endswith(".")
    end -= text.endswith((")", "]"), 0, end)
    return end if end and "A" <= text[end - 1] <= "Z" else 0
