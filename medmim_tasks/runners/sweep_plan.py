"""A sweep file: reading and checking it, and the configuration hash that names each model's folders.

The hash covers everything that changes a number: the model and its arguments, the tasks and limit,
the versions, every `MEDMIM_*` setting that changes results (see medmim_tasks.settings), the package's
own code and task YAMLs, and the SHA-256 of the benchmark files. The sweep itself (running the
models) is medmim_tasks.runners.sweep.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import yaml

import medmim_tasks
from medmim_tasks import __version__
from medmim_tasks.benchmark.checksum import cached_sha256
from medmim_tasks.benchmark.items import split_file
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.settings import SETTINGS, raw_setting
from medmim_tasks.task.task_path import tasks_path

DEFAULT_TASKS = "med_mim"
CACHE_FOLDER = "response-cache"
LOCK_FOLDER = "locks"
HASH_LENGTH = 12
SWEEP_KEYS = {"output", "tasks", "limit", "models"}
MODEL_KEYS = {"name", "model", "model_args", "gen_kwargs", "batch_size", "processes"}
REQUIRED_MODEL_KEYS = ("name", "model")
_SLUG = re.compile(r"[^A-Za-z0-9._-]+")


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


def code_files() -> list[Path]:
    """The package's own code (every sub-package) and its task YAMLs, as installed."""
    package = Path(medmim_tasks.__file__).resolve().parent
    files = sorted(package.rglob("*.py")) + sorted(path for path in tasks_path().rglob("*") if path.is_file())
    return [path for path in files if "__pycache__" not in path.parts]


@functools.cache
def code_sha256() -> str:
    """SHA-256 over the package's own code and task YAMLs, as installed.

    The version number alone would let a sweep folder made by other prompts, parsing or scoring code
    (an edited YAML, a development checkout) pass for this one.
    """
    digest = hashlib.sha256()
    for path in code_files():
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


def configuration(sweep: Sweep, spec: ModelSpec) -> dict[str, Any]:
    """Everything that decides a model's results (not its label, not the number of processes)."""
    return {
        "model": spec.model,
        "model_args": spec.model_args,
        "gen_kwargs": spec.gen_kwargs,
        "batch_size": spec.batch_size,
        "tasks": sweep.tasks,
        "limit": sweep.limit,
        "medmim_tasks": __version__,
        "medmim_tasks_code": code_sha256(),
        "lmms_eval": lmms_eval_version(),
        "settings": dict(sweep.settings),
        "benchmark_sha256": dict(sweep.benchmark_sha256),
    }


def config_hash(sweep: Sweep, spec: ModelSpec) -> str:
    """SHA-256 of the configuration (see `configuration`)."""
    return hashlib.sha256(json.dumps(configuration(sweep, spec), sort_keys=True).encode("utf-8")).hexdigest()


def lmms_eval_version() -> str:
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

