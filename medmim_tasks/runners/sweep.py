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

import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from filelock import FileLock, Timeout

from medmim_tasks.results.run_files import SWEEP_RUN_FILE
from medmim_tasks.runners.command import lmms_eval_cli_command
from medmim_tasks.runners.resumable import keep_unmerged_replies
from medmim_tasks.runners.sweep_done import completed_results, completion_problem, find_finished, results_files_newest_first
from medmim_tasks.runners.sweep_plan import (
    HASH_LENGTH,
    ModelSpec,
    Sweep,
    SweepFileError,
    cache_folder,
    config_hash,
    configuration,
    lock_file,
    run_folder,
)

CACHE_RUN_ID_VARIABLE = "LMMS_CACHE_RUN_ID"  # lmms-eval's name for the per-run folder of its response cache
RUNNER_MODULE = "medmim_tasks.runners.resumable"
LOG_FOLDER = "logs"
MTIME_SLACK_SECONDS = 2.0  # file times may be coarser than the clock
_ANSI = re.compile(r"\x1b\[[0-9;]*m")

DONE, SKIPPED, FAILED, BUSY = "done", "skipped", "failed", "busy"


@dataclass(frozen=True)
class Outcome:
    """What happened to one model."""

    name: str
    status: str
    seconds: float
    folder: Path
    log: Path | None = None
    reason: str = ""



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
    config = configuration(sweep, spec)
    del config["medmim_tasks_code"]  # in the hash; the record names the version
    record = {
        "name": spec.name,
        "sweep_file": str(sweep.file.resolve()),
        "config_hash": config_hash(sweep, spec),
        "processes": spec.processes,
        **config,
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
    newest = results_files_newest_first(folder)
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
