"""`medmim tasks-path`: print the folder of the installed task YAMLs."""

from __future__ import annotations

import argparse
from typing import Any

from medmim_tasks.task.task_path import tasks_path


def run(args: argparse.Namespace) -> int:
    print(tasks_path())
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "tasks-path",
        help="print the Med-MIM task folder (for lmms-eval --include_path)",
        description='Print the installed task YAML folder: lmms-eval --include_path "$(medmim tasks-path)" --tasks med_mim',
    )
    parser.set_defaults(func=run)
