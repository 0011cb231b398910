"""The wheel ships the package (its sub-packages and every task YAML) and nothing else: no test-only code, nothing generic at top level."""

from __future__ import annotations

import ast
import configparser
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel of a clean copy of the checkout (its tracked files and the untracked ones git does not
    ignore): setuptools never empties the checkout's build/ folder, so a module deleted since an earlier
    build would otherwise still ship."""
    out = tmp_path_factory.mktemp("wheel")
    source = tmp_path_factory.mktemp("source")
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"], check=True, capture_output=True, cwd=REPO
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        cwd=out,
    )
    [path] = out.glob("medmim_tasks-*.whl")
    return zipfile.ZipFile(path)


@pytest.mark.parametrize("folder", ["yaml_tasks", "lm_eval_tasks"])
def test_every_yaml_and_manifest_is_in_the_wheel(wheel: zipfile.ZipFile, folder: str) -> None:
    names = set(wheel.namelist())
    task_files = [p for p in (REPO / folder).rglob("*") if p.is_file() and "__pycache__" not in p.parts]
    assert task_files
    for path in task_files:
        assert f"medmim_tasks/{folder}/{path.relative_to(REPO / folder).as_posix()}" in names


def test_the_browser_page_assets_are_in_the_wheel(wheel: zipfile.ZipFile) -> None:
    assets = sorted(p.name for p in (REPO / "medmim_tasks" / "results" / "browser_assets").iterdir())
    assert assets == ["browser.css", "browser.js"]
    assert {f"medmim_tasks/results/browser_assets/{name}" for name in assets} <= set(wheel.namelist())


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
    # the lm-eval extra (issue 17): the tested series only
    assert any(line.startswith("Requires-Dist: lm-eval") and "<0.5" in line and 'extra == "lm-eval"' in line for line in requires), requires


def test_only_the_package_and_its_task_files_are_shipped(wheel: zipfile.ZipFile) -> None:
    """medmim_tasks/ with its sub-packages and yaml_tasks: no tests/, no utils/, nothing else."""
    sub_packages = {path.parent.relative_to(REPO / "medmim_tasks").as_posix() for path in (REPO / "medmim_tasks").rglob("*/__init__.py")}
    allowed_folders = {"medmim_tasks", *(f"medmim_tasks/{name}" for name in sub_packages), "medmim_tasks/yaml_tasks", "medmim_tasks/yaml_tasks/manifests", "medmim_tasks/lm_eval_tasks", "medmim_tasks/lm_eval_tasks/manifests", "medmim_tasks/results/browser_assets"}
    shipped = [name for name in wheel.namelist() if ".dist-info/" not in name]
    assert not [name for name in shipped if name.rsplit("/", 1)[0] not in allowed_folders]
    python_files = {name for name in shipped if name.endswith(".py") and not name.startswith(("medmim_tasks/yaml_tasks/", "medmim_tasks/lm_eval_tasks/"))}
    in_repository = {path.relative_to(REPO).as_posix() for path in (REPO / "medmim_tasks").rglob("*.py") if "__pycache__" not in path.parts}
    assert python_files == in_repository


def _module_name(file_name: str) -> str:
    parts = file_name[: -len(".py")].split("/")
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _references(source: str, modules: set[str]) -> set[str]:
    """The package modules a source imports (anywhere, also inside functions) or names as a string (`python -m ...`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.add(node.value)
    return found & modules


def test_every_shipped_module_is_used_by_the_package(wheel: zipfile.ZipFile) -> None:
    """Code that only tests or utils/ import does not ship: every module is reached from an entry point.

    The roots are the wheel's entry points, the task YAMLs' `utils.py` shim, and `medmim_tasks` itself
    (its public `extract_choice`); a module is reached when a reached one imports it or names it for
    `python -m` (and a package's `__init__` when one of its modules is reached).
    """
    sources = {_module_name(name): wheel.read(name).decode("utf-8") for name in wheel.namelist() if name.endswith(".py")}
    modules = set(sources)
    [entry_points_file] = [n for n in wheel.namelist() if n.endswith(".dist-info/entry_points.txt")]
    parser = configparser.ConfigParser()
    parser.read_string(wheel.read(entry_points_file).decode())
    roots = {value.split(":")[0] for section in parser.sections() for value in parser[section].values()}
    pending = roots | {"medmim_tasks", "medmim_tasks.yaml_tasks.utils", "medmim_tasks.lm_eval_tasks.utils"}
    reached: set[str] = set()
    while pending:
        module = pending.pop()
        if module in reached:
            continue
        reached.add(module)
        parent = module.rpartition(".")[0]
        pending |= _references(sources[module], modules) | ({parent} if parent in modules else set())
    assert not sorted(modules - reached), "shipped but never imported by the package (used only by tests or utils/?)"
