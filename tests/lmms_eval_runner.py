"""Run the real `lmms-eval` CLI in a subprocess and read what it wrote (it exits 0 on failure)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

LMMS_EVAL = shutil.which("lmms-eval", path=os.path.dirname(sys.executable)) or "lmms-eval"


def offline_env(base: dict[str, str], home: Path) -> dict[str, str]:
    """An environment for an offline lmms-eval run with its caches under `home`."""
    env = dict(base)
    env.update(
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        HF_HOME=str(home / "hf"),
        TOKENIZERS_PARALLELISM="false",
        PYTHONUNBUFFERED="1",
    )
    return env


def run_lmms_eval(args: list[str], env: dict[str, str], output: Path, timeout: int = 600) -> tuple[dict[str, Any], dict[str, list[dict[str, Any]]]]:
    """Run `lmms-eval ARGS --output_path OUTPUT --log_samples`; return (results, samples per task).

    Fails with lmms-eval's output when no results file was written.
    """
    command = [LMMS_EVAL, *args, "--log_samples", "--output_path", str(output)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    results_files = sorted(output.rglob("*_results.json"))
    if not results_files:
        raise AssertionError(
            f"lmms-eval wrote no results file (exit {done.returncode}).\n"
            f"command: {' '.join(command)}\n--- stdout/stderr tail ---\n{(done.stdout + done.stderr)[-6000:]}"
        )
    results_file = results_files[-1]
    results = json.loads(results_file.read_text())
    stamp = results_file.name.removesuffix("_results.json")
    samples: dict[str, list[dict[str, Any]]] = {}
    for path in results_file.parent.glob(f"{stamp}_samples_*.jsonl"):
        task = path.name.removeprefix(f"{stamp}_samples_").removesuffix(".jsonl")
        samples[task] = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return results, samples
