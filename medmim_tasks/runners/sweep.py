"""Evaluate many models, each in its own lmms-eval process, resumably and without overwriting anything.

A sweep file (YAML) lists the models, the tasks and an output folder. Every model gets the folder
`<output>/<name>-<config hash>`, where the hash covers everything that changes a number: the model
and its arguments, the tasks and limit, the versions, every `MEDMIM_*` setting that changes results
(see medmim_tasks.settings) and the SHA-256 of the benchmark files. A model whose folder already holds a complete
results file (every task, sample files complete) is skipped, so an interrupted or partly failed sweep
is simply started again. lmms-eval exits 0 even when an evaluation failed, so success is decided by
the results and sample files alone.

A sweep holds a lock per configuration while it checks and runs a model (`<output>/locks/<hash>.lock`,
an OS file lock that dies with its process): a second sweep on the same output folder skips that
model with a message and goes on with the others. Replies are kept as they come in a response cache
per configuration, so a rerun after a kill generates only the documents that had no reply (see
medmim_tasks.runners.resumable).
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml
from filelock import FileLock, Timeout

from medmim_tasks import __version__
from medmim_tasks.benchmark.checksum import cached_sha256
from medmim_tasks.benchmark.items import split_file
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.results.runs import (
    SWEEP_RUN_FILE,
    RunFormatError,
    find_results_files,
    samples_problems,
)
from medmim_tasks.runners.command import lmms_eval_cli_command
from medmim_tasks.runners.resumable import keep_unmerged_replies
from medmim_tasks.settings import SETTINGS, raw_setting
from medmim_tasks.task.task_path import tasks_path

DEFAULT_TASKS = "med_mim"
CACHE_FOLDER = "response-cache"
CACHE_RUN_ID_VARIABLE = "LMMS_CACHE_RUN_ID"  # lmms-eval's name for the per-run folder of its response cache
RUNNER_MODULE = "medmim_tasks.runners.resumable"
LOCK_FOLDER = "locks"
LOG_FOLDER = "logs"
MTIME_SLACK_SECONDS = 2.0  # file times may be coarser than the clock
HASH_LENGTH = 12
SWEEP_KEYS = {"output", "tasks", "limit", "models"}
MODEL_KEYS = {"name", "model", "model_args", "gen_kwargs", "batch_size", "processes"}
REQUIRED_MODEL_KEYS = ("name", "model")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")

DONE, SKIPPED, FAILED, BUSY = "done", "skipped", "failed", "busy"


class SweepFileError(ValueError):
    """A sweep file that cannot be used; the message names the file, the entry and the fix."""


@dataclass(frozen=True)
class ModelSpec:
    """One model of a sweep: its label and everything passed to lmms-eval for it."""

    name: str
    model: str
    model_args: str = ""
    gen_kwargs: str = ""
    batch_size: str = "1"
    processes: int | None = None


@dataclass(frozen=True)
class Sweep:
    """A parsed sweep file, with the settings and benchmark checksums in force when it was read."""

    file: Path
    output: Path
    tasks: str
    limit: float | None
    models: tuple[ModelSpec, ...]
    settings: Mapping[str, str | None] = field(default_factory=dict)  # the MEDMIM_* settings that change results
    benchmark_sha256: Mapping[str, str] = field(default_factory=dict)  # benchmark file name: SHA-256 or "missing"


@dataclass(frozen=True)
class Outcome:
    """What happened to one model."""

    name: str
    status: str
    seconds: float
    folder: Path
    log: Path | None = None
    reason: str = ""


def load_sweep(path: str | Path, output: str | Path | None = None, environ: Mapping[str, str] | None = None) -> Sweep:
    """Read and validate a sweep file; a relative output folder is taken from the file's folder.

    The settings that change results are read from `environ` (default: this process's environment,
    which the lmms-eval processes inherit).
    """
    env = os.environ if environ is None else environ
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise SweepFileError(f"{path}: cannot read the sweep file ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise SweepFileError(f"{path}: not valid YAML ({error})") from None
    if not isinstance(data, dict):
        raise SweepFileError(f"{path}: expected a mapping with keys output, models and optionally tasks, limit")
    unknown = sorted(set(data) - SWEEP_KEYS)
    if unknown:
        raise SweepFileError(f"{path}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(SWEEP_KEYS))}")
    raw_output = output if output is not None else data.get("output")
    if not raw_output:
        raise SweepFileError(f"{path}: no output folder; add `output: runs/my-sweep` (relative to the sweep file)")
    output_path = Path(raw_output).expanduser()
    if output is None and not output_path.is_absolute():
        output_path = path.parent / output_path
    tasks = data.get("tasks", DEFAULT_TASKS)
    if isinstance(tasks, list):
        tasks = ",".join(str(t).strip() for t in tasks)
    if not isinstance(tasks, str) or not tasks.strip():
        raise SweepFileError(f"{path}: tasks must be a task name, a comma-separated string or a list (default {DEFAULT_TASKS})")
    limit = data.get("limit")
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, (int, float)) or limit <= 0):
        raise SweepFileError(f"{path}: limit must be a positive number, not {limit!r}")
    models_data = data.get("models")
    if not isinstance(models_data, list) or not models_data:
        raise SweepFileError(f"{path}: `models` must be a non-empty list of models (each with name and model)")
    models = tuple(_model_spec(path, index, entry) for index, entry in enumerate(models_data, start=1))
    names = [m.name for m in models]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise SweepFileError(f"{path}: model name(s) {', '.join(repeated)} appear more than once; names must be unique")
    sweep = Sweep(
        path,
        output_path.resolve(),
        ",".join(t.strip() for t in tasks.split(",")),
        limit,
        models,
        settings=result_settings(env),
        benchmark_sha256=benchmark_checksums(env),
    )
    hashes: dict[str, str] = {}
    for spec in models:
        digest = config_hash(sweep, spec)
        if digest in hashes:
            raise SweepFileError(f"{path}: models {hashes[digest]} and {spec.name} have the same configuration")
        hashes[digest] = spec.name
    return sweep


def _model_spec(path: Path, index: int, entry: Any) -> ModelSpec:
    where = f"{path}: model {index}"
    if not isinstance(entry, dict):
        raise SweepFileError(f"{where}: expected a mapping with name, model and optionally model_args, gen_kwargs, batch_size, processes")
    unknown = sorted(set(entry) - MODEL_KEYS)
    if unknown:
        raise SweepFileError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(MODEL_KEYS))}")
    for key in REQUIRED_MODEL_KEYS:
        if not entry.get(key) or not isinstance(entry[key], str):
            raise SweepFileError(f"{where}: `{key}` is required (the {'label in reports' if key == 'name' else 'lmms-eval model name, e.g. qwen2_5_vl'})")
    processes = entry.get("processes")
    if processes is not None and (isinstance(processes, bool) or not isinstance(processes, int) or processes < 1):
        raise SweepFileError(f"{where} ({entry['name']}): processes must be a positive integer (accelerate launch --num_processes)")
    batch_size = entry.get("batch_size", 1)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, str)) or not str(batch_size).strip():
        raise SweepFileError(f"{where} ({entry['name']}): batch_size must be an integer or lmms-eval's `auto`")
    return ModelSpec(
        name=entry["name"],
        model=entry["model"],
        model_args=_key_values(entry.get("model_args"), f"{where} ({entry['name']}): model_args"),
        gen_kwargs=_key_values(entry.get("gen_kwargs"), f"{where} ({entry['name']}): gen_kwargs"),
        batch_size=str(batch_size),
        processes=processes,
    )


def _key_values(value: Any, where: str) -> str:
    """lmms-eval's `k=v,k=v` text from a string or a mapping."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, dict):
        return ",".join(f"{key}={_scalar(item)}" for key, item in value.items())
    raise SweepFileError(f"{where} must be `k=v,k=v` text or a mapping, not {type(value).__name__}")


