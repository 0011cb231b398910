"""The modules of the letter-extraction package (medmim_tasks/scoring/extraction/) seen as one: the
tests read its private patterns and helpers by name, wherever the package keeps them."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path
from types import ModuleType, SimpleNamespace

from regex_linearity import module_patterns

from medmim_tasks.scoring import extraction

PACKAGE_DIR = Path(extraction.__file__).resolve().parent


def extraction_modules() -> list[ModuleType]:
    """Every module of the package, its __init__ included."""
    names = [info.name for info in pkgutil.iter_modules(extraction.__path__)]
    return [extraction, *(importlib.import_module(f"{extraction.__name__}.{name}") for name in sorted(names))]


def extraction_names() -> SimpleNamespace:
    """The module-level names of every module of the package (each name is defined in one module and
    imported as the same object elsewhere)."""
    names: dict[str, object] = {}
    for module in extraction_modules():
        for name, value in vars(module).items():
            if name.startswith("_") and not name.startswith("__"):
                assert names.setdefault(name, value) is value, f"{name} means two things in the extraction package"
    return SimpleNamespace(**names)


def extraction_patterns() -> dict[str, tuple[re.Pattern[str], bool, bool]]:
    """`module_patterns` over the whole package: a pattern defined in one module and used in others
    counts as unanchored (or fullmatched) when any module uses it so."""
    merged: dict[str, tuple[re.Pattern[str], bool, bool]] = {}
    for module in extraction_modules():
        for name, (pattern, unanchored, fullmatched) in module_patterns(module).items():
            _, was_unanchored, was_fullmatched = merged.get(name, (pattern, False, False))
            merged[name] = (pattern, unanchored or was_unanchored, fullmatched or was_fullmatched)
    return merged
