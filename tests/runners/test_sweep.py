"""`medmim sweep`: sweep files, configuration hashes, commands, resuming; a stand-in lmms-eval for the
fast tests and the real one (dummy model plus one that fails) end to end."""

from __future__ import annotations

import json
import multiprocessing
import os
import sys
from pathlib import Path
from typing import Any

import pytest
from run_samples import ODIR, TEMPORAL, mc_doc, write_run

from medmim_tasks.cli.main import main
from medmim_tasks.results.run_files import SWEEP_RUN_FILE
from medmim_tasks.results.runs import load_runs
from medmim_tasks.runners.sweep import BUSY, DONE, FAILED, SKIPPED, lmms_eval_command, run_sweep
from medmim_tasks.runners.sweep_done import completed_results
from medmim_tasks.runners.sweep_plan import CACHE_FOLDER, ModelSpec, SweepFileError, cache_folder, config_hash, load_sweep, run_folder

SWEEP = """\
output: out
tasks: [med_mim_held_out_odir, med_mim_held_out_rad]
limit: 5
models:
  - name: dummy-A
    model: dummy
    model_args: response=A
  - name: broken
    model: no_such_model
  - name: dummy-B
    model: dummy
    model_args: {response: B}
    gen_kwargs: {max_new_tokens: 16}
"""

# Stands in for `python -m medmim_tasks.runners.resumable ...` (lmms-eval's CLI): logs each call, fails for the
# model `no_such_model` (exiting 0, as lmms-eval does), otherwise writes a results file and sample files for the
# requested tasks.
FAKE_LMMS_EVAL = """\
import json, sys, pathlib
args = sys.argv[3:]  # after "-m medmim_tasks.runners.resumable"
value = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
out = pathlib.Path(value["--output_path"])
with open(pathlib.Path(__file__).with_name("calls.txt"), "a") as calls:
    calls.write(value["--model"] + "\\n")
if value["--model"] == "no_such_model":
    print("ERROR | lmms_eval.__main__:cli_evaluate - Error during evaluation: Model 'no_such_model' not found")
    sys.exit(0)
tasks = value["--tasks"].split(",")
out.mkdir(parents=True, exist_ok=True)
for task in tasks:
    (out / f"20260101_000000_samples_{task}.jsonl").write_text("")
results = {"results": {t: {} for t in tasks}, "n-samples": {t: {"effective": 0} for t in tasks}}
(out / "20260101_000000_results.json").write_text(json.dumps(results))
"""


def write_sweep(folder: Path, text: str = SWEEP) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sweep.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def python_running(folder: Path, script_text: str) -> Path:
    """An executable `folder/python` that runs the script `script_text` (saved beside it) with its arguments."""
    script = folder / "fake_lmms_eval.py"
    folder.mkdir(parents=True, exist_ok=True)
    script.write_text(script_text)
    launcher = folder / "python"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    launcher.chmod(0o755)
    return launcher


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    """An executable that behaves like `python -m lmms_eval` for the sweep (see FAKE_LMMS_EVAL)."""
    return python_running(tmp_path / "fake", FAKE_LMMS_EVAL)


def calls(fake_python: Path) -> list[str]:
    path = fake_python.with_name("calls.txt")
    return path.read_text().split() if path.exists() else []


