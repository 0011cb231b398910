"""medmim_tasks.settings: the one table of MEDMIM_* variables, its reader and its generated docs page (issue 14)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from medmim_tasks.settings import (
    NOT_SETTINGS,
    SETTINGS,
    SETTINGS_BY_NAME,
    main,
    raw_setting,
    setting,
    settings_markdown,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "medmim_tasks"
SETTINGS_PAGE = ROOT / "docs" / "settings.md"
MEDMIM_NAME = re.compile(r"MEDMIM_[A-Z0-9_]*[A-Z0-9]")
# an environment read outside medmim_tasks/settings.py: os.getenv, environ[...], or .get(...) of a MEDMIM_ name
ENVIRONMENT_READ = re.compile(
    r"getenv\(|environ\[|\.get\(\s*(?:\"MEDMIM_|'MEDMIM_|[A-Z_]*_VARIABLE\b|[a-z_.]*root_variable\b)"
)


def test_every_medmim_name_the_package_uses_is_in_the_settings_table() -> None:
    named = {name for path in PACKAGE.rglob("*.py") for name in MEDMIM_NAME.findall(path.read_text(encoding="utf-8"))}
    classified = {entry.name for entry in SETTINGS} | set(NOT_SETTINGS)
    unclassified = sorted(named - classified)
    assert not unclassified, (
        f"MEDMIM_ names not in medmim_tasks/settings.py SETTINGS: {unclassified}; add each with its default, meaning, "
        "parser and changes_results=True (it goes into the resume hash and the run record) or False (with the reason)"
    )
    assert len(classified) == len(SETTINGS) + len(NOT_SETTINGS)  # each name listed once


def test_only_the_settings_module_reads_the_environment() -> None:
    readers = sorted(
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in PACKAGE.rglob("*.py")
        if path.name != "settings.py"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if ENVIRONMENT_READ.search(line)
    )
    assert not readers, f"read MEDMIM_* variables through medmim_tasks.settings.setting(): {readers}"


def test_the_environment_read_pattern_finds_a_direct_read() -> None:
    assert ENVIRONMENT_READ.search('value = os.environ.get("MEDMIM_ON_MISSING")')
    assert ENVIRONMENT_READ.search("root = env.get(dataset.root_variable)")
    assert ENVIRONMENT_READ.search("side = environ.get(MAX_IMAGE_SIDE_VARIABLE, '')")
    assert not ENVIRONMENT_READ.search("side = setting(MAX_IMAGE_SIDE_VARIABLE, environ)")


def test_the_settings_page_is_generated_from_the_table() -> None:
    assert SETTINGS_PAGE.read_text(encoding="utf-8") == settings_markdown(), (
        "docs/settings.md is out of date: python -m medmim_tasks.settings --markdown > docs/settings.md"
    )


def test_the_settings_page_lists_every_variable_once_with_its_classification() -> None:
    rows = [line for line in settings_markdown().splitlines() if line.startswith("| `MEDMIM_")]
    assert [row.split("`")[1] for row in rows] == [entry.name for entry in SETTINGS]
    for row, entry in zip(rows, SETTINGS):
        assert row.rsplit("|", 2)[1].strip().startswith("yes:" if entry.changes_results else "no:")


def test_the_markdown_command_prints_the_page(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--markdown"]) == 0
    assert capsys.readouterr().out == settings_markdown()


@pytest.mark.parametrize("name", sorted(SETTINGS_BY_NAME))
def test_every_setting_has_a_usable_value_when_unset_or_empty(name: str) -> None:
    assert setting(name, {}) == setting(name, {name: ""})


@pytest.mark.parametrize(
    ("name", "default"),
    [
        ("MEDMIM_BENCHMARK_DIR", "~/.cache/medmim/benchmark"),
        ("MEDMIM_IMAGE_ROOT", "~/.cache/medmim/images"),
        ("MEDMIM_SANITY_DIR", "~/.cache/medmim/sanity"),
        ("MEDMIM_JUDGE_CACHE", "~/.cache/medmim/judge"),
        ("MEDMIM_TINY_MODEL_DIR", "~/.cache/medmim/tiny-llava"),
    ],
)
def test_a_folder_setting_defaults_to_the_folder_its_docs_name(name: str, default: str) -> None:
    assert setting(name, {}) == Path(default).expanduser()
    assert SETTINGS_BY_NAME[name].default == f"`{default}`"
    assert setting(name, {name: "~/elsewhere"}) == Path("~/elsewhere").expanduser()


def test_reading_a_name_not_in_the_table_is_refused() -> None:
    with pytest.raises(KeyError, match="MEDMIM_NO_SUCH_SETTING"):
        raw_setting("MEDMIM_NO_SUCH_SETTING", {})
    with pytest.raises(KeyError, match="MEDMIM_NO_SUCH_SETTING"):
        setting("MEDMIM_NO_SUCH_SETTING", {})


def test_raw_setting_reads_the_given_mapping_or_the_process_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMIM_ON_MISSING", "skip")
    assert raw_setting("MEDMIM_ON_MISSING") == "skip"
    assert setting("MEDMIM_ON_MISSING") == "skip"
    assert raw_setting("MEDMIM_ON_MISSING", {}) is None
    assert setting("MEDMIM_ON_MISSING", {}) == "error"
