"""Which option letter a model's reply commits to: `extract_choice(response, options)`.

A careful grader's reading, written down as rules (README, "Scoring"):

1. Reasoning inside `<think>...</think>` (also `<thinking>`, `<reasoning>`) is dropped; a reply
   whose reasoning never closes has no answer. Full-width characters are folded (NFKC); markdown
   emphasis, LaTeX boxes and special tokens (`<|...|>`) are removed.
2. Strong letter commitments are collected with their positions: a bare letter however decorated
   (`C`, `(C)`, `C.`, `**C**`, `\\boxed{C}`, `{"answer": "C"}`), a reply or line that starts with
   a letter and a separator (`C: cataract`, `C. ...`, `C - ...`, `B, because ...`), answer phrases
   in English, Chinese and a few other languages ("the answer is C", "I'd choose C", "答案是C",
   "so C.", "wait, C"), "C is correct", and answer phrases followed by one option's text ("the
   answer is the second image"). The last strong commitment wins ("not A ... therefore C").
3. Weak commitments count only when there is no strong one, and only when they all agree: option
   text followed by its letter ("cataract (B)"), a letter in parentheses ending a line, a letter
   after a comma ending the reply, and descriptive phrases followed by option text ("this is
   consistent with glaucoma").
4. A commitment is void when negated ("not A", "A is incorrect"); it is undecided when it names two
   letters ("A or C", "B/C", "答案是A或C"), and then the result is None; a letter that is no
   option ("E" with options A-D) gives None; a gold-form line whose text is another option's text
   ("C: cataract" when cataract is B) gives None.
5. "A" and "I" followed by an ordinary word are the article and the pronoun, and no letter followed
   by an ordinary word (other than its own option text) is a commitment ("B cells"); letters inside
   words and abbreviations (CT, OD, DNA, C-spine, e.g.) and after "image", "vitamin", ... are never
   letters. Options listed back (two or more letters as "X:" / "X)" markers) are not commitments.
6. With no commitment, option text decides, compared after normalisation (lower case, punctuation
   and articles dropped, "image 2"/"2nd image"/"second one" read as "second image"): the whole
   reply, its first line or its first clause equal to one option's text (or to the head clause
   of a multi-clause option) when no other option is named; else the one option whose text occurs
   in the reply, longest option first, skipping negated mentions ("no cataract", "rather than
   glaucoma") and giving None for "X or Y". This last step is off for refusals and hedges
   ("cannot determine", "not sure"), for replies that talk about letters, and for replies that
   describe several images when the option does not name an image. When every option reads
   "First: X, Second: Y", the reply's findings per image ("the first image shows X and the second
   Y") must equal exactly one option's. When every option only names an image by its place
   ("the second in sequence", "image 2", "the last one"), the one place the reply names decides
   ("the second image"; "first" or "last" alone, never "third" for "last").
7. Anything else is None: no guess, no randomness, only letters of `options`.

Time: linear in the reply's length, whatever it holds (docs/reliability.md, "Time bound on scoring"). Every pattern
here has a shape Python's backtracking engine matches in linear time: no repeat beside another that
can match the same characters, no repeat whose iterations can split a text two ways, no searched
pattern that can rescan a run from each position inside it. tests/scoring/test_extraction_time.py checks
the shape of each module-level pattern (tests/regex_linearity.py names the rule one breaks).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator, Mapping
from functools import lru_cache
from typing import NamedTuple

__all__ = ["extract_choice"]

_UNDECIDED = "?"  # a commitment to more than one option


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _lower_case_twin(pattern: re.Pattern[str]) -> re.Pattern[str]:
    """The case-sensitive twin of an IGNORECASE pattern written in lower case (letters only as
    lower-case literals or `A-Za-z` ranges).

    On ASCII text lowered with `str.lower()` (same length, so the same positions) the twin finds
    exactly the matches `pattern` finds in the original text, with the same spans, several times
    faster: `re` compares case-folded characters one at a time and skips a failing branch of a
    large alternation quickly only when it starts with a plain literal.
    """
    letters = re.sub(r"\\.|A-Za-z|\(\?P[<=]\w+[>)]", "", pattern.pattern)
    if not pattern.flags & re.IGNORECASE or re.search(r"[A-Z]|\(\?-", letters):
        raise ValueError(f"not an IGNORECASE pattern written in lower case: {pattern.pattern[:60]!r}")
    return re.compile(pattern.pattern, pattern.flags & ~re.IGNORECASE)


def _folded(text: str) -> str | None:
    """`text` lower-cased when it is ASCII (then `_lower_case_twin` patterns apply), else None."""
    return text.lower() if text.isascii() else None


# --- preprocessing ---------------------------------------------------------------------------
_THINK_TAG = re.compile(r"<(/?)(?:think|thinking|reasoning)\s*>", re.IGNORECASE)
_SPECIAL_TOKEN = re.compile(r"<\|[^|<>]{0,40}\|>")
_BRACED = r"\s*(?:([^{}\s](?:[^{}]*[^{}\s])?)\s*)?\}"  # "{ text }": the text without the spaces, then "}"
_LATEX_BOX = re.compile(r"\\(?:boxed|fbox)\s*\{(?:\s*\\(?:text|textbf|mathrm)\s*\{)?" + _BRACED + r"(?:\s*\})?")
_LATEX_TEXT = re.compile(r"\\(?:text|textbf|mathrm)\s*\{" + _BRACED)
_MARKDOWN = str.maketrans({"*": None, "`": None, "$": None})

# --- fast paths ------------------------------------------------------------------------------
_BARE_REPLY = re.compile(
    r"""[\s"'(\[{<]*(?:(?:option|choice|answer|letter)(?:\s*[:\-])?[\s"'(\[{]*)?([A-Za-z])[\s"')\]}>]*(?:[.:!?][\s"']*)?""",
    re.IGNORECASE,
)
_GOLD_REPLY = re.compile(  # group 2: the text after the separator, without spaces around it; group 3: a space alone
    r"[ \t(\[]*([A-Z])[ \t]*(?:[)\]][ \t]*(?:[:.\-\u2013\u2014][ \t]*)?|[:.\-\u2013\u2014][ \t]*)"
    r"(?:([^ \t\n](?:[^\n]*[^ \t\n])?)[ \t]*|([ \t]))"
)

# --- judging one letter ----------------------------------------------------------------------
_WORD_AFTER = re.compile(r"[ \t]+([A-Za-z]+)")
_CONTINUATION = _words(
    "because since as is was seems appears would should could might may will fits matches best here there "
    "given due based according and or but so then which that for in on at with from to by if when while "
    "this overall too also now instead definitely clearly indeed though however over"
)
_LABEL_TEXT = re.compile(r"[ \t]*(?:[)\]][ \t]*)?[:.)\-\u2013\u2014][ \t]*([^\n]{1,200})")
_TERMINAL_AFTER = re.compile(r"[ \t]*(?:[.!?;,)\]\n。！？；，]|$)")
_PARTNER = re.compile(
    r"[ \t]*(?:,|/|&|\+|(?i:\bor\b|\band\b|\bvs\b\.?|\bversus\b|\bnor\b)|或|和|与|與|及|、)[ \t]*"
    r"(?:(?i:possibly|maybe|perhaps|also|even|rather)[ \t]+)?(?:(?i:option|choice)[ \t]*)?[(\[]?([A-Z])(?![A-Za-z0-9])"
)
_NEGATED_AFTER = re.compile(
    r"[ \t]*(?:[)\]][ \t]*)?(?:(?:is|was|seems|appears|looks|would be|can be|could be|must be|should be|has been)[ \t]+)?"
    r"(?:not\b|n't\b|incorrect|wrong|unlikely|ruled out|excluded|eliminated|less likely|false|不|错|錯)",
    re.IGNORECASE,
)
_CLAUSE_BREAK = re.compile(
    r"[.!?;:,\n。！？；，]|\b(?:so|therefore|thus|hence|but|however|wait|actually)\b", re.IGNORECASE
)
_NEGATION_BEFORE = re.compile(
    r"\b(?:not|never|no|cannot|nor|rather than|instead of|against|rul(?:e|es|ed|ing) out|exclud(?:e|es|ed|ing)|"
    r"eliminat(?:e|es|ed|ing))\b|n't\b|不是|并非|並非",
    re.IGNORECASE,
)
_CLAUSE_BREAK_FOLDED = _lower_case_twin(_CLAUSE_BREAK)
_NEGATION_BEFORE_FOLDED = _lower_case_twin(_NEGATION_BEFORE)
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
    r"|\b(?:i\s+)?(?:choose|chose|choosing|select|selected|selecting|pick|picked|picking|go\s+with|going\s+with|"
    r"went\s+with|opt\s+for|opting\s+for|lean(?:ing)?\s+towards?|settle\s+on|vote\s+for|would\s+say|i'd\s+say|"
    r"i\s+think|i\s+believe|i\s+guess|looks\s+like|seems\s+like|appears\s+to\s+be|seems\s+to\s+be)\b"
    r"|\b(?:categori[sz]ed?|classif(?:y|ied))\s+(?:it\s+|this\s+|them\s+)?as\b"
    r"|\b(?:corresponds?\s+to|consistent\s+with|points?\s+to|in\s+favou?r\s+of|suggests?|indicates?|supports?)"
    r"\s+(?=(?:option|choice|answer)\b|[(\[])"
    r"|\b(?:therefore|thus|hence|so|consequently|overall|in\s+conclusion|in\s+summary|finally|ultimately|"
    r"it\s+is|it's|it\s+must\s+be|that\s+is|that's|this\s+is|which\s+is|would\s+be|should\s+be|must\s+be|"
    r"probably|possibly|most\s+likely|likely|perhaps|maybe|actually|wait(?:\s*(?:,\s*)?no)?|rather|instead|"
    r"i\s+mean|correction)\b"
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
    "possibly likely perhaps maybe actually wait waitno rather instead correction"  # "waitno": wait\s*,?\s*no
)
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
# What every _LETTER_IS_RIGHT match contains (a cheap search that rules it out for most replies).
_LETTER_IS_RIGHT_CORE = re.compile(
    r"[A-Z][)\]]?[ \t]+(?i:is|seems|appears|looks|would|remains|best|fits|matches|describes|reflects)"
)

