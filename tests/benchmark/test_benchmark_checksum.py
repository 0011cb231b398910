"""Building a task checks its benchmark file against the pinned SHA-256 (issue 18, item 1)."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest

from medmim_tasks.benchmark import checksum as benchmark_checksum
from medmim_tasks.benchmark.checksum import (
    ALLOW_MODIFIED_VARIABLE,
    ModifiedBenchmarkError,
    benchmark_identity,
)
from medmim_tasks.benchmark.splits import split_for_task
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import process_results

RAD_TASK = "med_mim_held_out_rad"
RAD = split_for_task(RAD_TASK)


@pytest.fixture
def modified_rad(medmim_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A benchmark folder whose RAD file holds the first 5 upstream items only."""
    bench = tmp_path / "bench"
    bench.mkdir()
    upstream = Path(medmim_env["MEDMIM_BENCHMARK_DIR"]) / RAD.file_name
    (bench / RAD.file_name).write_text(json.dumps(json.loads(upstream.read_text(encoding="utf-8"))[:5]))
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(bench))
    monkeypatch.delenv(ALLOW_MODIFIED_VARIABLE, raising=False)
    return bench / RAD.file_name


def test_unmodified_file_builds_and_records_its_checksum(medmim_env: dict[str, str], monkeypatch) -> None:
    monkeypatch.delenv(ALLOW_MODIFIED_VARIABLE, raising=False)
    docs = build_docs(RAD_TASK)
    assert {doc["benchmark_sha256"] for doc in docs} == {RAD.sha256}
    assert {doc["benchmark_modified"] for doc in docs} == {False}


def test_modified_file_stops_the_build(modified_rad: Path) -> None:
    with pytest.raises(ModifiedBenchmarkError) as raised:
        build_docs(RAD_TASK)
    text = str(raised.value)
    assert str(modified_rad) in text
    assert RAD.sha256 in text
    assert "medmim data fetch" in text and f"{ALLOW_MODIFIED_VARIABLE}=1" in text


def test_modified_file_allowed_warns_and_is_recorded(modified_rad: Path, monkeypatch, caplog) -> None:
    monkeypatch.setenv(ALLOW_MODIFIED_VARIABLE, "1")
    with caplog.at_level(logging.WARNING):
        docs = build_docs(RAD_TASK)
    assert len(docs) == 5
    assert any(str(modified_rad) in record.getMessage() and "differs" in record.getMessage() for record in caplog.records)
    actual = benchmark_checksum.sha256_of_file(modified_rad)
    assert {(doc["benchmark_sha256"], doc["benchmark_modified"]) for doc in docs} == {(actual, True)}
    scores = process_results(docs[0], ["A"])
    record = next(value for key, value in scores.items() if key in ("mc_acc", "open_token_f1"))
    assert record["benchmark_sha256"] == actual and record["benchmark_modified"] is True  # lands in the samples file


@pytest.mark.parametrize("value", ["maybe", "2"])
def test_unknown_setting_value_is_an_error(modified_rad: Path, monkeypatch, value: str) -> None:
    monkeypatch.setenv(ALLOW_MODIFIED_VARIABLE, value)
    with pytest.raises(ValueError, match=ALLOW_MODIFIED_VARIABLE):
        build_docs(RAD_TASK)


def test_hash_is_computed_once_per_path_size_and_mtime(tmp_path: Path, monkeypatch) -> None:
    calls: list[Path] = []
    real = benchmark_checksum.sha256_of_file

    def counting(path: Path) -> str:
        calls.append(path)
        return real(path)

    monkeypatch.setattr(benchmark_checksum, "sha256_of_file", counting)
    shutil.copyfile(Path(__file__), tmp_path / RAD.file_name)
    env = {"MEDMIM_BENCHMARK_DIR": str(tmp_path), ALLOW_MODIFIED_VARIABLE: "1"}
    first = benchmark_identity(RAD, env)
    assert benchmark_identity(RAD, env) == first and len(calls) == 1
    (tmp_path / RAD.file_name).write_text("[1, 2, 3]")  # another size: hashed again
    assert benchmark_identity(RAD, env).sha256 != first.sha256 and len(calls) == 2