def _scalar(value: Any) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def result_settings(environ: Mapping[str, str]) -> dict[str, str | None]:
    """The settings that change results, as in force (paths made absolute; unset or empty: None)."""
    values: dict[str, str | None] = {}
    for setting in SETTINGS:
        if not setting.changes_results:
            continue
        raw = (raw_setting(setting.name, environ) or "").strip()
        if not raw:
            values[setting.name] = None
        elif setting.is_path:
            values[setting.name] = str(Path(raw).expanduser().resolve())
        else:
            values[setting.name] = raw
    return values


@functools.cache
def code_sha256() -> str:
    """SHA-256 over the package's own code and task YAMLs, as installed.

    The version number alone would let a sweep folder made by other prompts, parsing or scoring code
    (an edited YAML, a development checkout) pass for this one.
    """
    package = Path(__file__).resolve().parent
    files = sorted(package.rglob("*.py")) + sorted(path for path in tasks_path().rglob("*") if path.is_file())
    digest = hashlib.sha256()
    for path in files:
        if "__pycache__" in path.parts:
            continue
        digest.update(path.name.encode("utf-8") + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


def benchmark_checksums(environ: Mapping[str, str]) -> dict[str, str]:
    """SHA-256 of each benchmark file of the benchmark folder in use ("missing" for an absent one).

    All six files count, whichever tasks a sweep names (a task group reads several of them).
    """
    checksums: dict[str, str] = {}
    for split in SPLITS:
        path = split_file(split, environ)  # type: ignore[arg-type]
        checksums[split.file_name] = cached_sha256(path) if path.is_file() else "missing"
    return checksums


def config_hash(sweep: Sweep, spec: ModelSpec) -> str:
    """Hash of everything that decides a model's results (not its label, not the number of processes)."""
    config = {
        "model": spec.model,
        "model_args": spec.model_args,
        "gen_kwargs": spec.gen_kwargs,
        "batch_size": spec.batch_size,
        "tasks": sweep.tasks,
        "limit": sweep.limit,
        "medmim_tasks": __version__,
        "medmim_tasks_code": code_sha256(),
        "lmms_eval": _lmms_eval_version(),
        "settings": dict(sweep.settings),
        "benchmark_sha256": dict(sweep.benchmark_sha256),
    }
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode("utf-8")).hexdigest()


