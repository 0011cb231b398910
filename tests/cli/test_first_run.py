"""A new user's first minutes: the plain install carries what the demo needs, the `medmim` command
helps, the demo writes outside the clone, and missing data stops lmms-eval once, early and clearly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from medmim_tasks import __version__
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.cli.main import build_parser, main

REPO_ROOT = Path(__file__).resolve().parents[2]

# (sys_platform, platform_machine) of the platforms the README promises `medmim demo` on
DEMO_PLATFORMS = (("linux", "x86_64"), ("linux", "aarch64"), ("darwin", "arm64"), ("win32", "AMD64"))


# ---------------------------------------------------------------- the `medmim` command


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["--version"])
    assert stop.value.code == 0
    assert capsys.readouterr().out.strip() == f"medmim {__version__}"


def test_bare_medmim_prints_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: medmim")
    for command in ("demo", "check", "data", "tasks-path", "sweep", "report", "compare"):
        assert command in out
    assert "medmim demo" in out  # where to start


# ---------------------------------------------------------------- the demo's defaults


def test_demo_writes_under_the_home_cache_by_default(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from medmim_tasks.runners.demo import output_folder

    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.chdir(REPO_ROOT)
    args = build_parser().parse_args(["demo"])
    assert args.output is None
    assert output_folder(args.output) == tmp_path / ".cache" / "medmim" / "demo"
    assert output_folder(tmp_path / "mine") == tmp_path / "mine"


def test_demo_says_when_the_video_reader_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from medmim_tasks.runners import demo

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "decord" else real_find_spec(name, *a))
    with pytest.raises(demo.DemoError, match=r"imports the `decord` video reader, which is not installed") as error:
        demo.run_demo(output=tmp_path / "out", environ={"HOME": str(tmp_path)})
    assert "decord2" in str(error.value)
    assert not (tmp_path / "out").exists()  # stopped before building anything


# ---------------------------------------------------------------- the plain install


def _install_requires() -> list[str]:
    from setuptools.config.setupcfg import read_configuration

    return read_configuration(REPO_ROOT / "setup.cfg")["options"]["install_requires"]


def test_plain_install_brings_a_decord_module_on_every_platform_with_a_wheel() -> None:
    from packaging.requirements import Requirement

    requirements = [Requirement(line) for line in _install_requires()]
    for platform, machine in DEMO_PLATFORMS:
        environment = {"sys_platform": platform, "platform_machine": machine, "platform_system": "", "python_version": "3.11"}
        chosen = [req.name for req in requirements if req.marker is None or req.marker.evaluate(environment)]
        assert "decord2" in chosen, (platform, machine)
    intel_mac = {"sys_platform": "darwin", "platform_machine": "x86_64", "python_version": "3.11"}
    assert "decord2" not in [req.name for req in requirements if req.marker and req.marker.evaluate(intel_mac)]


def test_the_test_extra_does_not_install_a_second_decord() -> None:
    from setuptools.config.setupcfg import read_configuration

    extras = read_configuration(REPO_ROOT / "setup.cfg")["options"]["extras_require"]
    # decord and decord2 both install the `decord` folder: one would overwrite the other's files
    assert not any(line.split(";")[0].strip().lower() == "decord" for lines in extras.values() for line in lines)


def test_the_installed_decord_module_is_the_one_lmms_eval_imports() -> None:
    from decord import (  # what lmms_eval/models/simple/llava_hf.py imports at load time
        VideoReader,
        cpu,
    )

    assert callable(VideoReader) and callable(cpu)


# ---------------------------------------------------------------- missing data stops lmms-eval early


def test_selected_splits_expand_groups() -> None:
    from medmim_tasks.task.plugin import selected_splits

    assert [s.task for s in selected_splits(["med_mim"])] == [s.task for s in SPLITS]
    assert [s.task for s in selected_splits(["mme", "med_mim_held_out"])] == ["med_mim_held_out_odir", "med_mim_held_out_rad"]
    assert [s.task for s in selected_splits(["med_mim_held_in_reasoning", "med_mim_sanity"])] == ["med_mim_held_in_reasoning"]
    assert selected_splits(["med_mim_sanity", "mme"]) == []


def test_missing_benchmark_files_stop_with_one_message_that_lmms_eval_does_not_retry(tmp_path: Path) -> None:
    """lmms-eval's loader is wrapped in tenacity's @retry, which retries any Exception."""
    from tenacity import retry, stop_after_attempt, wait_fixed

    from medmim_tasks.task.plugin import DataNotReady, check_splits

    attempts = []

    @retry(stop=stop_after_attempt(5), wait=wait_fixed(0))  # as lmms_eval.api.task.ConfigurableTask.download
    def load() -> None:
        attempts.append(1)
        check_splits(SPLITS, {"MEDMIM_BENCHMARK_DIR": str(tmp_path), "HOME": str(tmp_path)})

    with pytest.raises(DataNotReady) as stop:
        load()
    assert len(attempts) == 1
    assert isinstance(stop.value, SystemExit) and not isinstance(stop.value, Exception)
    message = str(stop.value)
    assert message.startswith("medmim-tasks: 6 of the 6 selected Med-MIM tasks cannot be built")
    for split in SPLITS:
        assert f"- {split.task}: {tmp_path / split.file_name}: Med-MIM benchmark file not found" in message
    assert "medmim data fetch" in message and "MEDMIM_BENCHMARK_DIR" in message
    assert message.splitlines()[-1].startswith("`medmim check` reports every missing")


def test_missing_images_stop_with_the_image_message(medmim_env: dict[str, str], tmp_path: Path) -> None:
    from medmim_tasks.task.plugin import DataNotReady, check_splits, selected_splits

    env = dict(medmim_env, MEDMIM_IMAGE_ROOT=str(tmp_path / "no-images"))
    with pytest.raises(DataNotReady) as stop:
        check_splits(selected_splits(["med_mim_held_out_rad"]), env)
    message = str(stop.value)
    assert "1 of the 1 selected Med-MIM tasks cannot be built" in message
    assert "task med_mim_held_out_rad:" in message and "image references are missing" in message
    assert "MEDMIM_VQA_RAD_ROOT" in message and "MEDMIM_ON_MISSING=skip" in message


def test_a_bad_prefetch_budget_stops_before_the_model_loads(medmim_env: dict[str, str]) -> None:
    from medmim_tasks.task.plugin import DataNotReady, check_splits, selected_splits

    with pytest.raises(DataNotReady) as stop:
        check_splits(selected_splits(["med_mim_held_out_rad"]), dict(medmim_env, MEDMIM_PREFETCH_BYTES="lots"))
    message = str(stop.value)
    assert "MEDMIM_PREFETCH_BYTES" in message and "'lots'" in message and "0 to turn prefetching off" in message
    check_splits([], dict(medmim_env, MEDMIM_PREFETCH_BYTES="lots"))  # no Med-MIM task selected: not our business


def test_task_matching_checks_only_our_selected_tasks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import lmms_eval.models  # noqa: F401  (loads the entry points, as the lmms-eval CLI does)
    from lmms_eval.tasks import TaskManager

    from medmim_tasks.task.plugin import DataNotReady, check_data_before_evaluation

    assert check_data_before_evaluation()
    assert check_data_before_evaluation()  # idempotent
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(tmp_path))
    manager = TaskManager(include_defaults=False)
    assert manager.match_tasks(["med_mim_sanity"]) == ["med_mim_sanity"]  # generated: nothing to check
    with pytest.raises(DataNotReady, match="med_mim_held_out_odir"):
        manager.match_tasks(["med_mim_held_out_odir"])


# ---------------------------------------------------------------- the test command from a plain clone


def test_a_plain_clone_says_what_it_skipped_and_how_to_run_it(tmp_path: Path) -> None:
    env = {key: value for key, value in os.environ.items() if not key.startswith("MEDMIM_")}
    env["HOME"] = str(tmp_path)  # no ~/.cache/medmim/benchmark either
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-ra", "-p", "no:cacheprovider", "tests/benchmark/test_clusters.py"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    fix = "run `medmim data fetch` (3.8 MB, into ~/.cache/medmim/benchmark) or set MEDMIM_BENCHMARK_DIR"
    where = f"{tmp_path}/.cache/medmim/benchmark (from the default)"
    assert f"Med-MIM benchmark files: none in {where}; the tests that need them will skip. To run them: {fix}" in out
    summary = out[out.index("Med-MIM benchmark files ====") :]
    assert f"1 test skipped because {where} does not hold the six benchmark files." in summary
    assert f"To run them: {fix}" in summary


# ---------------------------------------------------------------- end to end through lmms-eval (slow)

TASKS = {split.task for split in SPLITS}
GROUPS = {"med_mim", "med_mim_held_in", "med_mim_held_out"}


def _lmms_eval(args: list[str], env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess[str]:
    """lmms-eval with stdout and stderr in one stream, in the order a terminal shows them."""
    from lmms_eval_runner import LMMS_EVAL

    return subprocess.run([LMMS_EVAL, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)


def _last_lines(output: str, count: int) -> list[str]:
    return [line for line in output.splitlines() if line.strip()][-count:]


@pytest.mark.slow
def test_lmms_eval_without_benchmark_files_stops_once_with_our_message(tmp_path: Path) -> None:
    from lmms_eval_runner import offline_env

    empty = tmp_path / "no-benchmark"
    empty.mkdir()
    env = offline_env({key: value for key, value in os.environ.items() if not key.startswith("MEDMIM_")}, tmp_path)
    env["MEDMIM_BENCHMARK_DIR"] = str(empty)
    done = _lmms_eval(["--model", "dummy", "--tasks", "med_mim", "--output_path", str(tmp_path / "out")], env)
    output = done.stdout
    assert done.returncode == 1, output
    for split in SPLITS:  # each task's problem said once: one attempt, no retries
        assert output.count(f"Med-MIM benchmark file not found for task {split.task}.") == 1, output
    assert "RetryError" not in output and "Traceback" not in output
    last = _last_lines(output, 8)
    assert last[0].startswith("medmim-tasks: 6 of the 6 selected Med-MIM tasks cannot be built, so lmms-eval stopped before loading the model")
    assert last[1].startswith(f"- med_mim_held_in_temporal: {empty / SPLITS[0].file_name}: ")
    assert "Run `medmim data fetch` or set MEDMIM_BENCHMARK_DIR" in last[1]
    assert last[-1] == "`medmim check` reports every missing or unreadable file with its fix."
    assert not list(tmp_path.rglob("*_results.json"))


@pytest.mark.slow
def test_lmms_eval_with_missing_images_stops_once_and_runs_no_other_task(medmim_env: dict[str, str], tmp_path: Path) -> None:
    from lmms_eval_runner import offline_env

    env = offline_env(medmim_env, tmp_path)
    env["MEDMIM_IMAGE_ROOT"] = str(tmp_path / "no-images")
    env["MEDMIM_SANITY_DIR"] = str(tmp_path / "sanity")
    done = _lmms_eval(["--model", "dummy", "--tasks", "med_mim_sanity,med_mim_held_out_rad", "--output_path", str(tmp_path / "out")], env)
    output = done.stdout
    assert done.returncode == 1, output
    assert output.count("image references are missing") == 1, output  # one attempt, said once
    assert "RetryError" not in output and "Traceback" not in output
    last = _last_lines(output, 12)
    assert any(line.startswith("medmim-tasks: 1 of the 1 selected Med-MIM tasks cannot be built") for line in last), last
    assert any("MEDMIM_VQA_RAD_ROOT" in line for line in last), last
    assert last[-1] == "`medmim check` reports every missing or unreadable file with its fix."
    assert not list(tmp_path.rglob("*_results.json"))  # the sanity task of the same run did not run either


@pytest.mark.slow
def test_lmms_eval_tasks_listing_needs_the_include_path(tmp_path: Path) -> None:
    from lmms_eval_runner import offline_env

    from medmim_tasks.task.task_path import tasks_path

    env = offline_env(dict(os.environ), tmp_path)
    plain = _lmms_eval(["tasks", "list"], env)
    assert plain.returncode == 0, plain.stdout
    assert not TASKS & {line.strip() for line in plain.stdout.splitlines()}  # the README says why
    listed = _lmms_eval(["tasks", "list", "--include-path", str(tasks_path())], env)
    assert TASKS | GROUPS <= {line.strip() for line in listed.stdout.splitlines()}, listed.stdout
    groups = _lmms_eval(["tasks", "groups", "--include-path", str(tasks_path())], env)
    assert all(f"|{group}" in groups.stdout.replace(" ", "") for group in GROUPS), groups.stdout
    subtasks = _lmms_eval(["tasks", "subtasks", "--include-path", str(tasks_path())], env)
    assert all(f"|{task}" in subtasks.stdout.replace(" ", "") for task in TASKS), subtasks.stdout
