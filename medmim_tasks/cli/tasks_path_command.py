"""`medmim tasks-path`: print the folder of the installed task YAMLs."""

from __future__ import annotations

import argparse
from typing import Any

from medmim_tasks.task.task_path import FRAMEWORK_TASK_PACKAGES, LMMS_EVAL, tasks_path


def run(args: argparse.Namespace) -> int:
    print(tasks_path(args.framework))
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tasks-path",
        help="print the Med-MIM task folder (for lmms-eval's or lm-eval's --include_path)",
        description='Print the installed task YAML folder: lmms-eval --include_path "$(medmim tasks-path)" --tasks med_mim; '
        'lm_eval --include_path "$(medmim tasks-path --framework lm-eval)" --tasks med_mim',
    )
    parser.add_argument(
        "--framework",
        choices=sorted(FRAMEWORK_TASK_PACKAGES),
        default=LMMS_EVAL,
        help="whose task YAMLs: lmms-eval's (default) or lm-evaluation-harness's",
    )
    parser.set_defaults(func=run)
