"""Scoring takes time linear in the reply (issue 18, item 3): checked by the shape of every pattern,
not by timing; hostile replies are decided (a subprocess time limit is only a safety net)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from regex_linearity import findings, module_patterns

from medmim_tasks import answers, metrics

REPO_ROOT = Path(__file__).resolve().parent.parent
SAFETY_NET_SECONDS = 300  # the whole table; seconds each today, minutes each before the fix


# --- the checker itself ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "rule"),
    [
        (r"\\boxed\{\s*([^{}]*?)\s*\}", "overlapping neighbours"),  # the shape of the issue's \boxed{ + spaces
        (r"\s*x?\s*", "overlapping neighbours"),
        (r"[ \t]*[:.]?[ \t]*y", "overlapping neighbours"),
        (r"a\s* \s*b", "overlapping neighbours"),  # the character between them is one of theirs
        (r"x[ \t]*([^\n]{1,200})\.", "overlapping neighbours"),  # a long bounded repeat counts
        (r"x\s*(?=[ \t]*y)", "overlapping neighbours"),  # a lookahead scans the run again
        (r"x[ \t]*([^\n]{1,200})", "overlapping neighbours"),  # fullmatch puts an end after it
        (r"(?:a|a)*", "ambiguous repeat"),
        (r"(?:a+)*b", "ambiguous repeat"),
        (r"(?:\s+x?){0,24}y", "ambiguous repeat"),
        (r"(?:[:.]|[:!]|is){0,24}y", "ambiguous repeat"),  # the _GAP: ':' in two alternatives
        (r"(?:ab|a){0,9}", "ambiguous repeat"),  # 'a' is a prefix of 'ab'
        (r"(?:\b(?:is|is)\b|\s){0,24}", "ambiguous repeat"),  # the same word twice
        (r"(?:x?){2,5}", "ambiguous repeat"),  # the body matches the empty string
        (r"[.;!?\n]+(?=\s|$)", "restart"),  # search tries every position of a run of dots
        (r"\s*:", "restart"),
        (r"(?m)^\s*x", "restart"),  # line starts inside a run of line breaks
        (r"a(?P<x>b)(?P=x)", "unsupported"),
    ],
)
def test_checker_flags_patterns_that_backtrack(source: str, rule: str) -> None:
    assert any(finding.startswith(rule) for finding in findings(re.compile(source))), findings(re.compile(source))


@pytest.mark.parametrize(
    ("source", "unanchored"),
    [
        (r"\\boxed\{\s*(?:([^{}\s](?:[^{}]*[^{}\s])?)\s*)?\}", True),  # the \boxed pattern rewritten
        (r"\s*:\s*x", False),  # a separator that is none of the spaces' characters (searched: restarts)
        (r"[ \t]*(?:[.!][ \t]*)?$", False),
        (r"[^\n]*[^ \t\n][ \t]*$", False),  # the repeat after the last non-space runs only to the next one
        (r"(?<![.;!?\n])[.;!?\n]+(?=\s|$)", True),  # attempts start only at the start of a run
        (r"(?m)^[ \t]*x", True),
        (r"(?:\b(?:is|ist|are)\b|[\s:]|\{){0,24}x", True),
        (r"(?:\\(?:boxed|text)\{|\{|\s){0,24}x", True),
        (r"(?:[:.]|[:!]){0,24}y", True),  # one character class to the engine
        (r"[\W_]+", True),
        (r"(?i)answer", True),
    ],
)
def test_checker_passes_linear_patterns(source: str, unanchored: bool) -> None:
    assert findings(re.compile(source), unanchored=unanchored, fullmatched=False) == []


def test_checker_reads_how_a_module_uses_its_patterns() -> None:
    uses = module_patterns(answers)
    assert uses["_BARE_REPLY"][1:] == (False, True)  # fullmatch only: anchored, full
    assert uses["_LABEL_TEXT"][1:] == (False, False)  # match only
    assert uses["_SENTENCE_BREAK"][1:] == (True, False)  # split
    assert uses["_COMMIT_LEAD"][1:] == (True, True)  # handed to other functions: every use assumed
    assert set(uses) == {name for name, value in vars(answers).items() if isinstance(value, re.Pattern)}


# --- every pattern of the scoring modules ------------------------------------------------------


@pytest.mark.parametrize("module", [answers, metrics], ids=lambda module: module.__name__)
def test_every_scoring_pattern_has_a_linear_shape(module: object) -> None:
    problems = {
        name: found
        for name, (pattern, unanchored, fullmatched) in module_patterns(module).items()  # type: ignore[arg-type]
        if (found := findings(pattern, unanchored, fullmatched))
    }
    assert not problems, "patterns that can backtrack (see tests/regex_linearity.py):\n" + json.dumps(problems, indent=1)


def test_answers_compiles_no_pattern_outside_the_module_level() -> None:
    """The shape test sees module-level patterns only: a pattern written inside a function (re.search(
    "...", reply)) would escape it. Only _lower_case_twin's reading of pattern sources may do that."""
    source = Path(answers.__file__).read_text(encoding="utf-8")
    inline = re.findall(r"\bre\.(?:search|match|fullmatch|finditer|findall|sub|subn|split)\(", source)
    assert len(inline) == 2, inline  # _lower_case_twin: re.sub and re.search over a pattern's own text