# --- weak letter commitments -----------------------------------------------------------------
_LETTER_IN_PARENS = re.compile(r"[(\[]([A-Z])[)\]]")
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
    r"(?:\b(?i:option|choice|answer)\s*[(\[]?[A-Z](?![A-Za-z0-9])|[(\[][A-Z][)\]]|^"
    + _LINE_PREFIX
    + r"[A-Z][ \t]*[:.)])",
    re.MULTILINE,
)

# --- option text -----------------------------------------------------------------------------
_NON_WORD = re.compile(r"[\W_]+")
_NON_ALNUM_TO_SPACES = str.maketrans({chr(code): " " for code in range(128) if not chr(code).isalnum()})
_ARTICLES = frozenset({"the", "a", "an"})
_NUMBER_ORDINALS = {
    "1": "first",
    "2": "second",
    "3": "third",
    "4": "fourth",
    "one": "first",
    "two": "second",
    "three": "third",
    "four": "fourth",
}
_SUFFIX_ORDINALS = {"1st": "first", "2nd": "second", "3rd": "third", "4th": "fourth"}
_ORDINALS = frozenset({"first", "second", "third", "fourth", "last", "middle", "final", "latter", "former"})
_IMAGE_NOUNS = frozenset({"image", "picture", "scan", "photo", "photograph"})
_REWRITTEN_TOKENS = _IMAGE_NOUNS | _SUFFIX_ORDINALS.keys() | {"one"}  # the only tokens _normalise changes
_LOOSE_DROP = frozenset({"image", "images"})
_PLACE_FILLER = _words(
    "image images in sequence order line row one examination exam offered very displayed listed shown presented "
    "provided given scan picture view study series position mammogram radiograph film slice photo"
)
_PLACE_NOUNS = _words("image images one examination exam scan picture view study mammogram radiograph film slice photo")
_PLACE_PHRASES = frozenset({"sequence", "order", "line", "row"})
_ANSWER_ADJECTIVES = ("final", "correct", "right", "best", "my")
_STRONG_TEXT_LEAD = re.compile(
    r"(?:\b(?:" + "|".join(_ANSWER_ADJECTIVES) + r")\s+answer\b|\banswer\b)[\s\"':=\-\u2013\u2014]*([^.;!?\n\s\"':=\-\u2013\u2014][^.;!?\n]{0,299})",
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
    "i it this that consistent indicates indicating suggests suggesting categorise categorize categorised "
    "categorized diagnosis diagnosisis"
)
_LEAD_FILLER = _words(
    "is are was likely probably most clearly definitely therefore thus option choice that it s this would "
    "be here final answer correct"
)
_SENTENCE_BREAK = re.compile(r"(?<![.;!?\n。！？；])[.;!?\n。！？；]+(?=\s|$)")  # tried only where a run starts
_SENTENCE_BREAK_TOKEN = "\x01 "
_FIRST_CLAUSE = re.compile(r"[^,.;:!?\n]+")
# "First: X, Second: Y". The findings keep spaces and a final "." around them (_normalise drops those);
# X is the shortest stretch that starts with a non-space and is followed by a separator and a valid
# rest, else (the second pattern) nothing but spaces, one of them no line break, before the first separator.
_PAIR_OPTION_SECOND = r"[,;]\s*second\s*:(?:\s*\n)?(.+)(?:\n\s*(?:\.\s*)?)?"
_PAIR_OPTION = re.compile(r"\s*first\s*:\s*(\S.*?)(?:\n\s*)?" + _PAIR_OPTION_SECOND, re.IGNORECASE)
_PAIR_OPTION_BLANK_FIRST = re.compile(r"\s*first\s*:(\n*[^\S\n]\s*)" + _PAIR_OPTION_SECOND, re.IGNORECASE)
_FINDING_SEPARATOR = re.compile(r"[,;]|\band\b", re.IGNORECASE)
_CLAUSE_SPLIT = re.compile(r"[,.;:!?\n]|\b(?:and|while|whereas|but|although)\b", re.IGNORECASE)
_HEDGE = re.compile(
    r"\b(?:can ?not|can't|unable|not able|impossible|not possible|insufficient|sorry|as an ai|not sure|unsure|"
    r"uncertain|hard to (?:say|tell)|difficult to (?:say|tell|determine)|too (?:poor|low|blurry|small)|"
    r"not available|either)\b|无法|無法|不能确定|不确定",
    re.IGNORECASE,
)
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