def _lmms_eval_version() -> str:
    try:
        return version("lmms-eval")
    except PackageNotFoundError:
        return "unknown"


def run_folder(sweep: Sweep, spec: ModelSpec) -> Path:
    """`<output>/<name>-<hash>`: one folder per model and configuration."""
    slug = _SLUG.sub("_", spec.name).strip("_") or "model"
    return sweep.output / f"{slug}-{config_hash(sweep, spec)[:HASH_LENGTH]}"


def cache_folder(sweep: Sweep, spec: ModelSpec) -> Path:
    """`<output>/response-cache/<hash>`: the response cache of one configuration.

    One cache per configuration: lmms-eval's cache key does not see the settings (an image size,
    an image folder), so replies made under other settings must never be found there.
    """
    return sweep.output / CACHE_FOLDER / config_hash(sweep, spec)[:HASH_LENGTH]


def lock_file(sweep: Sweep, spec: ModelSpec) -> Path:
    """`<output>/locks/<hash>.lock`: held by the sweep that checks or runs this configuration."""
    return sweep.output / LOCK_FOLDER / f"{config_hash(sweep, spec)[:HASH_LENGTH]}.lock"


def lmms_eval_command(sweep: Sweep, spec: ModelSpec, folder: Path, python: str = sys.executable) -> list[str]:
    """The lmms-eval command line for one model (through `accelerate launch` when it has processes).

    It runs lmms-eval's own CLI through medmim_tasks.runners.resumable, which keeps each reply in
    the response cache as soon as it is made (see there).
    """
    if spec.processes:
        launcher = [python, "-m", "accelerate.commands.launch", "--num_processes", str(spec.processes), "-m", RUNNER_MODULE]
    else:
        launcher = [python, "-m", RUNNER_MODULE]
    return lmms_eval_cli_command(
        launcher,
        spec.model,
        sweep.tasks,
        folder,
        model_args=spec.model_args,
        batch_size=spec.batch_size,
        gen_kwargs=spec.gen_kwargs,
        limit=sweep.limit,
        use_cache=cache_folder(sweep, spec),
    )


def lmms_eval_environment(sweep: Sweep, spec: ModelSpec, env: Mapping[str, str] | None) -> dict[str, str]:
    """The lmms-eval process's environment: ours, with the cache's run folder named after the configuration.

    lmms-eval otherwise names a new folder per process (a random id) and reads back only what a clean
    finish merged; with a stable name every rank reopens its own file of the killed attempt.
    """
    environment = dict(os.environ if env is None else env)
    environment[CACHE_RUN_ID_VARIABLE] = config_hash(sweep, spec)[:HASH_LENGTH]
    return environment


def completed_results(folder: Path, tasks: str) -> Path | None:
    """The newest results file in a run folder that covers every requested task with complete sample files."""
    for results_file in _results_files_newest_first(folder):
        if completion_problem(results_file, tasks) is None:
            return results_file
    return None


