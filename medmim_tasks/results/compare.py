"""Paired comparison of two runs, and a check of one run against numbers typed from a paper.

Two runs are paired on the documents both answered (matched by document key). Per split,
multiple-choice accuracy is compared with an exact McNemar test and each open-ended metric with a
paired bootstrap (fixed seed, so the same runs always give the same p-values).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.benchmark.splits import GROUPS, SPLITS
from medmim_tasks.results.circular_compare import circular_comparison_rows
from medmim_tasks.results.report import (
    ACCURACY,
    ACCURACY_COLUMNS,
    MEANS,
    MICRO_KEY,
    Report,
    build_report,
)
from medmim_tasks.results.report_text import fmt
from medmim_tasks.results.runs import METRIC_PREFIXES, Run
from medmim_tasks.results.statistics import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    CONFIDENCE,
    mcnemar_exact,
    paired_bootstrap,
)

ALPHA = 0.05
POOLED = "All splits (pooled)"


class ComparisonError(ValueError):
    """Runs or a reference table that cannot be compared; the message says why and what to do."""


@dataclass(frozen=True)
class Comparison:
    """One row per split and metric, the plain-words verdicts, and what was left out of the pairing."""

    label_a: str
    label_b: str
    rows: pd.DataFrame
    sentences: tuple[str, ...]
    notes: tuple[str, ...]


def compare_runs(
    run_a: Run,
    run_b: Run,
    alpha: float = ALPHA,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Comparison:
    """Paired tests per split: exact McNemar for MC accuracy, paired bootstrap for the open-ended metrics."""
    label_a, label_b = _labels(run_a, run_b)
    paired = _pair(run_a, run_b)
    notes = _unpaired_notes(run_a, run_b, paired)
    open_metrics = [m for m in run_a.metrics if m.startswith("open_") and m in run_b.metrics]
    percent = {metric: _is_fraction(run_a, run_b, metric) for metric in open_metrics}
    rows: list[dict[str, object]] = []
    groups: list[tuple[str, pd.DataFrame]] = [
        (split.alias, paired[paired["task"] == split.task]) for split in SPLITS if split.task in set(paired["task"])
    ]
    if len(groups) > 1:
        groups.append((POOLED, paired))
    for name, docs in groups:
        if f"{ACCURACY}_a" in docs:
            mc = docs[(docs["kind"] == MULTIPLE_CHOICE) & docs[f"{ACCURACY}_a"].notna() & docs[f"{ACCURACY}_b"].notna()]
        else:
            mc = docs.iloc[0:0]
        if len(mc):
            a, b = mc[f"{ACCURACY}_a"].to_numpy(), mc[f"{ACCURACY}_b"].to_numpy()
            test = mcnemar_exact(a == 1, b == 1)
            interval = paired_bootstrap(a, b, resamples, seed, confidence)
            rows.append(
                _row(name, ACCURACY, True, len(mc), a.mean(), b.mean(), interval.low, interval.high, test.p_value,
                     f"exact McNemar ({test.only_a_right} vs {test.only_b_right} discordant)", alpha)
            )  # fmt: skip
        if name == POOLED:
            continue  # open metrics are compared per split only
        for metric in open_metrics:
            both = docs[docs[f"{metric}_a"].notna() & docs[f"{metric}_b"].notna()]
            if len(both):
                a, b = both[f"{metric}_a"].to_numpy(), both[f"{metric}_b"].to_numpy()
                result = paired_bootstrap(a, b, resamples, seed, confidence)
                rows.append(
                    _row(name, metric, percent[metric], len(both), a.mean(), b.mean(), result.low, result.high, result.p_value,
                         f"paired bootstrap ({resamples} resamples, seed {seed})", alpha)
                )  # fmt: skip
    rows.extend(circular_comparison_rows(run_a, run_b, alpha, resamples, seed, confidence))  # item-level, circular runs only
    table = pd.DataFrame(rows)
    return Comparison(label_a, label_b, table, tuple(_sentences(table, label_a, label_b, alpha)), tuple(notes))


def _labels(run_a: Run, run_b: Run) -> tuple[str, str]:
    if run_a.label != run_b.label:
        return run_a.label, run_b.label
    return f"A ({run_a.label}, {run_a.date})", f"B ({run_b.label}, {run_b.date})"


def _pair(run_a: Run, run_b: Run) -> pd.DataFrame:
    metrics_a = [c for c in run_a.docs.columns if c.startswith(METRIC_PREFIXES)]
    metrics_b = [c for c in run_b.docs.columns if c.startswith(METRIC_PREFIXES)]
    left = run_a.docs[["doc_key", "task", "kind", "gold", *metrics_a]]
    right = run_b.docs[["doc_key", "kind", "gold", *metrics_b]]
    paired = left.merge(right, on="doc_key", suffixes=("_a", "_b"), how="inner")
    if paired.empty:
        raise ComparisonError(
            f"{run_a.results_file} and {run_b.results_file} share no documents (matched by document key); "
            "compare runs of the same Med-MIM splits"
        )
    differs = paired[(paired["gold_a"] != paired["gold_b"]) | (paired["kind_a"] != paired["kind_b"])]
    if not differs.empty:
        key = differs["doc_key"].iloc[0]
        raise ComparisonError(
            f"document {key} has a different gold answer or kind in {run_a.results_file} and {run_b.results_file} "
            f"({len(differs)} documents differ): the runs used different benchmark files"
        )
    paired = paired.rename(columns={"kind_a": "kind"}).drop(columns=["kind_b", "gold_b"])
    # metrics of both runs are now <metric>_a and <metric>_b; one only one run has cannot be compared
    return paired.drop(columns=sorted(set(metrics_a) ^ set(metrics_b)))


def _unpaired_notes(run_a: Run, run_b: Run, paired: pd.DataFrame) -> list[str]:
    notes = []
    keys = set(paired["doc_key"])
    for split in SPLITS:
        only_a = int(((run_a.docs["task"] == split.task) & ~run_a.docs["doc_key"].isin(keys)).sum())
        only_b = int(((run_b.docs["task"] == split.task) & ~run_b.docs["doc_key"].isin(keys)).sum())
        if only_a or only_b:
            notes.append(
                f"{split.alias}: {only_a} documents only in A and {only_b} only in B are left out (paired on the documents both answered)."
            )
    return notes


def _row(
    split: str, metric: str, percent: bool, n: int, a: float, b: float, low: float, high: float, p_value: float,
    test: str, alpha: float,
) -> dict[str, object]:
    difference = float(a - b)
    if p_value < alpha and difference != 0:
        verdict = "A better" if difference > 0 else "B better"
    else:
        verdict = "no significant difference"
    return {
        "split": split, "metric": metric, "percent": percent, "n_paired": n, "a": float(a), "b": float(b), "difference": difference,
        "ci_low": float(low), "ci_high": float(high), "p_value": float(p_value), "test": test, "verdict": verdict,
    }  # fmt: skip


def _is_fraction(run_a: Run, run_b: Run, metric: str) -> bool:
    """Metrics whose per-document scores lie within [0, 1] are shown in percent (differences in points)."""
    values = pd.concat([run_a.docs[metric], run_b.docs[metric]]).dropna()
    return bool(((values >= 0) & (values <= 1)).all())


def _shown(value: float, percent: bool) -> str:
    return f"{100 * value:.1f}" if percent else f"{value:.1f}"


def format_p(p_value: float) -> str:
    """p-values with two significant digits; tiny ones in scientific notation."""
    if math.isnan(p_value):
        return ""
    return f"{p_value:.2g}" if p_value >= 1e-4 else f"{p_value:.1e}"


def _sentences(table: pd.DataFrame, label_a: str, label_b: str, alpha: float) -> list[str]:
    """One sentence per accuracy test and per significant open-ended test, then a summary."""
    sentences = []
    for row in table.itertuples(index=False):
        if row.metric != ACCURACY and row.verdict == "no significant difference":
            continue
        what = "accuracy" if row.metric == ACCURACY else row.metric
        unit = " points" if row.percent else ""
        numbers = f"{_shown(row.a, row.percent)} vs {_shown(row.b, row.percent)}, {row.n_paired} paired items, p = {format_p(row.p_value)}"
        if row.verdict == "A better":
            text = f"{label_a} has higher {what} than {label_b} by {_shown(row.difference, row.percent)}{unit} ({numbers})."
        elif row.verdict == "B better":
            text = f"{label_b} has higher {what} than {label_a} by {_shown(-row.difference, row.percent)}{unit} ({numbers})."
        else:
            text = f"no significant difference in {what} ({numbers})."
        sentences.append(f"{row.split}: {text}")
    quiet_open = table[(table["metric"] != ACCURACY) & (table["verdict"] == "no significant difference")] if len(table) else table
    if len(quiet_open):
        sentences.append(f"Open-ended metrics: no significant difference in the other {len(quiet_open)} tests.")
    split_rows = table[(table["split"] != POOLED)] if len(table) else table
    if len(split_rows):
        wins_a = int((split_rows["verdict"] == "A better").sum())
        wins_b = int((split_rows["verdict"] == "B better").sum())
        sentences.append(
            f"In short: {label_a} is significantly better in {wins_a} and {label_b} in {wins_b} of {len(split_rows)} "
            f"split-level tests at the {alpha:g} level (p-values per test, not corrected for multiple comparisons)."
        )
    return sentences


def comparison_display(comparison: Comparison) -> pd.DataFrame:
    """The comparison table as shown: fractions in percent with one decimal, differences in points."""
    table = comparison.rows
    if table.empty:
        return pd.DataFrame()
    shown = {
        column: [_shown(value, percent) for value, percent in zip(table[column], table["percent"])]
        for column in ("a", "b", "difference", "ci_low", "ci_high")
    }
    return pd.DataFrame(
        {
            "Split": table["split"],
            "Metric": [f"{m} %" if percent else m for m, percent in zip(table["metric"], table["percent"])],
            "Paired": table["n_paired"].astype(int).astype(str),
            "A": shown["a"],
            "B": shown["b"],
            "A − B": shown["difference"],
            "95% CI of A − B": [f"{lo} to {hi}" for lo, hi in zip(shown["ci_low"], shown["ci_high"])],
            "p": table["p_value"].map(format_p),
            "Test": table["test"],
            "Verdict": table["verdict"],
        }
    )


# ----------------------------------------------------------------------------- reference tables


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9()]+", " ", name.lower()).strip()


def _reference_keys() -> dict[str, str]:
    """Every accepted spelling of a split or mean, normalised, to its leaderboard column."""
    keys: dict[str, str] = {}
    for split, (key, title) in zip(SPLITS, ACCURACY_COLUMNS):
        for spelling in (split.task, split.alias, title, key, split.file_name.removesuffix(".json")):
            keys[_normalised(spelling)] = key
    group_of_mean = {"held_in": "med_mim_held_in", "held_out": "med_mim_held_out", "overall": "med_mim"}
    for key, title, _tasks in MEANS:
        group = group_of_mean[key]
        for spelling in (key, title, group, GROUPS[group], f"{title} mean", f"{title} (macro)"):
            keys[_normalised(spelling)] = key
    for spelling in (MICRO_KEY, "Overall (micro)", "micro", "overall micro mean"):
        keys[_normalised(spelling)] = MICRO_KEY
    return keys


def load_reference(path: Path) -> pd.DataFrame:
    """A table of published numbers: columns model, split, value (percent) and optionally metric."""
    try:
        table = pd.read_csv(path, dtype={"model": str, "split": str, "metric": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as error:
        raise ComparisonError(f"{path}: cannot read the reference table ({error})") from None
    except UnicodeDecodeError as error:
        raise ComparisonError(
            f"{path}: not UTF-8 text ({error.reason} at byte {error.start}); save the table as UTF-8 CSV "
            "(e.g. 'CSV UTF-8' in a spreadsheet program) and try again"
        ) from None
    table.columns = [str(c).strip().lower() for c in table.columns]
    missing = [c for c in ("model", "split", "value") if c not in table.columns]
    if missing:
        raise ComparisonError(f"{path}: missing column(s) {', '.join(missing)}; expected a CSV with model,split,value[,metric]")
    if "metric" not in table.columns:
        table["metric"] = ACCURACY
    table["metric"] = table["metric"].fillna(ACCURACY).str.strip()
    keys = _reference_keys()
    columns = []
    for line, (split, value) in enumerate(zip(table["split"], table["value"]), start=2):
        key = keys.get(_normalised(str(split)))
        if key is None:
            raise ComparisonError(
                f"{path}, line {line}: unknown split {split!r}; use a task name (med_mim_held_in_temporal), "
                "its title (Temporal, ODIR, ...), Held-in, Held-out, Overall or Overall (micro)"
            )
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.isna(number) or not 0 <= float(number) <= 100:
            raise ComparisonError(f"{path}, line {line}: value {value!r} is not a percentage between 0 and 100")
        columns.append(key)
    table["column"] = columns
    table["value"] = pd.to_numeric(table["value"])
    table["model"] = table["model"].str.strip()
    return table


def check_reference(
    run: Run, reference: pd.DataFrame, model: str | None = None, tolerance: float | None = None, confidence: float = CONFIDENCE
) -> pd.DataFrame:
    """Each published number beside the run's: flagged when outside the run's interval (or the tolerance)."""
    models = list(dict.fromkeys(reference["model"]))
    if model is None:
        if len(models) == 1:
            model = models[0]
        elif run.label in models:
            model = run.label
        else:
            raise ComparisonError(f"the reference table has several models ({', '.join(models)}); choose one with --model")
    elif model not in models:
        raise ComparisonError(f"model {model!r} is not in the reference table (it has: {', '.join(models)})")
    report: Report = build_report([run], confidence=confidence)
    board = report.leaderboard.iloc[0]
    rows = []
    for entry in reference[reference["model"] == model].itertuples(index=False):
        metric, key = entry.metric, entry.column
        if metric == ACCURACY:
            value_column, low, high = key, board[f"{key}_ci_low"], board[f"{key}_ci_high"]
        elif metric in board.index and key == "overall":
            value_column, low, high = metric, math.nan, math.nan  # macro mean of a further metric
        else:
            raise ComparisonError(
                f"reference metric {metric!r} for {entry.split!r}: only mc_acc (any split or mean) and the overall "
                f"value of {', '.join(report.metrics) or 'the further metrics'} can be checked"
            )
        ours = board[value_column]
        if pd.isna(ours):
            raise ComparisonError(f"{run.label} has no {metric} for {entry.split!r} (split not run, or no items of that kind)")
        difference = round(float(entry.value) - float(ours), 1)
        if tolerance is not None:
            allowed = f"±{fmt(tolerance)} points"
            flagged = abs(difference) > tolerance + 1e-9
        elif not pd.isna(low):
            allowed = f"{fmt(low)}–{fmt(high)}"
            flagged = not (float(low) - 1e-9 <= float(entry.value) <= float(high) + 1e-9)
        else:
            raise ComparisonError(f"{metric} has no interval to use as the tolerance: give --tolerance POINTS")
        rows.append(
            {
                "model": model, "split": entry.split, "metric": metric, "reference": float(entry.value),
                "run": float(ours), "difference": difference, "allowed": allowed,
                "status": "DIFFERS" if flagged else "ok",
            }
        )  # fmt: skip
    if not rows:
        raise ComparisonError(f"no reference rows for model {model!r}")
    return pd.DataFrame(rows)


def reference_display(table: pd.DataFrame, confidence: float = CONFIDENCE) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "Split": table["split"],
            "Metric": table["metric"],
            "Reference": table["reference"].map(fmt),
            "This run": table["run"].map(fmt),
            "Ref − run": table["difference"].map(fmt),
            "Allowed": table["allowed"],
            "Status": table["status"],
        }
    )
