"""lmms-eval glue: make `--tasks med_mim` work without `--include_path`.

lmms-eval 0.7.x finds tasks outside its own folder only through `--include_path`, but it loads
the `lmms_eval.models` entry-point group before it builds its TaskManager. Our entry point
registers no model; it wraps `TaskManager.initialize_tasks` so that our YAML folder is always
searched. The wrap is guarded: if lmms-eval changes shape, it warns and changes nothing, and
`--include_path "$(medmim tasks-path)"` keeps working.
"""

from __future__ import annotations

import functools
import inspect
import os
import warnings
from typing import Any

_MARK = "_medmim_tasks_include"


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

    from medmim_tasks.task_path import tasks_path

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
    TaskManager.initialize_tasks = initialize_tasks  # type: ignore[method-assign]
    return True


def register() -> list[Any]:
    """Entry point of the `lmms_eval.models` group: registers no model, adds our task folder."""
    try:
        add_tasks_to_task_manager()
    except Exception as error:  # noqa: BLE001 - never break lmms-eval for its other users
        warnings.warn(
            f"medmim-tasks could not add its tasks to lmms-eval ({error!r}); "
            'use `lmms-eval --include_path "$(medmim tasks-path)"` instead.',
            stacklevel=2,
        )
    return []
