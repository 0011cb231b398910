"""The lm-evaluation-harness tasks (issue 17): the same documents, prompts and per-document scores as lmms-eval's.

Both frameworks' own task objects are built from the installed YAMLs (lmms-eval's TaskManager on
medmim_tasks/yaml_tasks, lm-eval's on medmim_tasks/lm_eval_tasks) and fed the same replies.
"""

from __future__ import annotations

from typing import Any

import pytest
from family_checks import FamilyBenchmark

from medmim_tasks.benchmark.circular_splits import circular_name
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.task.lm_eval_glue import doc_to_text, load_documents
from medmim_tasks.task.task_path import LM_EVAL, tasks_path

pytest.importorskip("lm_eval", reason="the lm-eval extra is not installed: pip install -e '.[test,lm-eval]'")

TASKS = [split.task for split in SPLITS]
CIRCULAR_TASKS = [circular_name(task) for task in TASKS]


def lmms_eval_tasks(model_name: str = "default", tasks: list[str] = TASKS) -> dict[str, Any]:
    from lmms_eval.tasks import TaskManager

    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False, model_name=model_name)
    loaded = manager.load_task_or_group(tasks)
    return {task: loaded[task] for task in tasks}


def lm_eval_tasks(tasks: list[str] = TASKS) -> dict[str, Any]:
    from lm_eval.tasks import TaskManager, get_task_dict

    manager = TaskManager(include_path=str(tasks_path(LM_EVAL)), include_defaults=False)
    loaded = get_task_dict(tasks, manager)
    return {task: loaded[task] for task in tasks}


def replies_for(doc: dict[str, Any]) -> list[str]:
    """Right, wrong, unparseable and long replies of either kind."""
    replies = ["", "I cannot tell from these images.", "A", "The answer is (B).", doc["answer"], f"{doc['answer']} {doc['question']}"]
    if doc["kind"] == MULTIPLE_CHOICE:
        letters = [option["letter"] for option in doc["options"]]
        wrong = next(letter for letter in letters if letter != doc["gold_letter"])
        replies += [doc["gold_letter"], f"({doc['gold_letter']})", wrong, f"{wrong}. {doc['options'][letters.index(wrong)]['text']}"]
    return replies


def test_same_replies_get_identical_per_document_scores_in_both_frameworks(family_env: FamilyBenchmark) -> None:
    lmms = lmms_eval_tasks()
    lm = lm_eval_tasks()
    compared = 0
    for task in TASKS:
        lmms_docs = list(lmms[task].test_docs())
        lm_docs = list(lm[task].test_docs())
        assert lm_docs == lmms_docs, f"{task}: the two frameworks build different documents"
        assert lm_docs, f"{task}: no documents"
        for doc in lm_docs:
            for reply in replies_for(doc):
                lm_scores = lm[task].process_results(doc, [reply])
                assert lm_scores == lmms[task].process_results(doc, [reply]), (task, doc["doc_key"], reply)
                compared += 1
    assert compared > 6 * 10
    # the same aggregation: each metric's function is the package's mean_score in both
    from medmim_tasks.task.hooks import mean_score

    for task in TASKS:
        assert set(lm[task].aggregation()) == set(lmms[task].aggregation())
        assert all(function is mean_score for function in lm[task].aggregation().values())


# Reply policies over a circular task's documents: each gives every shift a reply, so the item-level
# metrics see items right in every shift, in some, answered consistently or not, and unparseable.
CIRCULAR_POLICIES: dict[str, Any] = {
    "gold": lambda doc: doc["gold_letter"],
    "always A": lambda doc: "A",
    "published gold letter": lambda doc: f"The answer is ({doc['published_gold_letter']}).",
    "gold on shift 0 only": lambda doc: doc["gold_letter"] if doc["shift"] == 0 else "I cannot tell.",
    "gold text": lambda doc: doc["answer"],
}


def _aggregates(task: Any, docs: list[dict[str, Any]], policy: Any) -> dict[str, float]:
    """The task's own aggregation of each metric over the per-document values its own process_results gives."""
    values: dict[str, list[Any]] = {}
    for doc in docs:
        for metric, value in task.process_results(doc, [policy(doc)]).items():
            values.setdefault(metric, []).append(value)
    return {metric: float(task.aggregation()[metric](values[metric])) for metric in values}


