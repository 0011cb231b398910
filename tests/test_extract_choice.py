"""Option-letter extraction against the graded corpus (tests/extraction_corpus.py) and its contract."""

from __future__ import annotations

import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from extraction_corpus import CASES, OPTION_SETS, Case

import medmim_tasks
from medmim_tasks.answers import extract_choice

MIN_CASES = 150
MIN_AGREEMENT = 0.98


def _extract(case: Case) -> str | None:
    return extract_choice(case.reply, OPTION_SETS[case.options])


def _report(cases: list[tuple[Case, str | None]]) -> str:
    return "\n".join(f"  expected {c.expected}, got {got} [{c.options}/{c.category}]: {c.reply!r}" for c, got in cases)


def test_corpus_is_large_graded_and_covers_the_issue() -> None:
    assert len(CASES) >= MIN_CASES
    assert len({(case.options, case.reply) for case in CASES}) == len(CASES), "duplicate corpus entries"
    for case in CASES:
        assert case.options in OPTION_SETS, case
        assert case.expected is None or case.expected in OPTION_SETS[case.options], case
    categories = Counter(case.category for case in CASES)
    needed_categories = (
        "terse phrase gold_form article abbreviation listed_back think commitment undecided refusal option_text "
        "chinese markdown verbose outside"
    )
    for needed in needed_categories.split():
        assert categories[needed] >= 5, needed
    assert Counter(case.expected is None for case in CASES)[True] >= 40, "too few replies graded None"
    assert {len(options) for options in OPTION_SETS.values()} >= {2, 3, 4, 7}


def test_never_a_wrong_letter_and_agreement_at_target() -> None:
    results = [(case, _extract(case)) for case in CASES]
    wrong = [(case, got) for case, got in results if got is not None and got != case.expected]
    missed = [(case, got) for case, got in results if got is None and case.expected is not None]
    invented = [(case, got) for case, got in results if got is not None and case.expected is None]
    assert not wrong, "wrong letters (worse than None):\n" + _report(wrong)
    agreement = sum(got == case.expected for case, got in results) / len(results)
    assert agreement >= MIN_AGREEMENT, f"agreement {agreement:.1%}; disagreements:\n" + _report(missed + invented)


def test_only_letters_present_in_options() -> None:
    """Dropping the graded letter from the options never makes the parser name it (or any letter it lacks)."""
    for case in CASES:
        options = OPTION_SETS[case.options]
        got = extract_choice(case.reply, options)
        assert got is None or got in options
        if case.expected is not None:
            reduced = {letter: text for letter, text in options.items() if letter != case.expected}
            assert extract_choice(case.reply, reduced) != case.expected


def test_deterministic_and_thread_safe() -> None:
    serial = [_extract(case) for case in CASES]
    assert [_extract(case) for case in CASES] == serial
    with ThreadPoolExecutor(max_workers=4) as pool:
        for _ in range(3):
            assert list(pool.map(_extract, CASES)) == serial


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ("A", "A"),
        ("A cataract is visible in the second image.", "B"),  # the article, then option text
        ("I think it's C.", "C"),  # the pronoun
        ("CT and OD findings; DNA is irrelevant.", None),  # letters inside abbreviations
        ("A: normal fundus\nB: cataract\nC: glaucoma\nD: diabetic retinopathy", None),  # options listed back
        ("<think>The answer is B.</think>C", "C"),  # reasoning is not read
        ("Not A. Therefore, C.", "C"),  # the commitment wins
        ("A or C", None),  # undecided
        ("答案是C", "C"),
        ("The answer is E.", None),  # no such option
        ("C: cataract", None),  # the gold form naming another option's text
    ],
)
def test_issue_examples(reply: str, expected: str | None) -> None:
    options = {"A": "normal fundus", "B": "cataract", "C": "glaucoma", "D": "diabetic retinopathy"}
    assert extract_choice(reply, options) == expected


def test_option_text_longest_first_and_only_when_unique() -> None:
    options = {"A": "epiretinal membrane", "B": "macular epiretinal membrane", "C": "drusen", "D": "drusen"}
    assert extract_choice("Macular epiretinal membrane.", options) == "B"
    assert extract_choice("epiretinal membrane", options) == "A"
    assert extract_choice("drusen", options) is None  # two options share the text


def test_any_mapping_and_clear_errors() -> None:
    assert extract_choice("(B)", MappingProxyType({"A": "yes", "B": "no"})) == "B"
    assert extract_choice("B", {}) is None
    with pytest.raises(TypeError, match="response must be a string"):
        extract_choice(None, {"A": "yes"})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="single capital letters"):
        extract_choice("A", {"a": "yes"})
    with pytest.raises(TypeError, match="option B"):
        extract_choice("A", {"A": "yes", "B": 2})  # type: ignore[dict-item]


def test_exported_from_the_package() -> None:
    assert medmim_tasks.extract_choice is extract_choice


def test_compare_extractors_script_prints_the_three_parsers() -> None:
    import importlib.util

    script = Path(__file__).resolve().parent.parent / "utils" / "compare_extractors.py"
    spec = importlib.util.spec_from_file_location("compare_extractors", script)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    table = module.compare(show_cases=False)
    rows = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:-1]]
        for line in table.splitlines()
        if line.startswith("| ")
    }
    assert rows[""] == ["ours", "lmms-eval extract_mcq_answer", "MMMU-style parser"]
    assert rows["wrong letter (grader took another)"][0] == "0"
    assert rows["letter where the grader took none"][0] == "0"
    assert rows["random guess (no letter found)"][0] == "0"