def test_load_sweep_reads_models_tasks_and_output(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "s"))
    assert sweep.output == (tmp_path / "s" / "out").resolve()
    assert sweep.tasks == "med_mim_held_out_odir,med_mim_held_out_rad"
    assert sweep.limit == 5
    assert [m.name for m in sweep.models] == ["dummy-A", "broken", "dummy-B"]
    assert sweep.models[2] == ModelSpec("dummy-B", "dummy", "response=B", "max_new_tokens=16", "1", None)
    defaults = load_sweep(write_sweep(tmp_path / "d", "output: /abs/out\nmodels:\n  - {name: m, model: dummy}\n"))
    assert defaults.tasks == "med_mim" and defaults.output == Path("/abs/out") and defaults.limit is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("models:\n  - {name: m, model: dummy}\n", "no output folder"),
        ("output: o\nmodel:\n  - {name: m, model: dummy}\n", "unknown key\\(s\\) model;"),
        ("output: o\nmodels: []\n", "`models` must be a non-empty list"),
        ("output: o\nmodels:\n  - {model: dummy}\n", "model 1: `name` is required"),
        ("output: o\nmodels:\n  - {name: m, model: dummy, modelargs: x}\n", "model 1: unknown key\\(s\\) modelargs"),
        ("output: o\nmodels:\n  - {name: m, model: dummy}\n  - {name: m, model: dummy, model_args: x=1}\n", "m appear more than once"),
        ("output: o\nmodels:\n  - {name: a, model: dummy}\n  - {name: b, model: dummy}\n", "models a and b have the same configuration"),
        ("output: o\nlimit: -3\nmodels:\n  - {name: m, model: dummy}\n", "limit must be a positive number"),
        ("output: o\nmodels:\n  - {name: m, model: dummy, processes: 0}\n", "processes must be a positive integer"),
        ("output: o\nmodels: [\n", "not valid YAML"),
    ],
)
def test_bad_sweep_files_are_explained(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(SweepFileError, match=message):
        load_sweep(write_sweep(tmp_path, text))


def test_the_configuration_hash_ignores_the_label_and_processes_but_not_the_settings(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    base = ModelSpec("x", "dummy", "response=A")
    assert config_hash(sweep, base) == config_hash(sweep, ModelSpec("renamed", "dummy", "response=A", processes=8))
    assert config_hash(sweep, base) != config_hash(sweep, ModelSpec("x", "dummy", "response=B"))
    assert config_hash(sweep, base) != config_hash(sweep, ModelSpec("x", "dummy", "response=A", gen_kwargs="max_new_tokens=8"))
    assert run_folder(sweep, ModelSpec("my model/v2", "dummy")).name.startswith("my_model_v2-")


def test_the_lmms_eval_command_logs_samples_uses_the_cache_and_its_own_folder(tmp_path: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path))
    spec = sweep.models[2]
    folder = run_folder(sweep, spec)
    command = lmms_eval_command(sweep, spec, folder, python="py")
    assert command[:3] == ["py", "-m", "medmim_tasks.runners.resumable"]  # lmms-eval's CLI, replies kept as made
    text = " ".join(command)
    assert "--model dummy --model_args response=B --tasks med_mim_held_out_odir,med_mim_held_out_rad" in text
    assert "--gen_kwargs max_new_tokens=16 --limit 5 --log_samples" in text
    cache = sweep.output / CACHE_FOLDER / config_hash(sweep, spec)[:12]  # one cache per configuration
    assert f"--use_cache {cache} --output_path {folder}" in text
    launched = lmms_eval_command(sweep, ModelSpec("big", "qwen2_5_vl", processes=4), folder, python="py")
    assert launched[:7] == ["py", "-m", "accelerate.commands.launch", "--num_processes", "4", "-m", "medmim_tasks.runners.resumable"]


def test_completed_results_needs_every_task_and_its_samples(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    assert completed_results(folder, TEMPORAL) is None
    results_file = write_run(folder / "org__model", {TEMPORAL: [mc_doc(True)], ODIR: [mc_doc(False)]})
    assert completed_results(folder, f"{TEMPORAL},{ODIR}") == results_file
    assert completed_results(folder, f"{TEMPORAL},med_mim_held_out_rad") is None
    (folder / "org__model" / f"20260101_120000_samples_{ODIR}.jsonl").unlink()
    assert completed_results(folder, TEMPORAL) is None


def test_a_failing_model_does_not_stop_the_others_and_a_rerun_redoes_only_it(tmp_path: Path, fake_python: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "s"))
    messages: list[str] = []
    first = run_sweep(sweep, python=str(fake_python), say=messages.append)
    assert [(o.name, o.status) for o in first] == [("dummy-A", DONE), ("broken", FAILED), ("dummy-B", DONE)]
    assert "Model 'no_such_model' not found" in first[1].reason and "exit code 0" in first[1].reason
    assert calls(fake_python) == ["dummy", "no_such_model", "dummy"]
    record = json.loads((first[0].folder / SWEEP_RUN_FILE).read_text())
    assert record["name"] == "dummy-A" and record["config_hash"] == config_hash(sweep, sweep.models[0])
    second = run_sweep(sweep, python=str(fake_python), say=messages.append)
    assert [(o.name, o.status) for o in second] == [("dummy-A", SKIPPED), ("broken", FAILED), ("dummy-B", SKIPPED)]
    assert calls(fake_python) == ["dummy", "no_such_model", "dummy", "no_such_model"]
    assert len(list((first[1].folder / "logs").glob("*.log"))) == 2  # one log per attempt, none overwritten
    assert second[0].folder == first[0].folder


def test_renaming_a_finished_model_does_not_run_it_again(tmp_path: Path, fake_python: Path) -> None:
    sweep_file = write_sweep(tmp_path / "s", "output: out\nmodels:\n  - {name: first, model: dummy, model_args: response=A}\n")
    run_sweep(load_sweep(sweep_file), python=str(fake_python), say=lambda _: None)
    sweep_file.write_text("output: out\nmodels:\n  - {name: second, model: dummy, model_args: response=A}\n")
    outcomes = run_sweep(load_sweep(sweep_file), python=str(fake_python), say=lambda _: None)
    assert outcomes[0].status == SKIPPED and outcomes[0].folder.name.startswith("first-")
    assert calls(fake_python) == ["dummy"]


def test_only_runs_the_named_models(tmp_path: Path, fake_python: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "s"))
    outcomes = run_sweep(sweep, only=["dummy-B"], python=str(fake_python), say=lambda _: None)
    assert [o.name for o in outcomes] == ["dummy-B"]
    with pytest.raises(SweepFileError, match="no model named nope"):
        run_sweep(sweep, only=["nope"], python=str(fake_python))


