"""`medmim compare RUN_A RUN_B` (paired tests) and `medmim compare RUN --reference TABLE.csv` (reproduction)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medmim_tasks.cli.arguments import fraction, non_negative, positive_int
from medmim_tasks.results.circular_compare import paired_variants
from medmim_tasks.results.compare import (
    ALPHA,
    ComparisonError,
    check_reference,
    compare_runs,
    comparison_display,
    load_reference,
    reference_display,
)
from medmim_tasks.results.runs import Run, RunFormatError, load_runs
from medmim_tasks.results.statistics import BOOTSTRAP_RESAMPLES, BOOTSTRAP_SEED
from medmim_tasks.results.tables import markdown_table


def _one_run(path: str) -> list[Run]:
    """The run of one results file (two when it holds plain and circular tasks: docs/circular.md)."""
    runs = load_runs([path])
    if len({run.results_file for run in runs}) != 1:
        found = "\n  ".join(str(run.results_file) for run in runs)
        raise ComparisonError(f"{path} holds {len(runs)} runs; name one of them (its folder or results file):\n  {found}")
    return runs


def run(args: argparse.Namespace) -> int:
    try:
        if (args.run_b is None) == (args.reference is None):
            raise ComparisonError("give either a second run (RUN_B) or --reference TABLE.csv")
        runs_a = _one_run(args.run_a)
        if args.reference is not None:
            return _check_reference(runs_a[0], args)
        return max(_compare(run_a, run_b, args) for run_a, run_b in paired_variants(runs_a, _one_run(args.run_b)))
    except (ComparisonError, RunFormatError) as error:
        print(f"medmim compare: error: {error}", file=sys.stderr)
        return 2


def _compare(run_a: Run, run_b: Run, args: argparse.Namespace) -> int:
    comparison = compare_runs(run_a, run_b, alpha=args.alpha, resamples=args.resamples, seed=args.seed)
    print(f"A: {comparison.label_a}  [{run_a.framework}]  ({run_a.results_file})")
    print(f"B: {comparison.label_b}  [{run_b.framework}]  ({run_b.results_file})")
    print()
    print(markdown_table(comparison_display(comparison)))
    print()
    for sentence in comparison.sentences:
        print(f"- {sentence}")
    for note in comparison.notes:
        print(f"note: {note}")
    if args.csv:
        comparison.rows.to_csv(args.csv, index=False)
        print(f"table: {args.csv}")
    return 0


def _check_reference(run_a: Run, args: argparse.Namespace) -> int:
    reference = load_reference(Path(args.reference))
    table = check_reference(run_a, reference, model=args.model, tolerance=args.tolerance)
    print(f"run: {run_a.label}  [{run_a.framework}]  ({run_a.results_file})")
    print(f"reference: {args.reference}, model {table['model'].iloc[0]}")
    if run_a.limit is not None:
        print(f"note: this run used --limit {run_a.limit:g}; published numbers are for whole splits")
    print()
    print(markdown_table(reference_display(table)))
    print()
    flagged = int((table["status"] == "DIFFERS").sum())
    rule = f"more than {args.tolerance:g} points apart" if args.tolerance is not None else "outside the run's 95% interval"
    if flagged:
        print(f"{flagged} of {len(table)} reference numbers are {rule}: not reproduced.")
    else:
        print(f"All {len(table)} reference numbers are within tolerance: reproduced.")
    if args.csv:
        table.to_csv(args.csv, index=False)
        print(f"table: {args.csv}")
    return 1 if flagged else 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "compare",
        help="paired comparison of two runs, or one run against published numbers",
        description=(
            "RUN_A RUN_B: per split, the accuracy difference on the documents both runs answered, an exact McNemar "
            "test for multiple choice and a paired bootstrap for the open-ended metrics, with plain-words verdicts. "
            "RUN --reference TABLE.csv: compare a run with numbers typed from a paper (columns model,split,value in "
            "percent, optional metric) and flag differences beyond the run's 95% interval or --tolerance; exits 1 "
            "when any differs."
        ),
    )
    parser.add_argument("run_a", metavar="RUN_A", help="run folder or *_results.json")
    parser.add_argument("run_b", metavar="RUN_B", nargs="?", help="second run folder or *_results.json")
    parser.add_argument("--reference", metavar="TABLE.csv", help="published numbers to check RUN_A against")
    parser.add_argument("--model", help="which model of the reference table (default: its only one, or RUN_A's label)")
    parser.add_argument("--tolerance", type=non_negative, metavar="POINTS", help="allowed difference in points (default: the run's 95%% interval)")
    parser.add_argument("--alpha", type=fraction, default=ALPHA, help=f"significance level of the verdicts (default: {ALPHA})")
    parser.add_argument("--resamples", type=positive_int, default=BOOTSTRAP_RESAMPLES, help=f"bootstrap resamples (default: {BOOTSTRAP_RESAMPLES})")
    parser.add_argument("--seed", type=int, default=BOOTSTRAP_SEED, help=f"bootstrap seed (default: {BOOTSTRAP_SEED})")
    parser.add_argument("--csv", metavar="FILE", help="also write the table as CSV")
    parser.set_defaults(func=run)
