"""Where the installed task YAMLs are."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

LMMS_EVAL = "lmms-eval"
LM_EVAL = "lm-eval"
# each framework's installed YAML folder (a package of the wheel)
FRAMEWORK_TASK_PACKAGES = {LMMS_EVAL: "medmim_tasks.yaml_tasks", LM_EVAL: "medmim_tasks.lm_eval_tasks"}


def tasks_path(framework: str = LMMS_EVAL) -> Path:
    """The folder with the Med-MIM task YAMLs of `framework` (for its `--include_path`)."""
    if framework not in FRAMEWORK_TASK_PACKAGES:
        raise ValueError(f"framework must be one of {sorted(FRAMEWORK_TASK_PACKAGES)}, got {framework!r}")
    return Path(str(files(FRAMEWORK_TASK_PACKAGES[framework])))