class _Options(NamedTuple):
    letters: frozenset[str]
    texts: tuple[tuple[str, str], ...]  # (letter, padded normalised text), longest text first
    heads: dict[str, frozenset[str]]  # padded normalised whole text or head clause -> letters
    loose_heads: dict[str, frozenset[str]]  # the same without image nouns
    by_letter: dict[str, str]  # letter -> padded normalised text
    pairs: dict[str, tuple[frozenset[str], frozenset[str]]] | None  # "First: X, Second: Y" options, if all are
    pair_phrases: tuple[str, ...]  # every padded X/Y finding of the pair options, longest first
    ordinals: dict[str, str] | None  # ordinal -> letter when every option only names an image by its place


class _Commitment(NamedTuple):
    position: int
    value: str  # a letter, or _UNDECIDED
    strong: bool


def _normalise(text: str) -> str:
    """' tok tok ' : lower case, no punctuation or articles, image ordinals spelt out ('second image')."""
    if text.isascii():  # the same tokens as _NON_WORD.split, faster
        tokens = [token for token in text.lower().translate(_NON_ALNUM_TO_SPACES).split() if token not in _ARTICLES]
    else:
        tokens = [token for token in _NON_WORD.split(text.lower()) if token and token not in _ARTICLES]
    if _REWRITTEN_TOKENS.isdisjoint(tokens):
        return " " + " ".join(tokens) + " " if tokens else " "  # what the loop below gives them
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = _SUFFIX_ORDINALS.get(tokens[index], tokens[index])
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in _IMAGE_NOUNS and following in _NUMBER_ORDINALS:  # image 2 -> second image
            out += [_NUMBER_ORDINALS[following], "image"]
            index += 2
            continue
        if token in _IMAGE_NOUNS or (token == "one" and out and out[-1] in _ORDINALS):  # second one -> second image
            token = "image"
        out.append(token)
        index += 1
    return " " + " ".join(out) + " " if out else " "


