"""Evaluate many models, each in its own lmms-eval process, resumably and without overwriting anything.

A sweep file (YAML) lists the models, the tasks and an output folder. Every model gets the folder
`<output>/<name>-<config hash>`; a model whose folder already holds a complete results file is
skipped, so an interrupted or partly failed sweep is simply started again. lmms-eval exits 0 even
when an evaluation failed, so success is decided by the results file alone.
"""

from __future__ import annotations

import hashlib
import json
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

from medmim_tasks import __version__
from medmim_tasks.runs import (
    SWEEP_RUN_FILE,
    RunFormatError,
    find_results_files,
    samples_file,
)

DEFAULT_TASKS = "med_mim"
CACHE_FOLDER = "response-cache"
LOG_FOLDER = "logs"
HASH_LENGTH = 12
SWEEP_KEYS = {"output", "tasks", "limit", "models"}
MODEL_KEYS = {"name", "model", "model_args", "gen_kwargs", "batch_size", "processes"}
REQUIRED_MODEL_KEYS = ("name", "model")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")

DONE, SKIPPED, FAILED = "done", "skipped", "failed"


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
    """A parsed sweep file."""

    file: Path
    output: Path
    tasks: str
    limit: float | None
    models: tuple[ModelSpec, ...]


@dataclass(frozen=True)
class Outcome:
    """What happened to one model."""

    name: str
    status: str
    seconds: float
    folder: Path
    log: Path | None = None
    reason: str = ""


def load_sweep(path: str | Path, output: str | Path | None = None) -> Sweep:
    """Read and validate a sweep file; a relative output folder is taken from the file's folder."""
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
    sweep = Sweep(path, output_path.resolve(), ",".join(t.strip() for t in tasks.split(",")), limit, models)
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
        "lmms_eval": _lmms_eval_version(),
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


def lmms_eval_command(sweep: Sweep, spec: ModelSpec, folder: Path, python: str = sys.executable) -> list[str]:
    """The lmms-eval command line for one model (through `accelerate launch` when it has processes)."""
    if spec.processes:
        launcher = [python, "-m", "accelerate.commands.launch", "--num_processes", str(spec.processes), "-m", "lmms_eval"]
    else:
        launcher = [python, "-m", "lmms_eval"]
    command = [*launcher, "--model", spec.model]
    if spec.model_args:
        command += ["--model_args", spec.model_args]
    command += ["--tasks", sweep.tasks, "--batch_size", spec.batch_size]
    if spec.gen_kwargs:
        command += ["--gen_kwargs", spec.gen_kwargs]
    if sweep.limit is not None:
        command += ["--limit", f"{sweep.limit:g}"]
    command += ["--log_samples", "--use_cache", str(sweep.output / CACHE_FOLDER), "--output_path", str(folder)]
    return command


def completed_results(folder: Path, tasks: str) -> Path | None:
    """The newest results file in a run folder that covers every requested task and has its sample files."""
    if not folder.is_dir():
        return None
    try:
        candidates = find_results_files([folder])
    except RunFormatError:
        return None
    for results_file in sorted(candidates, key=lambda p: p.name, reverse=True):
        if _is_complete(results_file, tasks):
            return results_file
    return None


def _is_complete(results_file: Path, tasks: str) -> bool:
    try:
        data = json.loads(results_file.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return False
    names = set(data.get("results") or {}) | set(data.get("groups") or {})
    if not all(task in names for task in tasks.split(",")):
        return False
    leaves = data.get("n-samples") or {}
    return bool(leaves) and all(samples_file(results_file, task).is_file() for task in leaves)


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
    return shlex.join([python, "-m", "medmim_tasks.cli", "sweep", str(sweep.file.resolve()), "--output", str(sweep.output), "--only", spec.name])


def run_sweep(
    sweep: Sweep,
    only: Sequence[str] = (),
    python: str = sys.executable,
    env: Mapping[str, str] | None = None,
    say: Callable[[str], None] = print,
) -> list[Outcome]:
    """Run every (or every named) model in turn; finished ones are skipped, failures do not stop the rest."""
    outcomes: list[Outcome] = []
    chosen = _chosen(sweep, only)
    for position, spec in enumerate(chosen, start=1):
        prefix = f"[{position}/{len(chosen)}] {spec.name}"
        finished = find_finished(sweep, spec)
        if finished is not None:
            folder, results_file = finished
            say(f"{prefix}: results exist for this configuration, skipped ({results_file})")
            outcomes.append(Outcome(spec.name, SKIPPED, 0.0, folder))
            continue
        outcomes.append(_run_model(sweep, spec, python, env, say, prefix))
    return outcomes


def _chosen(sweep: Sweep, only: Sequence[str]) -> list[ModelSpec]:
    if not only:
        return list(sweep.models)
    known = {spec.name: spec for spec in sweep.models}
    unknown = [name for name in only if name not in known]
    if unknown:
        raise SweepFileError(f"{sweep.file}: no model named {', '.join(unknown)} (models: {', '.join(known)})")
    return [known[name] for name in only]


def _run_model(
    sweep: Sweep, spec: ModelSpec, python: str, env: Mapping[str, str] | None, say: Callable[[str], None], prefix: str
) -> Outcome:
    folder = run_folder(sweep, spec)
    (folder / LOG_FOLDER).mkdir(parents=True, exist_ok=True)
    _write_record(folder, sweep, spec)
    command = lmms_eval_command(sweep, spec, folder, python)
    log = _new_log(folder)
    say(f"{prefix}: running, log {log}")
    started = time.monotonic()
    with log.open("x", encoding="utf-8") as handle:
        handle.write(f"# {datetime.now().isoformat(timespec='seconds')}\n# {shlex.join(command)}\n")
        handle.flush()
        try:
            completed = subprocess.run(
                command, stdout=handle, stderr=subprocess.STDOUT, env=dict(env) if env is not None else None, check=False
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
    reason = _failure_reason(log, returncode)
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


def _failure_reason(log: Path, returncode: int | None) -> str:
    """The last error line of the log (lmms-eval exits 0 on failure, so the log is what tells why)."""
    if returncode is None:
        return f"lmms-eval could not be started (see {log})"
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
    return [(o.name, o.status, format_seconds(o.seconds) if o.status != SKIPPED else "-", str(o.folder)) for o in outcomes]
