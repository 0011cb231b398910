"""lmms-eval glue: make `--tasks med_mim` work without `--include_path`, and fail early on missing data.

lmms-eval 0.7.x finds tasks outside its own folder only through `--include_path`, but it loads
the `lmms_eval.models` entry-point group before it builds its TaskManager. Our entry point
registers no model; it wraps `TaskManager.initialize_tasks` so that our YAML folder is always
searched. The wrap is guarded: if lmms-eval changes shape, it warns and changes nothing, and
`--include_path "$(medmim tasks-path)"` keeps working.

It also wraps `TaskManager.match_tasks`, which lmms-eval's CLI calls with the `--tasks` names
before it loads the model: the Med-MIM splits among them are built there once, and missing or bad
data stops the run with `DataNotReady`. lmms-eval itself would load the model first, then retry
the failing dataset load five times (tenacity retries any `Exception`), print the traceback of a
`RetryError`, skip every task of the run and exit 0. `DataNotReady` is a `SystemExit`: tenacity
does not retry it, the CLI's `except Exception` does not catch it, and Python prints its message
(what is missing, which variable, the fix) as the last lines and exits with status 1.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import sys
import warnings
from collections.abc import Iterable, Mapping
from typing import Any

from medmim_tasks.benchmark.circular_splits import plain_name
from medmim_tasks.benchmark.splits import SPLITS, Split

_MARK = "_medmim_tasks_include"
_CHECK_MARK = "_medmim_tasks_check"
TOP_GROUP = "med_mim"  # the group of all six splits (yaml_tasks/med_mim.yaml)


class DataNotReady(SystemExit):
    """The benchmark files or images of a selected Med-MIM task are missing or bad.

    A `SystemExit`, so that lmms-eval neither retries it nor turns it into a traceback and exit 0.
    """


def _as_list(include_path: Any) -> list[str]:
    if include_path is None:
        return []
    if isinstance(include_path, (str, os.PathLike)):
        return [os.fspath(include_path)]
    return [os.fspath(path) for path in include_path]


def _same_folder(a: str, b: str) -> bool:
    return os.path.realpath(a) == os.path.realpath(b)


def add_tasks_to_task_manager() -> bool:
    """Wrap lmms-eval's TaskManager so it also indexes our tasks; True when the wrap is in place."""
    from lmms_eval.tasks import TaskManager

    from medmim_tasks.task.task_path import tasks_path

    original = TaskManager.initialize_tasks
    if getattr(original, _MARK, False):
        return True
    parameters = inspect.signature(original).parameters
    if "include_path" not in parameters:
        warnings.warn(
            "medmim-tasks: this lmms-eval's TaskManager.initialize_tasks has no include_path; "
            'use `lmms-eval --include_path "$(medmim tasks-path)"` to find the Med-MIM tasks.',
            stacklevel=2,
        )
        return False
    ours = str(tasks_path())

    @functools.wraps(original)
    def initialize_tasks(self: Any, include_path: Any = None, *args: Any, **kwargs: Any) -> Any:
        paths = _as_list(include_path)
        if not any(_same_folder(path, ours) for path in paths):
            paths.append(ours)
        return original(self, paths, *args, **kwargs)

    setattr(initialize_tasks, _MARK, True)
    TaskManager.initialize_tasks = initialize_tasks
    return True


def selected_splits(names: Iterable[Any]) -> list[Split]:
    """The Med-MIM splits that a list of lmms-eval task and group names evaluates, in benchmark order."""
    wanted = {plain_name(name) for name in names if isinstance(name, str)}  # a circular task needs its plain split
    return [split for split in SPLITS if TOP_GROUP in wanted or split.task in wanted or split.group in wanted]


def check_splits(splits: Iterable[Split], environ: Mapping[str, str] | None = None) -> None:
    """Build every split's documents once; DataNotReady naming each failing task, its problem and the fix."""
    from medmim_tasks.benchmark.image_paths import MissingImagesError
    from medmim_tasks.task.documents import build_docs

    splits = list(splits)
    if splits:
        _check_run_settings(environ)
    problems: list[str] = []
    docs_logger = logging.getLogger("medmim_tasks.task.documents")
    was_disabled = docs_logger.disabled
    docs_logger.disabled = True  # a MEDMIM_ON_MISSING=skip warning comes when lmms-eval builds the task
    try:
        for split in splits:
            try:
                build_docs(split.task, environ)
            except (ValueError, MissingImagesError) as error:  # BenchmarkFormatError is a ValueError
                problems.append(f"- {split.task}: {error}")
    finally:
        docs_logger.disabled = was_disabled
    if problems:
        sys.stdout.flush()  # lmms-eval's own log lines first, so that this message comes last
        raise DataNotReady(
            f"medmim-tasks: {len(problems)} of the {len(splits)} selected Med-MIM tasks cannot be built, "
            "so lmms-eval stopped before loading the model (no task of this run was evaluated):\n"
            + "\n".join(problems)
            + "\n`medmim check` reports every missing or unreadable file with its fix."
        )


def _check_run_settings(environ: Mapping[str, str] | None) -> None:
    """Settings read only once documents are served (prefetching) are checked here, before the model loads."""
    from medmim_tasks.settings import SettingError, setting

    try:
        setting("MEDMIM_PREFETCH_BYTES", environ)
    except SettingError as error:
        sys.stdout.flush()
        raise DataNotReady(f"medmim-tasks: {error}\nlmms-eval stopped before loading the model.") from None


def check_data_before_evaluation() -> bool:
    """Wrap TaskManager.match_tasks so the selected Med-MIM splits are built before the model loads."""
    from lmms_eval.tasks import TaskManager

    original = getattr(TaskManager, "match_tasks", None)
    if original is None:
        return False
    if getattr(original, _CHECK_MARK, False):
        return True

    @functools.wraps(original)
    def match_tasks(self: Any, task_list: Any, *args: Any, **kwargs: Any) -> Any:
        names = original(self, task_list, *args, **kwargs)
        check_splits(selected_splits(names if isinstance(names, list) else []))
        return names

    setattr(match_tasks, _CHECK_MARK, True)
    TaskManager.match_tasks = match_tasks
    return True


def register() -> list[Any]:
    """Entry point of the `lmms_eval.models` group: registers no model, adds our task folder,
    and follows lmms-eval's requests to prefetch images (medmim_tasks.task.prefetch_hooks)."""
    try:
        add_tasks_to_task_manager()
        check_data_before_evaluation()
    except Exception as error:  # noqa: BLE001 - never break lmms-eval for its other users
        warnings.warn(
            f"medmim-tasks could not add its tasks to lmms-eval ({error!r}); "
            'use `lmms-eval --include_path "$(medmim tasks-path)"` instead.',
            stacklevel=2,
        )
    try:
        from medmim_tasks.task.prefetch_hooks import install

        install()  # warns itself and leaves images decoded when asked for when lmms-eval changed shape
    except Exception as error:  # noqa: BLE001 - never break lmms-eval for its other users
        warnings.warn(f"medmim-tasks: image prefetching is off ({error!r})", stacklevel=2)
    return []
