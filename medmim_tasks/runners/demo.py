"""`medmim demo`: the sanity task through the real lmms-eval CLI, with no data and no GPU needed.

It builds the generated sanity set and (unless a model is named) a tiny random-weight LLaVA,
runs `python -m lmms_eval` on the `med_mim_sanity` task as a subprocess, shows its progress,
checks that the results file was written (lmms-eval exits 0 even when an evaluation failed)
and prints the score beside chance for every question type.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shlex
import sys
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from medmim_tasks.results.run_files import RESULTS_SUFFIX, samples_file
from medmim_tasks.runners.command import lmms_eval_cli_command
from medmim_tasks.runners.demo_process import log_tail, run_lmms_eval
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder
from medmim_tasks.sanity.generated_set import (
    QUESTION_TYPES,
    SANITY_DIR_VARIABLE,
    SANITY_TASK,
    ensure_sanity_set,
    sanity_dir,
    sanity_items,
)
from medmim_tasks.sanity.scoring import type_score_metric
from medmim_tasks.settings import setting
from medmim_tasks.task.prompts import DEFAULT_PROMPT_SETTINGS
from medmim_tasks.task.task_path import tasks_path

TINY_MODEL = "llava_hf"
TINY_MODEL_DIR_VARIABLE = "MEDMIM_TINY_MODEL_DIR"
# The tiny model's replies are noise: 16 new tokens show the whole path at a fraction of the
# task's 256. A model named with --model runs with the task's own generation settings.
TINY_MAX_NEW_TOKENS = 16
# Beside the sanity set and the tiny model, never in the working folder (which may be the clone).
DEFAULT_OUTPUT = "~/.cache/medmim/demo"
LOG_FILE = "lmms_eval.log"


class DemoError(RuntimeError):
    """The demo could not run or lmms-eval produced no usable results."""


@dataclass
class DemoRun:
    """What one demo run produced."""

    command: list[str]
    output_dir: Path
    log_path: Path
    results_path: Path
    samples_path: Path | None
    results: dict[str, Any]
    items_per_type: dict[str, int] = field(default_factory=dict)


def check_video_reader() -> None:
    """DemoError unless the `decord` module that lmms-eval's llava_hf imports at load time is installed."""
    if importlib.util.find_spec("decord") is None:
        raise DemoError(
            "lmms-eval's llava_hf model (the demo's tiny model runs through it) imports the `decord` video "
            "reader, which is not installed. `pip install -e .` installs it (as decord2) on Linux x86-64 and "
            "arm64, macOS on Apple Silicon and Windows; on another platform install a package that provides "
            "`decord` (`pip install decord2`, or `decord` on Linux x86-64) if one exists for it."
        )


def output_folder(output: Path | None = None) -> Path:
    """Where a run's files go: `output`, else ~/.cache/medmim/demo (so never inside a clone)."""
    return Path(output or DEFAULT_OUTPUT).expanduser().resolve()


def tiny_model_vocabulary_text() -> str:
    """Every word the sanity prompts use, so the tiny tokenizer knows them."""
    words = [item.raw["conversation"][0]["content"] + " " + item.raw["conversation"][1]["content"] for item in sanity_items()]
    settings = [str(value) for value in DEFAULT_PROMPT_SETTINGS.values()]
    return " ".join(words + settings).replace("<image>", " ")


def build_tiny_model(model_dir: Path) -> Path:
    from transformers.utils import logging as transformers_logging

    from medmim_tasks.sanity.tiny_model import build_tiny_llava

    transformers_logging.disable_progress_bar()  # no "Writing model shards" bar in the demo's output
    return build_tiny_llava(model_dir, extra_text=tiny_model_vocabulary_text())


def lmms_eval_command(
    model: str,
    model_args: str | None,
    output_dir: Path,
    limit: int | None = None,
    gen_kwargs: str | None = None,
    python: str = sys.executable,
) -> list[str]:
    """The lmms-eval CLI call for the sanity task (the same CLI users run on the real splits)."""
    return lmms_eval_cli_command(
        [python, "-m", "lmms_eval"],
        model,
        SANITY_TASK,
        output_dir,
        model_args=model_args,
        include_path=tasks_path(),
        gen_kwargs=gen_kwargs,
        limit=limit,
    )


def find_results(output_dir: Path, since: float) -> tuple[Path, Path | None]:
    """The results file lmms-eval wrote under `output_dir` after `since`, and its samples file."""
    fresh = [path for path in output_dir.rglob(f"*{RESULTS_SUFFIX}") if path.stat().st_mtime >= since]
    if not fresh:
        raise DemoError(f"lmms-eval wrote no *_results.json under {output_dir}")
    results_path = max(fresh, key=lambda path: path.stat().st_mtime)
    samples = samples_file(results_path, SANITY_TASK)
    return results_path, samples if samples.is_file() else None


