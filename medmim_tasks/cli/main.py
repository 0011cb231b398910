"""The `medmim` command: one sub-command per job, each defined in its own module."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from medmim_tasks import __version__

# (sub-command module, relative to this package); each module defines
# `add_parser(subparsers) -> None` and sets `func` on its parser.
COMMAND_MODULES: tuple[str, ...] = (
    "medmim_tasks.cli.tasks_path_command",
    "medmim_tasks.cli.data_command",
    "medmim_tasks.cli.check_command",
    "medmim_tasks.cli.demo_command",
    "medmim_tasks.cli.sweep_command",
    "medmim_tasks.cli.report_command",
    "medmim_tasks.cli.compare_command",
    "medmim_tasks.cli.judge_command",
    "medmim_tasks.cli.assist_command",
    "medmim_tasks.cli.browse_command",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="medmim",
        description="Med-MIM benchmark tools for lmms-eval.",
        epilog="Start with `medmim demo` (no data, no GPU needed). `medmim COMMAND --help` describes a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).add_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one sub-command; with none, print the help (exit status 0: asking for help is no error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
