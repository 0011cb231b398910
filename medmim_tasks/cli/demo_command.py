"""`medmim demo`: a first end-to-end run of lmms-eval on the generated multi-image sanity task."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from medmim_tasks.runners.demo import DEFAULT_OUTPUT, DemoError, run_demo
from medmim_tasks.runners.demo_report import write_report


def run(args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        demo = run_demo(model=args.model, model_args=args.model_args, output=args.output, limit=args.limit)
    except DemoError as error:
        print(f"medmim demo failed: {error}", file=sys.stderr)
        return 1
    sys.stdout.write(write_report(demo, tiny=args.model is None))
    print(f"Done in {time.monotonic() - started:.0f} s.")
    return 0


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run lmms-eval end to end on the generated multi-image sanity task (no data, no GPU needed)",
        description=(
            "Build the generated multi-image sanity set and a tiny random-weight LLaVA, run the lmms-eval "
            "CLI on the med_mim_sanity task, check its results file and print the score beside chance for "
            "each question type. With --model (and --model_args) the named lmms-eval model runs instead: "
            "a model that sees every image in order scores near 1; 'which image' scores near chance mean "
            "its images are dropped or reordered."
        ),
    )
    parser.add_argument("--model", default=None, help="lmms-eval model name (default: the tiny local LLaVA, via llava_hf)")
    parser.add_argument("--model_args", default=None, help="lmms-eval --model_args for --model, e.g. pretrained=Qwen/Qwen2.5-VL-7B-Instruct")
    parser.add_argument("--output", type=Path, default=None, help=f"folder for lmms-eval's results, its log and the report (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--limit", type=int, default=None, help="score only the first N documents (question types are interleaved)")
    parser.set_defaults(func=run)