def _normalise_sentences(text: str) -> str:
    """Like _normalise, with a break token between sentences (negation does not reach across it)."""
    return _SENTENCE_BREAK_TOKEN.join(_normalise(part) for part in _SENTENCE_BREAK.split(text))


def _loose(normalised: str) -> str:
    if " image" not in normalised:
        return normalised  # nothing of _LOOSE_DROP in it: the same string
    tokens = [token for token in normalised.split() if token not in _LOOSE_DROP]
    return " " + " ".join(tokens) + " " if tokens else " "


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
            frozenset(_normalise(part) for part in _FINDING_SEPARATOR.split(side) if _normalise(part).strip())
            for side in match.groups()
        )
    return pairs if len(pairs) >= 2 else None


def _visible_text(response: str) -> str:
    """The reply without reasoning blocks, full-width forms, markdown emphasis or LaTeX boxes."""
    text = response
    if "<" in text:
        text = _SPECIAL_TOKEN.sub(" ", _without_reasoning(text))
    if not text.isascii():
        text = unicodedata.normalize("NFKC", text)
    if "\\" in text:
        text = _LATEX_BOX.sub(r" answer: \1 ", text)
        text = _LATEX_TEXT.sub(r"\1", text)
    return text.translate(_MARKDOWN).strip()


