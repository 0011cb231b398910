"""Loading, validation and classification of benchmark items."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from medmim_tasks.benchmark.items import (
    MULTIPLE_CHOICE,
    OPEN_ENDED,
    BenchmarkFormatError,
    load_split,
    parse_items,
    parse_options,
)
from medmim_tasks.benchmark.splits import SPLITS, split_for_task

# Counts measured on the published files (../shared/med_mim/README.md).
EXPECTED = {
    "med_mim_held_in_temporal": (903, 30, {2, 3}, {2, 3, 4}),
    "med_mim_held_in_reasoning": (454, 30, {2}, {7}),
    "med_mim_held_in_comparison": (208, 136, {2}, {2, 3, 4}),
    "med_mim_held_in_coreference": (1403, 60, {2, 3}, {2, 3}),
    "med_mim_held_out_odir": (300, 300, {2}, {3, 4}),
    "med_mim_held_out_rad": (293, 73, {2, 3}, {3}),
}


def good_item(**changes: object) -> dict:
    item = {
        "id": "x-1",
        "images": ["Training Images/1_left.jpg", "Training Images/1_right.jpg"],
        "conversation": [
            {"role": "user", "content": "<image><image>Which eye is normal?\nA: the left one\nB: the right one\n"},
            {"role": "assistant", "content": "B: the right one"},
        ],
        "source": "VQA_ODIR_instruction_multichoice_20250124",
    }
    item.update(changes)
    return item


@pytest.mark.parametrize("task", list(EXPECTED))
def test_real_split_counts(benchmark_dir: Path, task: str) -> None:
    items = load_split(split_for_task(task), {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)})
    mc, open_ended, image_counts, option_counts = EXPECTED[task]
    kinds = Counter(item.kind for item in items)
    assert kinds[MULTIPLE_CHOICE] == mc
    assert kinds[OPEN_ENDED] == open_ended
    assert {len(item.images) for item in items} == image_counts
    assert {len(item.options) for item in items if item.kind == MULTIPLE_CHOICE} == option_counts
    for item in items:
        if item.kind == MULTIPLE_CHOICE:
            letters = [letter for letter, _ in item.options]
            assert letters == sorted(set(letters)), item.index  # in order, no repeats
            assert item.gold_letter in letters
    # One ODIR item lists A, B and D (its C line is empty upstream): options stay as published.
    gaps = [item.index for item in items if item.options and item.options[-1][0] != chr(ord("A") + len(item.options) - 1)]
    assert gaps == ([62] if task == "med_mim_held_out_odir" else [])


def test_real_files_have_expected_sources_and_mislabelled_ids(benchmark_dir: Path) -> None:
    env = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    odir = load_split(split_for_task("med_mim_held_out_odir"), env)
    assert all(item.id.startswith("VQA_RAD") for item in odir)  # ids lie ...
    assert {item.dataset.name for item in odir} == {"ODIR"}  # ... the source field does not
    datasets = {split.task: {item.dataset.name for item in load_split(split, env)} for split in SPLITS}
    assert datasets["med_mim_held_in_reasoning"] == {"EMBED"}
    assert datasets["med_mim_held_in_comparison"] == {"LUMIERE", "MS-CXR-T"}
    assert datasets["med_mim_held_out_rad"] == {"VQA-RAD"}


def test_gold_text_may_differ_from_option_text_but_letter_counts(benchmark_dir: Path) -> None:
    rad = load_split(split_for_task("med_mim_held_out_rad"), {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)})
    differing = [
        item.id
        for item in rad
        if item.kind == MULTIPLE_CHOICE
        and dict(item.options)[item.gold_letter].strip() != item.answer.split(":", 1)[1].strip()
    ]
    assert sorted(differing) == ["VQA_RAD1600-103", "VQA_RAD929-488"]


def test_classification_and_options() -> None:
    [item] = parse_items([good_item()], "f.json")
    assert item.kind == MULTIPLE_CHOICE
    assert item.options == (("A", "the left one"), ("B", "the right one"))
    assert item.gold_letter == "B"
    assert item.question.startswith("Which eye")
    open_item = good_item(conversation=[{"role": "user", "content": "<image><image>Describe."}, {"role": "assistant", "content": "Both normal."}])
    [item] = parse_items([open_item], "f.json")
    assert item.kind == OPEN_ENDED and item.options == () and item.gold_letter is None


def test_options_need_letter_colon_lines() -> None:
    assert parse_options("Q?\nA: yes\nB: no\n") == (("A", "yes"), ("B", "no"))
    assert parse_options("A cataract is seen. B: not an option line start? no") == ()


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"id": ""}, "has no string `id`"),
        ({"images": []}, "no non-empty `images`"),
        ({"images": ["a.jpg", 3]}, "not a non-empty string"),
        ({"source": "SOMETHING_else"}, "starts with none of"),
        ({"conversation": [{"role": "user", "content": "<image><image>Q"}]}, "user and an assistant turn"),
        ({"conversation": [{"role": "assistant", "content": "x"}, {"role": "user", "content": "y"}]}, "no user turn"),
        ({"images": ["a.jpg"]}, "2 `<image>` placeholders in its user turn for 1 images"),
    ],
)
def test_validation_errors_name_file_index_id_and_problem(change: dict, message: str) -> None:
    items = [good_item(), good_item(id="bad-7", **{k: v for k, v in change.items() if k != "id"})]
    if "id" in change:
        items[1]["id"] = change["id"]
    with pytest.raises(BenchmarkFormatError) as error:
        parse_items(items, "/data/Med_MIM_benchmark_Held_out_ODIR.json")
    text = str(error.value)
    assert "/data/Med_MIM_benchmark_Held_out_ODIR.json" in text
    assert "item 1 (id " in text
    assert message in text
    assert "medmim data fetch" in text


def test_sanity_items_cannot_pass_as_benchmark_items() -> None:
    sanity = good_item(source="MEDMIM_SANITY_circle_position")
    with pytest.raises(BenchmarkFormatError, match="MEDMIM_SANITY_circle_position'?, which starts with none of EMBED_"):
        parse_items([sanity], "f.json")


def test_gold_letter_outside_options_is_an_error() -> None:
    bad = good_item(conversation=[{"role": "user", "content": "<image><image>Q\nA: x\nB: y\n"}, {"role": "assistant", "content": "D: z"}])
    with pytest.raises(BenchmarkFormatError, match="gold letter D that is not among its options"):
        parse_items([bad], "f.json")


def test_every_bad_item_is_listed() -> None:
    items = [good_item(id=f"bad-{n}", images=[]) for n in range(12)]
    with pytest.raises(BenchmarkFormatError) as error:
        parse_items(items, "f.json")
    assert "12 of 12 items" in str(error.value)
    assert "and 2 more" in str(error.value)


def test_missing_and_broken_files(tmp_path: Path) -> None:
    split = split_for_task("med_mim_held_out_rad")
    with pytest.raises(BenchmarkFormatError, match="MEDMIM_BENCHMARK_DIR") as error:
        load_split(split, {"MEDMIM_BENCHMARK_DIR": str(tmp_path)})
    assert str(tmp_path / split.file_name) in str(error.value)
    (tmp_path / split.file_name).write_text("{not json")
    with pytest.raises(BenchmarkFormatError, match="cannot read it as JSON"):
        load_split(split, {"MEDMIM_BENCHMARK_DIR": str(tmp_path)})
    (tmp_path / split.file_name).write_text(json.dumps({"items": []}))
    with pytest.raises(BenchmarkFormatError, match="expected a JSON list"):
        load_split(split, {"MEDMIM_BENCHMARK_DIR": str(tmp_path)})


def _mc(question_options: str, answer: str) -> dict:
    return good_item(
        conversation=[
            {"role": "user", "content": f"<image><image>Which eye is normal?\n{question_options}"},
            {"role": "assistant", "content": answer},
        ]
    )


@pytest.mark.parametrize("gold", ["b: the right one", "(B) the right one", "B : the right one", "(b) the right one", " B:the right one"])
def test_gold_answer_written_differently_is_recognised(gold: str) -> None:
    """Issue 18, item 9: not silently scored as open-ended."""
    [item] = parse_items([_mc("A: the left one\nB: the right one\n", gold)], "f.json")
    assert item.kind == MULTIPLE_CHOICE and item.gold_letter == "B"
    assert item.options == (("A", "the left one"), ("B", "the right one"))


@pytest.mark.parametrize(
    "lines",
    [
        "a: the left one\nb: the right one\nc: neither\n",
        "(A) the left one\n(B) the right one\n(C) neither\n",
        "A: the left one\n(B) the right one\nc : neither\n",
        "(a): the left one\nB : the right one\n(C)neither\n",
    ],
)
def test_option_lines_written_differently_are_recognised(lines: str) -> None:
    """Issue 18, item 9: no option is lost; letters become the canonical capitals."""
    [item] = parse_items([_mc(lines, "(B) the right one")], "f.json")
    assert item.kind == MULTIPLE_CHOICE and item.gold_letter == "B"
    assert item.options == (("A", "the left one"), ("B", "the right one"), ("C", "neither"))


def test_options_written_two_ways_with_one_letter_twice_is_an_error() -> None:
    bad = _mc("A: the left one\n(A) the right one\n", "A: the left one")
    with pytest.raises(BenchmarkFormatError, match=r"item 0 \(id 'x-1'\) repeats an option letter"):
        parse_items([bad], "/data/f.json")


def test_prose_that_only_looks_like_a_letter_stays_open() -> None:
    text = "A cataract is seen in the left eye.\nA large lesion: none.\n"
    [item] = parse_items([_mc(text, "A cataract in the left eye.")], "f.json")
    assert item.kind == OPEN_ENDED and item.options == ()


def test_real_files_read_no_option_or_gold_differently(benchmark_dir: Path) -> None:
    """The written-differently forms change nothing on the published files."""
    from medmim_tasks.benchmark.items import (
        GOLD_PREFIX,
        gold_letter_of,
        option_lines,
        read_split_file,
    )

    for split in SPLITS:
        for raw in read_split_file(split, {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}):
            question, answer = raw["conversation"][0]["content"], raw["conversation"][1]["content"]
            assert option_lines(question) == parse_options(question), (split.task, raw["id"])
            strict = GOLD_PREFIX.match(answer)
            assert gold_letter_of(answer) == (strict.group(1) if strict else None), (split.task, raw["id"])


def test_empty_benchmark_file_is_refused_when_read(tmp_path: Path) -> None:
    """`[]` fails here, naming the file and the fix, not later inside lmms-eval (issue 18, item 10)."""
    split = split_for_task("med_mim_held_out_rad")
    (tmp_path / split.file_name).write_text("[]")
    with pytest.raises(BenchmarkFormatError) as raised:
        load_split(split, {"MEDMIM_BENCHMARK_DIR": str(tmp_path)})
    text = str(raised.value)
    assert str(tmp_path / split.file_name) in text and "no items" in text and "medmim data fetch" in text
