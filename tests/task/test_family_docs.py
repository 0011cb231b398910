"""docs/model-compatibility.md is produced from the matrix: its rows and the matrix's cases match."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
TABLE = REPO / "docs" / "model-compatibility.md"
COLUMNS = ["wrapper", "path (chat/simple)", "images in order", "labels", "status", "tested by"]
# test files of the matrix that are not model-family cases (the checker's and the docs' own tests)
NOT_CASES = {"test_family_checks.py", "test_family_docs.py", "test_family_templates.py"}
REFERENCE = re.compile(r"tests/task/(test_family_[\w]+\.py)(?:::(\w+))?")


def table_rows() -> list[dict[str, str]]:
    lines = [line for line in TABLE.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].strip("|").split("|")]
    assert header == COLUMNS, f"{TABLE.name}: one table with the columns {COLUMNS}"
    assert set(lines[1].replace("|", "").strip()) <= {"-", " "}
    return [dict(zip(COLUMNS, (cell.strip() for cell in line.strip("|").split("|")))) for line in lines[2:]]


def functions_in(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    return {node.name for node in tree.body if isinstance(node, ast.FunctionDef) and node.name.startswith("test_")}


def matrix_cases() -> dict[str, set[str]]:
    return {path.name: functions_in(path) for path in sorted((REPO / "tests" / "task").glob("test_family_*.py")) if path.name not in NOT_CASES}


def test_first_line_is_a_title_and_the_one_command_check_is_named() -> None:
    text = TABLE.read_text()
    assert text.splitlines()[0].startswith("# ")
    assert "medmim demo --model NAME --model_args" in text


def test_every_working_row_names_existing_matrix_cases() -> None:
    cases = matrix_cases()
    for row in table_rows():
        status = row["status"]
        assert status, f"row {row['wrapper']!r} has no status"
        if not status.startswith("works"):
            continue
        references = REFERENCE.findall(row["tested by"])
        assert references, f"row {row['wrapper']!r} is marked {status!r} but names no matrix case"
        for file_name, function in references:
            assert file_name in cases, f"row {row['wrapper']!r}: tests/{file_name} is not a matrix file"
            if function:
                assert function in cases[file_name], f"row {row['wrapper']!r}: no test {function} in tests/{file_name}"


def test_every_matrix_case_has_a_row() -> None:
    named: set[tuple[str, str]] = set()
    whole_files: set[str] = set()
    for row in table_rows():
        for file_name, function in REFERENCE.findall(row["tested by"]):
            if function:
                named.add((file_name, function))
            else:
                whole_files.add(file_name)
    for file_name, functions in matrix_cases().items():
        if file_name in whole_files:
            continue
        for function in sorted(functions):
            assert (file_name, function) in named, f"tests/{file_name}::{function} has no row in {TABLE.name}"
