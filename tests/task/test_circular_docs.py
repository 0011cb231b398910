"""Circular documents on the real files: every multiple-choice item once per cyclic shift, shifts adjacent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from medmim_tasks.benchmark.circular_splits import CIRCULAR_TASKS, circular_name, is_circular, plain_name, split_of_task
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.task.circular import (
    GOLD_KEEPS_LETTER,
    TOO_FEW_ROTATING,
    build_circular_docs,
    exclusion_reason,
    positional_option,
    rewrite_option_lines,
    shifted_letter,
    shifted_options,
)
from medmim_tasks.task.documents import build_docs

# Counted on the pinned files (docs/circular.md): MC items and asks per circular task.
EXPECTED = {
    "med_mim_circular_held_in_temporal": (903, 2550),
    "med_mim_circular_held_in_reasoning": (454, 3178),
    "med_mim_circular_held_in_comparison": (208, 686),
    "med_mim_circular_held_in_coreference": (1403, 3500),
    "med_mim_circular_held_out_odir": (300, 1192),
    "med_mim_circular_held_out_rad": (293, 879),
}
NONE_OF_THE_ABOVE = {141: "B", 177: "D", 185: "D", 192: "C", 251: "C"}  # Comparison: index -> the letter it keeps


@pytest.fixture(scope="module")
def circular_docs(benchmark_dir: Any, synthetic_image_root: Any) -> dict[str, list[dict[str, Any]]]:
    env = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir), "MEDMIM_IMAGE_ROOT": str(synthetic_image_root)}
    return {task: build_circular_docs(task, env) for task in CIRCULAR_TASKS} | {
        plain_name(task): build_docs(plain_name(task), env) for task in CIRCULAR_TASKS
    }


def _items(docs: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    """The documents of each item, in document order (shifts must be adjacent for this to cover all)."""
    start = 0
    while start < len(docs):
        end = start + docs[start]["n_shifts"]
        yield docs[start:end]
        start = end


def test_names() -> None:
    assert circular_name("med_mim_held_out_rad") == "med_mim_circular_held_out_rad"
    assert circular_name("med_mim") == "med_mim_circular"
    assert plain_name("med_mim_circular_held_in") == "med_mim_held_in" and plain_name("med_mim_held_in") == "med_mim_held_in"
    assert is_circular("med_mim_circular") and not is_circular("med_mim_circularity")
    assert split_of_task("med_mim_circular_held_out_odir").task == "med_mim_held_out_odir"
    with pytest.raises(ValueError):
        circular_name("med_mim_circular_held_out_rad")
    with pytest.raises(ValueError, match="not a circular"):
        build_circular_docs("med_mim_held_out_rad")


def test_every_mc_item_once_per_shift_in_item_order(circular_docs: dict[str, list[dict[str, Any]]]) -> None:
    asks = items = 0
    for task in CIRCULAR_TASKS:
        docs = circular_docs[task]
        plain_mc = [doc for doc in circular_docs[plain_name(task)] if doc["kind"] == MULTIPLE_CHOICE]
        grouped = list(_items(docs))
        assert [group[0]["index"] for group in grouped] == [doc["index"] for doc in plain_mc], task
        for group, plain in zip(grouped, plain_mc):
            assert [doc["shift"] for doc in group] == list(range(len(group)))
            assert {doc["item_key"] for doc in group} == {f"{task}:{plain['index']}"}
            assert [doc["doc_key"] for doc in group] == [f"{task}:{plain['index']}:{s}" for s in range(len(group))]
            assert len(group) == plain["n_options"] - len(group[0]["fixed_letters"])
        assert (len(grouped), len(docs)) == EXPECTED[task], task
        asks, items = asks + len(docs), items + len(grouped)
    assert (items, asks) == (3561, 11985)  # 3.37 asks per multiple-choice item


def test_gold_moves_with_its_text_and_the_prompt_shows_the_shift(circular_docs: dict[str, list[dict[str, Any]]]) -> None:
    for task in CIRCULAR_TASKS:
        for group in _items(circular_docs[task]):
            published = {o["letter"]: o["text"] for o in group[0]["options"]}
            gold_text = published[group[0]["published_gold_letter"]]
            golds = []
            for doc in group:
                options = {o["letter"]: o["text"] for o in doc["options"]}
                assert list(options) == list(published) and sorted(options.values()) == sorted(published.values())
                assert options[doc["gold_letter"]] == gold_text
                for letter, text in options.items():
                    assert f"{letter}: {text}" in doc["question"] and f"{letter}: {text}" in doc["user_turn"]
                golds.append(doc["gold_letter"])
            assert group[0]["gold_letter"] == group[0]["published_gold_letter"]
            assert len(set(golds)) == len(group), (task, group[0]["index"])  # a new letter in every shift
            assert "A" not in group[0]["fixed_letters"]


def test_none_of_the_above_keeps_its_letter(circular_docs: dict[str, list[dict[str, Any]]]) -> None:
    kept = {}
    for task in CIRCULAR_TASKS:
        for group in _items(circular_docs[task]):
            if group[0]["fixed_letters"]:
                kept[(task, group[0]["index"])] = group[0]["fixed_letters"]
                letter = group[0]["fixed_letters"][0]
                assert len({next(o["text"] for o in doc["options"] if o["letter"] == letter) for doc in group}) == 1
    assert kept == {("med_mim_circular_held_in_comparison", index): [letter] for index, letter in NONE_OF_THE_ABOVE.items()}


def test_odir_62_rotates_over_the_letters_it_lists(circular_docs: dict[str, list[dict[str, Any]]]) -> None:
    group = [doc for doc in circular_docs["med_mim_circular_held_out_odir"] if doc["index"] == 62]
    assert [[o["letter"] for o in doc["options"]] for doc in group] == [["A", "B", "D"]] * 3
    assert [doc["gold_letter"] for doc in group] == ["D", "A", "B"]
    assert "C:" not in group[1]["question"]


def test_rotation_rules() -> None:
    options = [("A", "x"), ("B", "None of the above."), ("C", "y"), ("D", "z")]
    assert positional_option("None of the above.") and positional_option("ALL of these")
    assert not positional_option("Both images are normal.") and not positional_option("None")
    rotating = ("A", "C", "D")
    assert shifted_options(options, rotating, 1) == [("A", "z"), ("B", "None of the above."), ("C", "x"), ("D", "y")]
    assert [shifted_letter("D", rotating, s) for s in range(3)] == ["D", "A", "C"]
    assert shifted_letter("B", rotating, 2) == "B"
    assert exclusion_reason(options, "A") is None
    assert exclusion_reason(options, "B") == GOLD_KEEPS_LETTER
    assert exclusion_reason([("A", "x"), ("B", "All of the above")], "A") == TOO_FEW_ROTATING


def test_rewrite_keeps_each_line_prefix_and_refuses_a_mismatch() -> None:
    text = "Q?\n(A) x\nB : y  \nlater"
    assert rewrite_option_lines(text, [("A", "y"), ("B", "x")], "t") == "Q?\n(A) y\nB : x\nlater"
    with pytest.raises(ValueError, match="t: its text lists options"):
        rewrite_option_lines("Q?\nA: x", [("A", "y"), ("B", "x")], "t")


def test_the_data_check_before_the_model_loads_covers_circular_names() -> None:
    from medmim_tasks.benchmark.splits import SPLITS
    from medmim_tasks.task.plugin import selected_splits

    assert selected_splits(["med_mim_circular"]) == list(SPLITS)
    assert [s.task for s in selected_splits(["med_mim_circular_held_out"])] == ["med_mim_held_out_odir", "med_mim_held_out_rad"]
    assert [s.task for s in selected_splits(["med_mim_circular_held_in_reasoning"])] == ["med_mim_held_in_reasoning"]
