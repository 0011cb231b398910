"""Issue 13's reply classes, one table each from the graded corpus (tests/extraction_corpus.py):
every case of a class gets the graded letter or None."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extraction_corpus import CASES, OPTION_SETS, Case

from medmim_tasks.scoring.extraction import extract_choice

ISSUE_13_CLASSES = (
    "hedge_trailing",  # "B, or possibly D", "- C or maybe D", "I'd lean to B, but it could also be C" -> None
    "truncated_analysis",  # cut off inside "1. ... 2. ..." steps that mention an option -> None
    "letter_phrasing",  # "The diagnosis is C.", "(option C)" after the option's text, "choice (b)"
    "language",  # Spanish, French, German, Portuguese answer phrases
    "option_text_conclusion",  # an option's full text as the last sentence or clause, also after "Yes,"/"No,"
    "image_place",  # "image B" when every option names an image by place and both readings agree
)


def _cases(category: str) -> list[Case]:
    return [case for case in CASES if case.category == category]


@pytest.mark.parametrize("category", ISSUE_13_CLASSES)
def test_each_class_has_letters_and_nones(category: str) -> None:
    cases = _cases(category)
    assert len(cases) >= 6, category
    assert any(case.expected is None for case in cases) and any(case.expected is not None for case in cases), category


@pytest.mark.parametrize(
    "case", [case for category in ISSUE_13_CLASSES for case in _cases(category)], ids=lambda case: f"{case.category}:{case.reply[:40]}"
)
def test_issue_13_class_table(case: Case) -> None:
    assert extract_choice(case.reply, OPTION_SETS[case.options]) == case.expected
