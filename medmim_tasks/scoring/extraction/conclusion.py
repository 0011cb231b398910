"""How a reply ends, for the option-text rules (issue 13): a reply cut off inside a numbered analysis
commits to nothing its steps mention; an option's full text as the concluding sentence or clause
("Therefore, the effusion has resolved in the second image.", "No, both images are normal.")
decides; "image B" names the option B when every option names an image by its place and the
letter's place is that option's place."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.normalise import _SENTENCE_BREAK, _normalise
from medmim_tasks.scoring.extraction.options import _Options

_NUMBERED_ITEM = re.compile(r"[ \t>#\-\u2022]*\d+[.)][ \t]")
_FINISHED = (".", "!", "?", ")", "\u3002")  # how a finished sentence ends
_CLAUSE_MARK = re.compile(r"[,;:]")
_CONNECTIVES = frozenset("so therefore thus hence overall finally yes no then in conclusion summary short".split())
_IMAGE_LETTER = re.compile(r"(?<![A-Za-z])(?i:image|picture|scan|film|view|panel)[ \t]+[(\[]?([A-Z])(?![A-Za-z0-9])")
_PLACES = ("first", "second", "third", "fourth")
_CONCLUSION_TAIL = 600  # characters


def _cut_off_in_a_list(text: str) -> bool:
    """Whether the reply stops inside a numbered step ('2. Second image: the lens'): its last line is a
    numbered item that does not end a sentence."""
    last_line = text[text.rfind("\n") + 1 :]  # the reply comes stripped (_visible_text)
    return bool(_NUMBERED_ITEM.match(last_line)) and not last_line.rstrip().endswith(_FINISHED)


def _concluding_option(text: str, whole: str, options: _Options) -> str | None:
    """The one option whose full text is the reply's last sentence, or the last clause of it, after
    its leading connectives ('Therefore,', 'Yes,', 'so'). `whole`: the reply normalised, which then
    ends with that text (a cheap test that rules most replies out)."""
    if not any(whole.endswith(name) for name in options.heads):
        return None
    tail = text[-_CONCLUSION_TAIL:]  # a longer last sentence is no option's text: only the tail is split
    sentences = [part for part in _SENTENCE_BREAK.split(tail) if part.strip()]
    if not sentences or (len(sentences) == 1 and len(tail) < len(text)):
        return None
    last = sentences[-1]
    candidates = [last] if len(sentences) > 1 or len(tail) < len(text) else []  # else the whole reply: tried already
    clauses = _CLAUSE_MARK.split(last)
    if len(clauses) > 1:
        candidates.append(clauses[-1])
    for candidate in candidates:
        tokens = _normalise(candidate).split()
        while tokens and tokens[0] in _CONNECTIVES:
            tokens.pop(0)
        letters = options.heads.get(" " + " ".join(tokens) + " ") if tokens else None
        if letters:
            return next(iter(letters)) if len(letters) == 1 else None
    return None


def _image_letter_choice(text: str, options: _Options) -> str | None:
    """'image B' when every option names an image by its place: the letter B, if the option B is the
    second image (both readings agree); None when they disagree or several letters are named."""
    if options.ordinals is None:
        return None
    named = {match.group(1) for match in _IMAGE_LETTER.finditer(text)}
    if len(named) != 1:
        return None
    letter = named.pop()
    index = ord(letter) - ord("A")
    place = _PLACES[index] if index < len(_PLACES) else None
    return letter if place is not None and options.ordinals.get(place) == letter else None
