"""End to end: lmms-eval's `dummy` model answering always "A" on `med_mim_circular` scores exactly 0
circular accuracy on every split, and `medmim report` / `compare` read the run.

The number of shifts per item is read here straight from the JSON files (option lines `X: ...`,
less "None of the above"), independently of the package, to check which items a `--limit` keeps
whole and which one it cuts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from lmms_eval_runner import offline_env, run_lmms_eval

from medmim_tasks.benchmark.circular_splits import circular_name
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.cli.main import main
from medmim_tasks.results.compare import compare_runs
from medmim_tasks.results.runs import load_runs

LIMIT = 40  # documents (asks) per task: cuts an item in some splits (Reasoning's items have 7 shifts)
OPTION_LINE = re.compile(r"^[A-G]:(.*)$", re.MULTILINE)
GOLD = re.compile(r"\s*([A-G]):")


def shifts_per_item(path: Path) -> dict[int, int]:
    """Shifts of each multiple-choice item, by its index in the file, from the raw JSON."""
    shifts = {}
    for index, item in enumerate(json.loads(path.read_text(encoding="utf-8"))):
        question, answer = item["conversation"][0]["content"], item["conversation"][1]["content"]
        options = OPTION_LINE.findall(question)
        if options and GOLD.match(answer):
            shifts[index] = sum(not text.strip().lower().startswith("none of the above") for text in options)
    return shifts


def items_in_run_order(task_samples: list[dict]) -> list[int]:
    """The file indices of the items the run asked, in the order of its documents (the task's order)."""
    ordered = sorted(task_samples, key=lambda sample: sample["doc_id"])
    return list(dict.fromkeys(int(sample["mc_acc"]["item_key"].split(":")[1]) for sample in ordered))


def complete_and_cut(shifts: list[int], limit: int) -> tuple[int, int]:
    """(items whose shifts all fall within the first `limit` documents, items cut by the limit)."""
    complete, used = 0, 0
    for count in shifts:
        if used + count > limit:
            return complete, int(used < limit)
        complete, used = complete + 1, used + count
    return complete, 0


@pytest.mark.slow
def test_always_a_scores_zero_circular_accuracy_on_every_split(
    medmim_env: dict[str, str], benchmark_dir: Path, tmp_path: Path
) -> None:
    env = offline_env(medmim_env, tmp_path)
    args = ["--model", "dummy", "--model_args", "response=A", "--tasks", "med_mim_circular", "--limit", str(LIMIT)]
    results, samples = run_lmms_eval(args, env, tmp_path / "run")
    cut_somewhere = False
    for split in SPLITS:
        task = circular_name(split.task)
        scores = results["results"][task]
        shifts = shifts_per_item(benchmark_dir / split.file_name)
        complete, cut = complete_and_cut([shifts[index] for index in items_in_run_order(samples[task])], LIMIT)
        assert scores["mc_circular_acc,none"] == 0.0, task
        assert scores["mc_circular_text_acc,none"] == 0.0, task
        assert (scores["mc_circular_items,none"], scores["mc_circular_incomplete,none"]) == (complete, cut), task
        assert 0 < scores["mc_acc,none"] < 1 and scores["mc_parsed,none"] == 1.0, task  # asks with gold "A" exist
        assert isinstance(scores["mc_circular_stderr_items,none"], float), task
        assert isinstance(scores["mc_acc_stderr_clt,none"], float), task  # (clustered: N/A when one cluster)
        assert [s["mc_acc"]["doc_key"] for s in samples[task]][:2] == [f"{task}:{s['mc_acc']['item_key'].split(':')[1]}:{n}" for n, s in enumerate(samples[task][:2])]
        cut_somewhere |= bool(cut)
    assert cut_somewhere
    assert results["results"]["med_mim_circular"]["mc_circular_acc,none"] == 0.0
    report = tmp_path / "report"
    assert main(["report", str(tmp_path / "run"), "-o", str(report)]) == 0
    board = pd.read_csv(report / "leaderboard.csv").set_index("model")
    assert board.loc["dummy (response=A) [circular]", "circular"] == 0.0  # all six splits: the macro mean is shown
    (run,) = load_runs([tmp_path / "run"])
    compared = compare_runs(run, run, resamples=100).rows
    assert set(compared["metric"]) == {"mc_acc", "mc_circular_acc"} and (compared["difference"] == 0).all()
