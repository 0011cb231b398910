"""Option-letter extraction against the graded corpus (tests/extraction_corpus.py) and its contract."""

from __future__ import annotations

import itertools
import re
import sys
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import MappingProxyType, SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extraction_corpus import CASES, OPTION_SETS, Case
from extraction_modules import extraction_names

import medmim_tasks
from medmim_tasks.scoring.extraction import extract_choice

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

    script = Path(__file__).resolve().parents[2] / "utils" / "compare_extractors.py"
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


# --- the fast paths of answers.py find exactly what the plain patterns find ----------------------

_PROSE = (
    "The first image shows a well-defined opacity in the upper outer region, while the second image shows "
    "the same region with slightly different contrast. It is likely benign; this is consistent with a stable "
    "finding, which suggests that follow-up is enough, although I think a definitive judgement is difficult."
)


def _texts_for_scans() -> list[str]:
    """Corpus replies alone, inside long prose, upper- and lower-cased, plus a few hand-made edge cases."""
    import random

    rng = random.Random(11)
    replies = [case.reply for case in CASES]
    texts = replies + [_PROSE + " " + reply for reply in replies] + [reply + "\n\n" + _PROSE for reply in replies]
    texts += [" ".join(rng.choices(replies + [_PROSE], k=4)).upper() for _ in range(150)]
    texts += [" ".join(rng.choices(replies + [_PROSE], k=4)).lower() for _ in range(150)]
    texts += [
        _PROSE + " Waitno, B.",
        _PROSE + " <answer>C</answer>",
        _PROSE + " Antworte B",
        _PROSE + " Final   answer:\tD",
        _PROSE + " diagnosisis glaucoma",
        _PROSE + " İt is B; the answer ıs C",
        _PROSE + "\x1c so\x1cB",
    ]
    return texts


def _spans(matches) -> list[tuple[tuple[int, int], ...]]:  # type: ignore[no-untyped-def]
    return [tuple(match.span(group) for group in range(match.re.groups + 1)) for match in matches]


def test_lower_case_twins_match_like_their_patterns() -> None:
    answers = extraction_names()

    twins = [
        (answers._COMMIT_LEAD, answers._COMMIT_LEAD_FOLDED),
        (answers._STRONG_TEXT_LEAD, answers._STRONG_TEXT_LEAD_FOLDED),
        (answers._WEAK_TEXT_LEAD, answers._WEAK_TEXT_LEAD_FOLDED),
        (answers._CLAUSE_BREAK, answers._CLAUSE_BREAK_FOLDED),
        (answers._NEGATION_BEFORE, answers._NEGATION_BEFORE_FOLDED),
        (answers._EXCLUDED_BEFORE, answers._EXCLUDED_BEFORE_FOLDED),
        (answers._HEDGE, answers._HEDGE_FOLDED),
    ]
    for text in _texts_for_scans():
        if text.isascii():
            for pattern, twin in twins:
                assert _spans(twin.finditer(text.lower())) == _spans(pattern.finditer(text)), (pattern.pattern[:40], text)
    with pytest.raises(ValueError, match="lower case"):
        answers._lower_case_twin(re.compile("Answer", re.IGNORECASE))


def test_word_filtered_scans_find_every_match() -> None:
    answers = extraction_names()

    for text in _texts_for_scans():
        folded = answers._folded(text)
        words = answers._Words(folded) if folded is not None else None
        assert _spans(answers._commit_leads(text, folded, words)) == _spans(answers._COMMIT_LEAD.finditer(text)), text
        assert _spans(answers._letter_is_right_matches(text)) == _spans(answers._LETTER_IS_RIGHT.finditer(text)), text
        if folded is not None:
            assert _spans(answers._strong_text_leads(folded)) == _spans(answers._STRONG_TEXT_LEAD.finditer(text)), text
            weak = answers._matches_from(
                answers._WEAK_TEXT_LEAD_FOLDED, folded, words.starts(answers._WEAK_TEXT_LEAD_FIRST_WORDS)  # type: ignore[union-attr]
            )
            assert _spans(weak) == _spans(answers._WEAK_TEXT_LEAD.finditer(text)), text
        assert answers._hedged(text) == bool(answers._HEDGE.search(text)), text
        assert answers._mentions_a_letter(text) == bool(answers._LETTER_MENTION.search(text)), text
        for start in range(0, len(text), 7):
            expected = bool(answers._EXCLUDED_BEFORE.search(text, max(0, start - 14), start))
            assert answers._excluded_before(text, start) == expected, (text, start)


