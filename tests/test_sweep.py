"""`medmim sweep`: sweep files, configuration hashes, commands, resuming; a stand-in lmms-eval for the
fast tests and the real one (dummy model plus one that fails) end to end."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from test_runs import ODIR, TEMPORAL, mc_doc, write_run

from medmim_tasks.cli import main
from medmim_tasks.runs import SWEEP_RUN_FILE, load_runs
from medmim_tasks.sweep import (
    CACHE_FOLDER,
    DONE,
    FAILED,
    SKIPPED,
    ModelSpec,
    SweepFileError,
    completed_results,
    config_hash,
    lmms_eval_command,
    load_sweep,
    run_folder,
    run_sweep,
)

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

# Stands in for `python -m lmms_eval ...`: logs each call, fails for the model `no_such_model` (exiting 0, as
# lmms-eval does), otherwise writes a results file and sample files for the requested tasks.
FAKE_LMMS_EVAL = """\
import json, sys, pathlib
args = sys.argv[3:]  # after "-m lmms_eval"
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


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    """An executable that behaves like `python -m lmms_eval` for the sweep (see FAKE_LMMS_EVAL)."""
    script = tmp_path / "fake" / "fake_lmms_eval.py"
    script.parent.mkdir()
    script.write_text(FAKE_LMMS_EVAL)
    launcher = tmp_path / "fake" / "python"
    launcher.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{script}" "$@"\n')
    launcher.chmod(0o755)
    return launcher


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
    assert command[:3] == ["py", "-m", "lmms_eval"]
    text = " ".join(command)
    assert "--model dummy --model_args response=B --tasks med_mim_held_out_odir,med_mim_held_out_rad" in text
    assert "--gen_kwargs max_new_tokens=16 --limit 5 --log_samples" in text
    assert f"--use_cache {sweep.output / CACHE_FOLDER} --output_path {folder}" in text
    launched = lmms_eval_command(sweep, ModelSpec("big", "qwen2_5_vl", processes=4), folder, python="py")
    assert launched[:7] == ["py", "-m", "accelerate.commands.launch", "--num_processes", "4", "-m", "lmms_eval"]


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
    assert captured.err.count("-m lmms_eval --model") == 3
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
    assert set(runs["dummy-A"].docs["parsed"]) == {"A"} and set(runs["dummy-B"].docs["parsed"]) == {"B"}
    assert main(["sweep", str(sweep_file)]) == 1
    second = capsys.readouterr().out
    assert "| dummy-A | skipped |" in second and "| dummy-B | skipped |" in second and "| broken | failed |" in second
    assert sorted(p.name for p in output.rglob("*_results.json")) == results_before
    logs = {f.name.rsplit("-", 1)[0]: len(list((f / "logs").glob("*.log"))) for f in output.iterdir() if (f / "logs").is_dir()}
    assert logs == {"dummy-A": 1, "broken": 2, "dummy-B": 1}
    assert os.path.isdir(output / "response-cache")
