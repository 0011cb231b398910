"""The `medmim` command: one sub-command per job, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# (sub-command module, relative to this package); each module defines
# `add_parser(subparsers) -> None` and sets `func` on its parser.
COMMAND_MODULES: tuple[str, ...] = (
    "medmim_tasks.commands.tasks_path",
    "medmim_tasks.commands.data",
    "medmim_tasks.commands.check",
    "medmim_tasks.commands.demo",
    "medmim_tasks.commands.sweep",
    "medmim_tasks.commands.report",
    "medmim_tasks.commands.compare",
    "medmim_tasks.commands.judge",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="medmim", description="Med-MIM benchmark tools for lmms-eval.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
