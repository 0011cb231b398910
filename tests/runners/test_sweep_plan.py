"""The configuration hash of a sweep covers the code of every sub-package, not only runners/."""

from __future__ import annotations

from pathlib import Path

import medmim_tasks
from medmim_tasks.runners.sweep_plan import code_files


def test_the_hashed_code_is_the_whole_package() -> None:
    package = Path(medmim_tasks.__file__).resolve().parent
    hashed = {path.relative_to(package).as_posix() for path in code_files() if path.is_relative_to(package)}
    every_module = {path.relative_to(package).as_posix() for path in package.rglob("*.py") if "__pycache__" not in path.parts}
    assert {"scoring/metrics.py", "task/prompts.py", "settings.py", "runners/sweep_plan.py"} <= hashed
    assert hashed == every_module
