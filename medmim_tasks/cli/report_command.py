"""`medmim report RUN_DIR...`: leaderboard (Markdown, CSV), breakdowns, chart and an HTML page."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from medmim_tasks.cli.arguments import fraction
from medmim_tasks.results.report import Report, build_report
from medmim_tasks.results.report_text import leaderboard_markdown, markdown_report, method_text, write_csv_files
from medmim_tasks.results.runs import RunFormatError, load_runs
from medmim_tasks.results.statistics import CONFIDENCE
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder

DEFAULT_OUTPUT = "medmim-report"
CHART_NAME = "accuracy.png"


def write_report_files(report: Report, folder: Path) -> dict[str, Path]:
    """Every output of a report in one folder: leaderboard.md, report.md, the CSV tables, accuracy.png, report.html."""
    from medmim_tasks.results.chart import accuracy_chart_png
    from medmim_tasks.results.html import render_html

    folder.mkdir(parents=True, exist_ok=True)
    files = write_csv_files(report, folder)
    chart = accuracy_chart_png(report)
    files["chart"] = folder / CHART_NAME
    files["chart"].write_bytes(chart)
    files["leaderboard_md"] = folder / "leaderboard.md"
    notes = "".join(f"\n- {note}" for note in report.notes)
    files["leaderboard_md"].write_text(
        f"{leaderboard_markdown(report)}\n\n{method_text(report)}\n" + (f"\nNotes:\n{notes}\n" if notes else ""), encoding="utf-8"
    )
    files["markdown"] = folder / "report.md"
    files["markdown"].write_text(markdown_report(report, chart_file=CHART_NAME), encoding="utf-8")
    files["html"] = folder / "report.html"
    files["html"].write_text(render_html(report, chart), encoding="utf-8")
    return files


def run(args: argparse.Namespace) -> int:
    try:
        output = writable_folder(Path(args.output), "-o/--output")  # before reading the runs
        runs = load_runs(args.runs)
    except (RunFormatError, OutputFolderError) as error:
        print(f"medmim report: error: {error}", file=sys.stderr)
        return 2
    report = build_report(runs, confidence=args.confidence)
    files = write_report_files(report, output)
    print(leaderboard_markdown(report))
    print()
    for note in report.notes:
        print(f"note: {note}")
    print(f"MC accuracy in %, with {report.confidence:.0%} intervals; details: {files['markdown']}")
    for name in ("leaderboard_md", "markdown", "html", "chart", "leaderboard", "splits", "breakdowns", "letter_bias"):
        print(f"  {files[name]}")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="leaderboard, breakdowns, chart and HTML page from lmms-eval runs",
        description=(
            "Read lmms-eval results and sample files (runs made with --log_samples, swept or not) and write a "
            "leaderboard (Markdown to stdout and a file, CSV), per-split, letter-bias and breakdown tables, a chart and one "
            "self-contained HTML page."
        ),
    )
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run folders (searched recursively) or *_results.json files")
    parser.add_argument("-o", "--output", default=DEFAULT_OUTPUT, help=f"folder for the report files (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--confidence", type=fraction, default=CONFIDENCE, help="interval level (default: 0.95)")
    parser.set_defaults(func=run)
