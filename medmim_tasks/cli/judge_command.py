"""`medmim judge RUN_DIR...`: judge a finished run's open-ended replies with the LLM judge, after the run."""

from __future__ import annotations

import argparse
import sys
from functools import partial
from pathlib import Path
from typing import Any

from medmim_tasks.cli.after_run import score_each_run
from medmim_tasks.cli.arguments import positive_int
from medmim_tasks.scoring.judge import MODEL_VARIABLE, URL_VARIABLE, JudgeError, judge_config
from medmim_tasks.scoring.judge_run import JudgedRun, judge_run

DOCS_PAGE = "docs/reliability.md"
FAILURE_NOTE = "; the verdicts obtained so far are cached, so running `medmim judge` again asks only for the rest."


def run(args: argparse.Namespace) -> int:
    try:
        config = judge_config()
    except JudgeError as error:
        print(f"medmim judge: error: {error}", file=sys.stderr)
        return 2
    if config is None:
        print(
            f"medmim judge: error: the judge is not configured: set {URL_VARIABLE} (an OpenAI-compatible API, "
            f"e.g. http://localhost:8000/v1) and {MODEL_VARIABLE} (see {DOCS_PAGE}).",
            file=sys.stderr,
        )
        return 2
    done = f"Judged by {config.model} at {config.url}; see them with: medmim report {' '.join(args.runs)}"
    judge = partial(judge_run, config=config, workers=args.workers)
    return score_each_run("judge", args.runs, judge, JudgeError, FAILURE_NOTE, _summarise, done)


def _summarise(results_file: Path, judged: JudgedRun) -> None:
    for task, count in judged.documents.items():
        mean = f", {judged.means[task]:.3f} on average" if task in judged.means else ""
        print(f"{results_file.name} {task}: {count} open-ended documents judged{mean}")


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "judge",
        help="judge a finished run's open-ended replies with the LLM judge (after the run)",
        description=(
            "Judge every open-ended document of finished lmms-eval runs (their results and --log_samples "
            "files) with the LLM judge, exactly as the in-run judge would, and add the verdicts to the run "
            f"as the metric open_judge (samples and results files, rewritten atomically). Configured by "
            f"{URL_VARIABLE}, {MODEL_VARIABLE} and the other MEDMIM_JUDGE_* variables. Recommended over "
            "judging during the run: a judge that fails then cannot cost the generated replies. "
            "Verdicts are cached, so judging again asks nothing twice."
        ),
    )
    parser.add_argument("runs", nargs="+", metavar="RUN", help="run folder (searched recursively) or <date>_results.json")
    parser.add_argument(
        "--workers", type=positive_int, default=4, metavar="N", help="requests to the judge at once (default 4)"
    )
    parser.set_defaults(func=run)
