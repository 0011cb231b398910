"""Leaderboard, per-split table and breakdowns of one or more Med-MIM runs.

Everything is computed once, from the per-document samples, into three tables of numbers
already rounded for display (percentages with one decimal); the Markdown, CSV, chart and HTML
outputs are all drawn from those tables, so every output shows the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results import letter_bias as bias
from medmim_tasks.results.runs import COVERAGE_COLUMNS, Run
from medmim_tasks.results.statistics import (
    CONFIDENCE,
    NO_ESTIMATE,
    Estimate,
    macro_mean_estimate,
    proportion_estimate,
)
from medmim_tasks.results.tables import markdown_table

ACCURACY = "mc_acc"
PARSED = "mc_parsed"
CHANCE = "mc_chance"
CORE_MC_METRICS = (ACCURACY, PARSED, CHANCE)
COVERAGE = "coverage"  # share of a split's items that became documents (below 1 under MEDMIM_ON_MISSING=skip)
EVALUATED, TOTAL = COVERAGE_COLUMNS
DECIMALS = 1

SPLIT_KEYS: dict[str, str] = {split.task: split.alias.split(": ", 1)[-1].lower() for split in SPLITS}
SPLIT_TITLES: dict[str, str] = {split.task: split.alias.split(": ", 1)[-1] for split in SPLITS}
# (column key, title, tasks averaged): the macro means of the leaderboard
MEANS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("held_in", "Held-in", tuple(s.task for s in SPLITS if s.group == "med_mim_held_in")),
    ("held_out", "Held-out", tuple(s.task for s in SPLITS if s.group == "med_mim_held_out")),
    ("overall", "Overall", tuple(s.task for s in SPLITS)),
)
MICRO_KEY, MICRO_TITLE = "overall_micro", "Overall (micro)"
# (key, title) of the leaderboard's accuracy columns, in order
ACCURACY_COLUMNS: tuple[tuple[str, str], ...] = (
    *((SPLIT_KEYS[s.task], SPLIT_TITLES[s.task]) for s in SPLITS),
    *((key, title) for key, title, _ in MEANS),
    (MICRO_KEY, MICRO_TITLE),
)
# (column value in the breakdown table, document column, multiple-choice documents only)
BREAKDOWNS: tuple[tuple[str, str, bool], ...] = (
    ("source dataset", "dataset", False),
    ("source sub-type", "subtype", False),
    ("images", "n_images", False),
    ("options", "n_options", True),
)


@dataclass(frozen=True)
class Report:
    """The numbers of a report (rounded for display) and what a reader must know about them."""

    leaderboard: pd.DataFrame  # one row per run
    splits: pd.DataFrame  # one row per run and split
    breakdowns: pd.DataFrame  # one row per run, breakdown and group
    metrics: tuple[str, ...]  # further metric columns (open_* and any mc_* beyond the core three)
    percent_metrics: frozenset[str]  # metrics shown as percentages (per-document scores within [0, 1])
    notes: tuple[str, ...] = field(default=())
    confidence: float = CONFIDENCE
    letter_bias: pd.DataFrame = field(default_factory=pd.DataFrame)  # one row per run and split (letter_bias.py)


def build_report(runs: Sequence[Run], confidence: float = CONFIDENCE) -> Report:
    """Compute every table of the report from the runs' samples."""
    if not runs:
        raise ValueError("no runs to report")
    metrics = _further_metrics(runs)
    percent_metrics = frozenset(
        m for m in (*CORE_MC_METRICS, *metrics) if all(_within_unit_interval(run.docs, m) for run in runs)
    )
    leaderboard_rows, split_rows, breakdown_rows, notes, letter_rows = [], [], [], [], []
    for run in runs:
        per_split: dict[str, tuple[Estimate, dict[str, float]]] = {}
        coverage: dict[str, dict[str, float]] = {}
        for task in run.tasks:
            docs = run.docs[run.docs["task"] == task]
            estimate, summary = _summary(docs, metrics, confidence)
            per_split[task] = (estimate, summary)
            coverage[task] = _coverage(docs)
            split_rows.append({"model": run.label, "split": SPLIT_TITLES[task], "task": task, **summary, **coverage[task]})
        letters = bias.letter_bias_rows(run.label, run.docs, {t: e for t, (e, _) in per_split.items()}, SPLIT_TITLES, DECIMALS)
        letter_rows.extend(letters)
        leaderboard_rows.append({**_leaderboard_row(run, per_split, metrics, confidence), **_overall_coverage(coverage)})
        leaderboard_rows[-1][bias.NEAR_BASELINE] = bias.near_baseline_text(letters)
        breakdown_rows.extend(_breakdown_rows(run, metrics, confidence))
        notes.extend(_notes(run, per_split))
        notes.extend(_coverage_notes(run, coverage))
    leaderboard = pd.DataFrame(leaderboard_rows)
    leaderboard = leaderboard.sort_values(
        by=["overall", "model"], ascending=[False, True], na_position="last", kind="stable"
    ).reset_index(drop=True)
    scale = {m: m in percent_metrics for m in (*CORE_MC_METRICS, *metrics)}
    return Report(
        leaderboard=_rounded(leaderboard, scale),
        splits=_rounded(pd.DataFrame(split_rows), scale),
        breakdowns=_rounded(pd.DataFrame(breakdown_rows), scale),
        metrics=tuple(metrics),
        percent_metrics=percent_metrics,
        notes=tuple(notes),
        confidence=confidence,
        letter_bias=bias.letter_bias_frame(letter_rows),
    )


