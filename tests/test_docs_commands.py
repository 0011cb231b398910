"""Every shell command the README and docs/ show is run by a test or by CI, or says what it needs.

A command is covered when it starts with a prefix in COVERED; the entry names where it runs (a
test, `tests/FILE.py::NAME`, or `.ci/run`) and a piece of text that must appear in that test's
code or in `.ci/run`, so the table cannot point at something that does not run the command.
Commands that need a GPU or the internet say so in a comment on their line. `export` lines only
set variables. README's test command must be the one `.ci/run` runs.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
CI_RUN = ".ci/run"
NEEDS = ("needs a GPU", "needs the internet")
SETS_VARIABLES = ("export ",)

# (command prefix, where it runs, text that must appear there)
COVERED: tuple[tuple[str, str, str], ...] = (
    ("pip install -e .", CI_RUN, 'python -m pip install --quiet -e .\n'),
    ('pip install -e ".[test]"', CI_RUN, 'python -m pip install --quiet -e ".[test]"'),
    ("python -m pytest -ra", CI_RUN, "python -m pytest -ra"),
    ("medmim demo", CI_RUN, "medmim demo"),
    ("medmim demo", "tests/runners/test_demo.py::test_demo_runs_lmms_eval_end_to_end_on_a_fresh_machine", '["demo",'),
    ("medmim check", "tests/benchmark/test_check.py::test_cli_table_json_and_exit_status", 'main(["check"])'),
    ("medmim data prepare embed", "tests/benchmark/test_prepare_embed.py::test_cli_writes_only_the_benchmark_images_it_has_dicoms_for", '"prepare", "embed", "--dicom-root"'),
    ("medmim sweep", "tests/runners/test_sweep.py::test_real_sweep_with_a_failing_model_finishes_the_others_and_resumes", 'main(["sweep"'),
    ("medmim report", "tests/results/test_report.py::test_every_output_shows_the_same_numbers", 'main(["report"'),
    ("medmim judge", "tests/scoring/test_judge.py::test_judge_after_the_run_adds_open_judge_that_report_reads", 'main(["judge"'),
    ("medmim assist", "tests/scoring/test_assisted.py::test_assist_after_the_run_sends_only_undecided_replies_and_adds_both_metrics", 'main(["assist"'),
    ("medmim browse", "tests/browser_runs.py::browser_runs", 'main(["browse"'),
    ("python utils/browser_full_run.py", "tests/results/test_browser.py::test_browser_measurement_script_runs", '"utils/browser_full_run.py"'),
    ("medmim compare", "tests/results/test_compare.py::test_dummy_a_against_dummy_b_finds_the_known_difference", 'main(["compare"'),
    ("lmms-eval tasks list --include-path", "tests/cli/test_first_run.py::test_lmms_eval_tasks_listing_needs_the_include_path", '["tasks", "list", "--include-path"'),
    ("lmms-eval tasks groups --include-path", "tests/cli/test_first_run.py::test_lmms_eval_tasks_listing_needs_the_include_path", '["tasks", "groups", "--include-path"'),
    ("python utils/bench_overhead.py", "tests/test_docs_commands.py::test_bench_overhead_script_runs", '"utils/bench_overhead.py"'),
    ("MEDMIM_BENCHMARK_DIR=../shared/med_mim/benchmark python utils/bench_overhead.py", "tests/test_docs_commands.py::test_bench_overhead_script_runs", '"utils/bench_overhead.py"'),
)


def documentation_files() -> list[Path]:
    return [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]


def shell_commands(markdown: str) -> list[str]:
    """The command lines of the fenced bash/sh blocks, continuation lines joined, comments kept."""
    commands = []
    for block in re.findall(r"^```(?:bash|sh|shell|console)\n(.*?)^```", markdown, re.DOTALL | re.MULTILINE):
        for line in block.replace("\\\n", " ").splitlines():
            if line.strip() and not line.lstrip().startswith("#"):
                commands.append(line.strip())
    return commands


def _command_part(line: str) -> str:
    return re.split(r"\s+#\s", line, maxsplit=1)[0].strip()


def _runner_text(where: str) -> str:
    if where == CI_RUN:
        return (REPO_ROOT / CI_RUN).read_text()
    file_name, test_name = where.split("::")
    source = (REPO_ROOT / file_name).read_text()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.FunctionDef) and node.name == test_name:
            return ast.get_source_segment(source, node) or ""
    raise AssertionError(f"{where}: no such test")


def test_shell_commands_are_extracted() -> None:
    text = "```bash\nmedmim check   # the data\nlmms-eval --a \\\n  --b   # needs a GPU\n```\n```text\nnot a command\n```\n"
    assert shell_commands(text) == ["medmim check   # the data", "lmms-eval --a    --b   # needs a GPU"]


def test_covered_commands_point_at_code_that_runs_them() -> None:
    for prefix, where, evidence in COVERED:
        assert evidence in _runner_text(where), f"{prefix!r}: {where} does not contain {evidence!r}"


@pytest.mark.parametrize("path", documentation_files(), ids=lambda path: path.name)
def test_every_documented_command_is_run_or_says_what_it_needs(path: Path) -> None:
    uncovered = []
    for line in shell_commands(path.read_text()):
        command = _command_part(line)
        if any(need in line for need in NEEDS) or command.startswith(SETS_VARIABLES):
            continue
        if not any(command == prefix or command.startswith(prefix + " ") for prefix, _, _ in COVERED):
            uncovered.append(line)
    assert not uncovered, f"{path.name}: commands neither run by a test or CI nor marked 'needs a GPU'/'needs the internet': {uncovered}"


def test_readme_test_command_is_what_ci_runs() -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    tests_section = readme[readme.index("\n## Tests\n") :]
    command = shell_commands(tests_section)[1]
    assert command == "python -m pytest -ra"
    ci_lines = [line.strip() for line in (REPO_ROOT / CI_RUN).read_text().splitlines()]
    assert command in ci_lines


def test_documentation_shows_no_path_of_the_machine_it_was_written_on() -> None:
    for path in documentation_files():
        for machine_path in ("/work/", "/root/", "/opt/", "/tmp/pytest", "/usr/local/"):
            assert machine_path not in path.read_text(), f"{path.name} shows {machine_path}"


@pytest.mark.slow
def test_bench_overhead_script_runs(benchmark_dir: Path, tmp_path: Path) -> None:
    """The measurement script's quickest part (its numbers are read by people, never asserted)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "utils/bench_overhead.py", "--benchmark-dir", str(benchmark_dir), "--only", "building", "--repeats", "1", "--work-dir", str(tmp_path)],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "build all six tasks" in done.stdout
