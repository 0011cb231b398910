"""Image prefetching in real lmms-eval runs (issue 16), with the stand-in model of
tests/standins/medmim_standin_models, which opens every document's images and records them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

STANDINS = Path(__file__).resolve().parents[1] / "standins"
TASKS = ("med_mim_held_out_rad", "med_mim_held_in_temporal")
LIMIT = 9


def _env(medmim_env: dict[str, str], tmp_path: Path, prefetch_bytes: str) -> dict[str, str]:
    from lmms_eval_runner import offline_env

    env = offline_env(medmim_env, tmp_path)
    env.update(PYTHONPATH=str(STANDINS), LMMS_EVAL_PLUGINS="medmim_standin_models", MEDMIM_PREFETCH_BYTES=prefetch_bytes)
    return env


def _arguments(record: Path, order: str) -> list[str]:
    return [
        "--model", "medmim_sleepy", "--model_args", f"sleep_ms=20,order={order},hashes=1,record={record}",
        "--tasks", ",".join(TASKS), "--limit", str(LIMIT),
    ]  # fmt: skip


def _records(record: Path, rank: int) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """(one line per document asked for, in order; the prefetcher's summary) of one process."""
    lines = [json.loads(line) for line in Path(f"{record}.rank{rank}.jsonl").read_text().splitlines()]
    docs = [line for line in lines if "doc_key" in line]
    summaries = [line["prefetch"] for line in lines if "prefetch" in line]
    return docs, summaries[-1]


def _limited_keys(medmim_env: dict[str, str], limit: int = LIMIT) -> set[str]:
    """The keys of the first `limit` documents of each task, in the tasks' (representative) order."""
    from medmim_tasks.task.documents import build_docs

    return {doc["doc_key"] for task in TASKS for doc in build_docs(task, medmim_env)[:limit]}


@pytest.mark.slow
def test_same_images_same_order_with_prefetch_on_and_off(medmim_env: dict[str, str], tmp_path: Path) -> None:
    from lmms_eval_runner import run_lmms_eval

    asked: dict[str, list[dict[str, Any]]] = {}
    for name, budget in (("on", "64K"), ("off", "0")):
        record = tmp_path / f"record-{name}"
        cache = ["--use_cache", str(tmp_path / "cache")] if name == "off" else []
        results, _ = run_lmms_eval([*_arguments(record, "sorted"), *cache], _env(medmim_env, tmp_path, budget), tmp_path / name)
        assert all(results["n-samples"][task]["effective"] == LIMIT for task in TASKS)
        asked[name], summary = _records(record, 0)
        if name == "off":
            assert summary is None
            continue
        keys = [doc["doc_key"] for doc in asked[name]]
        # --limit: the plan holds exactly the documents the model asked for, in the order it asked
        assert summary["plan"] == keys and set(keys) == _limited_keys(medmim_env)
        assert summary["queued_docs"] == len(keys) and summary["hits"] == len(keys) - 1  # all but the first ahead of time
        biggest_doc = max(len(doc["images"]) for doc in asked[name]) * 48 * 64 * 3  # SMALL_SPECS sizes at most
        assert summary["peak_held_bytes"] <= summary["budget"] + biggest_doc
    strip = [[{key: doc[key] for key in ("doc_key", "images")} for doc in asked[name]] for name in ("on", "off")]
    assert strip[0] == strip[1]
    assert all(image[0] == "PIL.Image.Image" for doc in asked["on"] for image in doc["images"])

    # resumed with the off run's response cache (same model_args: the cache is keyed by them), three
    # more documents per task: the model gets only the unanswered requests, and so does the plan
    record = tmp_path / "record-off"
    Path(f"{record}.rank0.jsonl").unlink()
    arguments = [*_arguments(record, "sorted"), "--use_cache", str(tmp_path / "cache")]
    arguments[arguments.index("--limit") + 1] = str(LIMIT + 3)
    run_lmms_eval(arguments, _env(medmim_env, tmp_path, "64K"), tmp_path / "resumed")
    docs, summary = _records(record, 0)
    keys = [doc["doc_key"] for doc in docs]
    assert set(keys) == _limited_keys(medmim_env, LIMIT + 3) - _limited_keys(medmim_env)
    assert summary is not None and summary["plan"] == keys and summary["queued_docs"] == len(keys)


@pytest.mark.slow
def test_two_processes_each_prefetch_only_their_own_documents(medmim_env: dict[str, str], tmp_path: Path) -> None:
    """`accelerate launch --cpu --num_processes 2` starts ONE process (its CPU launcher needs MPI for
    more), so the two processes come from its torchrun launcher (`--multi_gpu`); the stand-in model's
    Accelerator runs on the CPU (gloo), which is what lmms-eval's sharding and gathering use."""
    record = tmp_path / "record"
    command = [
        sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
        "--mixed_precision", "no", "--dynamo_backend", "no", "-m", "lmms_eval",
        *_arguments(record, "file"), "--output_path", str(tmp_path / "out"),
    ]  # fmt: skip
    done = subprocess.run(command, env=_env(medmim_env, tmp_path, "64K"), capture_output=True, text=True, timeout=900, check=False)
    tail = (done.stdout + done.stderr)[-4000:]
    assert list((tmp_path / "out").rglob("*_results.json")), tail
    shares = []
    for rank in (0, 1):
        docs, summary = _records(record, rank)
        keys = [doc["doc_key"] for doc in docs]  # the rank with fewer documents asks its last one again (padding)
        assert summary is not None and summary["hits"] == len(keys) - 1, tail
        assert summary["plan"] == keys  # its own documents, in the order it asks for them
        shares.append(set(keys))
    assert not shares[0] & shares[1]
    assert shares[0] | shares[1] == _limited_keys(medmim_env)
