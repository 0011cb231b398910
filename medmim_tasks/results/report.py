"""Leaderboard, per-split table and breakdowns of one or more Med-MIM runs.

Everything is computed once, from the per-document samples, into three tables of numbers
already rounded for display (percentages with one decimal); the Markdown, CSV, chart and HTML
outputs are all drawn from those tables, so every output shows the same numbers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results import letter_bias as bias
from medmim_tasks.results.circular_report import circular_notes, circular_overall, circular_summary
from medmim_tasks.results.runs import COVERAGE_COLUMNS, Run
from medmim_tasks.results.statistics import (
    CONFIDENCE,
    NO_ESTIMATE,
    Estimate,
    macro_mean_estimate,
    proportion_estimate,
)

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
            split_rows.append({"model": run.label, "split": SPLIT_TITLES[task], "task": task, **summary, **coverage[task], **circular_summary(docs, confidence)})
        letters = bias.letter_bias_rows(run.label, run.docs, {t: e for t, (e, _) in per_split.items()}, SPLIT_TITLES, DECIMALS)
        letter_rows.extend(letters)
        leaderboard_rows.append({**_leaderboard_row(run, per_split, metrics, confidence), **_overall_coverage(coverage), **circular_overall(run, confidence)})
        leaderboard_rows[-1][bias.NEAR_BASELINE] = bias.near_baseline_text(letters)
        breakdown_rows.extend(_breakdown_rows(run, metrics, confidence))
        notes.extend(_notes(run, per_split))
        notes.extend(_coverage_notes(run, coverage))
        notes.extend(circular_notes(run))
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
    row: dict[str, object] = {"model": run.label, "framework": run.framework}
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
    if column in ("model", "framework", "split", "task", "breakdown", "group", "results_file", "limit", "n_mc", "n_open", EVALUATED, TOTAL, bias.NEAR_BASELINE):
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
