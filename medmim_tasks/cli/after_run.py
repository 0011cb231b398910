"""What `medmim judge` and `medmim assist` share: find the runs, add scores to each, say what failed and how to go on."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

from medmim_tasks.benchmark.items import BenchmarkFormatError
from medmim_tasks.results.run_files import RunFormatError, find_results_files
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder

Outcome = TypeVar("Outcome")


def score_each_run(
    command: str,
    runs: Sequence[str],
    score: Callable[[Path], Outcome],
    service_error: type[Exception],
    failure_note: str,
    summarise: Callable[[Path, Outcome], None],
    done: str,
) -> int:
    """`score` every results file under `runs`, `summarise` each; 2 for bad runs, 1 when the service fails for good.

    `failure_note` follows "Nothing of this run was changed" when the service fails; `done` ends a success.
    """
    try:
        results_files = find_results_files(list(runs))
    except RunFormatError as error:
        print(f"medmim {command}: error: {error}", file=sys.stderr)
        return 2
    for results_file in results_files:
        try:
            # the scores are written into the run: its folder must be writable before any is asked for
            writable_folder(results_file.parent, f"the run folder given to `medmim {command}`")
            outcome = score(results_file)
        except (RunFormatError, BenchmarkFormatError, OutputFolderError) as error:
            print(f"medmim {command}: error: {error}", file=sys.stderr)
            return 2
        except service_error as error:
            print(
                f"medmim {command}: error on {results_file}: {error}\nNothing of this run was changed{failure_note}",
                file=sys.stderr,
            )
            return 1
        summarise(results_file, outcome)
    print(done)
    return 0