def test_dry_run_prints_one_line_per_model_and_runs_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sweep_file = write_sweep(tmp_path / "s")
    assert main(["sweep", str(sweep_file), "--dry-run"]) == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert len(lines) == 3
    assert all(f"sweep {sweep_file.resolve()} --output" in line for line in lines)
    assert [line.rsplit("--only ", 1)[1] for line in lines] == ["dummy-A", "broken", "dummy-B"]
    assert captured.err.count("-m medmim_tasks.runners.resumable --model") == 3
    assert not (tmp_path / "s" / "out").exists()


def test_sweep_command_reports_a_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sweep", str(tmp_path / "missing.yaml")]) == 2
    assert "cannot read the sweep file" in capsys.readouterr().err


@pytest.mark.slow
def test_real_sweep_with_a_failing_model_finishes_the_others_and_resumes(
    medmim_env: dict[str, str], tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    sweep_file = write_sweep(tmp_path, SWEEP.replace("tasks: [med_mim_held_out_odir, med_mim_held_out_rad]", "tasks: med_mim_held_out_odir"))
    assert main(["sweep", str(sweep_file)]) == 1
    first = capsys.readouterr().out
    assert "| dummy-A | done |" in first and "| broken | failed |" in first and "| dummy-B | done |" in first
    assert "not found in available models" in first
    output = tmp_path / "out"
    results_before = sorted(p.name for p in output.rglob("*_results.json"))
    assert len(results_before) == 2
    runs = {run.label: run for run in load_runs([output])}
    assert set(runs) == {"dummy-A", "dummy-B"}
    for label, letter in (("dummy-A", "A"), ("dummy-B", "B")):  # the limit reaches both kinds: MC replies parsed
        docs = runs[label].docs
        assert set(docs[docs["kind"] == "multiple_choice"]["parsed"]) == {letter}
    assert main(["sweep", str(sweep_file)]) == 1
    second = capsys.readouterr().out
    assert "| dummy-A | skipped |" in second and "| dummy-B | skipped |" in second and "| broken | failed |" in second
    assert sorted(p.name for p in output.rglob("*_results.json")) == results_before
    logs = {f.name.rsplit("-", 1)[0]: len(list((f / "logs").glob("*.log"))) for f in output.iterdir() if (f / "logs").is_dir()}
    assert logs == {"dummy-A": 1, "broken": 2, "dummy-B": 1}
    assert os.path.isdir(output / "response-cache")


# --------------------------------------------------------------------------- settings that change results (issue 18.4)

RESULT_SETTING_VALUES = {
    "MEDMIM_ON_MISSING": "skip",
    "MEDMIM_PROMPT_VARIANT": "published",
    "MEDMIM_MAX_IMAGE_SIDE": "256",
    "MEDMIM_JUDGE_URL": "http://127.0.0.1:9/v1",
    "MEDMIM_JUDGE_MODEL": "judge-7b",
    "MEDMIM_IMAGE_ROOT": "/data/images",
    "MEDMIM_ODIR_ROOT": "/data/odir",
    "MEDMIM_EMBED_ROOT": "/data/embed",
    "MEDMIM_SANITY_DIR": "/data/sanity",
}


@pytest.mark.parametrize(("name", "value"), sorted(RESULT_SETTING_VALUES.items()))
def test_a_setting_that_changes_results_changes_the_configuration_hash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.delenv(name, raising=False)
    sweep_file = write_sweep(tmp_path)
    before = config_hash(load_sweep(sweep_file), load_sweep(sweep_file).models[0])
    monkeypatch.setenv(name, value)
    after_sweep = load_sweep(sweep_file)
    assert config_hash(after_sweep, after_sweep.models[0]) != before


def test_settings_that_do_not_change_results_leave_the_hash_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sweep_file = write_sweep(tmp_path)
    before = config_hash(load_sweep(sweep_file), load_sweep(sweep_file).models[0])
    monkeypatch.setenv("MEDMIM_JUDGE_API_KEY", "secret-key")
    monkeypatch.setenv("MEDMIM_JUDGE_TIMEOUT", "5")
    monkeypatch.setenv("MEDMIM_JUDGE_CACHE", str(tmp_path / "judge-cache"))
    after = load_sweep(sweep_file)
    assert config_hash(after, after.models[0]) == before


def test_the_benchmark_files_content_is_part_of_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medmim_tasks.benchmark.splits import SPLITS

    benchmark = tmp_path / "benchmark"
    benchmark.mkdir()
    for split in SPLITS:
        (benchmark / split.file_name).write_text("[]")
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark))
    sweep_file = write_sweep(tmp_path / "s")
    before = config_hash(load_sweep(sweep_file), load_sweep(sweep_file).models[0])
    changed = benchmark / SPLITS[0].file_name
    changed.write_text("[ ]")  # same folder, other content (and size)
    after = load_sweep(sweep_file)
    assert config_hash(after, after.models[0]) != before


