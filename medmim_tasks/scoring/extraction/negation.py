"""Negation, hedges and disjunctions: what voids a commitment or an option's mention."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.normalise import (
    _SCAN_WHOLE_BELOW,
    _first_found,
    _letter_runs,
    _lower_case_twin,
    _words,
)

_CLAUSE_BREAK = re.compile(r"[.!?;:,\n。！？；，]|\b(?:so|therefore|thus|hence|but|however|wait|actually)\b", re.IGNORECASE)
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|no|cannot|nor|rather than|instead of|against|rul(?:e|es|ed|ing) out|exclud(?:e|es|ed|ing)|"
    r"eliminat(?:e|es|ed|ing))\b|n't\b|不是|并非|並非",
    re.IGNORECASE,
)
_CLAUSE_BREAK_FOLDED = _lower_case_twin(_CLAUSE_BREAK)
_NEGATION_BEFORE_FOLDED = _lower_case_twin(_NEGATION_BEFORE)

_HEDGE = re.compile(
    r"\b(?:can ?not|can't|unable|not able|impossible|not possible|insufficient|sorry|as an ai|not sure|unsure|"
    r"uncertain|hard to (?:say|tell)|difficult to (?:say|tell|determine)|too (?:poor|low|blurry|small)|"
    r"not available|either)\b|无法|無法|不能确定|不确定",
    re.IGNORECASE,
)
_HEDGE_FOLDED = _lower_case_twin(_HEDGE)
# Words every ASCII match of _HEDGE begins with (tests/scoring/test_extract_choice.py derives them from the pattern).
_HEDGE_FIRST_WORDS = tuple("can cannot unable not impossible insufficient sorry as unsure uncertain hard difficult too either".split())
_HEDGE_NEEDLES = tuple(f" {word} " for word in _HEDGE_FIRST_WORDS)  # whole words, in _letter_runs(...)
_NEGATORS = _words(
    "not no never without rather than instead unlike excluding except nor neither exclude excludes "
    "excluded rule rules ruled versus vs compared absence absent lack lacks isn doesn aren wasn cannot"
)
_DISJUNCTIONS = frozenset({"or", "either", "nor", "vs", "versus"})
_SCOPE_STOPS = frozenset(["but", "however", "while", "whereas", "although", "though", "yet"])
_AFTER_NEGATED = re.compile(
    r" (?:(?:is|are|was|were|seems|appears|looks|can be|could be|has been|have been) )?"
    r"(?:not|unlikely|excluded|ruled out|incorrect|wrong|absent|less likely|isn t|doesn t|does not|is not)\b"
)


def _clause_negated(text: str, start: int) -> bool:
    """Whether the clause before `start` negates what follows ('I don't think the answer is A')."""
    window = text[max(0, start - 80) : start]
    clause_break, negation = _CLAUSE_BREAK, _NEGATION_BEFORE
    if window.isascii():
        window, clause_break, negation = window.lower(), _CLAUSE_BREAK_FOLDED, _NEGATION_BEFORE_FOLDED
    if not negation.search(window):
        return False  # every negation in the clause is one in the window (a clause starts after a non-word)
    clause_start = 0
    for clause_start_match in clause_break.finditer(window):
        clause_start = clause_start_match.end()
    return bool(negation.search(window[clause_start:]))


def _negated_at(padded: str, start: int, end: int) -> bool:
    """Whether the option text at padded[start:end] is negated by the words just before or after it."""
    before = padded[max(0, start - 60) : start].split()
    if start > 60 and before:
        before = before[1:]
    for token in reversed(before[-3:]):
        if token in _SCOPE_STOPS or token[0] in "\0\x01":  # a sentence break or another option ends the scope
            break
        if token in _NEGATORS:
            return True
    return bool(_AFTER_NEGATED.match(padded, end - 1))


def _in_disjunction(padded: str, start: int, end: int) -> bool:
    """'glaucoma or cataract', 'either ...': the option is one of several left open."""
    before = padded[max(0, start - 20) : start].split()
    after = padded[end : end + 20].split()
    return bool((before and before[-1] in _DISJUNCTIONS) or (after and after[0] in _DISJUNCTIONS))


def _hedged(text: str) -> bool:
    """`_HEDGE.search(text)`: on long ASCII text through its lower-case twin, searched from the first place
    where one of the words its matches begin with occurs as a whole word (no match starts before it)."""
    if len(text) < _SCAN_WHOLE_BELOW or not text.isascii():
        return bool(_HEDGE.search(text))
    folded = text.lower()
    start = _first_found(_letter_runs(folded), _HEDGE_NEEDLES)
    return start != -1 and bool(_HEDGE_FOLDED.search(folded, start))