def _further_metrics(runs: Sequence[Run]) -> list[str]:
    names: list[str] = []
    for run in runs:
        for metric in run.metrics:
            if metric not in CORE_MC_METRICS and metric not in names:
                names.append(metric)
    return sorted(names, key=lambda m: (not m.startswith("mc_"), names.index(m)))


def _within_unit_interval(docs: pd.DataFrame, metric: str) -> bool:
    if metric not in docs:
        return True
    values = docs[metric].dropna()
    return bool(((values >= 0) & (values <= 1)).all())


def _summary(docs: pd.DataFrame, metrics: Sequence[str], confidence: float) -> tuple[Estimate, dict[str, float]]:
    """Accuracy with its interval, parse rate, chance, item counts and the further metrics of some documents."""
    mc = docs[docs["kind"] == MULTIPLE_CHOICE]
    scored = mc[mc[ACCURACY].notna()] if ACCURACY in mc else mc.iloc[0:0]
    estimate = proportion_estimate(scored[ACCURACY].to_numpy() if len(scored) else [], scored["cluster"].tolist(), confidence)
    summary: dict[str, float] = {
        "n_mc": estimate.n,
        "accuracy": estimate.value,
        "ci_low": estimate.low,
        "ci_high": estimate.high,
        "parsed": _mean(mc, PARSED),
        "chance": _mean(mc, CHANCE),
        "n_open": int((docs["kind"] != MULTIPLE_CHOICE).sum()),
    }
    for metric in metrics:
        summary[metric] = _mean(docs, metric)
    return estimate, summary


def _mean(docs: pd.DataFrame, metric: str) -> float:
    if metric not in docs:
        return math.nan
    values = docs[metric].dropna()
    return float(values.mean()) if len(values) else math.nan


def _leaderboard_row(
    run: Run, per_split: dict[str, tuple[Estimate, dict[str, float]]], metrics: Sequence[str], confidence: float
) -> dict[str, object]:
    row: dict[str, object] = {"model": run.label}
    for split in SPLITS:
        estimate = per_split[split.task][0] if split.task in per_split else NO_ESTIMATE
        _put_estimate(row, SPLIT_KEYS[split.task], estimate)
    for key, _title, tasks in MEANS:
        if all(task in per_split for task in tasks):
            estimate = macro_mean_estimate([per_split[task][0] for task in tasks], confidence)
        else:
            estimate = NO_ESTIMATE
        _put_estimate(row, key, estimate)
    if all(split.task in per_split for split in SPLITS):
        mc = run.docs[(run.docs["kind"] == MULTIPLE_CHOICE) & run.docs[ACCURACY].notna()] if ACCURACY in run.docs else run.docs.iloc[0:0]
        micro = proportion_estimate(mc[ACCURACY].to_numpy(), mc["cluster"].tolist(), confidence)
    else:
        micro = NO_ESTIMATE
    _put_estimate(row, MICRO_KEY, micro)
    summaries = [summary for _, summary in per_split.values()]
    for column in ("parsed", "chance", *metrics):
        values = [s[column] for s in summaries if not math.isnan(s[column])]
        row[column] = float(np.mean(values)) if values else math.nan  # macro over the splits that have it
    row["n_mc"] = sum(int(s["n_mc"]) for s in summaries)
    row["n_open"] = sum(int(s["n_open"]) for s in summaries)
    row["limit"] = run.limit if run.limit is not None else math.nan
    row["results_file"] = str(run.results_file)
    return row


def _coverage(docs: pd.DataFrame) -> dict[str, float]:
    """Items evaluated, items in the split and their ratio, from the documents' records (NaN if unknown)."""
    unknown = {EVALUATED: math.nan, TOTAL: math.nan, COVERAGE: math.nan}
    if docs.empty or EVALUATED not in docs or docs[EVALUATED].isna().any() or docs[TOTAL].isna().any():
        return unknown
    evaluated, total = int(docs[EVALUATED].max()), int(docs[TOTAL].max())
    return {EVALUATED: evaluated, TOTAL: total, COVERAGE: evaluated / total if total else math.nan}


