#!/usr/bin/env python
"""Run the graded extraction corpus through three option-letter parsers and print them side by side.

- ours: `medmim_tasks.extract_choice`
- lmms-eval `extract_mcq_answer` (lmms_eval/tasks/_task_utils/mcq_extract.py), given the option letters
- MMMU-style `parse_mmmu_multi_choice_response` (lmms_eval/tasks/_task_utils/mmmu_mcq_utils.py), given
  the letters and option texts; where it finds nothing it returns `random.choice(...)`: those
  replies are counted as "guessed" (and as disagreements), whatever letter chance picks.

Every parser gets the reply as lmms-eval's CLI hands it to `process_results`: with its default
`--reasoning_tags` (<think>, <analysis>) stripped. Usage: python utils/compare_extractors.py [--cases]
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType

REPO_ROOT = Path(__file__).resolve().parent.parent
CORPUS_FILE = REPO_ROOT / "tests" / "extraction_corpus.py"
GUESS = "<guess>"


def load_corpus() -> ModuleType:
    spec = importlib.util.spec_from_file_location("extraction_corpus", CORPUS_FILE)
    if spec is None or spec.loader is None:
        raise SystemExit(f"{CORPUS_FILE}: cannot load the extraction corpus")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses/NamedTuple need the module registered
    spec.loader.exec_module(module)
    return module


class _NoRandom:
    """Stands in for the `random` module inside the MMMU parser: its random fallback returns GUESS."""

    @staticmethod
    def choice(_choices: object) -> str:
        return GUESS


def parsers() -> dict[str, Callable[[str, Mapping[str, str]], str | None]]:
    from lmms_eval.tasks._task_utils import mmmu_mcq_utils
    from lmms_eval.tasks._task_utils.mcq_extract import extract_mcq_answer

    from medmim_tasks import extract_choice

    mmmu_mcq_utils.random = _NoRandom()  # type: ignore[assignment]  # this script's process only

    def lmms(reply: str, options: Mapping[str, str]) -> str | None:
        return extract_mcq_answer(reply, list(options)) or None

    def mmmu(reply: str, options: Mapping[str, str]) -> str | None:
        return mmmu_mcq_utils.parse_mmmu_multi_choice_response(reply, list(options), dict(options)) or None

    return {"ours": extract_choice, "lmms-eval extract_mcq_answer": lmms, "MMMU-style parser": mmmu}


def as_process_results_sees_it(reply: str) -> str:
    """The reply after lmms-eval's default `--reasoning_tags` stripping (what process_results receives)."""
    from lmms_eval.api.reasoning import (
        parse_reasoning_tags_config,
        strip_reasoning_tags,
    )

    tags = parse_reasoning_tags_config(cli_value='[["<think>", "</think>"], ["<analysis>", "</analysis>"]]')
    return strip_reasoning_tags(reply, tags)


@dataclass
class Tally:
    agree: int = 0
    wrong: int = 0  # a letter other than the graded one
    invented: int = 0  # a letter where the grader takes none
    missed: int = 0  # None where the grader takes a letter
    guessed: int = 0  # random fallback
    by_category: dict[str, list[int]] = field(default_factory=dict)  # category -> [agree, n, wrong, invented, missed]

    def add(self, category: str, expected: str | None, got: str | None) -> None:
        cell = self.by_category.setdefault(category, [0, 0, 0, 0, 0])
        cell[1] += 1
        if got == GUESS:
            self.guessed += 1
        elif got == expected:
            self.agree += 1
            cell[0] += 1
        elif got is None:
            self.missed += 1
            cell[4] += 1
        elif expected is None:
            self.invented += 1
            cell[3] += 1
        else:
            self.wrong += 1
            cell[2] += 1


def compare(show_cases: bool) -> str:
    corpus = load_corpus()
    runners = parsers()
    tallies = {name: Tally() for name in runners}
    disagreements: list[str] = []
    for case in corpus.CASES:
        options = corpus.OPTION_SETS[case.options]
        reply = as_process_results_sees_it(case.reply)
        got = {name: run(reply, options) for name, run in runners.items()}
        for name, value in got.items():
            tallies[name].add(case.category, case.expected, value)
        if show_cases and len(set(got.values()) | {case.expected}) > 1:
            disagreements.append(
                f"graded {case.expected!s:>4} | "
                + " | ".join(f"{v!s:>7}" for v in got.values())
                + f" | {json.dumps(case.reply)[:110]}"
            )

    n = len(corpus.CASES)
    names = list(runners)
    lines = [
        f"Extraction corpus: {n} graded replies ({sum(c.expected is None for c in corpus.CASES)} graded None).",
        "",
    ]
    lines.append("| | " + " | ".join(names) + " |")
    lines.append("|---|" + "---:|" * len(names))
    rows = [
        ("agreement with the grader", lambda t: f"{t.agree / n:.1%} ({t.agree})"),
        ("wrong letter (grader took another)", lambda t: str(t.wrong)),
        ("letter where the grader took none", lambda t: str(t.invented)),
        ("None where the grader took a letter", lambda t: str(t.missed)),
        ("random guess (no letter found)", lambda t: str(t.guessed)),
    ]
    for label, cell in rows:
        lines.append(f"| {label} | " + " | ".join(cell(tallies[name]) for name in names) + " |")
    lines += [
        "",
        "Agreement by category (class); for ours also its disagreements as wrong letter / letter where the",
        "grader took none / None where the grader took a letter:",
        "",
        "| category | n | " + " | ".join(names) + " | ours: wrong / invented / missed |",
        "|---|---:|" + "---:|" * len(names) + "---:|",
    ]
    for category in sorted(tallies[names[0]].by_category):
        total = tallies[names[0]].by_category[category][1]
        cells = [f"{tallies[name].by_category[category][0]}" for name in names]
        wrong, invented, missed = tallies[names[0]].by_category[category][2:]
        lines.append(f"| {category} | {total} | " + " | ".join(cells) + f" | {wrong} / {invented} / {missed} |")
    if show_cases:
        lines += [
            "",
            "Replies where the parsers or the grader differ (graded | " + " | ".join(names) + " | reply):",
            *disagreements,
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[1])
    parser.add_argument("--cases", action="store_true", help="also list every reply where the parsers differ")
    args = parser.parse_args(argv)
    print(compare(args.cases))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
