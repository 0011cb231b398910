"""Letters by where they stand: lines that are a letter or start with one, letters ending the
reply, letters in parentheses, and options listed back (not commitments)."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.normalise import (
    _SCAN_WHOLE_BELOW,
    _first_found,
    _letter_runs,
    _normalise,
)
from medmim_tasks.scoring.extraction.options import (
    _Options,
)

# --- weak letter commitments -----------------------------------------------------------------
_LETTER_IN_PARENS = re.compile(r"[(\[](?:(?i:option|choice)[ \t]*)?([A-Z])[)\]]")  # "cataract (B)", "... (option B)"
_PARENS_AT_LINE_END = re.compile(r"[(\[]([A-Z])[)\]][ \t]*(?:[.!][ \t]*)?$", re.MULTILINE)
_LETTER_SENTENCE_AT_END = re.compile(r"[.!?][ \t]+[(\[]?([A-Z])[)\]]?[ \t]*(?:[.!][ \t]*)?$")
_LETTER_AT_END = re.compile(r"[,\-\u2013\u2014:][ \t]*[(\[]?([A-Z])[)\]]?[ \t]*(?:[.!][ \t]*)?$")
_AFTER_END_LETTER = " \t.!)]\n"  # what may follow the letter of the two patterns above (\n: `$`)

# --- lines -----------------------------------------------------------------------------------
_LINE_PREFIX = r"[ \t>#\-\u2022]*(?:\d+[.)][ \t]*)?"
_MARKER_LINE = re.compile(
    _LINE_PREFIX + r"(?:(?i:option|choice)[ \t]*)?[(\[]?([A-Z])[ \t]*"
    r"(?:[)\]][ \t]*(?:[:.\-\u2013\u2014,][ \t]*)?|[:.\-\u2013\u2014,;?!][ \t]*)((?:[^ \t\n].*)?)$"
)
_BARE_LINE = re.compile(
    _LINE_PREFIX
    + r"""(?:(?i:option|choice|answer|final answer)[ \t]*(?:[:\-][ \t]*)?)?[(\[{"']*([A-Za-z])[)\]}"']*[ \t]*(?:[.:!?][ \t]*)?$"""
)
_INLINE_MARKER = re.compile(r"(?<![A-Za-z0-9])[(\[]?([A-Z])[)\]]?[ \t]*[:.)\-\u2013\u2014][ \t]*")
_INLINE_MARKER_CORE = re.compile(r"[A-Z][)\]]?[ \t]*[:.)\-\u2013\u2014]")  # in every _INLINE_MARKER match
_INLINE_LABEL = re.compile(r"(?<![A-Za-z0-9.])[(\[]?([A-Z])(?:\)|[ \t]*:)")
_INLINE_LABEL_CORE = re.compile(r"[A-Z](?:\)|[ \t]*:)")  # in every _INLINE_LABEL match
_START_LETTER = re.compile(r"""[\s(\[{"']*(?:(?i:option|choice)[ \t]*[(\[{"']*)?([A-Za-z])(?![A-Za-z0-9])""")
_LETTER_MENTION = re.compile(
    r"(?:\b(?i:option|choice|answer)\s*[(\[]?[A-Z](?![A-Za-z0-9])|[(\[][A-Z][)\]]|^" + _LINE_PREFIX + r"[A-Z][ \t]*[:.)])",
    re.MULTILINE,
)
_LINE_LETTER_MENTION = re.compile(_LINE_PREFIX + r"[A-Z][ \t]*[:.)]")  # _LETTER_MENTION's third alternative, at a line start
_OPTION_WORDS = (" option", " choice", " answer")  # in _letter_runs(...): where its first alternative can start


def _is_listing(text: str, lines: list[tuple[int, str]], options: _Options) -> bool:
    """Options read back or discussed one by one: two or more letters as 'X:' / 'X)' labels or markers."""
    marked = {m.group(1) for _, line in lines if (m := _MARKER_LINE.match(line)) and m.group(2).strip()}
    if len(marked) >= 2:
        return True
    if _INLINE_LABEL_CORE.search(text):
        labels = {m.group(1) for m in _INLINE_LABEL.finditer(text) if m.group(1) in options.letters}
        if len(labels) >= 2:
            return True
    if not _INLINE_MARKER_CORE.search(text):
        return False
    inline = set()
    for match in _INLINE_MARKER.finditer(text):
        own = options.by_letter.get(match.group(1))
        if own and own.strip() and _normalise(text[match.end() : match.end() + 200]).startswith(own):
            inline.add(match.group(1))
    return len(inline) >= 2


def _mentions_a_letter(text: str) -> bool:
    """`bool(_LETTER_MENTION.search(text))`; on long ASCII text the line-start alternative is tried at each
    line start, and the search starts where the other two can first match (an option word, a bracket)."""
    if len(text) < _SCAN_WHOLE_BELOW or not text.isascii():
        return bool(_LETTER_MENTION.search(text))
    if any(_LINE_LETTER_MENTION.match(line) for line in text.split("\n")):
        return True
    words = _first_found(_letter_runs(text.lower()), _OPTION_WORDS)
    brackets = _first_found(text, ("(", "["))
    start = min(words, brackets) if words != -1 and brackets != -1 else max(words, brackets)
    return start != -1 and bool(_LETTER_MENTION.search(text, start))