def test_a_run_with_missing_images_skipped_is_not_reused_for_a_full_run_and_its_record_says_so(
    tmp_path: Path, fake_python: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sweep_file = write_sweep(tmp_path / "s", "output: out\nmodels:\n  - {name: m, model: dummy, model_args: response=A}\n")
    monkeypatch.setenv("MEDMIM_ON_MISSING", "skip")
    partial = run_sweep(load_sweep(sweep_file), python=str(fake_python), say=lambda _: None)
    monkeypatch.delenv("MEDMIM_ON_MISSING")
    full = run_sweep(load_sweep(sweep_file), python=str(fake_python), say=lambda _: None)
    assert [o.status for o in partial] == [DONE] and [o.status for o in full] == [DONE]
    assert calls(fake_python) == ["dummy", "dummy"]
    assert partial[0].folder != full[0].folder
    partial_record = json.loads((partial[0].folder / SWEEP_RUN_FILE).read_text())
    full_record = json.loads((full[0].folder / SWEEP_RUN_FILE).read_text())
    assert partial_record["settings"]["MEDMIM_ON_MISSING"] == "skip"
    assert full_record["settings"]["MEDMIM_ON_MISSING"] is None
    assert "MEDMIM_JUDGE_API_KEY" not in json.dumps(full_record)


# --------------------------------------------------------------------------- a truncated samples file (issue 18.6)


def test_a_run_whose_samples_are_truncated_or_mixed_is_not_finished(tmp_path: Path) -> None:
    folder = tmp_path / "run"
    results_file = write_run(folder, {TEMPORAL: [mc_doc(True), mc_doc(False), mc_doc(True)]})
    samples = folder / f"20260101_120000_samples_{TEMPORAL}.jsonl"
    lines = samples.read_text().splitlines()
    assert completed_results(folder, TEMPORAL) == results_file
    samples.write_text("\n".join(lines[:2]) + "\n")  # lmms-eval killed after the results, before the last sample
    assert completed_results(folder, TEMPORAL) is None
    samples.write_text("\n".join(lines[:2]) + "\n" + lines[2][:25])  # cut in the middle of a line
    assert completed_results(folder, TEMPORAL) is None
    samples.write_text("\n".join([lines[0], lines[1], lines[1]]) + "\n")  # right count, one document twice
    assert completed_results(folder, TEMPORAL) is None
    samples.write_text("\n".join(lines) + "\n")
    assert completed_results(folder, TEMPORAL) == results_file


FAKE_TRUNCATING = FAKE_LMMS_EVAL.replace(
    '(out / "20260101_000000_results.json").write_text(json.dumps(results))',
    'results["n-samples"] = {t: {"original": 2, "effective": 2} for t in tasks}\n'
    '(out / "20260101_000000_results.json").write_text(json.dumps(results))\n'
    'for task in tasks:\n'
    '    (out / f"20260101_000000_samples_{task}.jsonl").write_text(json.dumps({"doc_id": 0}) + "\\n")',
)


def test_a_model_whose_samples_file_is_short_fails_with_the_reason(tmp_path: Path, fake_python: Path) -> None:
    python_running(fake_python.parent, FAKE_TRUNCATING)
    sweep_file = write_sweep(tmp_path / "s", f"output: out\ntasks: {TEMPORAL}\nmodels:\n  - {{name: m, model: dummy}}\n")
    outcomes = run_sweep(load_sweep(sweep_file), python=str(fake_python), say=lambda _: None)
    assert outcomes[0].status == FAILED
    assert f"samples_{TEMPORAL}.jsonl" in outcomes[0].reason and "1 of 2" in outcomes[0].reason
    again = run_sweep(load_sweep(sweep_file), python=str(fake_python), say=lambda _: None)
    assert again[0].status == FAILED and calls(fake_python) == ["dummy", "dummy"]  # never skipped as finished


# --------------------------------------------------------------------------- parallel sweeps on one folder (issue 18.5)

# A slow stand-in that appends one sample line per document, as a long run does.
FAKE_SLOW = """\
import json, sys, time, pathlib
args = sys.argv[3:]
value = {args[i]: args[i + 1] for i in range(len(args) - 1) if args[i].startswith("--")}
out = pathlib.Path(value["--output_path"])
with open(pathlib.Path(__file__).with_name("calls.txt"), "a") as calls:
    calls.write(value["--model"] + "\\n")
task = value["--tasks"]
out.mkdir(parents=True, exist_ok=True)
results = {"results": {task: {}}, "n-samples": {task: {"original": 2, "effective": 2}}}
(out / "20260101_000000_results.json").write_text(json.dumps(results))
for doc_id in range(2):
    time.sleep(1.0)
    with open(out / f"20260101_000000_samples_{task}.jsonl", "a") as samples:
        samples.write(json.dumps({"doc_id": doc_id}) + "\\n")
"""


def _sweep_in_another_process(sweep_file: str, python: str, queue: Any) -> None:
    outcomes = run_sweep(load_sweep(sweep_file), python=python, say=lambda _: None)
    queue.put([(o.name, o.status, o.reason) for o in outcomes])


def test_parallel_sweeps_on_one_folder_run_each_model_once(tmp_path: Path, fake_python: Path) -> None:
    python_running(fake_python.parent, FAKE_SLOW)
    sweep_file = write_sweep(tmp_path / "s", f"output: out\ntasks: {TEMPORAL}\nmodels:\n  - {{name: m, model: dummy}}\n")
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    processes = [context.Process(target=_sweep_in_another_process, args=(str(sweep_file), str(fake_python), queue)) for _ in range(4)]
    for process in processes:
        process.start()
    results = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    statuses = sorted(outcome[0][1] for outcome in results)
    assert calls(fake_python) == ["dummy"]  # one process ran the model; the others skipped it
    assert statuses.count(DONE) == 1 and set(statuses) <= {DONE, BUSY, SKIPPED}
    busy = [outcome[0][2] for outcome in results if outcome[0][1] == BUSY]
    assert all("another sweep" in reason for reason in busy)
    samples = list((tmp_path / "s" / "out").rglob(f"*_samples_{TEMPORAL}.jsonl"))
    assert len(samples) == 1 and len(samples[0].read_text().splitlines()) == 2


# --------------------------------------------------------------------------- resuming a killed run (issue 18.7)

def test_replies_are_kept_as_made_and_found_by_the_next_attempt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.api.instance import Instance
    from lmms_eval.caching.response_cache import ResponseCache

    from medmim_tasks.runners.resumable import (
        chunk_size,
        keep_replies_as_made,
        keep_unmerged_replies,
    )

    assert (chunk_size(["--batch_size", "4"]), chunk_size(["--batch_size=2"]), chunk_size(["--batch_size", "auto"])) == (4, 2, 32)
    monkeypatch.setattr(ResponseCache, "execute", ResponseCache.execute)  # the original comes back after the test
    keep_replies_as_made(1)
    monkeypatch.setenv("LMMS_CACHE_RUN_ID", "config-hash")  # what the sweep sets
    requests = [Instance("generate_until", ("question", {"max_new_tokens": 8}), 0, {"task": ODIR, "doc_id": i, "repeats": 1}) for i in range(5)]

    class Killed(BaseException):
        pass

    class Model:
        def __init__(self, dies_at: int | None = None) -> None:
            self.asked: list[int] = []
            self.dies_at = dies_at

        def generate_until(self, batch: list[Any]) -> list[str]:
            for request in batch:
                if len(self.asked) == self.dies_at:
                    raise Killed  # the process dies: nothing after this point runs, no clean finish
                self.asked.append(request.doc_id)
            return [f"reply {request.doc_id}" for request in batch]

    cache_root = tmp_path / "cache"
    killed = ResponseCache.create(str(cache_root), model="dummy", model_args="response=A")
    with pytest.raises(Killed):
        killed.execute(Model(dies_at=3), "generate_until", requests)
    killed.close()
    assert keep_unmerged_replies(cache_root) == 3  # the three replies made before the kill
    model = Model()
    rerun = ResponseCache.create(str(cache_root), model="dummy", model_args="response=A")
    assert rerun.execute(model, "generate_until", requests) == [f"reply {i}" for i in range(5)]
    assert model.asked == [3, 4]  # only the documents that had no reply
    rerun.close()


def test_a_damaged_cache_file_is_named_and_the_model_still_runs(tmp_path: Path, fake_python: Path) -> None:
    sweep = load_sweep(write_sweep(tmp_path / "s", "output: out\nmodels:\n  - {name: m, model: dummy}\n"))
    spec = sweep.models[0]
    # the rank file this configuration's rerun reopens (LMMS_CACHE_RUN_ID is the configuration hash)
    damaged = cache_folder(sweep, spec) / "runs" / config_hash(sweep, spec) / "rank_0.db"
    damaged.parent.mkdir(parents=True)
    damaged.write_bytes(b"not a database" * 100)
    messages: list[str] = []
    outcomes = run_sweep(sweep, python=str(fake_python), say=messages.append)
    assert outcomes[0].status == DONE
    assert any("cannot read the replies of earlier attempts" in m and "generated again" in m for m in messages)
    assert not damaged.exists() and damaged.with_name("rank_0.db.damaged").is_file()  # out of lmms-eval's way


def test_a_damaged_rank_file_does_not_cost_the_replies_of_the_others(tmp_path: Path) -> None:
    from lmms_eval.caching.response_cache import ResponseCache

    from medmim_tasks.runners.resumable import keep_unmerged_replies

    cache_root = tmp_path / "cache"
    good = cache_root / "runs" / "b" / "rank_0.db"
    good.parent.mkdir(parents=True)
    ResponseCache.merge_shards([], str(good))  # an empty cache file of lmms-eval's schema
    import sqlite3

    with sqlite3.connect(good) as connection:
        connection.execute(
            "INSERT INTO responses (cache_key, request_type, task_name, doc_id, idx, gen_kwargs, response, created_at) VALUES ('k', 'generate_until', 't', 0, 0, '{}', '\"A\"', 0)"
        )
    bad = cache_root / "runs" / "a" / "rank_0.db"  # sorted before the good one
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"not a database" * 100)
    set_aside: list[Path] = []
    assert keep_unmerged_replies(cache_root, set_aside) == 1
    assert set_aside == [bad.with_name("rank_0.db.damaged")] and not bad.exists()


