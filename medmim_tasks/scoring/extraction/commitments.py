"""Every commitment a reply makes, strong ones first (weak ones count only when there is none)."""

from __future__ import annotations

import re
from typing import NamedTuple

from medmim_tasks.scoring.extraction.hedges import _is_lean, _letters_left_open_at_end, _second_thought
from medmim_tasks.scoring.extraction.languages import _foreign_commitments
from medmim_tasks.scoring.extraction.letters import (
    _BARE_NOUN_LEAD,
    _CORRECTION_LEAD,
    _DISJUNCTION_BEFORE,
    _TERMINAL_AFTER,
    _commit_leads,
    _excluded_before,
    _judge_letter,
    _letter_is_right_matches,
)
from medmim_tasks.scoring.extraction.lines import (
    _AFTER_END_LETTER,
    _BARE_LINE,
    _LETTER_AT_END,
    _LETTER_IN_PARENS,
    _LETTER_SENTENCE_AT_END,
    _MARKER_LINE,
    _PARENS_AT_LINE_END,
    _START_LETTER,
    _is_listing,
)
from medmim_tasks.scoring.extraction.negation import (
    _clause_negated,
)
from medmim_tasks.scoring.extraction.normalise import (
    _SCAN_WHOLE_BELOW,
    _UNDECIDED,
    _folded,
    _lines,
    _matches_from,
    _normalise,
    _Words,
)
from medmim_tasks.scoring.extraction.option_text import (
    _STRONG_TEXT_LEAD,
    _WEAK_TEXT_LEAD,
    _WEAK_TEXT_LEAD_FIRST_WORDS,
    _WEAK_TEXT_LEAD_FOLDED,
    _strong_text_leads,
    _text_after_lead,
)
from medmim_tasks.scoring.extraction.options import (
    _contradicts,
    _Options,
)


class _Commitment(NamedTuple):
    position: int
    value: str  # a letter, or _UNDECIDED
    strong: bool


def _commitments(text: str, options: _Options) -> list[_Commitment]:
    """Every strong commitment the reply makes, in no particular order; when it makes none, every
    weak one (weak commitments count only then, see _decide)."""
    reading = _Reading(text, options)
    reading.lead_commitments()
    reading.letter_is_right_commitments()
    reading.line_commitments()
    reading.end_sentence_commitment()
    reading.answer_text_commitments()
    reading.foreign_commitments()
    reading.letters_left_open_at_end()
    if reading.found:
        return reading.found  # all strong: _decide reads only those
    reading.weak_commitments()
    return reading.found


