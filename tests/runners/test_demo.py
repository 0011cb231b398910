"""`medmim demo`: the sanity task through the real lmms-eval CLI (slow end-to-end runs) and its parts."""

from __future__ import annotations

import io
import json
import os
import re
import sys
import textwrap
import time
from pathlib import Path

import pytest

from medmim_tasks.runners.demo import DemoError, DemoRun, find_results, lmms_eval_command, read_task_results, run_demo
from medmim_tasks.runners.demo_process import run_lmms_eval
from medmim_tasks.runners.demo_report import format_report
from medmim_tasks.sanity.generated_set import ITEMS_PER_TYPE, QUESTION_TYPES, SANITY_TASK, WHICH_IMAGE
from medmim_tasks.sanity.scoring import type_chance_metric, type_score_metric


def _clean_env(home: Path) -> dict[str, str]:
    """A fresh user's environment: new HOME (so empty ~/.cache), no Med-MIM variables."""
    env = {key: value for key, value in os.environ.items() if not key.startswith(("MEDMIM_", "HF_"))}
    env.pop("TRANSFORMERS_CACHE", None)
    env["HOME"] = str(home)
    env.pop("XDG_CACHE_HOME", None)
    return env


def _medmim(args: list[str], env: dict[str, str], cwd: Path, timeout: int = 600):
    import subprocess

    return subprocess.run(
        [sys.executable, "-m", "medmim_tasks.cli.main", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False
    )


# ---------------------------------------------------------------- end to end (slow)


@pytest.mark.slow
def test_demo_runs_lmms_eval_end_to_end_on_a_fresh_machine(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    output = tmp_path / "out"
    started = time.monotonic()
    result = _medmim(["demo", "--output", str(output)], _clean_env(home), cwd=tmp_path)
    elapsed = time.monotonic() - started
    assert result.returncode == 0, result.stdout + result.stderr
    stdout = result.stdout

    # built locally, under the (new) home cache
    assert (home / ".cache/medmim/sanity/med_mim_sanity.json").is_file()
    assert (home / ".cache/medmim/tiny-llava/config.json").is_file()
    for step in ("[1/4]", "[2/4]", "[3/4]", "[4/4]", "the model is answering", "answered 144/144 documents"):
        assert step in stdout, step

    results_path = Path(re.search(r"^Results: (.+)$", stdout, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert results_path.is_file() and results_path.is_relative_to(output)
    task = json.loads(results_path.read_text())["results"][SANITY_TASK]
    samples_path = Path(re.search(r"^Samples: (.+)$", stdout, re.MULTILINE).group(1))  # type: ignore[union-attr]
    samples = [json.loads(line) for line in samples_path.read_text().splitlines()]
    assert len(samples) == ITEMS_PER_TYPE * len(QUESTION_TYPES)
    assert (output / "lmms_eval.log").is_file()
    report = output / "sanity_report.txt"
    assert f"This report: {report}" in stdout
    assert report.read_text().strip() in stdout

    # every type's row is printed with the results file's own numbers
    for qtype in QUESTION_TYPES:
        score = task[f"{type_score_metric(qtype.name)},none"]
        chance = task[f"{type_chance_metric(qtype.name)},none"]
        row = re.search(rf"^  {qtype.name}\s+{qtype.probe}\s+(?:accuracy|token F1)\s+(\d+)\s+([\d.]+)\s+([\d.]+)$", stdout, re.MULTILINE)
        assert row, f"no row for {qtype.name} in:\n{stdout}"
        assert int(row.group(1)) == ITEMS_PER_TYPE
        assert float(row.group(2)) == pytest.approx(score, abs=0.005)
        assert float(row.group(3)) == pytest.approx(chance, abs=0.005)
        assert 0 < chance < 1
    assert "random weights" in stdout
    print(f"medmim demo took {elapsed:.0f} s")


@pytest.mark.slow
def test_demo_with_a_named_model_flags_which_image_rows_at_chance(tmp_path: Path) -> None:
    """lmms-eval's dummy model always answers "A": exactly chance, which the demo points out."""
    env = _clean_env(tmp_path)
    clone = tmp_path / "clone"  # where a user runs it: nothing may be written here
    clone.mkdir()
    result = _medmim(["demo", "--model", "dummy", "--model_args", "response=A", "--limit", "48"], env, cwd=clone)
    assert result.returncode == 0, result.stdout + result.stderr
    results_path = Path(re.search(r"^Results: (.+)$", result.stdout, re.MULTILINE).group(1))  # type: ignore[union-attr]
    assert results_path.is_relative_to(tmp_path / ".cache" / "medmim" / "demo") and results_path.is_file()
    assert list(clone.iterdir()) == []
    assert "[3/3]" in result.stdout and "tiny" not in result.stdout.lower()
    assert not (tmp_path / ".cache/medmim/tiny-llava").exists()
    for qtype in QUESTION_TYPES:
        if qtype.probe == WHICH_IMAGE and qtype.kind == "multiple_choice":
            assert re.search(rf"^  {qtype.name}\s.*<- near chance$", result.stdout, re.MULTILINE), result.stdout
    assert "drops or reorders images" in result.stdout


@pytest.mark.slow
def test_demo_fails_loudly_when_lmms_eval_produces_no_results(tmp_path: Path) -> None:
    result = _medmim(["demo", "--model", "no_such_model", "--output", str(tmp_path / "out"), "--limit", "6"], _clean_env(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "medmim demo failed" in result.stderr
    assert "no_such_model" in result.stderr and str(tmp_path / "out" / "lmms_eval.log") in result.stderr


# ---------------------------------------------------------------- parts (fast)


def test_arguments_are_checked_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(DemoError, match="--model_args needs --model"):
        run_demo(model_args="pretrained=x", output=tmp_path, out=io.StringIO(), environ={"HOME": str(tmp_path)})
    with pytest.raises(DemoError, match="--limit must be a positive"):
        run_demo(limit=0, output=tmp_path, out=io.StringIO(), environ={"HOME": str(tmp_path)})
    assert not any(tmp_path.iterdir())


def test_the_command_is_the_lmms_eval_cli_on_the_sanity_task(tmp_path: Path) -> None:
    command = lmms_eval_command("qwen2_5_vl", "pretrained=Qwen/Qwen2.5-VL-7B-Instruct", tmp_path, limit=12)
    assert command[:3] == [sys.executable, "-m", "lmms_eval"]
    joined = " ".join(command)
    for part in ("--model qwen2_5_vl", f"--tasks {SANITY_TASK}", "--log_samples", f"--output_path {tmp_path}", "--limit 12"):
        assert part in joined
    assert "--gen_kwargs" not in joined  # a named model runs with the task's own generation settings
    assert "--gen_kwargs max_new_tokens=16" in " ".join(lmms_eval_command("llava_hf", None, tmp_path, gen_kwargs="max_new_tokens=16"))


FAKE_LMMS_EVAL = textwrap.dedent(
    """
    import sys
    print("2026-01-01 | INFO | Selected Tasks: ['med_mim_sanity']", flush=True)
    print("2026-01-01 | INFO | Building contexts for med_mim_sanity on rank 0...", flush=True)
    print("2026-01-01 | INFO | Running generate_until requests", flush=True)
    for done in range(0, 9):
        sys.stderr.write(f"\\rModel Responding: {done * 100 // 8:3d}%|##| {done}/8 [00:01<00:00]")
        sys.stderr.flush()
    sys.stderr.write("\\n")
    print("2026-01-01 | INFO | Postprocessed 8 docs", flush=True)
    """
)


def test_progress_is_shown_and_the_whole_output_logged(tmp_path: Path) -> None:
    out = io.StringIO()
    log = tmp_path / "log.txt"
    code = run_lmms_eval([sys.executable, "-c", FAKE_LMMS_EVAL], dict(os.environ), log, out)
    assert code == 0
    shown = out.getvalue()
    for line in ("starting lmms-eval", "loading the model and the task", "building the prompts", "the model is answering",
                 "answered 0/8 documents", "answered 2/8", "answered 4/8", "answered 6/8", "answered 8/8", "scoring the replies"):  # fmt: skip
        assert line in shown, line
    assert "answered 1/8" not in shown  # quarter steps only when not on a terminal
    assert "Model Responding" in log.read_text() and "Postprocessed 8 docs" in log.read_text()


def test_missing_or_incomplete_results_are_errors(tmp_path: Path) -> None:
    since = time.time() - 1
    with pytest.raises(DemoError, match="no \\*_results.json"):
        find_results(tmp_path, since)
    results = tmp_path / "model" / "20260101_000000_results.json"
    results.parent.mkdir()
    results.write_text(json.dumps({"results": {"other_task": {}}}))
    found, samples = find_results(tmp_path, since)
    assert found == results and samples is None
    with pytest.raises(DemoError, match=f"no results for task {SANITY_TASK}"):
        read_task_results(found)
    results.write_text(json.dumps({"results": {SANITY_TASK: {"mc_acc,none": 0.5}}}))
    with pytest.raises(DemoError, match="no per-type scores"):
        read_task_results(found)


def _run_with(scores: dict[str, tuple[float, float]], tmp_path: Path) -> DemoRun:
    results = {}
    for name, (score, chance) in scores.items():
        results[f"{type_score_metric(name)},none"] = score
        results[f"{type_chance_metric(name)},none"] = chance
    return DemoRun([], tmp_path, tmp_path / "log", tmp_path / "r.json", None, results, {name: 24 for name in scores})


def test_the_report_flags_near_chance_rows_only_for_a_named_model(tmp_path: Path) -> None:
    run = _run_with({"circle_position": (0.45, 0.42), "image_count": (1.0, 0.25), "open_circle_position": (0.57, 0.71)}, tmp_path)
    named = format_report(run, tiny=False)
    assert re.search(r"^  circle_position\s.*<- near chance$", named, re.MULTILINE)
    assert not re.search(r"^  image_count\s.*near chance", named, re.MULTILINE)
    assert not re.search(r"^  open_circle_position\s.*near chance", named, re.MULTILINE)  # token F1: wordy but right
    assert "drops or reorders images" in named
    assert "near chance" not in format_report(run, tiny=True)
    good = format_report(_run_with({"circle_position": (1.0, 0.42)}, tmp_path), tiny=False)
    assert "well above chance" in good