# Stands in for `python -m medmim_tasks.runners.resumable ...`: the real lmms-eval with its dummy model made to
# record every request it answers (RECORD_CALLS), reply a letter that depends on the document, and kill its own
# process with SIGKILL when asked for one reply more than KILL_AFTER.
RECORDING_LMMS_EVAL = """\
import os, runpy, signal, sys
from lmms_eval.models.simple.dummy import Dummy

def generate_until(self, requests):
    replies = []
    for request in requests:
        with open(os.environ["RECORD_CALLS"], "a") as calls:
            calls.write(f"{request.task_name} {request.doc_id}\\n")
        with open(os.environ["RECORD_CALLS"]) as calls:
            made = sum(1 for _ in calls)
        if os.environ.get("KILL_AFTER") and made > int(os.environ["KILL_AFTER"]):
            os.kill(os.getpid(), signal.SIGKILL)
        replies.append("ABCD"[request.doc_id % 4])
    return replies

Dummy.generate_until = generate_until
assert sys.argv[1] == "-m"
sys.argv = sys.argv[2:]
runpy.run_module(sys.argv[0], run_name="__main__", alter_sys=True)
"""


def _recorded(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.slow
def test_a_killed_run_is_resumed_generating_only_the_documents_without_a_reply(
    medmim_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path / "hf")}.items():
        monkeypatch.setenv(name, value)
    python = python_running(tmp_path / "fake", RECORDING_LMMS_EVAL)
    text = f"tasks: {ODIR}\nlimit: 6\nmodels:\n  - {{name: letters, model: dummy}}\n"
    killed_file = write_sweep(tmp_path / "killed", "output: out\n" + text)
    clean_file = write_sweep(tmp_path / "clean", "output: out\n" + text)

    first_calls, second_calls, clean_calls = tmp_path / "first.txt", tmp_path / "second.txt", tmp_path / "clean.txt"
    killed = load_sweep(killed_file)
    first = run_sweep(killed, python=str(python), env={**os.environ, "RECORD_CALLS": str(first_calls), "KILL_AFTER": "2"}, say=lambda _: None)
    assert first[0].status == FAILED and "exit code -9" in first[0].reason
    assert len(_recorded(first_calls)) == 3  # two replies made and kept, the third request killed the process
    second = run_sweep(load_sweep(killed_file), python=str(python), env={**os.environ, "RECORD_CALLS": str(second_calls)}, say=lambda _: None)
    assert second[0].status == DONE, second[0].reason
    clean = run_sweep(load_sweep(clean_file), python=str(python), env={**os.environ, "RECORD_CALLS": str(clean_calls)}, say=lambda _: None)
    assert clean[0].status == DONE, clean[0].reason

    everything = _recorded(clean_calls)
    assert len(everything) == 6
    assert sorted(_recorded(second_calls)) == sorted(set(everything) - set(_recorded(first_calls)[:2]))  # only the missing ones

    def results_and_replies(folder: Path) -> tuple[dict, dict]:
        results_file = completed_results(folder, ODIR)
        assert results_file is not None
        results = json.loads(results_file.read_text())["results"][ODIR]
        samples = [json.loads(line) for line in results_file.with_name(results_file.name.replace("results.json", f"samples_{ODIR}.jsonl")).read_text().splitlines()]
        return results, {sample["doc_id"]: sample["filtered_resps"] for sample in samples}

    resumed_results, resumed_replies = results_and_replies(second[0].folder)
    clean_results, clean_replies = results_and_replies(clean[0].folder)
    assert resumed_replies == clean_replies and len(clean_replies) == 6
    assert resumed_results == clean_results