# --- hostile replies ----------------------------------------------------------------------------

OPTIONS = {"A": "normal fundus", "B": "cataract", "C": "glaucoma", "D": "diabetic retinopathy"}
LONG = 100_000


# (character, name, what "A" + a run of it + "x" gives, what "(A)" + a run of it + "x" gives)
RUNS = [
    (" ", "spaces", None, "A"),  # "A ... x": the article before a word
    ("\n", "newlines", None, "A"),
    ("\t", "tabs", None, "A"),
    ('"', "quotes", "A", "A"),  # a letter and a separator start the reply
    ("'", "apostrophes", "A", "A"),
    ("(", "parentheses", "A", "A"),
    (")", "closing parentheses", "A", "A"),
    ("[", "brackets", "A", "A"),
    ("{", "braces", "A", "A"),
    ("}", "closing braces", "A", "A"),
    ("\\", "backslashes", "A", "A"),
    ("a", "letters", None, "A"),  # one long word
    ("A", "capitals", None, "A"),
    (".", "dots", "A", "A"),
    (":", "colons", "A", "A"),
    ("-", "dashes", "A", "A"),
    (",", "commas", "A", "A"),
    ("<", "angle brackets", "A", "A"),
    ("*", "asterisks", None, "A"),  # markdown emphasis is dropped: "Ax"
    ("|", "bars", "A", "A"),
    ("1", "digits", None, "A"),
    ("\u00e9", "accented letters", "A", "A"),
    ("\u3002", "CJK full stops", "A", "A"),
    ("\u7b54", "CJK characters", None, None),
]


def _runs() -> list[tuple[str, str, str | None]]:
    """(name, reply, expected letter): a run of each character alone, after a letter, after an answer
    phrase and after a bracketed letter, each ending in something that makes the patterns fail."""
    cases = []
    for char, name, after_letter, after_bracketed_letter in RUNS:
        cases += [
            (f"{name} alone", char * LONG, None),
            (f"A, {name}, x", "A" + char * LONG + "x", after_letter),
            (f"answer, {name}", "answer" + char * LONG, None),
            (f"(A), {name}, x", "(A)" + char * LONG + "x", after_bracketed_letter),
        ]
    return cases


