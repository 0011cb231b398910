"""Scores of the sanity task: the real splits' `process_results`, plus a score and chance per question type.

Nothing is scored twice or differently: each document's per-type score is the primary score the
shared `process_results` gave it (`mc_acc` for multiple choice, `open_token_f1` for open-ended),
and its chance is the mean of that same score over every reply a uniform guesser could give (the
option letters, or the type's possible open answers), so the two columns are directly comparable.
Chance is computed with the primary metric's own function (1/options; `token_f1_recall`), not by
calling `process_results` per candidate, which would also call the optional LLM judge
(MEDMIM_JUDGE_URL) for replies no model gave; the tests check both ways agree.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, OPEN_ENDED
from medmim_tasks.sanity.generated_set import QUESTION_TYPES, chance_candidates, question_type_of
from medmim_tasks.scoring.metrics import token_f1_recall
from medmim_tasks.task.hooks import CLUSTER_KEY, SCORE_KEY, process_results

PRIMARY_METRIC: dict[str, str] = {MULTIPLE_CHOICE: "mc_acc", OPEN_ENDED: "open_token_f1"}
# No name is a substring of another metric's (lmms-eval matches group metrics by substring).
SCORE_PREFIX = "score_"
CHANCE_PREFIX = "chance_"


def type_score_metric(type_name: str) -> str:
    return SCORE_PREFIX + type_name


def type_chance_metric(type_name: str) -> str:
    return CHANCE_PREFIX + type_name


def sanity_metric_names() -> list[str]:
    """The per-type metrics the sanity task's YAML must list, score then chance for each type."""
    return [name for qtype in QUESTION_TYPES for name in (type_score_metric(qtype.name), type_chance_metric(qtype.name))]


def chance_score(doc: Mapping[str, Any]) -> float:
    """Expected primary score of a reply drawn uniformly from the document's possible answers."""
    candidates = chance_candidates(doc)
    if doc["kind"] == MULTIPLE_CHOICE:  # mc_acc: exactly one of the option letters is right
        return 1.0 / len(candidates)
    return sum(token_f1_recall(candidate, doc["answer"])[0] for candidate in candidates) / len(candidates)


def process_sanity_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """The shared `process_results`, plus `score_<type>` and `chance_<type>` for the doc's question type.

    Pure function of its inputs: safe in lmms-eval's scoring threads.
    """
    scores = process_results(doc, results)
    type_name = question_type_of(doc["source"]).name
    primary = scores[PRIMARY_METRIC[doc["kind"]]][SCORE_KEY]
    common = {CLUSTER_KEY: doc["cluster"], "doc_key": doc["doc_key"]}
    return {
        **scores,
        type_score_metric(type_name): {SCORE_KEY: float(primary), **common},
        type_chance_metric(type_name): {SCORE_KEY: chance_score(doc), **common},
    }
