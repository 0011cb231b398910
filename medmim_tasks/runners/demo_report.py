"""The report `medmim demo` prints and saves: the score beside chance per question type, and where the files are."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.results.tables import text_table
from medmim_tasks.runners.demo import DemoRun
from medmim_tasks.sanity.generated_set import QUESTION_TYPES, SANITY_TASK, WHICH_IMAGE
from medmim_tasks.sanity.scoring import type_chance_metric, type_score_metric

REPORT_FILE = "sanity_report.txt"
FILTER = "none"
# A multiple-choice row whose score is within this margin of chance is flagged for a model named
# with --model. Open rows are not flagged: token F1 marks down a right but wordy reply ("The circle
# is in Image 2.") below the chance of terse guesses, which would read as a false alarm.
NEAR_CHANCE_MARGIN = 0.15


def _metric(results: Mapping[str, Any], name: str) -> float | None:
    value = results.get(f"{name},{FILTER}")
    return float(value) if isinstance(value, (int, float)) else None


def _value(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.2f}"


def format_report(run: DemoRun, tiny: bool, report_path: Path | None = None) -> str:
    """The scores beside chance per question type, the overall scores and where everything is."""
    results = run.results
    lines = [
        "",
        f"{SANITY_TASK}: score and chance per question type",
    ]
    rows = []
    flagged = []
    for qtype in QUESTION_TYPES:
        score = _metric(results, type_score_metric(qtype.name))
        chance = _metric(results, type_chance_metric(qtype.name))
        if score is None:
            continue
        metric = "accuracy" if qtype.kind == MULTIPLE_CHOICE else "token F1"
        count = run.items_per_type.get(qtype.name, 0)
        flag = ""
        if not tiny and qtype.kind == MULTIPLE_CHOICE and chance is not None and score <= chance + NEAR_CHANCE_MARGIN:
            flag = "<- near chance"
            flagged.append(qtype)
        rows.append([qtype.name, qtype.probe, metric, count, _value(score), _value(chance), flag])
    lines += text_table(["question type", "probe", "metric", "items", "score", "chance", ""], rows, text_columns=3)
    mc_acc, mc_chance, mc_parsed = (_metric(results, name) for name in ("mc_acc", "mc_chance", "mc_parsed"))
    if mc_acc is not None:
        lines.append(
            f"  multiple choice: accuracy {_value(mc_acc).strip()} (chance {_value(mc_chance).strip()}), "
            f"replies with a letter {_value(mc_parsed).strip()}"
        )
    open_f1 = _metric(results, "open_token_f1")
    if open_f1 is not None:
        lines.append(f"  open-ended: token F1 {_value(open_f1).strip()}")
    lines.append("")
    if tiny:
        lines.append(
            "The tiny model has random weights, so its replies are noise and scores at or below chance\n"
            "are expected: this run shows that the whole lmms-eval pipeline works on this machine.\n"
            "Check your own model with `medmim demo --model NAME --model_args ARGS`: one that sees every\n"
            "image in order scores near 1 on the multiple-choice rows."
        )
    elif any(qtype.probe == WHICH_IMAGE for qtype in flagged):
        lines.append(
            "'which image' rows near chance: this model's set-up most likely drops or reorders images.\n"
            "Check its image handling (max images, image tokens, order) before the full benchmark."
        )
    elif flagged:
        lines.append("Rows near chance: docs/demo.md, 'Reading it', says how to read them.")
    else:
        lines.append("Every row is well above chance: this model sees the images, in order.")
    lines += [
        "",
        f"Results: {run.results_path}",
        f"Samples: {run.samples_path if run.samples_path else '(none written)'}",
        f"lmms-eval log: {run.log_path}",
    ]
    if report_path is not None:
        lines.append(f"This report: {report_path}")
    return "\n".join(lines) + "\n"


def write_report(run: DemoRun, tiny: bool) -> str:
    """Format the report and save it beside lmms-eval's log; returns its text."""
    report_path = run.output_dir / REPORT_FILE
    text = format_report(run, tiny, report_path)
    report_path.write_text(text.lstrip("\n"))
    return text