def _overall_coverage(coverage: dict[str, dict[str, float]]) -> dict[str, float]:
    """Items evaluated and in total over the splits whose counts are known, and their ratio."""
    known = [counts for counts in coverage.values() if not math.isnan(counts[COVERAGE])]
    if not known:
        return {EVALUATED: math.nan, TOTAL: math.nan, COVERAGE: math.nan}
    evaluated, total = sum(int(c[EVALUATED]) for c in known), sum(int(c[TOTAL]) for c in known)
    return {EVALUATED: evaluated, TOTAL: total, COVERAGE: evaluated / total}


def _coverage_notes(run: Run, coverage: dict[str, dict[str, float]]) -> list[str]:
    partial = [
        f"{SPLIT_TITLES[task]} {int(c[EVALUATED])} of {int(c[TOTAL])} items ({100 * c[COVERAGE]:.{DECIMALS}f}%)"
        for task, c in coverage.items()
        if not math.isnan(c[COVERAGE]) and c[EVALUATED] < c[TOTAL]
    ]
    if not partial:
        return []
    note = (
        f"{run.label}: partial coverage: {', '.join(partial)}; the other items were left out because images were "
        "missing (MEDMIM_ON_MISSING=skip): these are not full-benchmark numbers."
    )
    return [note]


def has_partial_coverage(report: Report) -> bool:
    """Whether some run evaluated only part of a split's items."""
    splits = report.splits
    return bool(EVALUATED in splits and (splits[EVALUATED] < splits[TOTAL]).any())


def _put_estimate(row: dict[str, object], key: str, estimate: Estimate) -> None:
    row[key] = estimate.value
    row[f"{key}_ci_low"] = estimate.low
    row[f"{key}_ci_high"] = estimate.high


def _breakdown_rows(run: Run, metrics: Sequence[str], confidence: float) -> list[dict[str, object]]:
    rows: list[dict[str, object]] = []
    for breakdown, column, mc_only in BREAKDOWNS:
        docs = run.docs[run.docs["kind"] == MULTIPLE_CHOICE] if mc_only else run.docs
        for value, group in sorted(docs.groupby(column), key=lambda pair: _sort_key(pair[0])):
            _, summary = _summary(group, metrics, confidence)
            rows.append({"model": run.label, "breakdown": breakdown, "group": str(value), **summary})
    return rows


def _sort_key(value: object) -> tuple[int, float, str]:
    if isinstance(value, (int, float, np.integer, np.floating)):
        return (0, float(value), "")
    return (1, 0.0, str(value))


def _notes(run: Run, per_split: dict[str, tuple[Estimate, dict[str, float]]]) -> list[str]:
    notes: list[str] = []
    if run.limit is not None:
        notes.append(
            f"{run.label}: run with --limit {run.limit:g}: only the first documents of each split were scored; "
            "these are not full-benchmark numbers."
        )
    missing = [SPLIT_TITLES[s.task] for s in SPLITS if s.task not in per_split]
    if missing:
        notes.append(f"{run.label}: no results for {', '.join(missing)}; the means that need them are left blank.")
    no_mc = [SPLIT_TITLES[task] for task, (estimate, _) in per_split.items() if estimate.n == 0]
    if no_mc:
        notes.append(f"{run.label}: no multiple-choice documents in {', '.join(no_mc)}; its accuracy and the means that need it are blank.")
    return notes


def _rounded(frame: pd.DataFrame, scale: dict[str, bool]) -> pd.DataFrame:
    """Fractions become percentages with one decimal; counts stay integers."""
    frame = frame.copy()
    for column in frame.columns:
        base = _base_metric(column)
        if base is None:
            continue
        as_percent = scale.get(base, True)
        values = frame[column].astype(float)
        frame[column] = (values * 100 if as_percent else values).round(DECIMALS)
    return frame


def _base_metric(column: str) -> str | None:
    """The metric a numeric column holds (for scaling), or None for counts and text."""
    if column in ("model", "split", "task", "breakdown", "group", "results_file", "limit", "n_mc", "n_open", EVALUATED, TOTAL, bias.NEAR_BASELINE):
        return None
    for suffix in ("_ci_low", "_ci_high"):
        if column.endswith(suffix):
            return ACCURACY
    if column in ("accuracy", "ci_low", "ci_high") or column in {key for key, _ in ACCURACY_COLUMNS}:
        return ACCURACY
    if column == "parsed":
        return PARSED
    if column == "chance":
        return CHANCE
    return column


# ----------------------------------------------------------------------------- text outputs


def fmt(value: object) -> str:
    """A rounded number as shown everywhere: one decimal, blank when missing."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    return f"{float(value):.{DECIMALS}f}"


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
    shown = pd.DataFrame({"Model": board["model"]})
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
    return shown


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
    return shown


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
