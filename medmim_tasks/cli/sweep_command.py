"""`medmim sweep SWEEP.yaml`: evaluate every model of a sweep file, one lmms-eval process each."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from typing import Any

from medmim_tasks.results.tables import markdown_table
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder
from medmim_tasks.runners.sweep import BUSY, FAILED, lmms_eval_command, run_sweep, summary_rows, sweep_line
from medmim_tasks.runners.sweep_done import find_finished
from medmim_tasks.runners.sweep_plan import SweepFileError, load_sweep, run_folder

EXAMPLE = """\
example sweep file:
  output: runs/my-sweep          # relative to the sweep file; one folder per model inside
  tasks: med_mim                 # default; a list or comma-separated names also work
  # limit: 20                    # optional: first N documents per split (smoke tests)
  models:
    - name: qwen2.5-vl-7b
      model: qwen2_5_vl
      model_args: pretrained=Qwen/Qwen2.5-VL-7B-Instruct
      batch_size: 1
    - name: llava-ov-7b
      model: llava_onevision
      model_args: {pretrained: lmms-lab/llava-onevision-qwen2-7b-ov, conv_template: qwen_1_5}
      gen_kwargs: {max_new_tokens: 256}
      processes: 4               # optional: accelerate launch --num_processes 4
"""


def run(args: argparse.Namespace) -> int:
    try:
        sweep = load_sweep(args.sweep_file, output=args.output)
        if args.dry_run:
            return _dry_run(sweep, args.only)
        writable_folder(sweep.output, "--output (or the sweep file's `output:`)")  # before any model runs
        print(f"sweep {sweep.file}: {len(args.only) or len(sweep.models)} model(s), tasks {sweep.tasks}, output {sweep.output}")
        outcomes = run_sweep(sweep, only=args.only)
    except (SweepFileError, OutputFolderError) as error:
        print(f"medmim sweep: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("\nmedmim sweep: interrupted; run the same command again to resume (finished models are skipped)", file=sys.stderr)
        return 130
    print()
    table = [("model", "status", "time", "folder"), *summary_rows(outcomes)]
    print(markdown_table(_frame(table)))
    failed = [o for o in outcomes if o.status == FAILED]
    for outcome in failed:
        print(f"\n{outcome.name} failed: {outcome.reason}\n  log: {outcome.log}")
    busy = [o for o in outcomes if o.status == BUSY]
    if busy:
        print(
            f"\n{len(busy)} model(s) are being run by another sweep on this output folder ({', '.join(o.name for o in busy)}); "
            "run the same command again once it ends to check their results."
        )
    if failed:
        print(f"\n{len(failed)} of {len(outcomes)} model(s) failed; fix them and run the same command again (finished ones are skipped).")
    if failed or busy:
        return 1
    print(f"\nall {len(outcomes)} model(s) have results; next: medmim report {shlex.quote(str(sweep.output))}")
    return 0


def _dry_run(sweep: Any, only: list[str]) -> int:
    """One line per model on stdout (for a scheduler's array job); the lmms-eval command each runs on stderr."""
    chosen = [spec for spec in sweep.models if not only or spec.name in only]
    missing = sorted(set(only) - {spec.name for spec in sweep.models})
    if missing:
        raise SweepFileError(f"{sweep.file}: no model named {', '.join(missing)}")
    for spec in chosen:
        state = "finished: will be skipped" if find_finished(sweep, spec) else "to run"
        print(f"# {spec.name} ({state}): {shlex.join(lmms_eval_command(sweep, spec, run_folder(sweep, spec)))}", file=sys.stderr)
        print(sweep_line(sweep, spec))
    return 0


def _frame(rows: Sequence[Sequence[str]]) -> Any:
    import pandas as pd

    return pd.DataFrame(rows[1:], columns=list(rows[0]))


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sweep",
        help="evaluate the models of a sweep file, each in its own lmms-eval process (resumable)",
        description=(
            "Run lmms-eval (with --log_samples and its response cache) for every model of a sweep file, one process "
            "per model, one folder per model and configuration (the hash covers the MEDMIM_* settings that change "
            "results and the benchmark files' checksums), one log per attempt. Models with complete results and "
            "samples for the same configuration are skipped, and replies of a killed attempt are reused, so an "
            "interrupted sweep resumes when started again. A model another sweep is running (it holds its lock) is "
            "skipped as busy. Success is decided by the results and sample files (lmms-eval exits 0 on failure); "
            "exits 1 if any model failed or was busy."
        ),
        epilog=EXAMPLE,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("sweep_file", metavar="SWEEP.yaml", help="the sweep file")
    parser.add_argument("--dry-run", action="store_true", help="print one command line per model (for a cluster array job) and run nothing")
    parser.add_argument("--only", action="append", default=[], metavar="NAME", help="run only this model (repeatable)")
    parser.add_argument("--output", help="output folder (default: the sweep file's `output`)")
    parser.set_defaults(func=run)