def _results_files_newest_first(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    try:
        candidates = find_results_files([folder])
    except RunFormatError:
        return []
    return sorted(candidates, key=lambda p: p.name, reverse=True)


def completion_problem(results_file: Path, tasks: str) -> str | None:
    """Why a results file is not a finished run of these tasks (None: it is)."""
    try:
        data = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        return f"{results_file}: unreadable ({error})"
    if not isinstance(data, dict):
        return f"{results_file}: not a JSON object"
    names = set(data.get("results") or {}) | set(data.get("groups") or {})
    absent = [task for task in tasks.split(",") if task not in names]
    if absent:
        return f"{results_file}: no results for {', '.join(absent)}"
    problems = samples_problems(results_file)
    return "; ".join(problems) if problems else None


def find_finished(sweep: Sweep, spec: ModelSpec) -> tuple[Path, Path] | None:
    """(run folder, results file) of a finished run of this configuration in the output folder, if any."""
    digest = config_hash(sweep, spec)[:HASH_LENGTH]
    own = run_folder(sweep, spec)
    folders = [own, *sorted(p for p in sweep.output.glob(f"*-{digest}") if p != own)] if sweep.output.is_dir() else [own]
    for folder in folders:
        found = completed_results(folder, sweep.tasks)
        if found is not None:
            return folder, found
    return None


def sweep_line(sweep: Sweep, spec: ModelSpec, python: str = sys.executable) -> str:
    """The shell line that runs one model of the sweep with all of its guarantees (for a cluster array task)."""
    return shlex.join([python, "-m", "medmim_tasks.cli.main", "sweep", str(sweep.file.resolve()), "--output", str(sweep.output), "--only", spec.name])


def run_sweep(
    sweep: Sweep,
    only: Sequence[str] = (),
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> list[Outcome]:
    """Run every (or every named) model in turn; finished ones are skipped, failures do not stop the rest.

    Each model is checked and run while holding its configuration's lock; one whose lock another
    process holds is skipped at once as BUSY (this sweep goes on with the next model).
    """
    outcomes: list[Outcome] = []
    chosen = _chosen(sweep, only)
    for position, spec in enumerate(chosen, start=1):
        prefix = f"[{position}/{len(chosen)}] {spec.name}"
        lock = FileLock(_lock_path(sweep, spec))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            reason = f"another sweep is running this configuration right now (it holds {lock.lock_file}); run again once it ends"
            say(f"{prefix}: skipped: {reason}")
            outcomes.append(Outcome(spec.name, BUSY, 0.0, run_folder(sweep, spec), reason=reason))
            continue
        try:
            finished = find_finished(sweep, spec)
            if finished is not None:
                folder, results_file = finished
                say(f"{prefix}: results exist for this configuration, skipped ({results_file})")
                outcomes.append(Outcome(spec.name, SKIPPED, 0.0, folder))
                continue
            outcomes.append(_run_model(sweep, spec, python, env, say, prefix, lock))
        finally:
            lock.release()
    return outcomes


def _lock_path(sweep: Sweep, spec: ModelSpec) -> Path:
    path = lock_file(sweep, spec)
    path.parent.mkdir(parents=True, exist_ok=True)
    return path


def _chosen(sweep: Sweep, only: Sequence[str]) -> list[ModelSpec]:
    if not only:
        return list(sweep.models)
    known = {spec.name: spec for spec in sweep.models}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SweepFileError(f"{sweep.file}: no model named {', '.join(unknown)} (models: {', '.join(known)})")
    return [known[name] for name in only]


def _lock_descriptor(lock: FileLock) -> tuple[int, ...]:
    """The held lock's file descriptor, handed to lmms-eval so the lock outlives a killed sweep.

    flock() locks belong to the open file: while lmms-eval holds a copy of the descriptor, a second
    sweep cannot take the lock even if this process is killed, so it never runs the same
    configuration into the same folder at the same time.
    """
    descriptor = getattr(getattr(lock, "_context", None), "lock_file_fd", None)
    return (descriptor,) if isinstance(descriptor, int) else ()


def _run_model(
    sweep: Sweep,
    spec: ModelSpec,
    python: str,
    env: Mapping[str, str] | None,
    say: Callable[[str], None],
    prefix: str,
    lock: FileLock | None = None,
) -> Outcome:
    folder = run_folder(sweep, spec)
    (folder / LOG_FOLDER).mkdir(parents=True, exist_ok=True)
    _write_record(folder, sweep, spec)
    command = lmms_eval_command(sweep, spec, folder, python)
    set_aside: list[Path] = []
    kept = keep_unmerged_replies(cache_folder(sweep, spec), set_aside)
    for damaged in set_aside:  # a damaged cache file costs its replies, not the run
        say(f"{prefix}: cannot read the replies of earlier attempts in {damaged.with_suffix('')} (a damaged cache file, moved to {damaged}); they are generated again")
    log = _new_log(folder)
    say(f"{prefix}: running, log {log}" + (f" ({kept} replies kept from an earlier attempt)" if kept else ""))
    started, started_at = time.monotonic(), time.time()
    with log.open("x", encoding="utf-8") as handle:
        handle.write(f"# {datetime.now().isoformat(timespec='seconds')}\n# {shlex.join(command)}\n")
        handle.flush()
        try:
            completed = subprocess.run(
                command,
                stdout=handle,
                stderr=subprocess.STDOUT,
                env=lmms_eval_environment(sweep, spec, env),
                check=False,
                pass_fds=_lock_descriptor(lock) if lock is not None else (),
            )
            returncode: int | None = completed.returncode
        except OSError as error:
            handle.write(f"\n# could not start lmms-eval: {error}\n")
            returncode = None
    seconds = time.monotonic() - started
    results_file = completed_results(folder, sweep.tasks)
    if results_file is not None:
        say(f"{prefix}: done in {format_seconds(seconds)} ({results_file})")
        return Outcome(spec.name, DONE, seconds, folder, log)
    reason = _failure_reason(log, returncode, folder, sweep.tasks, started_at)
    say(f"{prefix}: FAILED after {format_seconds(seconds)}: {reason}")
    return Outcome(spec.name, FAILED, seconds, folder, log, reason)


def _write_record(folder: Path, sweep: Sweep, spec: ModelSpec) -> None:
    """The run folder's record (label and configuration); written once, never changed."""
    record_file = folder / SWEEP_RUN_FILE
    if record_file.exists():
        return
    record = {
        "name": spec.name,
        "sweep_file": str(sweep.file.resolve()),
        "config_hash": config_hash(sweep, spec),
        "model": spec.model,
        "model_args": spec.model_args,
        "gen_kwargs": spec.gen_kwargs,
        "batch_size": spec.batch_size,
        "processes": spec.processes,
        "tasks": sweep.tasks,
        "limit": sweep.limit,
        "medmim_tasks": __version__,
        "lmms_eval": _lmms_eval_version(),
        "settings": dict(sweep.settings),
        "benchmark_sha256": dict(sweep.benchmark_sha256),
    }
    with record_file.open("x", encoding="utf-8") as handle:
        json.dump(record, handle, indent=2)


def _new_log(folder: Path) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    log = folder / LOG_FOLDER / f"lmms-eval-{stamp}.log"
    counter = 2
    while log.exists():
        log = folder / LOG_FOLDER / f"lmms-eval-{stamp}-{counter}.log"
        counter += 1
    return log


def _failure_reason(log: Path, returncode: int | None, folder: Path, tasks: str, started_at: float) -> str:
    """The last error line of the log (lmms-eval exits 0 on failure, so the log is what tells why),
    or what is wrong with the newest results file when one was written."""
    if returncode is None:
        return f"lmms-eval could not be started (see {log})"
    newest = _results_files_newest_first(folder)
    if newest and newest[0].stat().st_mtime >= started_at - MTIME_SLACK_SECONDS:  # written by this attempt
        return f"results written but not complete (exit code {returncode}): {completion_problem(newest[0], tasks)}"
    lines = [_ANSI.sub("", line).strip() for line in log.read_text(encoding="utf-8", errors="replace").splitlines()]
    errors = [line for line in lines if re.search(r"\b(ERROR|\w*Error)\b", line)]
    detail = errors[-1] if errors else (lines[-1] if lines else "no output")
    if len(detail) > 240:
        detail = detail[:237] + "..."
    return f"no complete results file (exit code {returncode}); {detail}"


def format_seconds(seconds: float) -> str:
    whole = round(seconds)
    return f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"


def summary_rows(outcomes: Sequence[Outcome]) -> list[tuple[str, str, str, str]]:
    """(model, status, time, folder) per model, for the summary table."""
    return [(o.name, o.status, format_seconds(o.seconds) if o.status not in (SKIPPED, BUSY) else "-", str(o.folder)) for o in outcomes]