def _without_reasoning(text: str) -> str:
    """The text outside <think>...</think> blocks, in one pass.

    A closing tag with no opening one (the opening tag was in the prompt) drops everything before
    it; an opening tag that never closes drops everything after it.
    """
    kept: list[str] = []
    outside_from: int | None = 0
    for tag in _THINK_TAG.finditer(text):
        closing = bool(tag.group(1))
        if outside_from is not None and not closing:
            kept.append(text[outside_from : tag.start()])
            outside_from = None
        elif closing:
            if outside_from is not None:
                kept = []  # reasoning that began in the prompt
            outside_from = tag.end()
    if outside_from is not None:
        kept.append(text[outside_from:])
    return " ".join(kept)


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


def _judge_letter(text: str, start: int, options: _Options) -> str | None:
    """The letter at `start` as a commitment: the letter, '?' when undecided, or None (not a letter)."""
    after = start + 1
    nxt = text[after : after + 2]
    if nxt[:1] in ("-", "'", "\u2019", "/") and nxt[1:2].isalpha():
        return None  # C-spine, A's, A/G ratio
    if nxt[:1] == "." and nxt[1:2].isalpha():
        return None  # e.g.
    if start and _excluded_before(text, start):
        return None  # image B, vitamin D, e.g, BI-RADS
    if _NEGATED_AFTER.match(text, after):
        return None
    letter = text[start].upper()
    partner = _PARTNER.match(text, after)
    if partner and partner.group(1) != letter and _is_partner_letter(text, partner.start(1)):
        return _UNDECIDED
    word = _WORD_AFTER.match(text, after)
    own = options.by_letter.get(letter)  # None for a letter that is no option: then no text follows it
    if (
        word
        and word.group(1).lower() not in _CONTINUATION
        and not (own is not None and _normalise(text[after : after + 200]).startswith(own))
    ):
        return None  # the article "A", the pronoun "I", "B cells"
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


