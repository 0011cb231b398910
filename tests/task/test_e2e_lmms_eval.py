"""End to end: the lmms-eval CLI scores all six tasks and three groups on the real JSON files."""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lmms_eval_runner import offline_env, run_lmms_eval

from medmim_tasks.benchmark.images import load_image
from medmim_tasks.benchmark.splits import GROUPS, SPLITS, SPLITS_BY_TASK
from medmim_tasks.task.documents import build_docs

pytestmark = pytest.mark.slow

TASKS = [split.task for split in SPLITS]


def assert_every_task_and_group_scored(results: dict[str, Any]) -> None:
    for name in [*TASKS, *GROUPS]:
        assert name in results["results"], f"{name} missing from results"
        values = {key: value for key, value in results["results"][name].items() if key.endswith(",none") and "_stderr" not in key}
        assert values, f"{name} has no metric"
        assert all(isinstance(value, float) and math.isfinite(value) for value in values.values()), (name, values)
    assert set(results["group_subtasks"]["med_mim"]) == {"med_mim_held_in", "med_mim_held_out"}


LIMIT = 20  # the documents come in representative order (task.ordering): 20 reach both kinds in every split


def test_dummy_without_include_path(medmim_env: dict[str, str], tmp_path: Path) -> None:
    results, samples = run_lmms_eval(
        ["--model", "dummy", "--model_args", "response=A,read_bytes=1", "--tasks", "med_mim", "--limit", str(LIMIT)],
        offline_env(medmim_env, tmp_path),
        tmp_path / "run",
    )
    assert_every_task_and_group_scored(results)
    assert set(samples) == set(TASKS)
    for task, logged in samples.items():
        docs = build_docs(task)[:LIMIT]
        assert [sample["doc_id"] for sample in logged] == list(range(LIMIT))
        for sample, doc in zip(logged, docs):
            record = sample.get("mc_acc") or sample["open_token_f1"]
            assert record["doc_key"] == doc["doc_key"]
            assert record["n_images"] == doc["n_images"]
            assert record["reply"] == "A"
            # which benchmark file: the pinned one (issue 18, item 1); lmms-eval does not log the doc itself
            assert (record["benchmark_sha256"], record["benchmark_modified"]) == (SPLITS_BY_TASK[task].sha256, False)
    # --limit 20 scores both kinds of item in every split (the files list one kind first)
    for task in TASKS:
        scores = results["results"][task]
        kinds = {(sample.get("mc_acc") or sample["open_token_f1"])["kind"] for sample in samples[task]}
        assert kinds == {"multiple_choice", "open_ended"}, task
        assert isinstance(scores["mc_acc,none"], float) and isinstance(scores["open_token_f1,none"], float), task
    assert isinstance(results["results"]["med_mim_held_in_temporal"]["mc_acc_stderr_clustered,none"], float)


def test_include_path_form(medmim_env: dict[str, str], tmp_path: Path) -> None:
    tasks_path = subprocess.run([sys.executable, "-m", "medmim_tasks.cli.main", "tasks-path"], capture_output=True, text=True, check=True).stdout.strip()
    results, _ = run_lmms_eval(
        ["--model", "dummy", "--include_path", tasks_path, "--tasks", "med_mim", "--limit", "3"],
        offline_env(medmim_env, tmp_path),
        tmp_path / "run",
    )
    assert_every_task_and_group_scored(results)


RECORDER = '''
import json, hashlib, os
from transformers.models.llava import processing_llava

_original = processing_llava.LlavaProcessor.__call__

def _recording_call(self, images=None, text=None, *args, **kwargs):
    images = list(images or [])
    with open(os.environ["MEDMIM_TEST_RECORD"], "a") as out:
        out.write(json.dumps({
            "images": [hashlib.sha256(image.tobytes()).hexdigest() for image in images],
            "placeholders": (text if isinstance(text, str) else text[0]).count("<image>"),
            "labels": [(text if isinstance(text, str) else text[0]).count(f"Image {n}:") for n in range(1, len(images) + 1)],
        }) + "\\n")
    return _original(self, images=images, text=text, *args, **kwargs)

processing_llava.LlavaProcessor.__call__ = _recording_call
'''


def test_tiny_llava_chat_path_sees_every_image_in_order(medmim_env: dict[str, str], tmp_path: Path) -> None:
    from medmim_tasks.sanity.tiny_model import build_tiny_llava

    model_dir = build_tiny_llava(tmp_path / "tiny-llava")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(RECORDER)
    record = tmp_path / "requests.jsonl"
    env = offline_env(medmim_env, tmp_path)
    env["PYTHONPATH"] = f"{hook}:{env.get('PYTHONPATH', '')}"
    env["MEDMIM_TEST_RECORD"] = str(record)
    limit = 2
    results, samples = run_lmms_eval(
        ["--model", "llava_hf", "--model_args", f"pretrained={model_dir},device=cpu,device_map=cpu,dtype=float32", "--tasks", "med_mim", "--limit", str(limit)],
        env,
        tmp_path / "run",
    )
    assert_every_task_and_group_scored(results)
    requests = [json.loads(line) for line in record.read_text().splitlines()]
    expected = sorted(
        json.dumps([__import__("hashlib").sha256(load_image(path).tobytes()).hexdigest() for path in doc["image_paths"]])
        for task in TASKS
        for doc in build_docs(task)[:limit]
    )
    assert sorted(json.dumps(request["images"]) for request in requests) == expected
    assert all(request["placeholders"] == len(request["images"]) for request in requests)
    # llava_hf gets no "Image n:" labels: llava-hf's published templates put every image first
    # (tests/task/test_family_llava.py renders them), which would detach each label from its image
    assert all(request["labels"] == [0] * len(request["images"]) for request in requests)
    assert sum(len(logged) for logged in samples.values()) == limit * len(TASKS)


def test_modified_benchmark_file_is_refused_or_recorded(medmim_env: dict[str, str], tmp_path: Path) -> None:
    """A subset of the RAD file: no results without MEDMIM_ALLOW_MODIFIED_BENCHMARK, recorded with it."""
    rad = SPLITS_BY_TASK["med_mim_held_out_rad"]
    bench = tmp_path / "bench"
    bench.mkdir()
    items = json.loads((Path(medmim_env["MEDMIM_BENCHMARK_DIR"]) / rad.file_name).read_text(encoding="utf-8"))[:4]
    (bench / rad.file_name).write_text(json.dumps(items))
    env = offline_env({**medmim_env, "MEDMIM_BENCHMARK_DIR": str(bench)}, tmp_path)
    arguments = ["--model", "dummy", "--tasks", rad.task]
    with pytest.raises(AssertionError, match="differs from the pinned upstream file"):
        run_lmms_eval(arguments, env, tmp_path / "refused")
    results, samples = run_lmms_eval(arguments, {**env, "MEDMIM_ALLOW_MODIFIED_BENCHMARK": "1"}, tmp_path / "allowed")
    assert results["n-samples"][rad.task]["effective"] == 4
    records = [sample.get("mc_acc") or sample["open_token_f1"] for sample in samples[rad.task]]
    assert {record["benchmark_modified"] for record in records} == {True}
    assert {record["benchmark_sha256"] for record in records} == {hashlib.sha256((bench / rad.file_name).read_bytes()).hexdigest()}
