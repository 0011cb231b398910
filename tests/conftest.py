"""Shared fixtures: the real benchmark files (MEDMIM_BENCHMARK_DIR, else ~/.cache/medmim/benchmark) and synthetic image trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medmim_tasks.benchmark.splits import SPLITS

REPO_ROOT = Path(__file__).resolve().parent.parent


# How a plain clone runs the suite: the tests that need the six benchmark JSON files skip with
# this reason, and the report's header and summary say how many skipped and how to run them.
BENCHMARK_SKIP_REASON = "needs the Med-MIM benchmark files"
BENCHMARK_FIX = (
    "run `medmim data fetch` (3.8 MB, into ~/.cache/medmim/benchmark) or set MEDMIM_BENCHMARK_DIR "
    "to a folder holding the six Med_MIM_benchmark_*.json files"
)


def _benchmark_folder() -> tuple[Path, str]:
    """The folder the package reads (MEDMIM_BENCHMARK_DIR, else its default) and which setting chose it."""
    from medmim_tasks.benchmark.items import BENCHMARK_DIR_VARIABLE, benchmark_dir

    chosen_by = BENCHMARK_DIR_VARIABLE if os.environ.get(BENCHMARK_DIR_VARIABLE) else "the default"
    return benchmark_dir(os.environ), chosen_by


def _real_benchmark_dir() -> Path | None:
    path, _ = _benchmark_folder()
    return path if all((path / split.file_name).is_file() for split in SPLITS) else None


def pytest_report_header(config: pytest.Config) -> str:
    path, chosen_by = _benchmark_folder()
    if _real_benchmark_dir() is not None:
        return f"Med-MIM benchmark files: {path} (from {chosen_by})"
    return (
        f"Med-MIM benchmark files: none in {path} (from {chosen_by}); the tests that need them will skip. "
        f"To run them: {BENCHMARK_FIX}."
    )


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    skipped = [
        report
        for report in terminalreporter.stats.get("skipped", [])
        if isinstance(report.longrepr, tuple) and BENCHMARK_SKIP_REASON in str(report.longrepr[2])
    ]
    if skipped:
        path, chosen_by = _benchmark_folder()
        terminalreporter.write_sep("=", "Med-MIM benchmark files", yellow=True)
        terminalreporter.write_line(
            f"{len(skipped)} test{'' if len(skipped) == 1 else 's'} skipped because {path} (from {chosen_by}) does not hold the six benchmark files."
        )
        terminalreporter.write_line(f"To run them: {BENCHMARK_FIX}.")


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    """The real Med-MIM JSON files (where the package looks); tests that need them skip when absent."""
    path = _real_benchmark_dir()
    if path is None:
        pytest.skip(f"{BENCHMARK_SKIP_REASON}: {BENCHMARK_FIX}")
    return path


@pytest.fixture(scope="session")
def synthetic_image_root(benchmark_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small stand-in images for every image the six real splits reference (same paths and formats)."""
    from synthetic_images import write_tree_for_benchmark

    root = tmp_path_factory.mktemp("medmim-images")
    write_tree_for_benchmark(root, benchmark_dir)
    return root


@pytest.fixture
def medmim_env(benchmark_dir: Path, synthetic_image_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing at the real JSON files and the synthetic images; returned for subprocesses."""
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(synthetic_image_root))
    for name in ("MEDMIM_EMBED_ROOT", "MEDMIM_LUMIERE_ROOT", "MEDMIM_MS_CXR_T_ROOT", "MEDMIM_ODIR_ROOT", "MEDMIM_VQA_RAD_ROOT", "MEDMIM_ON_MISSING", "MEDMIM_PROMPT_VARIANT", "MEDMIM_MAX_IMAGE_SIDE", "MEDMIM_JUDGE_URL", "MEDMIM_ALLOW_MODIFIED_BENCHMARK"):
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


# Two real dummy runs and their browser page (tests/results/test_browser*.py).
from browser_runs import browser_runs  # noqa: E402, F401

# The model-family matrix's documents (tests/family_checks.py), for every tests/test_family_*.py.
from family_checks import family_benchmark, family_env  # noqa: E402, F401