def test_the_code_and_task_yamls_are_part_of_the_hash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sweep folder made by other prompts or scoring code (same version number) is not reused."""
    import shutil

    import medmim_tasks.runners.sweep_plan as sweep_module
    from medmim_tasks.task.task_path import tasks_path

    sweep = load_sweep(write_sweep(tmp_path / "s", "output: out\nmodels:\n  - {name: m, model: dummy}\n"))
    before = config_hash(sweep, sweep.models[0])
    edited = tmp_path / "tasks"
    shutil.copytree(tasks_path(), edited)
    template = edited / "_default_template_yaml"
    template.write_text(template.read_text().replace("max_new_tokens: 256", "max_new_tokens: 255"))
    monkeypatch.setattr(sweep_module, "tasks_path", lambda: edited)
    sweep_module.code_sha256.cache_clear()
    try:
        assert config_hash(sweep, sweep.models[0]) != before
    finally:
        sweep_module.code_sha256.cache_clear()


def test_lmms_eval_inherits_the_lock_so_a_killed_sweep_keeps_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import subprocess

    import medmim_tasks.runners.sweep as sweep_module
    from medmim_tasks.runners.sweep_plan import lock_file

    sweep = load_sweep(write_sweep(tmp_path / "s", "output: out\nmodels:\n  - {name: m, model: dummy}\n"))
    passed: dict[str, object] = {}

    def fake_run(command: list[str], **kwargs: object) -> subprocess.CompletedProcess[str]:
        (descriptor,) = kwargs["pass_fds"]  # type: ignore[misc]
        # the descriptor handed over is the held lock file itself
        passed["same_file"] = os.fstat(descriptor).st_ino == os.stat(lock_file(sweep, sweep.models[0])).st_ino
        return subprocess.CompletedProcess(command, 1)

    monkeypatch.setattr(sweep_module.subprocess, "run", fake_run)
    run_sweep(sweep, say=lambda message: None)
    assert passed == {"same_file": True}


def test_an_output_folder_that_cannot_be_written_stops_before_any_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 18, item 10: a message naming the folder and the fix, no traceback, no model started."""
    (tmp_path / "a-file").write_text("not a folder")
    sweep_file = write_sweep(tmp_path / "s", f"output: {tmp_path / 'a-file' / 'out'}\nmodels:\n  - {{name: m, model: dummy}}\n")
    assert main(["sweep", str(sweep_file)]) == 2
    err = capsys.readouterr().err
    assert "cannot write to the output folder" in err and "--output" in err and "Traceback" not in err
