"""Med-MIM (MICCAI 2025) medical multi-image benchmark as lmms-eval tasks."""

from __future__ import annotations

__version__ = "0.2.0"

__all__ = ["__version__", "extract_choice"]


def __getattr__(name: str):  # lazy: keep `import medmim_tasks` cheap for the lmms-eval plugin hook
    if name == "extract_choice":
        from medmim_tasks.scoring.extraction import extract_choice

        return extract_choice
    raise AttributeError(f"module 'medmim_tasks' has no attribute {name!r}")