def read_task_results(results_path: Path) -> dict[str, Any]:
    """The sanity task's metrics from a results file; DemoError if they are not there."""
    try:
        data = json.loads(results_path.read_text())
    except (OSError, ValueError) as error:
        raise DemoError(f"{results_path}: cannot read it ({error})") from error
    task = data.get("results", {}).get(SANITY_TASK)
    if not isinstance(task, dict):
        raise DemoError(f"{results_path}: no results for task {SANITY_TASK}")
    if not any(key.startswith(type_score_metric("")) for key in task):
        raise DemoError(f"{results_path}: task {SANITY_TASK} has no per-type scores (score_<type>)")
    return task


def items_per_type(samples_path: Path | None) -> dict[str, int]:
    """How many documents of each question type were scored (from the per-sample log)."""
    counts: Counter[str] = Counter()
    if samples_path is None:
        return {}
    with samples_path.open() as handle:
        for line in handle:
            record = json.loads(line)
            for qtype in QUESTION_TYPES:
                if type_score_metric(qtype.name) in record:
                    counts[qtype.name] += 1
    return dict(counts)


def run_demo(
    model: str | None = None,
    model_args: str | None = None,
    output: Path | None = None,
    limit: int | None = None,
    out: TextIO = sys.stdout,
    environ: Mapping[str, str] | None = None,
) -> DemoRun:
    """Build the sanity set (and the tiny model), run lmms-eval on it, check and return its results."""
    env = dict(os.environ if environ is None else environ)
    output_dir = _checked_output(model, model_args, limit, output)
    announce = _announcer(out, 4 if model is None else 3)
    started = time.monotonic()
    root = sanity_dir(env)
    announce(f"Sanity set: {len(sanity_items())} items, {len(QUESTION_TYPES)} question types, 2-3 images each")
    ensure_sanity_set(root)
    out.write(f"      in {root} ({time.monotonic() - started:.1f} s)\n")
    env[SANITY_DIR_VARIABLE] = str(root)

    gen_kwargs = None
    if model is None:
        model, model_args, gen_kwargs = _tiny_model(env, announce, out)
    env.setdefault("PYTHONUNBUFFERED", "1")

    command = lmms_eval_command(model, model_args, output_dir, limit, gen_kwargs)
    log_path = output_dir / LOG_FILE
    announce(f"lmms-eval: model {model}, task {SANITY_TASK}" + (f", limit {limit}" if limit else ""))
    out.write("      $ " + shlex.join(["lmms-eval", *command[3:]]) + "\n")
    out.flush()
    began = time.time()
    code = run_lmms_eval(command, env, log_path, out)
    announce("Checking the results")
    try:
        if code != 0:
            raise DemoError(f"lmms-eval exited with code {code}")
        results_path, samples_path = find_results(output_dir, began - 1)
        task_results = read_task_results(results_path)
    except DemoError as error:
        raise DemoError(f"{error}\nFull log: {log_path}\nLast lines:\n{log_tail(log_path)}") from None
    return DemoRun(command, output_dir, log_path, results_path, samples_path, task_results, items_per_type(samples_path))


def _checked_output(model: str | None, model_args: str | None, limit: int | None, output: Path | None) -> Path:
    """The output folder, once the arguments and (for the tiny model) the video reader are known to be usable."""
    if model_args and not model:
        raise DemoError("--model_args needs --model (the lmms-eval model name it is for)")
    if limit is not None and limit <= 0:
        raise DemoError(f"--limit must be a positive number of documents, got {limit}")
    if model is None:
        check_video_reader()
    output_dir = output_folder(output)
    try:
        writable_folder(output_dir, "--output")  # before minutes of work, not after
    except OutputFolderError as error:
        raise DemoError(str(error)) from None
    return output_dir


def _announcer(out: TextIO, steps: int) -> Callable[[str], None]:
    """Prints `[n/steps] text`, counting the steps."""
    step = 0

    def announce(text: str) -> None:
        nonlocal step
        step += 1
        out.write(f"[{step}/{steps}] {text}\n")
        out.flush()

    return announce


def _tiny_model(env: dict[str, str], announce: Callable[[str], None], out: TextIO) -> tuple[str, str, str]:
    """Build the tiny random-weight LLaVA; (model, model_args, gen_kwargs) for it. Sets the offline variables in `env`."""
    model_dir: Path = setting(TINY_MODEL_DIR_VARIABLE, env)
    announce("Tiny random-weight LLaVA (answers are noise; it proves the pipeline runs)")
    began = time.monotonic()
    build_tiny_model(model_dir)
    out.write(f"      in {model_dir} ({time.monotonic() - began:.1f} s)\n")
    for variable in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
        env.setdefault(variable, "1")  # everything is local: never wait on a network
    env.pop("MEDMIM_JUDGE_URL", None)  # nor send the tiny model's noise to an LLM judge
    model_args = f"pretrained={model_dir},device=cpu,device_map=cpu,dtype=float32"
    return TINY_MODEL, model_args, f"max_new_tokens={TINY_MAX_NEW_TOKENS}"
