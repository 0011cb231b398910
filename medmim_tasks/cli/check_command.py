"""`medmim check`: what of the Med-MIM data is here, what is missing, and how to fix it."""

from __future__ import annotations

import argparse
import json
import os
import sys
from dataclasses import asdict
from typing import Any

from medmim_tasks.benchmark.check import check_data
from medmim_tasks.benchmark.check_text import format_report
from medmim_tasks.benchmark.option_twins import format_gold_twins, gold_twins_by_split


def run(args: argparse.Namespace) -> int:
    report = check_data(decode=args.decode, jobs=args.jobs)
    twins = gold_twins_by_split(os.environ)  # items listing the gold text twice (informational, not a problem)
    if args.json:
        data = report.to_json()
        data["gold_twins"] = {task: [asdict(twin) for twin in found] for task, (_, found) in twins.items()}
        json.dump(data, sys.stdout, indent=2)
        sys.stdout.write("\n")
    else:
        body, verdict = format_report(report).rsplit("\n\n", 1)
        print("\n".join([body, *format_gold_twins(twins), "", verdict]))  # the verdict stays last
    return 0 if report.ok else 1


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check",
        help="report which benchmark files and images are present, missing or unreadable, with fixes",
        description=(
            "Check the six benchmark files (present, SHA-256 as pinned, valid) and every image they reference, "
            "per split and per source dataset, and say how to fix each problem. Exit status 1 when anything "
            "is missing, unreadable or differs from upstream."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON (for scripts)")
    parser.add_argument("--decode", action="store_true", help="open every image: formats, modes, sizes, unreadable files")
    parser.add_argument("--jobs", type=int, default=None, metavar="N", help="decoding threads (default: CPUs, at most 8)")
    parser.set_defaults(func=run)
