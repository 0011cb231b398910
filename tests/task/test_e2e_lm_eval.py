"""End to end (issue 17): the `lm_eval` CLI runs the six Med-MIM splits and three groups.

Through `hf-multimodal` with the tiny random-weight LLaVA built here, and through `vllm-vlm` with
data parallelism, where vLLM and ray are recording stand-ins (tests/standins/vllm_lm_eval: no
GPU here). The documents are the model-family matrix's (tests/family_checks.py: both kinds per
split, ODIR JPEGs, 16-bit EMBED, three-image items) and its checks apply to what reached the
processor or the engine: every document once, its images in order, one image token per image.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark
from lmms_eval_runner import offline_env
from PIL import Image
from test_e2e_lmms_eval import assert_every_task_and_group_scored

from medmim_tasks.benchmark.circular_splits import circular_name
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results.runs import load_runs
from medmim_tasks.task.hooks import process_results
from medmim_tasks.task.task_path import LM_EVAL, tasks_path

pytest.importorskip("lm_eval", reason="the lm-eval extra is not installed: pip install -e '.[test,lm-eval]'")
pytestmark = pytest.mark.slow

LM_EVAL_CLI = shutil.which("lm_eval", path=os.path.dirname(sys.executable)) or "lm_eval"
TASKS = [split.task for split in SPLITS]
STANDINS = Path(__file__).resolve().parents[1] / "standins" / "vllm_lm_eval"
LIMIT = 3  # every document of the matrix's cut-down splits
CIRCULAR_TASKS = [circular_name(task) for task in TASKS]
CIRCULAR_LIMIT = 7  # every shift of the matrix's one multiple-choice item per split (Reasoning's has 7)

# Saves what the tiny LLaVA's processor receives: each image as a lossless PNG, and the prompt.
RECORDER = '''
import json, os, uuid
from pathlib import Path
from transformers.models.llava import processing_llava

_original = processing_llava.LlavaProcessor.__call__

def _recording_call(self, images=None, text=None, *args, **kwargs):
    if images:
        record = Path(os.environ["MEDMIM_TEST_RECORD"])
        names = []
        for image in images:
            names.append(f"{uuid.uuid4().hex}.png")
            image.save(record / names[-1])
        prompt = text if isinstance(text, str) else text[0]
        with (record / "requests.jsonl").open("a") as out:
            kinds = [f"{type(image).__module__}.{type(image).__name__} {image.mode}" for image in images]
            out.write(json.dumps({"prompt": prompt, "images": names, "kinds": kinds}) + "\\n")
    return _original(self, images=images, text=text, *args, **kwargs)

processing_llava.LlavaProcessor.__call__ = _recording_call
'''


def run_lm_eval(args: list[str], env: dict[str, str], output: Path, tasks: list[str] = TASKS) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """`lm_eval ARGS --log_samples --output_path OUTPUT`; the results and each task's samples."""
    command = [LM_EVAL_CLI, *args, "--log_samples", "--output_path", str(output)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900, check=False)
    results_files = sorted(output.rglob("results_*.json"))
    assert done.returncode == 0 and results_files, f"lm_eval failed (exit {done.returncode}):\n{(done.stdout + done.stderr)[-6000:]}"
    results = json.loads(results_files[-1].read_text(encoding="utf-8"))
    date = results_files[-1].name.removeprefix("results_").removesuffix(".json")
    samples = {
        task: [json.loads(line) for line in (results_files[-1].parent / f"samples_{task}_{date}.jsonl").read_text(encoding="utf-8").splitlines()]
        for task in tasks
    }
    return results, samples


def lm_eval_env(bench: FamilyBenchmark, tmp_path: Path, record: Path) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("MEDMIM_")}
    env.update(bench.environ, MEDMIM_TEST_RECORD=str(record))
    record.mkdir()
    return offline_env(env, tmp_path)


