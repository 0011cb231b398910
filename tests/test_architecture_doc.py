"""docs/ARCHITECTURE.md names every module of medmim_tasks/, and no module that is not there.

A module is named as `stage/module.py` (or `medmim_tasks/module.py` at the top level), in backticks.
The letter extraction is described as the package `scoring/extraction/`; its modules (one per rule
family) are not named one by one.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = REPO_ROOT / "medmim_tasks"
ARCHITECTURE = REPO_ROOT / "docs" / "ARCHITECTURE.md"
EXTRACTION = "scoring/extraction"


def _modules() -> list[str]:
    """Module paths relative to medmim_tasks/, without the sub-packages' __init__.py and the extraction package."""
    found = []
    for path in sorted(PACKAGE.rglob("*.py")):
        relative = path.relative_to(PACKAGE).as_posix()
        if "__pycache__" in path.parts or relative.startswith(EXTRACTION):
            continue
        if path.name == "__init__.py" and path.parent != PACKAGE:
            continue
        found.append(relative)
    return found


def _named(text: str) -> set[str]:
    """Module paths named in backticks, relative to medmim_tasks/."""
    stages = "|".join(sorted(path.parent.name for path in PACKAGE.glob("*/__init__.py")))
    names = set()
    for match in re.finditer(rf"`(?:medmim_tasks/)?((?:(?:{stages})/)?[A-Za-z_][A-Za-z0-9_]*\.py)`", text):
        names.add(match.group(1))
    return names


def test_the_name_pattern_reads_both_forms() -> None:
    assert _named("`medmim_tasks/settings.py`, `task/hooks.py`, `utils/x.py`, `tests/a.py`") >= {"settings.py", "task/hooks.py"}


def test_every_module_is_described() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    missing = [module for module in _modules() if module not in _named(text)]
    assert not missing, f"docs/ARCHITECTURE.md has no line for: {', '.join(missing)} (add one line per module)"
    assert f"`{EXTRACTION}/`" in text


def test_no_described_module_is_gone() -> None:
    text = ARCHITECTURE.read_text(encoding="utf-8")
    top_level = {path.name for path in PACKAGE.glob("*.py")}
    stale = [
        name
        for name in _named(text)
        if ("/" in name or name in top_level or f"`medmim_tasks/{name}`" in text)
        and not name.startswith(EXTRACTION)
        and not (PACKAGE / name).is_file()
    ]
    assert not stale, f"docs/ARCHITECTURE.md names modules that do not exist: {', '.join(stale)}"
