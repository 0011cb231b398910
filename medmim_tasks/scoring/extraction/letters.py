"""Letters as commitments: answer phrases ('the answer is C', 'Antwort: C', '答案是C'),
'C is correct', and the judging of one letter (article, abbreviation, negated, undecided)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from medmim_tasks.scoring.extraction.hedges import _named_to_exclude
from medmim_tasks.scoring.extraction.normalise import (
    _UNDECIDED,
    _letter_runs,
    _lower_case_twin,
    _matches_from,
    _normalise,
    _Words,
    _words,
)
from medmim_tasks.scoring.extraction.options import (
    _contradicts,
    _Options,
)

# --- judging one letter ----------------------------------------------------------------------
_WORD_AFTER = re.compile(r"[ \t]+([A-Za-z]+)")
_CONTINUATION = _words(
    "because since as is was seems appears would should could might may will fits matches best here there "
    "given due based according and or but so then which that for in on at with from to by if when while "
    "this overall too also now instead definitely clearly indeed though however over"
)
# The words after a letter with which _PARTNER matches ("A vs C"); "or" and "and" are in _CONTINUATION.
_PARTNER_WORDS = _words("or and vs versus nor")
_LABEL_TEXT = re.compile(r"[ \t]*(?:[)\]][ \t]*)?[:.)\-\u2013\u2014][ \t]*([^\n]{1,200})")
_TERMINAL_AFTER = re.compile(r"[ \t]*(?:[.!?;,)\]\n。！？；，]|$)")
_PARTNER = re.compile(  # each separator takes its own spaces: ", or possibly D" as well as "/D"
    r"[ \t]*(?:,[ \t]*(?:(?i:or|and)\b[ \t]*)?|(?:/|&|\+|(?i:\bor\b|\band\b|\bvs\b\.?|\bversus\b|\bnor\b)|或|和|与|與|及|、)[ \t]*)"
    r"(?:(?i:possibly|maybe|perhaps|also|even|rather)[ \t]+)?(?:(?i:option|choice)[ \t]*)?[(\[]?([A-Z])(?![A-Za-z0-9])"
)
_NEGATED_AFTER = re.compile(
    r"[ \t]*(?:[)\]][ \t]*)?(?:(?:is|was|seems|appears|looks|would be|can be|could be|must be|should be|has been)[ \t]+)?"
    r"(?:not\b|n't\b|incorrect|wrong|unlikely|ruled out|excluded|eliminated|less likely|false|不|错|錯)",
    re.IGNORECASE,
)

_EXCLUDED_BEFORE = re.compile(
    r"(?:\b(?:image|images|picture|figure|fig|panel|scan|view|film|series|grade|type|vitamin|hepatitis|group|"
    r"class|zone|category|stage|phase|lead|segment|patient|case)\.?[ \t]*|[A-Za-z]\.|[-/])$",
    re.IGNORECASE,
)
_EXCLUDED_BEFORE_FOLDED = _lower_case_twin(_EXCLUDED_BEFORE)

# --- strong letter commitments anywhere in the reply -----------------------------------------
_GAP = (
    r"(?:[\s\"'\u201c\u201d\u2018\u2019:=,>|\-\u2013\u2014]|\\(?:boxed|text)\{|\{|"
    r"\b(?:is|are|would|should|must|will|be|have|to|appears?|seems?|then|therefore|thus|clearly|definitely|"
    r"likely|probably|most|indeed|here|final|option|choice|letter|answer|es|est|ist|lautet|correcta|correcte|"
    r"richtige|correta|corretta)\b|[\u00e9\u00e8]|[是为為应應该該选選择擇项項]|は|은|는){0,24}?"
)  # each character in one alternative only (':' is in the first): one way to read a gap
_NOUN_LEADS = r"answer|ans|option|choice|selection|solution|response|prediction|result|correct"
_COMMIT_LEAD = re.compile(
    r"(?<![A-Za-z])(?P<lead>"
    r"\b(?:final|correct|right|best|most\s+(?:likely|appropriate|accurate|suitable)|my|our)\s+"
    r"(?:answer|option|choice|selection|one)\b"
    r"|\banswer\b|<answer>|\b(?:" + _NOUN_LEADS + r")\s*(?=[:=])"
    r"|\b(?:i\s+)?(?:choose|chose|choosing|select|selected|selecting|pick|picked|picking|go\s+(?:with|for)|going\s+(?:with|for)|"
    r"went\s+(?:with|for)|opt\s+for|opting\s+for|lean(?:ing)?\s+to(?:wards?)?|settle\s+on|vote\s+for|would\s+say|i'd\s+say|"
    r"i\s+think|i\s+believe|i\s+guess|looks\s+like|seems\s+like|appears\s+to\s+be|seems\s+to\s+be)\b"
    r"|\b(?:categori[sz]ed?|classif(?:y|ied))\s+(?:it\s+|this\s+|them\s+)?as\b"
    r"|\b(?:corresponds?\s+to|consistent\s+with|points?\s+to|in\s+favou?r\s+of|suggests?|indicates?|supports?)"
    r"\s+(?=(?:option|choice|answer)\b|[(\[])"
    r"|\b(?:therefore|thus|hence|so|consequently|overall|in\s+conclusion|in\s+summary|finally|ultimately|"
    r"it\s+is|it's|it\s+must\s+be|that\s+is|that's|this\s+is|which\s+is|would\s+be|should\s+be|must\s+be|"
    r"probably|possibly|most\s+likely|likely|perhaps|maybe|actually|wait(?:\s*(?:,\s*)?no)?|rather|instead|"
    r"i\s+mean|correction)\b"
    r"|\b(?:diagnosis|impression|assessment)\b"
    r"|antwort|respuesta|r\u00e9ponse|resposta|risposta|答案|答え|정답|选择|選擇|选项|選項|选|選|答"
    r")(?P<gap>" + _GAP + r")[(\[{\"']?(?P<letter>[A-Za-z])(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_COMMIT_LEAD_FOLDED = _lower_case_twin(_COMMIT_LEAD)
# The whole words (runs of ASCII letters) a _COMMIT_LEAD match can begin with, besides "<answer>";
# tests/scoring/test_extract_choice.py derives them from the pattern and fails when they fall behind it.
_COMMIT_LEAD_FIRST_WORDS = _words(
    "final correct right best most my our answer ans option choice selection solution response prediction result "
    "i choose chose choosing select selected selecting pick picked picking go going went opt opting lean leaning "
    "settle vote would looks seems appears categorise categorize categorised categorized classify classified "
    "corresponds correspond consistent points point in suggests suggest indicates indicate supports support "
    "therefore thus hence so consequently overall finally ultimately it that this which should must probably "
    "possibly likely perhaps maybe actually wait waitno rather instead correction diagnosis impression assessment"  # "waitno": wait\s*,?\s*no
)
_LONE_LETTER = re.compile(r" [a-z] ")  # in _letter_runs(...): a letter with no letter either side
_COMMIT_LEAD_RUN_ON = ("antwort", "respuesta", "resposta", "risposta")  # leads that may run into the letter
_CORRECTION_LEAD = re.compile(r"actually|wait|rather|instead|i\s+mean|correction", re.IGNORECASE)
_DISJUNCTION_BEFORE = re.compile(r"(?:\bor|/|或)[ \t]*$", re.IGNORECASE)
_BARE_NOUN_LEAD = re.compile(r"(?:" + _NOUN_LEADS + r"|final answer|my answer|correct answer)", re.IGNORECASE)
_LETTER_IS_RIGHT = re.compile(
    r"(?<![A-Za-z0-9])(?:(?i:option|choice|answer)[ \t]*)?[(\[]?([A-Z])[)\]]?[ \t]+"
    r"(?:(?i:is|seems|appears|looks|would\s+be|remains)[ \t]+(?:(?i:to\s+be)[ \t]+)?(?:(?i:the)[ \t]+)?"
    r"(?:(?i:most|more|clearly|definitely)[ \t]+)?"
    r"(?i:correct|right|best|accurate|appropriate|likely|plausible|fitting|true|answer)"
    r"(?:[ \t]+(?i:answer|option|choice|one))?"
    r"|(?i:best[ \t]+)?(?i:fits|matches|describes|reflects)(?:[ \t]+(?i:best|most))?)"
    r"(?=[ \t]*(?:[.,;!?)\n]|$)|[ \t]+(?i:because|since|as|given|here|for|and|with|the)\b)"
)
_LETTER_NOUNS = frozenset({"option", "choice", "answer"})  # the words a _LETTER_IS_RIGHT match may start with
# What every _LETTER_IS_RIGHT match contains (a cheap search that rules it out for most replies).
_LETTER_IS_RIGHT_CORE = re.compile(r"[A-Z][)\]]?[ \t]+(?i:is|seems|appears|looks|would|remains|best|fits|matches|describes|reflects)")


def _judge_letter(text: str, start: int, options: _Options) -> str | None:
    """The letter at `start` as a commitment: the letter, '?' when undecided, or None (not a letter)."""
    after = start + 1
    nxt = text[after : after + 2]
    if nxt[:1] in ("-", "'", "\u2019", "/") and nxt[1:2].isalpha():
        return None  # C-spine, A's, A/G ratio
    if nxt[:1] == "." and nxt[1:2].isalpha():
        return None  # e.g.
    letter = text[start].upper()
    word = _WORD_AFTER.match(text, after)
    own = options.by_letter.get(letter)  # None for a letter that is no option: then no text follows it
    ordinary_word = (
        word is not None
        and word.group(1).lower() not in _CONTINUATION
        and not (own is not None and _normalise(text[after : after + 200]).startswith(own))
    )
    if ordinary_word and word.group(1).lower() not in _PARTNER_WORDS:  # type: ignore[union-attr]
        return None  # the article "A", the pronoun "I", "B cells" (only _PARTNER below could say otherwise)
    if start and _excluded_before(text, start):
        return None  # image B, vitamin D, e.g, BI-RADS
    if _NEGATED_AFTER.match(text, after):
        return None
    partner = _PARTNER.match(text, after)
    if partner and partner.group(1) != letter and _is_partner_letter(text, partner.start(1)):
        return _UNDECIDED
    if _named_to_exclude(text, after):
        return None  # "D is the one I would exclude"
    if ordinary_word:
        return None  # "B vs cells"
    labelled = _LABEL_TEXT.match(text, after)
    if labelled and _contradicts(letter, labelled.group(1), options):
        return _UNDECIDED  # "A. Cataract" when cataract is option B
    return letter


def _excluded_before(text: str, start: int) -> bool:
    """`_EXCLUDED_BEFORE.search(text, max(0, start - 14), start)`: on ASCII text through its
    lower-case twin, on the window and the one character before it that `\\b` looks at."""
    if not text.isascii():
        return bool(_EXCLUDED_BEFORE.search(text, max(0, start - 14), start))
    context = max(0, start - 15)
    return bool(_EXCLUDED_BEFORE_FOLDED.search(text[context:start].lower(), max(0, start - 14) - context))


def _is_partner_letter(text: str, start: int) -> bool:
    """Whether the second letter of 'A or C' is a letter (not 'A or I think ...')."""
    word = _WORD_AFTER.match(text, start + 1)
    return not (word and word.group(1).lower() not in _CONTINUATION)


def _letter_is_right_matches(text: str) -> Iterator[re.Match[str]]:
    """`_LETTER_IS_RIGHT.finditer(text)`; on ASCII text tried only where a match can start: at the
    capital letter of a _LETTER_IS_RIGHT_CORE match (every match has one there), at a bracket before
    it, or at "option", "choice" or "answer" before those and spaces."""
    if not text.isascii():
        return _LETTER_IS_RIGHT.finditer(text) if _LETTER_IS_RIGHT_CORE.search(text) else iter(())
    starts: list[int] = []
    for core in _LETTER_IS_RIGHT_CORE.finditer(text):
        at = core.start()
        starts.append(at)
        if at and text[at - 1] in "([":
            at -= 1
            starts.append(at)
        while at and text[at - 1] in " \t":  # a run of its own: every run is walked once
            at -= 1
        if at >= 6 and text[at - 6 : at].lower() in _LETTER_NOUNS:
            starts.append(at - 6)
    return _matches_from(_LETTER_IS_RIGHT, text, sorted(starts))


def _commit_leads(text: str, folded: str | None, words: _Words | None) -> Iterator[re.Match[str]]:
    """`_COMMIT_LEAD.finditer(text)`; on a long ASCII reply (`words`), tried only where one of the
    words a lead begins with starts, or at "<answer>"; on an ASCII reply with no letter standing
    alone after its first two characters, not at all.

    Unless a lead that may run into its letter ("antwortC") occurs, the letter of a match stands
    alone: after it no letter or digit, before it a bracket, a gap character, '>' or '{', or a gap
    word or lead ending at a word boundary; and a lead of two letters or more and a gap come first."""
    if folded is None:
        return _COMMIT_LEAD.finditer(text)
    if any(lead in folded for lead in _COMMIT_LEAD_RUN_ON):
        return _COMMIT_LEAD_FOLDED.finditer(folded)
    if not _LONE_LETTER.search(words.spaced if words is not None else _letter_runs(folded), 2):
        return iter(())
    if words is None:
        return _COMMIT_LEAD_FOLDED.finditer(folded)
    starts = words.starts(_COMMIT_LEAD_FIRST_WORDS)
    if "<answer" in folded:
        starts = sorted(starts + [at - 1 for at in words.starts(frozenset({"answer"})) if folded[at - 1 : at] == "<"])
    return _matches_from(_COMMIT_LEAD_FOLDED, folded, starts)