def _first_words(pattern) -> set[str]:  # type: ignore[no-untyped-def]
    """How the matches of an IGNORECASE pattern on ASCII text can begin: the run of letters they
    start with (lower case), or '|' and the character when they start with something else."""
    try:
        from re import _constants as sre  # type: ignore[attr-defined]
        from re import _parser as parser
    except ImportError:  # Python 3.10
        import sre_constants as sre  # type: ignore[no-redef]
        import sre_parse as parser  # type: ignore[no-redef]

    found: set[str] = set()

    def ends(word: str, mark: str) -> None:
        found.add(word or "|" + mark)

    def walk(items: list, word: str) -> None:  # type: ignore[type-arg]
        if not items:
            return ends(word, "end")
        (op, av), rest = items[0], items[1:]
        if op is sre.ASSERT and av[0] == 1 and all(not start[:1].isalpha() for start in _first_words(av[1])):
            return ends(word, "lookahead")  # no letter passes it
        if op in (sre.ASSERT, sre.ASSERT_NOT) or (op is sre.AT and not word):
            return walk(rest, word)
        if op is sre.AT:
            return ends(word, "")  # \b after a letter: no letter follows
        if op is sre.LITERAL:
            char = chr(av)
            if not char.isascii():
                return None  # ASCII text never goes this way
            return walk(rest, word + char.lower()) if char.isalpha() else ends(word, char)
        if op is sre.IN:
            if any(kind not in (sre.LITERAL, sre.RANGE) for kind, _ in av):
                return ends(word, "class")  # \s, [^...]: taken as not a letter, so the word ends
            chars = [chr(value) for kind, value in av if kind is sre.LITERAL]
            chars += [chr(code) for kind, value in av if kind is sre.RANGE for code in range(value[0], value[1] + 1)]
            chars = [char for char in chars if char.isascii()]
            if not chars:
                return None
            if not all(char.isalpha() for char in chars):
                return ends(word, "class")
            for char in sorted({char.lower() for char in chars}):
                walk(rest, word + char)
            return None
        if op is sre.BRANCH:
            for alternative in av[1]:
                walk(list(alternative) + rest, word)
            return None
        if op is sre.SUBPATTERN:
            return walk(list(av[-1]) + rest, word)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT):
            if av[0] == 0:
                walk(rest, word)
            return walk(list(av[2]) + rest, word) if av[1] >= 1 else None
        return ends(word, str(op))

    walk(list(parser.parse(pattern.pattern, pattern.flags) if isinstance(pattern, re.Pattern) else pattern), "")
    return found


def test_first_word_lists_cover_their_patterns() -> None:
    """The word filters try a pattern only at the words its matches can begin with: derived here from
    the patterns themselves, so a new alternative that the lists miss fails this test."""
    answers = extraction_names()

    commit = _first_words(answers._COMMIT_LEAD)
    assert {start for start in commit if start.startswith("|")} == {"|<"}  # "<answer>", handled apart
    run_on = [start for start in commit if start.startswith(answers._COMMIT_LEAD_RUN_ON)]
    assert set(run_on) >= set(answers._COMMIT_LEAD_RUN_ON)  # leads that run into the letter: a whole scan
    assert commit - {"|<"} - set(run_on) <= answers._COMMIT_LEAD_FIRST_WORDS
    assert _first_words(answers._WEAK_TEXT_LEAD) <= answers._WEAK_TEXT_LEAD_FIRST_WORDS
    assert _first_words(answers._STRONG_TEXT_LEAD) <= {"answer", *answers._ANSWER_ADJECTIVES}
    hedge = _first_words(answers._HEDGE)
    assert {"cannot", "sorry", "either"} <= hedge
    assert hedge <= set(answers._HEDGE_FIRST_WORDS), hedge
    # _mentions_a_letter reads _LETTER_MENTION as three alternatives: an option word and a letter
    # (searched from the first option word), a bracketed letter (from the first bracket), and
    # _LINE_LETTER_MENTION at a line start. A change to the pattern must revisit it.
    option_words = "|".join(needle.strip() for needle in answers._OPTION_WORDS)
    expected = rf"(?:\b(?i:{option_words})\s*[(\[]?[A-Z](?![A-Za-z0-9])|[(\[][A-Z][)\]]|^{answers._LINE_LETTER_MENTION.pattern})"
    assert answers._LETTER_MENTION.pattern == expected


