"""Where the installed task YAMLs are."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path


def tasks_path() -> Path:
    """The folder with the Med-MIM task YAMLs (pass it to `lmms-eval --include_path`)."""
    return Path(str(files("medmim_tasks.yaml_tasks")))
