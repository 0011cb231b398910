"""The wheel ships every task YAML inside the package and nothing generic at top level."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(REPO)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    [path] = out.glob("medmim_tasks-*.whl")
    return zipfile.ZipFile(path)


def test_every_yaml_and_manifest_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    task_files = [p for p in (REPO / "yaml_tasks").rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert task_files
    for path in task_files:
        assert f"medmim_tasks/yaml_tasks/{path.relative_to(REPO / 'yaml_tasks').as_posix()}" in names


def test_every_module_of_the_package_is_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    """A sub-package missing from setup.cfg's `packages` would install without its modules."""
    names = set(wheel.namelist())
    modules = [path for path in (REPO / "medmim_tasks").rglob("*.py") if "__pycache__" not in path.parts]
    assert len(modules) > 30
    missing = [path.relative_to(REPO).as_posix() for path in modules if path.relative_to(REPO).as_posix() not in names]
    assert not missing, f"modules left out of the wheel (add their package to setup.cfg's packages): {missing}"


def test_nothing_generic_lands_at_top_level(wheel: zipfile.ZipFile) -> None:
    top = {name.split("/")[0] for name in wheel.namelist()}
    assert {entry for entry in top if not entry.endswith(".dist-info")} == {"medmim_tasks"}


def test_entry_points_and_pins(wheel: zipfile.ZipFile) -> None:
    [entry_points] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points).decode())
    assert parser["console_scripts"]["medmim"] == "medmim_tasks.cli.main:main"
    assert parser["lmms_eval.models"]["medmim_tasks"] == "medmim_tasks.task.plugin:register"
    [metadata] = [n for n in wheel.namelist() if n.endswith(".dist-info/METADATA")]
    requires = [line for line in wheel.read(metadata).decode().splitlines() if line.startswith("Requires-Dist:")]
    assert any("lmms-eval" in line and "<0.8" in line for line in requires)
    assert any(line.startswith("Requires-Dist: filelock") and "<4" in line for line in requires)