HOSTILE: list[tuple[str, str, str | None]] = [
    # the replies
    ("\\boxed{ + 200 spaces", "\\boxed{" + " " * 200, None),
    ("\\boxed{ + 300 spaces", "\\boxed{" + " " * 300, None),
    ("\\fbox{ + 300 spaces", "\\fbox{" + " " * 300, None),
    ("\\boxed{ + 300 newlines", "\\boxed{" + "\n" * 300, None),
    ("\\text{ + 4000 spaces", "\\text{" + " " * 4000, None),
    ("50,000 quotes", '"' * 50_000, None),
    ("50,000 brackets", "(" * 50_000, None),
    ("A + 16,000 spaces + x", "A" + " " * 16_000 + "x", None),
    # LaTeX and braces
    ("\\boxed{ + 100,000 spaces", "\\boxed{" + " " * LONG, None),
    ("\\boxed{\\text{ + 100,000 spaces", "\\boxed{\\text{" + " " * LONG, None),
    ("\\boxed{ 100,000 spaces C", "\\boxed{" + " " * LONG + "C}", "C"),
    ("nested braces", "{" * 50_000 + "}" * 50_000, None),
    ("\\boxed{ repeated", "\\boxed{" * 14_000, None),
    ("\\text{ repeated", "\\text{" * 16_000, None),
    # repeated answer shapes
    ("A. repeated", "A. " * 33_000, "A"),
    ("(A) repeated", "(A) " * 25_000, "A"),
    ("answer: repeated", "answer: " * 12_000, None),
    ("answer, 30 colons", "answer" + ":" * 30, None),
    ("answer, 5,000 colons, x", "answer" + ":" * 5_000 + "x", None),
    ("the answer is the, repeated", "the answer is the " * 5_500, None),
    ("so + colons and spaces, repeated", ("so " + ": " * 20 + "x ") * 3_000, None),
    ("not A, repeated", "not A " * 16_000, None),
    ("A or B, repeated", "A or B " * 14_000, "A"),
    ("i think, repeated", "i think " * 12_000, None),
    ("option text, repeated", "cataract " * 11_000, "B"),
    ("image words, repeated", "first second image " * 5_000, None),
    ("letters on lines after spaces", ("A" + " " * 200 + "\n") * 400, "A"),
    ("the answer is A + spaces + x", "The answer is A" + " " * LONG + "x", None),  # "A x": the article
    ("A is + spaces + x", "A is" + " " * LONG + "x", "A"),
    ("A) + spaces", "A)" + " " * LONG, "A"),
    ("A: + spaces + newline", "A:" + " " * LONG + "\n", "A"),
    ("option text + spaces + (B)", "cataract" + " " * LONG + "(B)", "B"),
    ("unclosed reasoning", "<think>" + "x" * LONG, None),
    ("empty reasoning blocks", "<think></think>" * 6_000, None),
    ("special-token openings", "<|" * 50_000, None),
    ("first and second findings, repeated", "first: a, second: b; " * 4_000, None),
    *_runs(),
]


def test_hostile_replies_are_decided() -> None:
    """Every hostile reply gets its answer; a subprocess runs the table so that a regression ends in
    a failure naming the reply rather than a hung test run (the real guard is the shape test)."""
    script = (
        "import json, sys\n"
        "sys.path.insert(0, sys.argv[1])\n"
        "from test_extraction_time import HOSTILE, OPTIONS\n"
        "from medmim_tasks.answers import extract_choice\n"
        "for name, reply, _ in HOSTILE:\n"
        "    print(json.dumps([name, extract_choice(reply, OPTIONS)]), flush=True)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(Path(__file__).resolve().parent)],
            capture_output=True,
            text=True,
            timeout=SAFETY_NET_SECONDS,
            check=False,
            cwd=REPO_ROOT,
        )
        output, error = done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
        stuck = HOSTILE[len(output.splitlines())][0]
        pytest.fail(f"extract_choice did not finish on the hostile reply {stuck!r} within {SAFETY_NET_SECONDS} s")
    assert not error, error
    got = dict(json.loads(line) for line in output.splitlines())
    assert got == {name: expected for name, _, expected in HOSTILE}


def test_hostile_open_replies_are_scored() -> None:
    """The open-ended metrics on 100,000-character replies (their cost is linear: see the module docs)."""
    reference = "The pleural effusion is smaller than before."
    for reply in ["effusion " * 11_000, "." * LONG, "-" * LONG, "a" * LONG, "1.2" * 33_000, " " * LONG, "\u7b54" * LONG]:
        f1, recall = metrics.token_f1_recall(reply, reference)
        assert 0.0 <= f1 <= recall <= 1.0
        assert 0.0 <= metrics.sentence_bleu(reply, reference) <= 1.0
        assert 0.0 <= metrics.rouge_l(reply, reference) <= 1.0
