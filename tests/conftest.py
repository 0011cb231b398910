"""Shared fixtures: the real benchmark files (from MEDMIM_BENCHMARK_DIR) and synthetic image trees."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medmim_tasks.splits import SPLITS

REPO_ROOT = Path(__file__).resolve().parent.parent


def _real_benchmark_dir() -> Path | None:
    value = os.environ.get("MEDMIM_BENCHMARK_DIR")
    if not value:
        return None
    path = Path(value).expanduser()
    return path if all((path / split.file_name).is_file() for split in SPLITS) else None


@pytest.fixture(scope="session")
def benchmark_dir() -> Path:
    """The real Med-MIM JSON files; tests that need them skip when MEDMIM_BENCHMARK_DIR is unset."""
    path = _real_benchmark_dir()
    if path is None:
        pytest.skip(
            "real Med-MIM benchmark files not available: set MEDMIM_BENCHMARK_DIR to a folder with the six "
            "Med_MIM_benchmark_*.json files (CI uses ../shared/med_mim/benchmark)"
        )
    return path


@pytest.fixture(scope="session")
def synthetic_image_root(benchmark_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Small stand-in images for every image the six real splits reference (same paths and formats)."""
    from medmim_tasks.synthetic_images import write_tree_for_benchmark

    root = tmp_path_factory.mktemp("medmim-images")
    write_tree_for_benchmark(root, benchmark_dir)
    return root


@pytest.fixture
def medmim_env(benchmark_dir: Path, synthetic_image_root: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment pointing at the real JSON files and the synthetic images; returned for subprocesses."""
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(synthetic_image_root))
    for name in ("MEDMIM_EMBED_ROOT", "MEDMIM_LUMIERE_ROOT", "MEDMIM_MS_CXR_T_ROOT", "MEDMIM_ODIR_ROOT", "MEDMIM_VQA_RAD_ROOT", "MEDMIM_ON_MISSING", "MEDMIM_PROMPT_VARIANT", "MEDMIM_MAX_IMAGE_SIDE", "MEDMIM_JUDGE_URL"):
        monkeypatch.delenv(name, raising=False)
    return dict(os.environ)


# The model-family matrix's documents (tests/family_checks.py), for every tests/test_family_*.py.
from family_checks import family_benchmark, family_env  # noqa: F401
