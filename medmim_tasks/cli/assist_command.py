"""`medmim assist RUN_DIR...`: ask a chat model for the multiple-choice letters the rules left undecided, after the run."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from medmim_tasks.cli.after_run import score_each_run
from medmim_tasks.cli.arguments import positive_int
from medmim_tasks.scoring.assisted import MODEL_VARIABLE, URL_VARIABLE, AssistError, assist_config
from medmim_tasks.scoring.assisted_run import AssistedRun, assist_run

DOCS_PAGE = "docs/scoring.md"
FAILURE_NOTE = (
    " (its replies and rules-only mc_acc stand); the letters obtained so far are cached, so running "
    "`medmim assist` again asks only for the rest."
)


def run(args: argparse.Namespace) -> int:
    try:
        config = assist_config()
        if config is None:
            raise AssistError(
                f"the assisted fallback is not configured: set {URL_VARIABLE} (an OpenAI-compatible API, "
                f"e.g. http://localhost:8000/v1) and {MODEL_VARIABLE} (see {DOCS_PAGE})."
            )
    except AssistError as error:
        print(f"medmim assist: error: {error}", file=sys.stderr)
        return 2
    assist = partial(assist_run, config=config, workers=args.workers)
    done = f"Assisted by {config.model} at {config.url}; see them with: medmim report {' '.join(args.runs)}"
    return score_each_run("assist", args.runs, assist, AssistError, FAILURE_NOTE, _summarise, done)


def _summarise(results_file: Path, assisted: AssistedRun) -> None:
    for task, count in assisted.documents.items():
        accuracy = f", mc_assisted_acc {assisted.means[task]:.3f}" if task in assisted.means else ""
        print(
            f"{results_file.name} {task}: {count} multiple-choice documents, {assisted.asked[task]} undecided "
            f"by the rules asked, {assisted.decided[task]} decided by the model{accuracy}"
        )


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
