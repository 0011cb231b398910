"""How lm-evaluation-harness names a run's files, so results/runs.py reads its runs as it reads lmms-eval's.

lm-eval (`lm_eval --output_path DIR --log_samples`) writes `results_<date>.json` and, beside it,
`samples_<task>_<date>.jsonl`; lmms-eval writes `<date>_results.json` and
`<date>_samples_<task>.jsonl`. The contents are read the same way: the Med-MIM tasks of both
frameworks log the same per-document records (task/hooks.py's `process_results`) under the
same metric names, and both results files hold `results`, `n-samples` and `config`.
"""

from __future__ import annotations

from pathlib import Path

LMMS_EVAL = "lmms-eval"
LM_EVAL = "lm-eval"
LM_EVAL_RESULTS_PREFIX = "results_"
LM_EVAL_RESULTS_SUFFIX = ".json"
LM_EVAL_RESULTS_GLOB = f"{LM_EVAL_RESULTS_PREFIX}*{LM_EVAL_RESULTS_SUFFIX}"


def is_lm_eval_results_file(path: Path) -> bool:
    """Whether the file is named as lm-eval names its results file (`results_<date>.json`)."""
    name = path.name
    return name.startswith(LM_EVAL_RESULTS_PREFIX) and name.endswith(LM_EVAL_RESULTS_SUFFIX) and len(name) > len(LM_EVAL_RESULTS_PREFIX + LM_EVAL_RESULTS_SUFFIX)


def framework_of(results_file: Path) -> str:
    """Which framework wrote the results file, told by its name: `lm-eval` or `lmms-eval`."""
    return LM_EVAL if is_lm_eval_results_file(results_file) else LMMS_EVAL


def lm_eval_date(results_file: Path) -> str:
    """The `<date>` of an lm-eval `results_<date>.json`."""
    if not is_lm_eval_results_file(results_file):
        raise ValueError(f"{results_file}: not an lm-eval results file name (results_<date>.json)")
    return results_file.name[len(LM_EVAL_RESULTS_PREFIX) : -len(LM_EVAL_RESULTS_SUFFIX)]


def lm_eval_samples_file(results_file: Path, task: str) -> Path:
    """The `samples_<task>_<date>.jsonl` that lm-eval's `--log_samples` writes beside `results_<date>.json`."""
    return results_file.parent / f"samples_{task}_{lm_eval_date(results_file)}.jsonl"
