"""Two real lmms-eval runs (the `dummy` model answering B, and C) on the synthetic image tree, and their browser page.

Session-scoped (imported by tests/conftest.py), so the content test and the Chromium test share
one pair of runs and one page.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest
from lmms_eval_runner import offline_env, run_lmms_eval

LIMIT = 4  # documents per split: every split, both item kinds (temporal lists open items first)
PAGE_SIZE = 10
# The replies of runs A and B: the first items of the ODIR split have gold letters C, C, B, B, so
# both "A right, B wrong" and "A wrong, B right" occur.
REPLIES = ("B", "C")
CLEARED = (
    "MEDMIM_EMBED_ROOT", "MEDMIM_LUMIERE_ROOT", "MEDMIM_MS_CXR_T_ROOT", "MEDMIM_ODIR_ROOT", "MEDMIM_VQA_RAD_ROOT",
    "MEDMIM_ON_MISSING", "MEDMIM_PROMPT_VARIANT", "MEDMIM_MAX_IMAGE_SIDE", "MEDMIM_JUDGE_URL", "MEDMIM_ALLOW_MODIFIED_BENCHMARK",
)


@dataclass(frozen=True)
class BrowserRuns:
    """The runs' folders, the environment they were made in, and the page comparing them."""

    run_a: Path
    run_b: Path
    env: dict[str, str]
    page: Path
    image_root: Path
    missing_root: Path  # VQA-RAD's root while the page was built: an empty folder, so its images are missing


@pytest.fixture(scope="session")
def browser_runs(benchmark_dir: Path, synthetic_image_root: Path, tmp_path_factory: pytest.TempPathFactory) -> BrowserRuns:
    from medmim_tasks.cli.main import main

    work = tmp_path_factory.mktemp("browser")
    env = {key: value for key, value in os.environ.items() if key not in CLEARED}
    env.update(
        MEDMIM_BENCHMARK_DIR=str(benchmark_dir),
        MEDMIM_IMAGE_ROOT=str(synthetic_image_root),
        MEDMIM_THUMBNAIL_CACHE=str(work / "thumbnail-cache"),
    )
    runs = []
    for letter in REPLIES:
        arguments = ["--model", "dummy", "--model_args", f"response={letter}", "--tasks", "med_mim", "--limit", str(LIMIT)]
        run_lmms_eval(arguments, offline_env(env, work / f"home-{letter}"), work / f"run-{letter}")
        runs.append(work / f"run-{letter}")
    missing_root = work / "no-rad-images"
    missing_root.mkdir()
    page = work / "pages" / "a vs b.html"  # a space: the thumbnail folder's name must be URL-encoded
    build_env = {**env, "MEDMIM_VQA_RAD_ROOT": str(missing_root)}
    with pytest.MonkeyPatch.context() as patch:
        for key in CLEARED:
            patch.delenv(key, raising=False)
        for key, value in build_env.items():
            if key.startswith("MEDMIM_"):
                patch.setenv(key, value)
        status = main(["browse", str(runs[0]), str(runs[1]), "-o", str(page), "--page-size", str(PAGE_SIZE), "--quiet"])
    assert status == 0
    return BrowserRuns(runs[0], runs[1], env, page, synthetic_image_root, missing_root)
