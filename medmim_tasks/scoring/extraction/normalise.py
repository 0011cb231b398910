"""Text preparation shared by every rule: reasoning blocks, markdown and LaTeX removed; option
and reply text normalised ('image 2' -> 'second image'); lines; word-filtered pattern scans."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

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

_SENTENCE_BREAK = re.compile(r"(?<![.;!?\n。！？；])[.;!?\n。！？；]+(?=\s|$)")  # tried only where a run starts
_SENTENCE_BREAK_TOKEN = "\x01 "


def _normalise(text: str) -> str:
    """' tok tok ' : lower case, no punctuation or articles, image ordinals spelt out ('second image')."""
    if text.isascii():  # the same tokens as _NON_WORD.split, faster
        tokens = [token for token in text.lower().translate(_NON_ALNUM_TO_SPACES).split() if token not in _ARTICLES]
    else:
        tokens = [token for token in _NON_WORD.split(text.lower()) if token and token not in _ARTICLES]
    if _REWRITTEN_TOKENS.isdisjoint(tokens):
        return " " + " ".join(tokens) + " " if tokens else " "  # what the loop below gives them
    # Every rewrite keeps the number of tokens ("image 2" -> "second image"): out[i] is what tokens[i]
    # becomes, and only the tokens of _REWRITTEN_TOKENS (and a number after an image noun) change.
    out = list(tokens)
    consumed = -1  # the number after an image noun, rewritten with it
    for index in [index for index, token in enumerate(tokens) if token in _REWRITTEN_TOKENS]:
        if index == consumed:
            continue
        token = _SUFFIX_ORDINALS.get(tokens[index], tokens[index])
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in _IMAGE_NOUNS and following in _NUMBER_ORDINALS:  # image 2 -> second image
            out[index : index + 2] = [_NUMBER_ORDINALS[following], "image"]
            consumed = index + 1
            continue
        if token in _IMAGE_NOUNS or (token == "one" and index and out[index - 1] in _ORDINALS):  # second one -> second image
            token = "image"
        out[index] = token
    return " " + " ".join(out) + " "


def _normalise_sentences(text: str) -> str:
    """Like _normalise, with a break token between sentences (negation does not reach across it)."""
    return _SENTENCE_BREAK_TOKEN.join(_normalise(part) for part in _SENTENCE_BREAK.split(text))


def _loose(normalised: str) -> str:
    if " image" not in normalised:
        return normalised  # nothing of _LOOSE_DROP in it: the same string
    tokens = [token for token in normalised.split() if token not in _LOOSE_DROP]
    return " " + " ".join(tokens) + " " if tokens else " "


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
    if "*" in text or "`" in text or "$" in text:
        text = text.translate(_MARKDOWN)  # str.translate costs about 25 ns a character: only when needed
    return text.strip()


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


def _lines(text: str) -> list[tuple[int, str]]:
    found: list[tuple[int, str]] = []
    offset = 0
    for line in text.split("\n"):
        if line.strip():
            found.append((offset, line))
        offset += len(line) + 1
    return found


def _letter_runs(folded: str) -> str:
    """A lower-cased ASCII text with every non-letter a space, padded with one space: " word " finds
    a whole run of letters, at the index where that run starts in `folded`."""
    return " " + folded.translate(_NON_LETTERS_TO_SPACES) + " "


def _first_found(text: str, needles: tuple[str, ...]) -> int:
    """The first index where one of `needles` occurs in `text`, or -1."""
    found = [at for at in (text.find(needle) for needle in needles) if at != -1]
    return min(found) if found else -1


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
        self.spaced = _letter_runs(folded)
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
