"""Assist a finished run's undecided multiple-choice replies from its samples files (`medmim assist RUN_DIR`).

After the run, so a failing endpoint cannot cost the generated replies. For every multiple-choice
document of every Med-MIM split in a results file whose reply the rules left undecided (its
record's `parsed` is None), the assist model (medmim_tasks.scoring.assisted) is asked for a letter,
from the options and the reply only; documents the rules decided are never sent. The options come
from the document lmms-eval logged with the sample when there is one, else from the benchmark file
(MEDMIM_BENCHMARK_DIR), by document key, after checking its gold letter is the run's.

Two metrics are added, beside the rules-only `mc_acc`, which is left as it was:
- `mc_assisted_acc`: the rules' letter, else the model's letter, scored against the gold letter;
- `mc_assisted_share`: 1 for a document the model decided (the rules did not, the model gave a
  letter), else 0; its mean is the share of multiple-choice documents decided by the model.
(Not `mc_acc_assisted`: lmms-eval matches group metric names by substring, and no metric name may
contain another.) Each multiple-choice samples line gets both entries (the first also says who
decided: `rules`, `model` or `none`, and the model's letter), the results file the per-split and
group means and a `medmim_assist` block naming the model. `medmim report` shows them as columns.
Files are rewritten as `medmim judge` does (medmim_tasks.scoring.run_rewrite); when the model
fails for good nothing is rewritten, and the letters obtained so far are cached.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, Item
from medmim_tasks.results.run_files import samples_file
from medmim_tasks.scoring import run_rewrite
from medmim_tasks.scoring.assisted import ACC_METRIC, PROMPT_TEMPLATE, SHARE_METRIC, assisted_letter
from medmim_tasks.scoring.chat_client import ChatConfig
from medmim_tasks.scoring.run_rewrite import sample_record
from medmim_tasks.task.hooks import CLUSTER_KEY, SCORE_KEY

PROVENANCE_KEY = "medmim_assist"


@dataclass(frozen=True)
class AssistedRun(run_rewrite.ScoredRun):
    """Per split: the MC documents, their mean mc_assisted_acc (`means`), the undecided ones asked, those the model decided."""

    asked: dict[str, int]
    decided: dict[str, int]


@dataclass(frozen=True)
class _Undecided:
    line_index: int
    options: dict[str, str]
    reply: str


def assist_run(results_file: Path, config: ChatConfig, workers: int = 4, stream: IO[str] | None = None) -> AssistedRun:
    """Ask for the letters the rules left undecided and add the assisted metrics to the run (see the module doc)."""
    stream = sys.stderr if stream is None else stream
    tasks, results = run_rewrite.load_for_rewrite(results_file)  # a complete, consistent run, or a RunFormatError
    new_samples: dict[Path, list[dict[str, Any]]] = {}
    documents: dict[str, int] = {}
    asked: dict[str, int] = {}
    decided: dict[str, int] = {}
    means: dict[str, float] = {}
    share: dict[str, float] = {}
    for task in tasks:
        sample_file = samples_file(results_file, task)
        samples, undecided = _read_samples(sample_file, task)
        arguments = [(config, document.options, document.reply) for document in undecided]
        letters = dict(zip((d.line_index for d in undecided), run_rewrite.ask_all(assisted_letter, arguments, workers, sample_file.name, stream)))
        scored = [
            _score(sample, letters.get(index))
            for index, sample in enumerate(samples)
            if sample_record(sample)["kind"] == MULTIPLE_CHOICE
        ]
        new_samples[sample_file] = samples
        documents[task], asked[task] = len(scored), len(undecided)
        decided[task] = sum(1 for letter in letters.values() if letter is not None)
        if scored:
            means[task] = sum(correct for correct, _ in scored) / len(scored)
            share[task] = sum(by_model for _, by_model in scored) / len(scored)
    run_rewrite.add_metric_means(results, ACC_METRIC, means)
    run_rewrite.add_metric_means(results, SHARE_METRIC, share)
    results[PROVENANCE_KEY] = run_rewrite.provenance(
        config.model, config.url, PROMPT_TEMPLATE, "medmim assist (after the run)",
        documents=documents, asked=asked, decided_by_model=decided,
    )
    run_rewrite.rewrite_run(results_file, results, new_samples)
    return AssistedRun(results_file, documents, means, asked, decided)


def _read_samples(sample_file: Path, task: str) -> tuple[list[dict[str, Any]], list[_Undecided]]:
    """The samples, and the multiple-choice documents whose replies the rules left undecided."""
    samples = run_rewrite.read_samples(sample_file)
    undecided: list[_Undecided] = []
    items: dict[str, Item] = {}
    for index, sample in enumerate(samples):
        record = sample_record(sample)
        if record["kind"] != MULTIPLE_CHOICE or record["parsed"] is not None:
            continue
        where = f"{sample_file}, document line {index + 1}"
        doc = run_rewrite.logged_doc(sample, record, where, "options")
        if doc is not None and isinstance(doc["options"], list):
            options = {str(option["letter"]): str(option["text"]) for option in doc["options"]}
        else:  # lmms-eval 0.7 logs no document: the options come from the benchmark file
            options = dict(run_rewrite.benchmark_item(task, record, where, items).options)
        undecided.append(_Undecided(index, options, str(record["reply"])))
    return samples, undecided


def _score(sample: dict[str, Any], model_letter: str | None) -> tuple[float, float]:
    """Add the two assisted entries to one MC sample; (correct, decided by the model)."""
    record = sample_record(sample)
    rules_letter = record["parsed"]
    letter = rules_letter if rules_letter is not None else model_letter
    by = "rules" if rules_letter is not None else ("model" if model_letter is not None else "none")
    correct = float(letter is not None and letter == record["gold"])
    by_model = float(by == "model")
    cluster = record["cluster"]
    sample[ACC_METRIC] = {
        SCORE_KEY: correct, CLUSTER_KEY: cluster, "doc_key": record["doc_key"], "decided_by": by, "model_letter": model_letter,
    }
    sample[SHARE_METRIC] = {SCORE_KEY: by_model, CLUSTER_KEY: cluster}
    return correct, by_model
