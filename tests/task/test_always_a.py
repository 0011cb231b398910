"""End to end: a model that always answers "A" scores exactly the share of gold "A" items, on every split.

Runs the real lmms-eval CLI with its `dummy` model over the real benchmark JSON and synthetic images.
The expected shares are computed here straight from the JSON files, independently of the package's
item parser: an item is multiple choice when its question lists `X: ...` option lines and its gold
answer starts with `X:`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from lmms_eval_runner import offline_env, run_lmms_eval

from medmim_tasks.benchmark.splits import SPLITS

# --limit takes the first N documents, in representative order (task.ordering): both kinds in every split.
LIMIT = 310
MC_METRICS = ("mc_acc", "mc_parsed", "mc_chance")
OPEN_METRICS = ("open_token_f1", "open_token_recall", "open_bleu", "open_rouge_l")
OPTION_LINE = re.compile(r"^[A-G]:", re.MULTILINE)
GOLD = re.compile(r"\s*([A-G]):")


def gold_letters(path: Path, indices: list[int]) -> list[str | None]:
    """Gold letter of the items at these file indices (None for open-ended ones), read from the raw JSON."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    letters: list[str | None] = []
    for item in (raw[index] for index in indices):
        question, answer = item["conversation"][0]["content"], item["conversation"][1]["content"]
        gold = GOLD.match(answer)
        letters.append(gold.group(1) if gold and OPTION_LINE.search(question) else None)
    return letters


def scored_indices(task: str, logged: list[dict[str, Any]]) -> list[int]:
    """File indices of the scored documents, from their keys `<task>:<index>` in the samples."""
    keys = [(sample.get("mc_acc") or sample["open_token_f1"])["doc_key"] for sample in logged]
    assert all(key.startswith(f"{task}:") for key in keys), keys[:3]
    return [int(key.rsplit(":", 1)[1]) for key in keys]


@pytest.mark.slow
def test_always_a_scores_the_share_of_gold_a(medmim_env: dict[str, str], benchmark_dir: Path, tmp_path: Path) -> None:
    tasks = [split.task for split in SPLITS]
    env = offline_env(medmim_env, tmp_path)
    env.pop("MEDMIM_JUDGE_URL", None)
    results, samples = run_lmms_eval(
        ["--model", "dummy", "--model_args", "response=A", "--tasks", ",".join(tasks), "--limit", str(LIMIT)],
        env,
        tmp_path / "run",
    )
    for split in SPLITS:
        letters = gold_letters(benchmark_dir / split.file_name, scored_indices(split.task, samples[split.task]))
        mc = [letter for letter in letters if letter is not None]
        assert mc and len(mc) < len(letters), f"{split.task}: the limit must reach both kinds of item"
        scores = results["results"][split.task]
        assert scores["mc_acc,none"] == sum(letter == "A" for letter in mc) / len(mc), split.task
        assert scores["mc_parsed,none"] == 1.0, split.task
        assert len(letters) == LIMIT, split.task
        for metric in MC_METRICS + OPEN_METRICS:
            assert isinstance(scores[f"{metric},none"], float), (split.task, metric)
            for stderr in ("stderr_clustered", "stderr_clt"):
                value = scores[f"{metric}_{stderr},none"]
                assert isinstance(value, float), (split.task, metric, stderr, value)
        assert "open_judge,none" not in scores  # the judge is off by default
