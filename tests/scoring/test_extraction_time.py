"""Scoring takes time linear in the reply (issue 18, item 3): checked by the shape of every pattern,
not by timing; hostile replies are decided (a subprocess time limit is only a safety net)."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extraction_modules import PACKAGE_DIR, extraction_modules, extraction_names, extraction_patterns
from regex_linearity import findings, module_patterns

from medmim_tasks.scoring import extraction as answers
from medmim_tasks.scoring import judge, metrics

REPO_ROOT = Path(__file__).resolve().parents[2]
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
    uses = extraction_patterns()
    assert uses["_BARE_REPLY"][1:] == (False, True)  # fullmatch only: anchored, full
    assert uses["_LABEL_TEXT"][1:] == (False, False)  # match only
    assert uses["_SENTENCE_BREAK"][1:] == (True, False)  # split
    assert uses["_COMMIT_LEAD"][1:] == (True, True)  # handed to other functions: every use assumed
    assert set(uses) == {name for name, value in vars(extraction_names()).items() if isinstance(value, re.Pattern)}


# --- every pattern of the scoring modules ------------------------------------------------------


@pytest.mark.parametrize("module", [answers, metrics, judge], ids=lambda module: module.__name__)
def test_every_scoring_pattern_has_a_linear_shape(module: ModuleType) -> None:
    """The letter extractor (its package's modules as one), the open-ended metrics and the optional
    judge's verdict parser."""
    patterns = extraction_patterns() if module is answers else module_patterns(module)
    problems = {
        name: found
        for name, (pattern, unanchored, fullmatched) in patterns.items()
        if (found := findings(pattern, unanchored, fullmatched))
    }
    assert not problems, "patterns that can backtrack (see tests/regex_linearity.py):\n" + json.dumps(problems, indent=1)


def test_answers_compiles_no_pattern_outside_the_module_level() -> None:
    """The shape test sees module-level patterns only: a pattern compiled or used inside a function
    (`re.search("...", reply)`) would escape it. Only _lower_case_twin, which compiles the twin of a
    module-level pattern (a module-level name itself), works with `re` inside a function."""
    import ast

    trees = [ast.parse(Path(module.__file__ or "").read_text(encoding="utf-8")) for module in extraction_modules()]
    functions_using_re = {
        function.name
        for tree in trees
        for function in ast.walk(tree)
        if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
        for node in ast.walk(function)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "re" and node.attr[0].islower()  # not re.Pattern, re.IGNORECASE
    }
    assert functions_using_re == {"_lower_case_twin"}


# --- hostile replies ----------------------------------------------------------------------------


def _hostile_replies() -> ModuleType:
    spec = importlib.util.spec_from_file_location("hostile_replies", REPO_ROOT / "utils" / "hostile_replies.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_hostile_replies_are_at_most_long_and_named_once() -> None:
    table = _hostile_replies()
    assert len({name for name, _, _ in table.HOSTILE_REPLIES}) == len(table.HOSTILE_REPLIES) >= 100
    assert max(len(reply) for _, reply, _ in table.HOSTILE_REPLIES) <= table.LONG == 100_000


def test_hostile_replies_are_decided_and_scored() -> None:
    """Every hostile reply gets its letter, and scores as an open-ended reply too. A subprocess runs
    the table so that a regression ends in a failure naming the reply rather than a hung test run
    (the guard against one is the shape test above; this limit is only a safety net)."""
    script = (
        "import json, sys, importlib.util\n"
        "spec = importlib.util.spec_from_file_location('hostile_replies', sys.argv[1])\n"
        "table = importlib.util.module_from_spec(spec)\n"
        "spec.loader.exec_module(table)\n"
        "from medmim_tasks.scoring.extraction import extract_choice\n"
        "from medmim_tasks.scoring.metrics import rouge_l, sentence_bleu, token_f1_recall\n"
        "reference = 'The pleural effusion is smaller than before.'\n"
        "for name, reply, _ in table.HOSTILE_REPLIES:\n"
        "    scores = [*token_f1_recall(reply, reference), sentence_bleu(reply, reference), rouge_l(reply, reference)]\n"
        "    print(json.dumps([name, extract_choice(reply, table.OPTIONS), scores]), flush=True)\n"
    )
    table = _hostile_replies()
    try:
        done = subprocess.run(
            [sys.executable, "-c", script, str(REPO_ROOT / "utils" / "hostile_replies.py")],
            capture_output=True,
            text=True,
            timeout=SAFETY_NET_SECONDS,
            check=False,
            cwd=REPO_ROOT,
        )
        output, error = done.stdout, done.stderr
    except subprocess.TimeoutExpired as expired:
        output = expired.stdout.decode() if isinstance(expired.stdout, bytes) else expired.stdout or ""
        stuck = table.HOSTILE_REPLIES[len(output.splitlines())][0]
        pytest.fail(f"scoring did not finish on the hostile reply {stuck!r} within {SAFETY_NET_SECONDS} s")
    assert not error, error
    results = [json.loads(line) for line in output.splitlines()]
    assert {name: letter for name, letter, _ in results} == {name: expected for name, _, expected in table.HOSTILE_REPLIES}
    for name, _, scores in results:
        assert all(0.0 <= score <= 1.0 for score in scores), (name, scores)


def test_third_party_tokenisers_of_the_metrics_have_linear_shapes() -> None:
    """sacrebleu's 13a tokeniser and rouge-score's tokeniser run on every open-ended reply too."""
    from rouge_score import tokenize
    from sacrebleu.tokenizers.tokenizer_re import TokenizerRegexp

    patterns = [pattern for pattern, _ in TokenizerRegexp()._re]
    patterns += [re.compile(source) for source in (tokenize.NON_ALPHANUM_PATTERN, tokenize.SPACES_PATTERN, tokenize.VALID_TOKEN_PATTERN)]
    assert len(patterns) >= 6
    for pattern in patterns:
        assert findings(pattern, unanchored=True, fullmatched=False) == [], pattern.pattern


def test_rouge_l_counts_the_common_subsequence_bit_parallel() -> None:
    """ROUGE-L's longest common subsequence is rapidfuzz's bit-parallel one (reply tokens x
    ceil(answer tokens / 64) word operations), not rouge-score's table (reply x answer tokens)."""
    from rapidfuzz.distance import LCSseq

    assert metrics._rouge_parts()[2] is LCSseq.similarity


def test_benchmark_answers_keep_rouge_l_linear_in_the_reply(benchmark_dir: Path) -> None:
    """The reference side of ROUGE-L's cost: every open-ended answer fits in a few 64-bit words."""
    from medmim_tasks.benchmark.items import OPEN_ENDED, load_split
    from medmim_tasks.benchmark.splits import SPLITS

    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    answers_tokens = [
        len(metrics._rouge_tokens(item.answer))
        for split in SPLITS
        for item in load_split(split, environ)
        if item.kind == OPEN_ENDED
    ]
    assert answers_tokens and max(answers_tokens) <= 4 * 64, max(answers_tokens)


# --- the Python around the patterns --------------------------------------------------------------

REPEATED_UNITS = [
    "cataract ",
    "A. ",
    "(A) ",
    "answer: ",
    "i think ",
    "not A ",
    "\\boxed{A} ",
    "first second image ",
    "The answer is C. ",
    "glaucoma or cataract ",
    "(B)\n",
    "A\n",
    "no cataract, but glaucoma; ",
    "\u7b54\u6848\u662fC ",
    "first: cataract, second: glaucoma. ",
]


def _python_lines_run(reply: str, options: dict[str, str]) -> int:
    """Lines of the extraction package executed while extract_choice decides `reply`: a count of work, not a time."""
    sources = {str(path) for path in PACKAGE_DIR.glob("*.py")}
    executed = 0

    def in_answers(frame, event, arg):  # type: ignore[no-untyped-def]
        if frame.f_code.co_filename not in sources:
            return None

        def count(frame, event, arg):  # type: ignore[no-untyped-def]
            nonlocal executed
            executed += event == "line"
            return count

        return count

    sys.settrace(in_answers)
    try:
        answers.extract_choice(reply, options)
    finally:
        sys.settrace(None)
    return executed


@pytest.mark.parametrize("unit", REPEATED_UNITS)
def test_python_work_grows_linearly_with_the_reply(unit: str) -> None:
    """Twice the reply, at most about twice the lines run: no loop over matches, lines or mentions
    inside another (the patterns' own work is the shape test's)."""
    options = _hostile_replies().OPTIONS
    once, twice = _python_lines_run(unit * 300, options), _python_lines_run(unit * 600, options)
    assert twice <= 2.1 * once + 100, (once, twice)
