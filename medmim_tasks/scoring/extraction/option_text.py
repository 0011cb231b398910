"""Option text as the answer: after an answer phrase ('the answer is the second image'), or
named alone in a reply with no letter."""

from __future__ import annotations

import re
from collections.abc import Iterator

from medmim_tasks.scoring.extraction.conclusion import _concluding_option, _cut_off_in_a_list, _image_letter_choice
from medmim_tasks.scoring.extraction.lines import (
    _mentions_a_letter,
)
from medmim_tasks.scoring.extraction.mentions import (
    _mentioned_options,
)
from medmim_tasks.scoring.extraction.negation import (
    _DISJUNCTIONS,
    _hedged,
)
from medmim_tasks.scoring.extraction.normalise import (
    _ORDINALS,
    _UNDECIDED,
    _loose,
    _lower_case_twin,
    _matches_from,
    _normalise,
    _normalise_sentences,
    _words,
)
from medmim_tasks.scoring.extraction.options import (
    _FIRST_CLAUSE,
    _Options,
    _starts_with_option,
)
from medmim_tasks.scoring.extraction.places import (
    _ordinal_choice,
    _pair_choice,
)

_ANSWER_ADJECTIVES = ("final", "correct", "right", "best", "my")
_STRONG_TEXT_LEAD = re.compile(
    r"(?:\b(?:"
    + "|".join(_ANSWER_ADJECTIVES)
    + r")\s+answer\b|\banswer\b)[\s\"':=\-\u2013\u2014]*([^.;!?\n\s\"':=\-\u2013\u2014][^.;!?\n]{0,299})",
    re.IGNORECASE,
)
_WEAK_TEXT_LEAD = re.compile(
    r"(?:\bi\s+(?:think|believe|would\s+say)\b|\bi'd\s+say\b|\bit\s+is\b|\bit's\b|\bthis\s+is\b|\bthat\s+is\b|"
    r"\bconsistent\s+with\b|\bindicat(?:es|ing)\b|\bsuggest(?:s|ing)\b|\bcategori[sz]ed?\s+(?:it\s+|this\s+)?as\b|"
    r"\bdiagnosis\s*(?:is|:))[\s\"':=\-\u2013\u2014]*([^.;!?\n\s\"':=\-\u2013\u2014][^.;!?\n]{0,299})",
    re.IGNORECASE,
)
_STRONG_TEXT_LEAD_FOLDED = _lower_case_twin(_STRONG_TEXT_LEAD)
_WEAK_TEXT_LEAD_FOLDED = _lower_case_twin(_WEAK_TEXT_LEAD)
_WEAK_TEXT_LEAD_FIRST_WORDS = _words(  # as _COMMIT_LEAD_FIRST_WORDS, for _WEAK_TEXT_LEAD
    "i it this that consistent indicates indicating suggests suggesting categorise categorize categorised categorized diagnosis diagnosisis"
)
_LEAD_FILLER = _words(
    "is are was likely probably most clearly definitely therefore thus option choice that it s this would be here final answer correct"
)


def _strong_text_leads(folded: str) -> Iterator[re.Match[str]]:
    """`_STRONG_TEXT_LEAD_FOLDED.finditer(folded)`, trying the pattern only where a match can start:
    at an "answer", or at one of the words the pattern allows before it ("final", "my", ...)."""
    starts: list[int] = []
    at = folded.find("answer")
    while at != -1:
        starts.append(at)
        word_end = at
        while word_end and folded[word_end - 1].isspace():
            word_end -= 1
        if word_end < at:
            starts += [word_end - len(word) for word in _ANSWER_ADJECTIVES if folded.endswith(word, 0, word_end)]
        at = folded.find("answer", at + 1)
    return _matches_from(_STRONG_TEXT_LEAD_FOLDED, folded, sorted(starts))


def _text_after_lead(rest: str, options: _Options) -> str | None:
    """The option an answer phrase names by its text ('the answer is the second image')."""
    tokens = _normalise(rest).split()
    while tokens and tokens[0] in _LEAD_FILLER:
        tokens.pop(0)
    normalised = " " + " ".join(tokens) + " "
    letter, length = _starts_with_option(normalised, options)
    if letter is None or letter == _UNDECIDED:
        return letter
    following = normalised[length - 1 :].split()
    if following and following[0] in _DISJUNCTIONS | {"and"}:
        other, _ = _starts_with_option(" " + " ".join(following[1:]) + " ", options)
        if other is not None and other != letter:
            return _UNDECIDED
    return letter


def _describes_several_images(padded: str) -> bool:
    return len({token for token in padded.split() if token in _ORDINALS}) >= 2


def _text_choice(text: str, options: _Options) -> str | None:
    """The option a reply names by its text alone, or None."""
    whole = _normalise(text)
    letters = options.heads.get(whole) or options.loose_heads.get(_loose(whole))
    if letters:
        return next(iter(letters)) if len(letters) == 1 else None
    if _mentions_a_letter(text):
        return None  # a reply that talks in letters but commits to none
    first_clause = _FIRST_CLAUSE.match(text)
    for part in (text.split("\n", 1)[0], first_clause.group(0) if first_clause else ""):
        rest = text[len(part) :]  # `part` starts the text
        if not rest or (rest.isascii() and not any(map(str.isalnum, rest))):
            continue  # normalised as `whole` above (no word after it): no option's text
        normalised = _normalise(part)
        letters = options.heads.get(normalised) or options.loose_heads.get(_loose(normalised))
        if letters:
            if len(letters) != 1:
                return None
            letter = next(iter(letters))
            return letter if _mentioned_options(_normalise_sentences(text), options) <= {letter} else None
    if _hedged(text) or _cut_off_in_a_list(text):
        return None  # a hedge, or a reply cut off inside a numbered analysis
    concluding = _concluding_option(text, whole, options)
    if concluding is not None:
        return concluding  # "Therefore, the effusion has resolved in the second image."
    sentences = _normalise_sentences(text)
    if options.pairs is not None:
        return _pair_choice(text, options)
    if options.ordinals is not None:
        by_place, by_letter = _ordinal_choice(sentences, options.ordinals), _image_letter_choice(text, options)
        return by_place if by_letter is None else (by_letter if by_place in (None, by_letter) else None)
    hits = _mentioned_options(sentences, options)
    if len(hits) != 1 or _UNDECIDED in hits:
        return None
    letter = hits.pop()
    if _describes_several_images(whole) and not _describes_several_images(" first " + options.by_letter[letter]):
        return None  # "the first image shows cataract, the second is normal": which image was asked?
    return letter