def _lines(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            found.append((offset, line))
        offset += len(line) + 1
    return found


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


def _commitments(text: str, options: _Options) -> list[_Commitment]:
    """Every strong commitment the reply makes, in no particular order; when it makes none, every
    weak one (weak commitments count only then, see _decide)."""
    found: list[_Commitment] = []

    def add(position: int, value: str | None, strong: bool = True) -> None:
        if value is not None:
            found.append(_Commitment(position, value, strong))

    folded = _folded(text)
    words = _Words(folded) if folded is not None and len(folded) >= _SCAN_WHOLE_BELOW else None
    for match in _commit_leads(text, folded, words):
        start = match.start("letter")
        lead = text[match.start("lead") : match.end("lead")]
        if _clause_negated(text, match.start()) and not _CORRECTION_LEAD.match(lead):
            continue  # "I don't think the answer is A" (but "No, wait: C" is a correction)
        if _DISJUNCTION_BEFORE.search(text, max(0, match.start() - 8), match.start()):
            continue  # "B or possibly C": the partner of an undecided commitment
        bare_noun = not text[match.start("gap") : match.end("gap")].strip(" \t") and _BARE_NOUN_LEAD.fullmatch(lead)
        if bare_noun and not _TERMINAL_AFTER.match(text, start + 1):
            continue  # "answer A would imply ...": a mention, not a commitment
        add(start, _judge_letter(text, start, options))
    if _LETTER_IS_RIGHT_CORE.search(text):
        for match in _LETTER_IS_RIGHT.finditer(text):
            if not _clause_negated(text, match.start(1)) and not _excluded_before(text, match.start()):
                add(match.start(1), _judge_letter(text, match.start(1), options))

    lines = _lines(text)
    listing: list[bool] = []  # _is_listing(...), worked out the first time a rule needs it

    def is_listing() -> bool:
        if not listing:
            listing.append(_is_listing(text, lines, options))
        return listing[0]

    bare_lines = [(offset, _BARE_LINE.match(line)) for offset, line in lines]
    several_bare = len({match.group(1).upper() for _, match in bare_lines if match}) > 1  # "A\nB\nC\nD": no pick
    for number, ((offset, line), (_, bare)) in enumerate(zip(lines, bare_lines)):
        if bare:
            if not several_bare:
                add(offset + bare.start(1), _judge_letter(text, offset + bare.start(1), options))
            continue
        marker = _MARKER_LINE.match(line)
        start = _START_LETTER.match(line) if number == 0 and not marker else None
        if (marker or start) and is_listing():
            continue
        if marker:
            letter, rest = marker.group(1), marker.group(2)
            position = offset + marker.start(1)
            if number == 0 or _normalise(rest).startswith(options.by_letter.get(letter, "\0")):
                judged = _judge_letter(text, position, options)
                if judged not in (None, _UNDECIDED) and _contradicts(letter, rest, options):
                    judged = _UNDECIDED
                add(position, judged)
            continue
        if start:
            add(offset + start.start(1), _judge_letter(text, offset + start.start(1), options))
    # _LETTER_SENTENCE_AT_END and _LETTER_AT_END match the end of the text: a punctuation mark,
    # spaces, a bracket, the capital letter, then only characters of _AFTER_END_LETTER. Without
    # such a letter there is no match; with one, no match can start before `end_from`.
    before_letter = text.rstrip(_AFTER_END_LETTER)
    capital_at_end = bool(before_letter) and "A" <= before_letter[-1] <= "Z"
    end_from = max(0, len(before_letter[:-1].rstrip(" \t([")) - 1)
    last_sentence = _LETTER_SENTENCE_AT_END.search(text, end_from) if capital_at_end else None
    if last_sentence:
        add(last_sentence.start(1), _judge_letter(text, last_sentence.start(1), options))
    if folded is None or "answer" in folded:
        answers = _STRONG_TEXT_LEAD.finditer(text) if folded is None else _strong_text_leads(folded)
        for match in answers:
            if not _clause_negated(text, match.start()):
                add(match.start(1), _text_after_lead(text[match.start(1) : match.end(1)], options))
    if found:
        return found  # all strong: _decide reads only those

    parentheses = "(" in text or "[" in text  # _LETTER_IN_PARENS and _PARENS_AT_LINE_END need one
    for match in _LETTER_IN_PARENS.finditer(text) if parentheses else ():
        own = options.by_letter.get(match.group(1))
        if own and own.strip() and _normalise(text[max(0, match.start() - 200) : match.start()]).endswith(own):
            add(match.start(1), match.group(1), strong=False)
    for match in _PARENS_AT_LINE_END.finditer(text) if parentheses else ():
        if not _clause_negated(text, match.start()):
            add(match.start(1), _judge_letter(text, match.start(1), options), strong=False)
    end = _LETTER_AT_END.search(text, end_from) if capital_at_end else None
    if end and not is_listing():
        clause = text[: end.start()].rsplit("\n", 1)[-1]
        value = _judge_letter(text, end.start(1), options)
        if value not in (None, _UNDECIDED) and _contradicts(value, clause, options):
            value = _UNDECIDED
        add(end.start(1), value, strong=False)
    if folded is None:
        weak_leads = _WEAK_TEXT_LEAD.finditer(text)
    elif words is None:
        weak_leads = _WEAK_TEXT_LEAD_FOLDED.finditer(folded)
    else:
        weak_leads = _matches_from(_WEAK_TEXT_LEAD_FOLDED, folded, words.starts(_WEAK_TEXT_LEAD_FIRST_WORDS))
    for match in weak_leads:
        if not _clause_negated(text, match.start()):
            add(match.start(1), _text_after_lead(text[match.start(1) : match.end(1)], options), strong=False)
    return found


def _matches_from(pattern: re.Pattern[str], text: str, starts: list[int]) -> Iterator[re.Match[str]]:
    """`pattern.finditer(text)` for a pattern that never matches the empty string, given every
    position where a match can start (sorted, a superset is fine): the same matches, found by
    trying the pattern at those positions only."""
    resume = 0
    for start in starts:
        if start >= resume and (match := pattern.match(text, start)):
            yield match
            resume = match.end()


class _Words:
    """Where the words of a long lower-cased ASCII reply start, for trying a pattern only at the
    words its matches can begin with (one pass of _COMMIT_LEAD over a reply costs about 50 ns a
    character; finding words with str methods costs a few)."""

    def __init__(self, folded: str) -> None:
        # Every non-letter a space, padded: " word " finds whole words (runs of letters); the word
        # found at spaced[at:] starts at folded[at].
        self.spaced = " " + folded.translate(_NON_LETTERS_TO_SPACES) + " "
        self.present = frozenset(self.spaced.split())

    def starts(self, first_words: frozenset[str]) -> list[int]:
        """Sorted start positions of every occurrence of the words of `first_words`."""
        found: list[int] = []
        for word in first_words & self.present:
            needle = f" {word} "
            at = self.spaced.find(needle)
            while at != -1:
                found.append(at)
                at = self.spaced.find(needle, at + len(word) + 1)
        return sorted(found)


_NON_LETTERS_TO_SPACES = str.maketrans({chr(code): " " for code in range(128) if not chr(code).isalpha()})
_SCAN_WHOLE_BELOW = 200  # characters: shorter replies get one pass of each pattern, the cheaper way there


def _commit_leads(text: str, folded: str | None, words: _Words | None) -> Iterator[re.Match[str]]:
    """`_COMMIT_LEAD.finditer(text)`; on a long ASCII reply (`words`), tried only where one of the
    words a lead begins with starts, or at "<answer>"."""
    if folded is None:
        return _COMMIT_LEAD.finditer(text)
    if words is None or any(lead in folded for lead in _COMMIT_LEAD_RUN_ON):
        return _COMMIT_LEAD_FOLDED.finditer(folded)
    starts = words.starts(_COMMIT_LEAD_FIRST_WORDS)
    if "<answer" in folded:
        starts = sorted(starts + [at - 1 for at in words.starts(frozenset({"answer"})) if folded[at - 1 : at] == "<"])
    return _matches_from(_COMMIT_LEAD_FOLDED, folded, starts)


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


_MENTION_CONTEXT = 61  # characters around a mention that _negated_at, _in_disjunction, ... read (and one more)


def _mentions(padded: str, phrase: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Each occurrence of a padded phrase in a padded normalised text, as (context, start, end): the
    text around it, with every earlier occurrence blanked out ('\\0'), and where the phrase lies in
    that context (`start` > 60 exactly when the phrase starts after the text's 60th character);
    and the text with all of them blanked out (a shorter phrase looked for next is not found inside).

    In one pass: blanking each occurrence in the whole text before looking for the next one costs
    the text's length per occurrence (quadratic in a reply that repeats an option's text)."""
    starts: list[int] = []
    position = padded.find(phrase)
    while position != -1:
        starts.append(position)
        position = padded.find(phrase, position + len(phrase) - 1)  # neighbours share their padding space
    if not starts:
        return padded, []
    pieces: list[str] = []
    kept_from = 0
    for position in starts:
        pieces += [padded[kept_from : position + 1], "\0" * (len(phrase) - 2)]
        kept_from = position + len(phrase) - 1
    blanked = "".join(pieces) + padded[kept_from:]
    mentions = []
    for position in starts:
        context_start = max(0, position - _MENTION_CONTEXT)
        end = position + len(phrase)
        context = blanked[context_start:position] + padded[position : end + _MENTION_CONTEXT]
        mentions.append((context, position - context_start, end - context_start))
    return blanked, mentions


def _mentioned_options(padded: str, options: _Options) -> set[str]:
    """Letters whose option text occurs un-negated in the normalised reply (longest first); '?' if left open."""
    hits: set[str] = set()
    for letter, option_text in options.texts:
        padded, mentions = _mentions(padded, option_text)
        for context, start, end in mentions:
            if _negated_at(context, start, end):
                pass
            elif _overlaps_longer_option(context, start, end, option_text, options) or _in_disjunction(
                context, start, end
            ):
                hits.add(_UNDECIDED)
            else:
                hits.update(options.heads.get(option_text, {letter}))
    return hits


def _describes_several_images(padded: str) -> bool:
    return len({token for token in padded.split() if token in _ORDINALS}) >= 2


def _text_choice(text: str, options: _Options) -> str | None:
    """The option a reply names by its text alone, or None."""
    whole = _normalise(text)
    letters = options.heads.get(whole) or options.loose_heads.get(_loose(whole))
    if letters:
        return next(iter(letters)) if len(letters) == 1 else None
    if _LETTER_MENTION.search(text):
        return None  # a reply that talks in letters but commits to none
    first_clause = _FIRST_CLAUSE.match(text)
    for part in (text.split("\n", 1)[0], first_clause.group(0) if first_clause else ""):
        if part == text:
            continue  # normalised as `whole` above: no option's text
        normalised = _normalise(part)
        letters = options.heads.get(normalised) or options.loose_heads.get(_loose(normalised))
        if letters:
            if len(letters) != 1:
                return None
            letter = next(iter(letters))
            return letter if _mentioned_options(_normalise_sentences(text), options) <= {letter} else None
    if _HEDGE.search(text):
        return None
    sentences = _normalise_sentences(text)
    if options.pairs is not None:
        return _pair_choice(text, options)
    if options.ordinals is not None:
        return _ordinal_choice(sentences, options.ordinals)
    hits = _mentioned_options(sentences, options)
    if len(hits) != 1 or _UNDECIDED in hits:
        return None
    letter = hits.pop()
    if _describes_several_images(whole) and not _describes_several_images(" first " + options.by_letter[letter]):
        return None  # "the first image shows cataract, the second is normal": which image was asked?
    return letter


def _pair_choice(text: str, options: _Options) -> str | None:
    """The "First: X, Second: Y" option whose findings are exactly those the reply gives each image."""
    found: tuple[set[str], set[str]] = (set(), set())
    images: tuple[int, ...] = ()
    for clause in _CLAUSE_SPLIT.split(text):
        normalised = _normalise(clause)
        named = tuple(i for i, word in enumerate((" first ", " second ")) if word in normalised)
        images = (0, 1) if " both " in normalised else named or images  # a clause naming no image continues the last
        mentioned = _mentioned_phrases(normalised, options.pair_phrases)
        if mentioned and not images:
            return None  # a finding before any image is named: which image?
        for image in images:
            found[image].update(mentioned)
    matches = [letter for letter, (first, second) in options.pairs.items() if (first, second) == found]  # type: ignore[union-attr]
    return matches[0] if len(matches) == 1 else None


def _ordinal_choice(padded: str, ordinals: dict[str, str]) -> str | None:
    """The option whose place the reply names ('the second image', 'the last one'), if it names one place."""
    tokens = padded.split()
    named: set[str] = set()
    for index, token in enumerate(tokens):
        if token not in _ORDINALS:
            continue
        following = tokens[index + 1 : index + 3]
        refers = (
            not following
            or following[0] in _PLACE_NOUNS
            or following[0] == _SENTENCE_BREAK_TOKEN.strip()
            or (following[0] == "in" and following[1:2] and following[1] in _PLACE_PHRASES)
        )
        if refers and not _token_negated(tokens, index):
            named.add(token)
    if len(named) != 1:
        return None
    return ordinals.get(named.pop())


def _token_negated(tokens: list[str], index: int) -> bool:
    """Whether the place named at tokens[index] is negated ('not the first image', 'than the first one')."""
    for token in reversed(tokens[max(0, index - 3) : index]):
        if token in _SCOPE_STOPS or token in _ORDINALS or token[0] in "\0\x01":
            break  # another place ends the scope: "not the first image, the second image"
        if token in _NEGATORS:
            return True
    rest = tokens[index + 1 : index + 8]
    if rest[:1] == ["in"]:
        rest = rest[2:]  # "the first in line is not ..."
    elif rest[:1] and rest[0] in _PLACE_NOUNS:
        rest = rest[1:]  # "the first image is not ..."
    return bool(_AFTER_NEGATED.match(" " + " ".join(rest) + " ", 0))


def _mentioned_phrases(padded: str, phrases: tuple[str, ...]) -> set[str]:
    """The phrases (longest first) that occur un-negated in a normalised clause."""
    mentioned: set[str] = set()
    for phrase in phrases:
        padded, mentions = _mentions(padded, phrase)
        if any(not _negated_at(context, start, end) for context, start, end in mentions):
            mentioned.add(phrase)
    return mentioned


def _overlaps_longer_option(padded: str, start: int, end: int, option_text: str, options: _Options) -> bool:
    """'probably benign' names part of 'probably benign, follow-up' more than it names 'benign'."""
    before = padded[max(0, start - 40) : start].split()
    after = padded[end : end + 40].split()
    for _, longer in options.texts:
        if len(longer) <= len(option_text) or option_text not in longer:
            continue
        at = longer.find(option_text)
        longer_before = longer[:at].split()
        longer_after = longer[at + len(option_text) :].split()
        if (before and longer_before and before[-1] == longer_before[-1]) or (
            after and longer_after and after[0] == longer_after[0]
        ):
            return True
    return False


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

    commitments = _commitments(text, prepared)
    if commitments:
        return _decide(commitments, prepared)
    return _text_choice(text, prepared)