def test_circular_tasks_give_identical_records_and_item_level_aggregates_in_both_frameworks(family_env: FamilyBenchmark) -> None:
    from medmim_tasks.scoring.circular import CIRCULAR_AGGREGATIONS
    from medmim_tasks.task.hooks import mean_score

    lmms = lmms_eval_tasks(tasks=CIRCULAR_TASKS)
    lm = lm_eval_tasks(CIRCULAR_TASKS)
    compared = 0
    for task in CIRCULAR_TASKS:
        lm_docs = list(lm[task].test_docs())
        assert lm_docs == list(lmms[task].test_docs()), f"{task}: the two frameworks build different documents"
        assert lm_docs and max(doc["shift"] for doc in lm_docs) > 0, f"{task}: no shifted documents"
        for doc in lm_docs:
            for reply in replies_for(doc):
                lm_records = lm[task].process_results(doc, [reply])
                assert lm_records == lmms[task].process_results(doc, [reply]), (task, doc["doc_key"], reply)
                assert set(CIRCULAR_AGGREGATIONS) <= set(lm_records)
                compared += 1
        # the same aggregation functions: the package's item-level ones, and mean_score for the rest
        assert lm[task].aggregation() == lmms[task].aggregation()
        assert all(lm[task].aggregation()[metric] is function for metric, function in CIRCULAR_AGGREGATIONS.items())
        assert all(function is mean_score for metric, function in lm[task].aggregation().items() if metric not in CIRCULAR_AGGREGATIONS)
        for name, policy in CIRCULAR_POLICIES.items():
            lm_aggregates = _aggregates(lm[task], lm_docs, policy)
            assert lm_aggregates == pytest.approx(_aggregates(lmms[task], lm_docs, policy), nan_ok=True), (task, name)
            assert lm_aggregates["mc_circular_incomplete"] == 0 and lm_aggregates["mc_circular_items"] > 0
            if name == "gold":
                assert lm_aggregates["mc_circular_acc"] == lm_aggregates["mc_circular_consistency"] == 1.0, task
            if name == "gold on shift 0 only":
                assert lm_aggregates["mc_circular_acc"] == 0.0 and lm_aggregates["mc_acc"] > 0.0, task
    assert compared > 6 * 10


def _lm_eval_chat_content(text: str) -> list[dict[str, Any]]:
    """What lm-eval's hf-multimodal sends its processor's chat template for a prompt (its own code)."""
    from lm_eval.models.hf_vlms import HFMultimodalLM

    class Capture:
        interleave = True
        max_images = 999

        class processor:  # noqa: N801 - the attribute name lm-eval reads
            @staticmethod
            def apply_chat_template(history: list[dict[str, Any]], **kwargs: Any) -> list[dict[str, Any]]:
                return history

    history = HFMultimodalLM.apply_chat_template(Capture(), [{"role": "user", "content": text}])  # type: ignore[arg-type]
    return history[0]["content"]  # type: ignore[index, no-any-return]


@pytest.mark.parametrize("variant", ["default", "published"])
def test_lm_eval_chat_turn_is_lmms_evals_chat_turn(medmim_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, variant: str) -> None:
    """Split at `<image>` by hf-multimodal, the prompt gives lmms-eval's content parts, images in place."""
    from medmim_tasks.task.documents import build_docs
    from medmim_tasks.task.prompts import doc_messages

    monkeypatch.setenv("MEDMIM_PROMPT_VARIANT", variant)
    checked = 0
    for task in TASKS:
        for doc in build_docs(task):
            expected = [
                {"type": "image"} if part["type"] == "image" else part
                for part in doc_messages(doc, [object()] * int(doc["n_images"]))[0]["content"]
            ]
            text = doc_to_text(doc)
            assert _lm_eval_chat_content(text) == expected, (doc["doc_key"], text)
            checked += 1
    assert checked > 4000


def test_missing_images_stop_lm_eval_with_the_packages_message(medmim_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Any) -> None:
    from lm_eval.tasks import TaskManager, get_task_dict

    from medmim_tasks.benchmark.image_paths import MissingImagesError

    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(tmp_path))
    manager = TaskManager(include_path=str(tasks_path(LM_EVAL)), include_defaults=False)
    with pytest.raises(MissingImagesError, match="task med_mim_held_out_rad: .* image references are missing"):
        get_task_dict(["med_mim_held_out_rad"], manager)


def test_the_documents_need_the_task_named() -> None:
    with pytest.raises(ValueError, match="dataset_kwargs.medmim_task"):
        load_documents(version=0.1)


def test_the_circular_documents_need_a_circular_task_named() -> None:
    from medmim_tasks.task.lm_eval_circular import load_circular_documents

    with pytest.raises(ValueError, match="load_circular_documents builds circular tasks"):
        load_circular_documents(medmim_task="med_mim_held_out_rad")
    with pytest.raises(ValueError, match="dataset_kwargs.medmim_task"):
        load_circular_documents(version=0.1)


def test_tasks_path_names_each_frameworks_folder(capsys: pytest.CaptureFixture[str]) -> None:
    from medmim_tasks.cli.main import main

    assert main(["tasks-path", "--framework", "lm-eval"]) == 0
    assert capsys.readouterr().out.strip() == str(tasks_path(LM_EVAL))
    assert main(["tasks-path"]) == 0
    assert capsys.readouterr().out.strip() == str(tasks_path())
    assert (tasks_path(LM_EVAL) / "med_mim.yaml").is_file()
    assert (tasks_path(LM_EVAL) / "utils.py").is_file()
    assert tasks_path(LM_EVAL) != tasks_path()
    with pytest.raises(ValueError, match="framework must be one of"):
        tasks_path("helm")