def assert_deliveries(bench: FamilyBenchmark, record: Path) -> list[dict[str, Any]]:
    """Every document reached the model once, its own images in order, one `<image>` per image."""
    requests = [json.loads(line) for line in (record / "requests.jsonl").read_text(encoding="utf-8").splitlines()]
    recorder = DeliveryRecorder(bench)
    for request in requests:
        images = [Image.open(record / name) for name in request["images"]]
        recorder.record_by_content(images, request["prompt"])
    recorder.assert_every_doc_delivered("<image>")  # the images were saved as PNG files: their kinds are recorded apart
    kinds = {kind for request in requests for kind in request["kinds"]}
    assert kinds == {"PIL.Image.Image RGB"}, f"the model got images of kinds {kinds}, expected plain RGB PIL images"
    return requests


def assert_scores_are_the_packages(samples: dict[str, list[dict[str, Any]]]) -> None:
    """Each logged score is what task/hooks.py's process_results gives the logged reply (lmms-eval's scoring)."""
    for task, logged in samples.items():
        assert logged, f"{task}: no samples"
        for sample in logged:
            expected = process_results(sample["doc"], sample["filtered_resps"])
            assert {metric: sample[metric] for metric in expected} == expected, (task, sample["doc_id"])


def test_hf_multimodal_scores_all_six_splits_with_every_image_in_order(family_benchmark: FamilyBenchmark, tmp_path: Path) -> None:
    from medmim_tasks.sanity.tiny_model import build_tiny_llava

    model_dir = build_tiny_llava(tmp_path / "tiny-llava")
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(RECORDER)
    record = tmp_path / "record"
    env = lm_eval_env(family_benchmark, tmp_path, record)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")]))
    tasks_folder = subprocess.run([sys.executable, "-m", "medmim_tasks.cli.main", "tasks-path", "--framework", "lm-eval"], capture_output=True, text=True, check=True).stdout.strip()
    assert tasks_folder == str(tasks_path(LM_EVAL))
    results, samples = run_lm_eval(
        ["--model", "hf-multimodal", "--model_args", f"pretrained={model_dir},dtype=float32", "--device", "cpu",
         "--tasks", "med_mim", "--include_path", tasks_folder, "--apply_chat_template", "--limit", str(LIMIT), "--gen_kwargs", "max_gen_toks=4"],
        env,
        tmp_path / "run",
    )
    assert_every_task_and_group_scored(results)
    assert {task: len(logged) for task, logged in samples.items()} == {task: len(docs) for task, docs in family_benchmark.docs.items()}
    assert_deliveries(family_benchmark, record)
    assert_scores_are_the_packages(samples)
    # `medmim report` reads the run, and says lm-eval made it
    (run,) = load_runs([tmp_path / "run"])
    assert run.framework == LM_EVAL
    assert len(run.docs) == sum(len(docs) for docs in family_benchmark.docs.values())


def vllm_standin(bench: FamilyBenchmark, tmp_path: Path, record: Path, reply: str) -> tuple[Path, dict[str, str]]:
    """The tiny LLaVA's folder, and an environment where vLLM and ray are the recording stand-ins answering `reply`."""
    from medmim_tasks.sanity.tiny_model import build_tiny_llava

    model_dir = build_tiny_llava(tmp_path / "tiny-llava")
    env = lm_eval_env(bench, tmp_path, record)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(STANDINS), env.get("PYTHONPATH")]))
    env["MEDMIM_TEST_VLLM_REPLY"] = reply
    return model_dir, env


