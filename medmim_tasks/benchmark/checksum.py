"""Is a benchmark file the pinned upstream one? Checked when a task is built, hashed once per process.

A task is built from the file in MEDMIM_BENCHMARK_DIR only when its SHA-256 is the one the package
pins (the same checksums `medmim data fetch` and `medmim check` use). A modified file (a subset,
an edited item) is used only with MEDMIM_ALLOW_MODIFIED_BENCHMARK=1; then a warning says so and
every document records the file's checksum and `benchmark_modified`, so results show it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple

from medmim_tasks.benchmark.fetch import sha256_of_file
from medmim_tasks.benchmark.items import BenchmarkFormatError, split_file
from medmim_tasks.benchmark.splits import UPSTREAM_COMMIT, Split
from medmim_tasks.settings import setting

ALLOW_MODIFIED_VARIABLE = "MEDMIM_ALLOW_MODIFIED_BENCHMARK"

logger = logging.getLogger(__name__)

# (path, size, mtime in ns) -> SHA-256: the six files are hashed once per process, again if they change
_HASHED: dict[tuple[str, int, int], str] = {}


class ModifiedBenchmarkError(BenchmarkFormatError):
    """A benchmark file differs from the pinned upstream file and modified files are not allowed."""


class BenchmarkIdentity(NamedTuple):
    """The checksum of the file a task was built from, and whether it differs from upstream."""

    sha256: str
    modified: bool


def allow_modified(environ: Mapping[str, str]) -> bool:
    """MEDMIM_ALLOW_MODIFIED_BENCHMARK as a yes/no; any other value is an error naming the setting."""
    return setting(ALLOW_MODIFIED_VARIABLE, environ)


def cached_sha256(path: Path) -> str:
    """SHA-256 of a file, computed once per (path, size, modification time) in this process."""
    status = path.stat()
    key = (str(path), status.st_size, status.st_mtime_ns)
    digest = _HASHED.get(key)
    if digest is None:
        digest = _HASHED[key] = sha256_of_file(path)
    return digest


def benchmark_identity(split: Split, environ: Mapping[str, str] | None = None) -> BenchmarkIdentity:
    """The split file's checksum; raises ModifiedBenchmarkError for a modified file unless allowed."""
    env = os.environ if environ is None else environ
    path = split_file(split, env)  # type: ignore[arg-type]
    try:
        digest = cached_sha256(path)
    except OSError as error:
        raise BenchmarkFormatError(
            f"{path}: cannot read the benchmark file for task {split.task} ({error}). "
            "Run `medmim data fetch` or set MEDMIM_BENCHMARK_DIR to the folder that holds it."
        ) from error
    if digest == split.sha256:
        return BenchmarkIdentity(digest, False)
    difference = (
        f"{path}: differs from the pinned upstream file of task {split.task} "
        f"(sha256 {digest}, expected {split.sha256}, upstream commit {UPSTREAM_COMMIT[:12]})"
    )
    if not allow_modified(env):
        raise ModifiedBenchmarkError(
            f"{difference}. Results from it would not be comparable with published ones. Fix: run "
            f"`medmim data fetch` to restore the upstream file, or set {ALLOW_MODIFIED_VARIABLE}=1 to evaluate "
            "this file anyway (every document then records its checksum and benchmark_modified=true)."
        )
    logger.warning("%s; evaluating it because %s is set (recorded in every document).", difference, ALLOW_MODIFIED_VARIABLE)
    return BenchmarkIdentity(digest, True)