class _Reading:
    """One reply being read: what the rules share (the folded text, its words and lines, whether it
    lists the options back) and the commitments found so far."""

    def __init__(self, text: str, options: _Options) -> None:
        self.text = text
        self.options = options
        self.found: list[_Commitment] = []
        self.folded = _folded(text)
        self.words = _Words(self.folded) if self.folded is not None and len(self.folded) >= _SCAN_WHOLE_BELOW else None
        self.lines = _lines(text)
        self._listing: list[bool] = []  # _is_listing(...), worked out the first time a rule needs it
        # _LETTER_SENTENCE_AT_END and _LETTER_AT_END match the end of the text: a punctuation mark,
        # spaces, a bracket, the capital letter, then only characters of _AFTER_END_LETTER. Without
        # such a letter there is no match; with one, no match can start before `end_from`.
        before_letter = text.rstrip(_AFTER_END_LETTER)
        self.capital_at_end = bool(before_letter) and "A" <= before_letter[-1] <= "Z"
        self.end_from = max(0, len(before_letter[:-1].rstrip(" \t([")) - 1)

    def add(self, position: int, value: str | None, strong: bool = True) -> None:
        if value is not None:
            self.found.append(_Commitment(position, value, strong))

    def is_listing(self) -> bool:
        if not self._listing:
            self._listing.append(_is_listing(self.text, self.lines, self.options))
        return self._listing[0]

    def judged(self, position: int) -> str | None:
        return _judge_letter(self.text, position, self.options)

    def lead_commitments(self) -> None:
        """Answer phrases followed by a letter ('the answer is C')."""
        text = self.text
        for match in _commit_leads(text, self.folded, self.words):
            start = match.start("letter")
            lead = text[match.start("lead") : match.end("lead")]
            if _clause_negated(text, match.start()) and not _CORRECTION_LEAD.match(lead):
                continue  # "I don't think the answer is A" (but "No, wait: C" is a correction)
            if _DISJUNCTION_BEFORE.search(text, max(0, match.start() - 8), match.start()):
                continue  # "B or possibly C": the partner of an undecided commitment
            bare_noun = not text[match.start("gap") : match.end("gap")].strip(" \t") and _BARE_NOUN_LEAD.fullmatch(lead)
            if bare_noun and not _TERMINAL_AFTER.match(text, start + 1):
                continue  # "answer A would imply ...": a mention, not a commitment
            judged = self.judged(start)
            if judged not in (None, _UNDECIDED) and _is_lean(lead) and _second_thought(text, start + 1, judged, self.options):
                judged = _UNDECIDED  # "I'd lean to B, but it could also be C": a lean, not a choice
            self.add(start, judged)

    def letter_is_right_commitments(self) -> None:
        """'C is correct', 'B fits best'."""
        for match in _letter_is_right_matches(self.text):
            if not _clause_negated(self.text, match.start(1)) and not _excluded_before(self.text, match.start()):
                self.add(match.start(1), self.judged(match.start(1)))

    def line_commitments(self) -> None:
        """Lines that are a letter ('C.'), or that start with one and a separator ('C: cataract')."""
        bare_lines = [(offset, _BARE_LINE.match(line)) for offset, line in self.lines]
        several_bare = len({match.group(1).upper() for _, match in bare_lines if match}) > 1  # "A\nB\nC\nD": no pick
        for number, ((offset, line), (_, bare)) in enumerate(zip(self.lines, bare_lines)):
            if bare:
                if not several_bare:
                    self.add(offset + bare.start(1), self.judged(offset + bare.start(1)))
                continue
            marker = _MARKER_LINE.match(line)
            start = _START_LETTER.match(line) if number == 0 and not marker else None
            if not (marker or start):
                continue
            position = offset + (marker or start).start(1)  # type: ignore[union-attr]
            judged = self.judged(position)
            # the cheap tests first; a listing (worked out only when needed) is no pick
            if judged is None or self.is_listing():
                continue
            if marker:
                judged = self.marker_line_value(number, marker, judged)
            self.add(position, judged)

    def marker_line_value(self, number: int, marker: re.Match[str], judged: str) -> str | None:
        """What a line that starts with a letter and a separator commits to, its letter judged `judged`."""
        letter, rest = marker.group(1), marker.group(2)
        if number == 0 or _normalise(rest).startswith(self.options.by_letter.get(letter, "\0")):
            return _UNDECIDED if judged != _UNDECIDED and _contradicts(letter, rest, self.options) else judged
        return None

    def end_sentence_commitment(self) -> None:
        """A letter alone as the reply's last sentence ('... so it is benign. C')."""
        last_sentence = _LETTER_SENTENCE_AT_END.search(self.text, self.end_from) if self.capital_at_end else None
        if last_sentence:
            self.add(last_sentence.start(1), self.judged(last_sentence.start(1)))

    def answer_text_commitments(self) -> None:
        """An answer phrase followed by one option's text ('the answer is the second image')."""
        text, folded = self.text, self.folded
        if folded is None or "answer" in folded:
            answers = _STRONG_TEXT_LEAD.finditer(text) if folded is None else _strong_text_leads(folded)
            for match in answers:
                if not _clause_negated(text, match.start()):
                    self.add(match.start(1), _text_after_lead(text[match.start(1) : match.end(1)], self.options))

    def foreign_commitments(self) -> None:
        """Answer phrases in Spanish, French, German, Portuguese ('la respuesta es la B')."""
        for position, value in _foreign_commitments(self.text, self.folded):
            self.add(position, value if value == _UNDECIDED else self.judged(position))

    def letters_left_open_at_end(self) -> None:
        """'... - C or maybe D' ending the reply: undecided, whatever came before."""
        position = _letters_left_open_at_end(self.text, self.options) if self.capital_at_end else None
        if position is not None:
            self.add(position, _UNDECIDED)

    def weak_commitments(self) -> None:
        """Commitments that count only when there is no strong one."""
        text, options, folded, words = self.text, self.options, self.folded, self.words
        parentheses = "(" in text or "[" in text  # _LETTER_IN_PARENS and _PARENS_AT_LINE_END need one
        for match in _LETTER_IN_PARENS.finditer(text) if parentheses else ():
            own = options.by_letter.get(match.group(1))
            if own and own.strip() and _normalise(text[max(0, match.start() - 200) : match.start()]).endswith(own):
                self.add(match.start(1), match.group(1), strong=False)
        for match in _PARENS_AT_LINE_END.finditer(text) if parentheses else ():
            if not _clause_negated(text, match.start()):
                self.add(match.start(1), _judge_letter(text, match.start(1), options), strong=False)
        end = _LETTER_AT_END.search(text, self.end_from) if self.capital_at_end else None
        if end and not self.is_listing():
            clause = text[: end.start()].rsplit("\n", 1)[-1]
            value = _judge_letter(text, end.start(1), options)
            if value not in (None, _UNDECIDED) and _contradicts(value, clause, options):
                value = _UNDECIDED
            self.add(end.start(1), value, strong=False)
        if folded is None:
            weak_leads = _WEAK_TEXT_LEAD.finditer(text)
        elif words is None:
            weak_leads = _WEAK_TEXT_LEAD_FOLDED.finditer(folded)
        else:
            weak_leads = _matches_from(_WEAK_TEXT_LEAD_FOLDED, folded, words.starts(_WEAK_TEXT_LEAD_FIRST_WORDS))
        for match in weak_leads:
            if not _clause_negated(text, match.start()):
                self.add(match.start(1), _text_after_lead(text[match.start(1) : match.end(1)], options), strong=False)