def test_vllm_vlm_with_data_parallelism_gets_every_image_in_order(family_benchmark: FamilyBenchmark, tmp_path: Path) -> None:
    record = tmp_path / "record"
    model_dir, env = vllm_standin(family_benchmark, tmp_path, record, reply="B")
    results, samples = run_lm_eval(
        ["--model", "vllm-vlm", "--model_args", f"pretrained={model_dir},data_parallel_size=2", "--tasks", "med_mim",
         "--include_path", str(tasks_path(LM_EVAL)), "--apply_chat_template", "--limit", str(LIMIT)],
        env,
        tmp_path / "run",
    )
    assert_every_task_and_group_scored(results)
    requests = assert_deliveries(family_benchmark, record)
    assert len({request["engine"] for request in requests}) == 2, "data_parallel_size=2 should spread the requests over two engines"
    assert {request["sampling"]["temperature"] for request in requests} == {0.0}  # greedy, as in the lmms-eval tasks
    assert all(sample["filtered_resps"] == ["B"] for logged in samples.values() for sample in logged)
    assert_scores_are_the_packages(samples)
    mc = [sample["mc_acc"] for logged in samples.values() for sample in logged if "mc_acc" in sample]
    assert mc and all(record_["score"] == float(record_["gold"] == "B") for record_ in mc)


def test_vllm_vlm_scores_the_circular_tasks_and_groups_with_the_packages_item_level_metrics(family_benchmark: FamilyBenchmark, tmp_path: Path) -> None:
    from medmim_tasks.scoring.circular import CIRCULAR_AGGREGATIONS, CIRCULAR_METRICS
    from medmim_tasks.task.circular import build_circular_docs
    from medmim_tasks.task.circular_hooks import process_circular_results

    model_dir, env = vllm_standin(family_benchmark, tmp_path, tmp_path / "record", reply="B")
    results, samples = run_lm_eval(
        ["--model", "vllm-vlm", "--model_args", f"pretrained={model_dir},max_images=3", "--tasks", "med_mim_circular",
         "--include_path", str(tasks_path(LM_EVAL)), "--apply_chat_template", "--limit", str(CIRCULAR_LIMIT)],
        env,
        tmp_path / "run",
        CIRCULAR_TASKS,
    )
    for task in CIRCULAR_TASKS:
        docs = build_circular_docs(task, family_benchmark.environ)
        assert [sample["doc"]["doc_key"] for sample in samples[task]] == [doc["doc_key"] for doc in docs], task
        records: dict[str, list[Any]] = {metric: [] for metric in CIRCULAR_AGGREGATIONS}
        for sample in samples[task]:
            expected = process_circular_results(sample["doc"], sample["filtered_resps"])
            assert {metric: sample[metric] for metric in expected} == expected, (task, sample["doc_id"])
            for metric in records:
                records[metric].append(sample[metric])
        scores = results["results"][task]
        for metric, aggregation in CIRCULAR_AGGREGATIONS.items():
            assert scores[f"{metric},none"] == pytest.approx(aggregation(records[metric]), nan_ok=True), (task, metric)  # stderr: NaN for one item
        assert (scores["mc_circular_items,none"], scores["mc_circular_incomplete,none"]) == (1.0, 0.0), task
        assert scores["mc_circular_acc,none"] == 0.0, task  # "B" cannot be the gold letter in every shift
    for group, members in (("med_mim_circular_held_in", CIRCULAR_TASKS[:4]), ("med_mim_circular_held_out", CIRCULAR_TASKS[4:])):
        for metric in ("mc_circular_acc", "mc_circular_consistency", "mc_circular_chance", "mc_acc"):
            macro_mean = sum(results["results"][task][f"{metric},none"] for task in members) / len(members)
            assert results["results"][group][f"{metric},none"] == pytest.approx(macro_mean), (group, metric)
    top = results["results"]["med_mim_circular"]
    assert top["mc_circular_acc,none"] == 0.0
    # every item-level and per-shift metric of the groups is aggregated by lm-eval's group mean
    assert all(isinstance(top[f"{metric},none"], float) for metric in (*CIRCULAR_METRICS, "mc_acc", "mc_text_acc", "mc_parsed", "mc_chance"))
    # `medmim report` reads it as a circular run made by lm-eval
    (run,) = load_runs([tmp_path / "run"])
    assert run.framework == LM_EVAL and run.label.endswith("[circular]")
    assert len(run.docs) == sum(len(logged) for logged in samples.values())
