"""Circular scoring on the real files, through the package's process_results and the YAMLs' aggregations.

A reply is the shifted gold letter, the published (unshifted) gold letter, or always "A"; each set
of replies is scored as lmms-eval does: one process_results call per document, then each metric's
aggregation over the list of per-document values.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from medmim_tasks.benchmark.circular_splits import CIRCULAR_TASKS
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.results.statistics import clustered_stderr
from medmim_tasks.scoring.circular import CIRCULAR_AGGREGATIONS, item_outcomes
from medmim_tasks.scoring.text_credit import twin_letters
from medmim_tasks.task.circular import build_circular_docs
from medmim_tasks.task.circular_hooks import process_circular_results
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import mean_score, process_results

Doc = dict[str, Any]


@pytest.fixture(scope="module")
def env(benchmark_dir: Any, synthetic_image_root: Any) -> dict[str, str]:
    return {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir), "MEDMIM_IMAGE_ROOT": str(synthetic_image_root)}


@pytest.fixture(scope="module")
def circular_docs(env: dict[str, str]) -> dict[str, list[Doc]]:
    return {task: build_circular_docs(task, env) for task in CIRCULAR_TASKS}


def aggregate(docs: list[Doc], reply: Callable[[Doc], str]) -> dict[str, float]:
    """Every metric of a circular task over some documents, as lmms-eval computes it."""
    per_metric: dict[str, list[Any]] = {}
    for doc in docs:
        for metric, value in process_circular_results(doc, [reply(doc)]).items():
            per_metric.setdefault(metric, []).append(value)
    return {
        metric: CIRCULAR_AGGREGATIONS.get(metric, mean_score)(values)
        for metric, values in per_metric.items()
    }


@pytest.mark.parametrize("task", CIRCULAR_TASKS)
def test_always_a_shifted_gold_and_unshifted_gold(circular_docs: dict[str, list[Doc]], task: str) -> None:
    docs = circular_docs[task]
    always_a = aggregate(docs, lambda doc: "A")
    assert always_a["mc_circular_acc"] == 0.0 and always_a["mc_circular_text_acc"] == 0.0
    assert always_a["mc_circular_consistency"] == 0.0  # "A" holds another text in some shift
    assert 0 < always_a["mc_acc"] < 1  # while the plain accuracy over shifts is not 0
    shifted = aggregate(docs, lambda doc: doc["gold_letter"])
    assert shifted["mc_circular_acc"] == shifted["mc_circular_text_acc"] == shifted["mc_circular_consistency"] == 1.0
    assert shifted["mc_acc"] == 1.0 and shifted["mc_circular_stderr_items"] == 0.0
    unshifted = aggregate(docs, lambda doc: doc["published_gold_letter"])
    assert unshifted["mc_circular_acc"] == 0.0
    assert unshifted["mc_circular_items"] == len({doc["item_key"] for doc in docs})
    assert unshifted["mc_circular_incomplete"] == 0.0
    chance = [(1 / doc["n_options"]) ** doc["n_shifts"] for doc in docs if doc["shift"] == 0]
    assert shifted["mc_circular_chance"] == pytest.approx(sum(chance) / len(chance))


def test_item_metric_and_its_standard_error_are_over_items(circular_docs: dict[str, list[Doc]]) -> None:
    docs = circular_docs["med_mim_circular_held_out_rad"]
    first_items = {doc["item_key"] for doc in docs[:30]}  # right in every shift of these items only
    scores = aggregate(docs, lambda doc: doc["gold_letter"] if doc["item_key"] in first_items else "A")
    items = [doc for doc in docs if doc["shift"] == 0]
    correct = [float(doc["item_key"] in first_items) for doc in items]
    assert scores["mc_circular_acc"] == sum(correct) / len(items)
    expected_se = clustered_stderr(correct, [doc["cluster"] for doc in items])
    assert scores["mc_circular_stderr_items"] == pytest.approx(expected_se)


def test_a_limit_that_cuts_an_item_drops_it_and_counts_it(circular_docs: dict[str, list[Doc]]) -> None:
    docs = circular_docs["med_mim_circular_held_out_odir"]
    cut = docs[:10]  # ODIR's first items have 4 and 4 shifts: the third item keeps 2 of its shifts
    complete = {doc["item_key"] for doc in cut if doc["shift"] == doc["n_shifts"] - 1}
    assert 0 < len(complete) < len({doc["item_key"] for doc in cut})
    scores = aggregate(cut, lambda doc: doc["gold_letter"])
    assert scores["mc_circular_items"] == len(complete)
    assert scores["mc_circular_incomplete"] == 1.0
    assert scores["mc_circular_acc"] == 1.0 and scores["mc_acc"] == 1.0
    assert math.isnan(aggregate(docs[:2], lambda doc: doc["gold_letter"])["mc_circular_acc"])  # no complete item


def test_repeated_shift_records_are_an_error() -> None:
    record = {"item_key": "t:1", "shift": 0, "n_shifts": 2, "cluster": "c", "correct": True,
              "correct_text": True, "chosen_text": "x", "chance": 0.25}
    with pytest.raises(ValueError, match="t:1: shift records repeat"):
        item_outcomes([record, record])


def test_twin_letter_counts_only_for_credit_by_text(env: dict[str, str], circular_docs: dict[str, list[Doc]]) -> None:
    plain = [doc for doc in build_docs("med_mim_held_out_odir", env) if doc["kind"] == MULTIPLE_CHOICE]
    twins = {doc["index"]: twin_letters({o["letter"]: o["text"] for o in doc["options"]}, doc["gold_letter"]) for doc in plain}
    with_twin = [doc for doc in plain if twins[doc["index"]]]
    assert len(with_twin) == 102 and twins[2] == ["C" if plain[2]["gold_letter"] == "B" else "B"]
    for doc in with_twin:
        scores = process_results(doc, [twins[doc["index"]][0]])
        assert scores["mc_acc"]["score"] == 0.0 and scores["mc_text_acc"]["score"] == 1.0
    # circular: a model naming the twin letter in every shift is wrong by letter, right by text
    circular = [doc for doc in circular_docs["med_mim_circular_held_out_odir"] if doc["index"] in twins and twins[doc["index"]]]

    def twin(doc: Doc) -> str:
        return twin_letters({o["letter"]: o["text"] for o in doc["options"]}, doc["gold_letter"])[0]

    scores = aggregate(circular, twin)
    assert scores["mc_circular_acc"] == 0.0 and scores["mc_circular_text_acc"] == 1.0
    assert scores["mc_circular_consistency"] == 1.0  # the same text in every shift


def test_no_circular_metric_name_contains_another() -> None:
    """lmms-eval matches a group's metrics by substring: a name inside another would be averaged into it."""
    import yaml

    from medmim_tasks.task.task_path import tasks_path

    text = (tasks_path() / "med_mim_circular_held_out_rad.yaml").read_text(encoding="utf-8")
    listed = [entry["metric"] for entry in yaml.safe_load(text.replace("!function ", ""))["metric_list"]]
    assert set(CIRCULAR_AGGREGATIONS) < set(listed) and "mc_text_acc" in listed
    assert not [(a, b) for a in listed for b in listed if a != b and a in b]
