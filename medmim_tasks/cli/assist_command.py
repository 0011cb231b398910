"""`medmim assist RUN_DIR...`: ask a chat model for the multiple-choice letters the rules left undecided, after the run."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from medmim_tasks.benchmark.items import BenchmarkFormatError
from medmim_tasks.cli.arguments import positive_int
from medmim_tasks.results.run_files import RunFormatError, find_results_files
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder
from medmim_tasks.scoring.assisted import MODEL_VARIABLE, URL_VARIABLE, AssistError, assist_config
from medmim_tasks.scoring.assisted_run import assist_run

DOCS_PAGE = "docs/scoring.md"


def run(args: argparse.Namespace) -> int:
    try:
        config = assist_config()
        if config is None:
            raise AssistError(
                f"the assisted fallback is not configured: set {URL_VARIABLE} (an OpenAI-compatible API, "
                f"e.g. http://localhost:8000/v1) and {MODEL_VARIABLE} (see {DOCS_PAGE})."
            )
        results_files = find_results_files(args.runs)
    except (AssistError, RunFormatError) as error:
        print(f"medmim assist: error: {error}", file=sys.stderr)
        return 2
    for results_file in results_files:
        try:
            # the letters are written into the run: its folder must be writable before any is asked for
            writable_folder(results_file.parent, "the run folder given to `medmim assist`")
            assisted = assist_run(results_file, config, workers=args.workers)
        except (RunFormatError, BenchmarkFormatError, OutputFolderError) as error:
            print(f"medmim assist: error: {error}", file=sys.stderr)
            return 2
        except AssistError as error:
            print(
                f"medmim assist: error while assisting {results_file}: {error}\n"
                "Nothing of this run was changed (its replies and rules-only mc_acc stand); the letters obtained "
                "so far are cached, so running `medmim assist` again asks only for the rest.",
                file=sys.stderr,
            )
            return 1
        for task, count in assisted.documents.items():
            accuracy = f", mc_assisted_acc {assisted.accuracy[task]:.3f}" if task in assisted.accuracy else ""
            print(
                f"{results_file.name} {task}: {count} multiple-choice documents, {assisted.asked[task]} undecided "
                f"by the rules asked, {assisted.decided[task]} decided by the model{accuracy}"
            )
    print(f"Assisted by {config.model} at {config.url}; see them with: medmim report {' '.join(args.runs)}")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "assist",
        help="ask a chat model for the multiple-choice letters the rules left undecided (after the run)",
        description=(
            "For finished lmms-eval runs (their results and --log_samples files), send every multiple-choice "
            "reply the letter rules left undecided, with its options and nothing else, to an OpenAI-compatible "
            "endpoint and add mc_assisted_acc (the rules' letter, else the model's) and mc_assisted_share (the "
            "share of documents the model decided) to the run; mc_acc stays rules-only. Configured by "
            f"{URL_VARIABLE}, {MODEL_VARIABLE} and the other MEDMIM_ASSIST_* variables. Answers are cached, "
            "so assisting again asks nothing twice."
        ),
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folder (searched recursively) or <date>_results.json")
    parser.add_argument(
        "--workers", type=positive_int, default=4, metavar="N", help="requests to the endpoint at once (default 4)"
    )
    parser.set_defaults(func=run)