def test_foreign_lead_prefilter_covers_its_pattern() -> None:
    """On ASCII replies _FOREIGN_ANSWER is tried only when _has_ascii_lead finds one of its leads:
    every ASCII word a match can begin with (derived from the pattern) must pass that test."""
    answers = extraction_names()

    leads = _first_words(answers._FOREIGN_ANSWER)
    assert {"respuesta", "antwort", "alternativa"} <= leads
    assert all(answers._has_ascii_lead(lead) for lead in leads), leads
    assert not answers._has_ascii_lead("the answer is c")


def _normalise_reference(text: str, answers: SimpleNamespace) -> str:
    """_normalise written as one pass over the tokens (the specification its faster form must meet)."""
    tokens = [token for token in re.split(r"[\W_]+", text.lower()) if token and token not in answers._ARTICLES]
    out: list[str] = []
    index = 0
    while index < len(tokens):
        token = answers._SUFFIX_ORDINALS.get(tokens[index], tokens[index])
        following = tokens[index + 1] if index + 1 < len(tokens) else ""
        if token in answers._IMAGE_NOUNS and following in answers._NUMBER_ORDINALS:
            out += [answers._NUMBER_ORDINALS[following], "image"]
            index += 2
            continue
        if token in answers._IMAGE_NOUNS or (token == "one" and out and out[-1] in answers._ORDINALS):
            token = "image"
        out.append(token)
        index += 1
    return " " + " ".join(out) + " " if out else " "


def test_normalise_rewrites_like_one_pass_over_the_tokens() -> None:
    """Every sequence of up to four tokens from the words the rewrites read (image nouns, numbers,
    ordinals, 'one', articles), with ASCII and non-ASCII separators."""
    answers = extraction_names()
    vocabulary = ["image", "Scan", "2", "one", "two", "1st", "first", "last", "the", "x", "é"]
    for length in range(5):
        for tokens in itertools.product(vocabulary, repeat=length):
            for separator in (" ", ", ", "-"):
                text = separator.join(tokens)
                assert answers._normalise(text) == _normalise_reference(text, answers), text


def test_prefiltered_searches_find_like_their_patterns() -> None:
    answers = extraction_names()
    texts = [
        "see [B] there",
        "prose, then Option C",
        "choiceD",
        "the ANSWER (E) it is",
        "first line\n  # 2. C: cataract",
        "x\nB) y",
        "no letters here at all",
        "(b) lower case",
        "[B and (c",
        "é (C)",
        "optional A",
        "it is hard to say",
        "I cannot tell",
        "can't",
        "significant, was, task",
        "As an AI model",
        "(as an ai)",
        "Either",
        "option   (B) is correct",
        "answerC is right",
        "(A) fits best",
        "A IS IS correct",
        "CHOICE\tB is the best",
        "[D] matches",
        "x,Option D seems likely",
        "anſwer B is correct",
        "so-a",
        "<answer>a</answer>",
        "answer:a",
        "answer=b",
        "ans:c",
        "x:y so b",
        "so 2b",
        "so b2",
        "I cannot tell",
        "i.e. b",
        "so{b}",
        "it is (c)",
        "so\tc",
        "Antwortc",
    ]
    for text in texts + [_PROSE + " " + text for text in texts] + [text + "\n" + _PROSE for text in texts]:
        assert answers._mentions_a_letter(text) == bool(answers._LETTER_MENTION.search(text)), text
        assert answers._hedged(text) == bool(answers._HEDGE.search(text)), text
        assert _spans(answers._letter_is_right_matches(text)) == _spans(answers._LETTER_IS_RIGHT.finditer(text)), text
        folded = answers._folded(text)
        words = answers._Words(folded) if folded is not None else None
        for with_words in (words, None):
            assert _spans(answers._commit_leads(text, folded, with_words)) == _spans(answers._COMMIT_LEAD.finditer(text)), text
