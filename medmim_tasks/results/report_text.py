"""How a report is shown: the Markdown document, the display tables shared with the HTML page, and CSV files.

Every number comes rounded from medmim_tasks.results.report, so every output shows the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from medmim_tasks.results import letter_bias as bias
from medmim_tasks.results.circular_report import with_circular_columns
from medmim_tasks.results.report import (
    ACCURACY_COLUMNS,
    BREAKDOWNS,
    COVERAGE,
    DECIMALS,
    EVALUATED,
    TOTAL,
    Report,
    has_partial_coverage,
)
from medmim_tasks.results.tables import markdown_table


def fmt(value: object) -> str:
    """A rounded number as shown everywhere: one decimal, blank when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{float(value):.{DECIMALS}f}"
    raise TypeError(f"{value!r} is not a number to show")


def fmt_interval(value: object, low: object, high: object) -> str:
    """`45.2 (41.0–49.5)`, or blank."""
    if fmt(value) == "":
        return ""
    return f"{fmt(value)} ({fmt(low)}–{fmt(high)})"


def metric_title(report: Report, metric: str) -> str:
    unit = " %" if metric in report.percent_metrics else ""
    return f"{metric}{unit}"


def leaderboard_display(report: Report) -> pd.DataFrame:
    """The leaderboard as shown in Markdown and HTML: accuracy with its interval in each cell."""
    board = report.leaderboard
    shown = pd.DataFrame({"Model": board["model"], "Framework": board["framework"]})
    for key, title in ACCURACY_COLUMNS:
        shown[title] = [fmt_interval(v, lo, hi) for v, lo, hi in zip(board[key], board[f"{key}_ci_low"], board[f"{key}_ci_high"])]
    shown["Parsed %"] = board["parsed"].map(fmt)
    shown["Chance %"] = board["chance"].map(fmt)
    for metric in report.metrics:
        shown[metric_title(report, metric)] = board[metric].map(fmt)
    if has_partial_coverage(report):
        shown["Coverage %"] = board[COVERAGE].map(fmt)
    if (board[bias.NEAR_BASELINE] != "").any():
        shown[bias.NEAR_BASELINE_TITLE] = board[bias.NEAR_BASELINE]
    return with_circular_columns(shown, board, columns=())


def detail_display(report: Report, frame: pd.DataFrame, group_columns: Sequence[tuple[str, str]]) -> pd.DataFrame:
    """A per-split or breakdown table as shown: counts, accuracy, interval, parse rate, chance, metrics."""
    shown = pd.DataFrame({title: frame[column].astype(str) for column, title in group_columns})
    shown["MC items"] = frame["n_mc"].map(fmt)
    shown["Accuracy %"] = frame["accuracy"].map(fmt)
    level = f"{report.confidence:.0%} CI"
    shown[level] = [f"{fmt(lo)}–{fmt(hi)}" if fmt(lo) else "" for lo, hi in zip(frame["ci_low"], frame["ci_high"])]
    shown["Parsed %"] = frame["parsed"].map(fmt)
    shown["Chance %"] = frame["chance"].map(fmt)
    shown["Open items"] = frame["n_open"].map(fmt)
    for metric in report.metrics:
        shown[metric_title(report, metric)] = frame[metric].map(fmt)
    return shown.reset_index(drop=True)


def splits_display(report: Report) -> pd.DataFrame:
    shown = detail_display(report, report.splits, [("model", "Model"), ("split", "Split")])
    if has_partial_coverage(report):
        splits = report.splits.reset_index(drop=True)
        shown["Items evaluated"] = [
            "" if math.isnan(e) else f"{int(e)} of {int(t)}" for e, t in zip(splits[EVALUATED].astype(float), splits[TOTAL].astype(float))
        ]
        shown["Coverage %"] = splits[COVERAGE].map(fmt)
    return with_circular_columns(shown, report.splits)


def breakdown_displays(report: Report) -> list[tuple[str, pd.DataFrame]]:
    """(title, table) per breakdown."""
    tables = []
    for breakdown, _column, mc_only in BREAKDOWNS:
        part = report.breakdowns[report.breakdowns["breakdown"] == breakdown]
        title = f"By {breakdown}" + (" (multiple-choice items)" if mc_only else "")
        tables.append((title, detail_display(report, part, [("model", "Model"), ("group", breakdown.capitalize())])))
    return tables


def method_text(report: Report) -> str:
    level = f"{report.confidence:.0%}"
    return (
        f"Accuracy is the share of multiple-choice items answered with the gold letter (an unparsable reply counts "
        f"as wrong), in percent. Intervals are {level} Wilson score intervals on the effective sample size "
        "n / deff, where the design effect deff = (clustered SE / naive SE)², at least 1, accounts for items "
        "that share a patient. Held-in, Held-out and Overall are macro means over their splits (each split "
        f"counts once), with normal {level} intervals from the splits' clustered standard errors; Overall (micro) "
        "pools every multiple-choice item. Parsed, Chance and the open-ended metrics are macro means over the "
        "splits; breakdowns pool the items of all splits."
    )


def leaderboard_markdown(report: Report) -> str:
    return markdown_table(leaderboard_display(report))


def markdown_report(report: Report, chart_file: str | None = None) -> str:
    """The whole report as one Markdown document."""
    parts = ["# Med-MIM report", "", "## Leaderboard", "", leaderboard_markdown(report), "", method_text(report), ""]
    if report.notes:
        parts += ["Notes:", "", *[f"- {note}" for note in report.notes], ""]
    if chart_file:
        parts += [f"![Accuracy per split]({chart_file})", ""]
    parts += ["## Splits", "", markdown_table(splits_display(report)), ""]
    parts += ["## Letter bias", "", markdown_table(bias.letter_bias_display(report.letter_bias)), "", bias.LETTER_BIAS_TEXT, ""]
    parts += ["## Breakdowns", ""]
    for title, table in breakdown_displays(report):
        parts += [f"### {title}", "", markdown_table(table), ""]
    return "\n".join(parts)


def write_csv_files(report: Report, folder: Path) -> dict[str, Path]:
    """leaderboard.csv, splits.csv and breakdowns.csv (numbers as in every other output)."""
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        "leaderboard": folder / "leaderboard.csv",
        "splits": folder / "splits.csv",
        "breakdowns": folder / "breakdowns.csv",
        "letter_bias": folder / "letter_bias.csv",
    }
    report.leaderboard.to_csv(files["leaderboard"], index=False, float_format=f"%.{DECIMALS}f")
    report.splits.to_csv(files["splits"], index=False, float_format=f"%.{DECIMALS}f")
    report.breakdowns.to_csv(files["breakdowns"], index=False, float_format=f"%.{DECIMALS}f")
    report.letter_bias.to_csv(files["letter_bias"], index=False, float_format=f"%.{DECIMALS}f")
    return files
