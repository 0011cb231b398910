"""The generated multi-image sanity task: determinism, balance, pixels that match the questions,
and the property it exists for: a model that drops or shuffles images falls to chance."""

from __future__ import annotations

import hashlib
import itertools
import random
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from PIL import Image

from medmim_tasks.benchmark.images import load_image
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, OPEN_ENDED, parse_items
from medmim_tasks.benchmark.sources import SANITY_DATASET, SOURCE_DATASETS, dataset_for_source
from medmim_tasks.sanity.generated_set import (
    COUNT_WORDS,
    IMAGE_COUNT,
    IMAGE_ORDER,
    ITEMS_FILE,
    ITEMS_PER_TYPE,
    MARKER_FILE,
    QUESTION_TYPES,
    SANITY_DIR_VARIABLE,
    SANITY_TASK,
    WHICH_IMAGE,
    build_sanity_docs,
    chance_candidates,
    ensure_sanity_set,
    images_dir,
    question_type_of,
    sanity_items,
)
from medmim_tasks.sanity.scoring import (
    chance_score,
    process_sanity_results,
    sanity_metric_names,
    type_chance_metric,
    type_score_metric,
)
from medmim_tasks.task.hooks import (
    SCORE_KEY,
    doc_to_messages,
    doc_to_text,
    doc_to_visual,
    mean_score,
    process_results,
    process_sanity_docs,
)

REPO_ROOT = Path(__file__).resolve().parents[2]
YAML_DIR = REPO_ROOT / "yaml_tasks"
CHAT = {"image_placeholders": "strip"}  # prompt settings as lmms-eval passes them (template default)


@pytest.fixture(autouse=True)
def _no_llm_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scores here must not depend on an optional judge endpoint configured on the machine."""
    monkeypatch.delenv("MEDMIM_JUDGE_URL", raising=False)


@pytest.fixture(scope="module")
def sanity_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return ensure_sanity_set(tmp_path_factory.mktemp("sanity"))


@pytest.fixture(scope="module")
def docs(sanity_root: Path) -> list[dict[str, Any]]:
    return build_sanity_docs({SANITY_DIR_VARIABLE: str(sanity_root)})


def _tree_digest(root: Path) -> dict[str, str]:
    return {str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest() for path in sorted(root.rglob("*")) if path.is_file()}


def _type(doc: dict[str, Any]) -> str:
    return question_type_of(doc["source"]).name


# ---------------------------------------------------------------- generation


def test_generation_is_deterministic(tmp_path: Path, sanity_root: Path) -> None:
    assert [item.raw for item in sanity_items()] == [item.raw for item in sanity_items()]
    again = ensure_sanity_set(tmp_path / "again")
    assert _tree_digest(again) == _tree_digest(sanity_root)
    assert len(list(images_dir(sanity_root).rglob("*.png"))) == sum(len(item.pictures) for item in sanity_items())


def test_an_incomplete_or_outdated_folder_is_rewritten(tmp_path: Path) -> None:
    root = ensure_sanity_set(tmp_path / "set")
    digest = _tree_digest(root)
    first_image = images_dir(root) / sanity_items()[0].raw["images"][0]
    first_image.unlink()
    (root / MARKER_FILE).write_text('{"generator_version": 0}')
    ensure_sanity_set(root)
    assert _tree_digest(root) == digest


def test_items_are_in_the_med_mim_format(sanity_root: Path, docs: list[dict[str, Any]]) -> None:
    import json

    raw = json.loads((sanity_root / ITEMS_FILE).read_text())
    items = parse_items(raw, "sanity", datasets=(SANITY_DATASET,))  # the real splits' validation
    assert len(items) == len(docs) == ITEMS_PER_TYPE * len(QUESTION_TYPES)
    for doc in docs:
        assert doc["task"] == SANITY_TASK and doc["dataset"] == "SANITY"
        assert doc["n_images"] in (2, 3) and len(doc["image_paths"]) == doc["n_images"]
        assert all(Path(path).is_file() for path in doc["image_paths"])
        assert doc["kind"] == question_type_of(doc["source"]).kind
        assert doc["user_turn"].startswith("<image>" * doc["n_images"])
    assert len({doc["cluster"] for doc in docs}) == len(docs)


def test_sanity_source_is_not_a_benchmark_dataset() -> None:
    assert dataset_for_source("MEDMIM_SANITY_circle_position") is SANITY_DATASET
    assert SANITY_DATASET not in SOURCE_DATASETS
    with pytest.raises(ValueError, match="names no sanity question type"):
        question_type_of("MEDMIM_SANITY_nope")


def test_question_types_are_balanced_and_interleaved(docs: list[dict[str, Any]]) -> None:
    counts = Counter(_type(doc) for doc in docs)
    assert set(counts.values()) == {ITEMS_PER_TYPE}
    block = [_type(doc) for doc in docs[: len(QUESTION_TYPES)]]
    assert block == [qtype.name for qtype in QUESTION_TYPES]  # a limit of 6k sees k of each type
    for qtype in QUESTION_TYPES:
        of_type = [doc for doc in docs if _type(doc) == qtype.name]
        assert Counter(doc["n_images"] for doc in of_type) == {2: ITEMS_PER_TYPE // 2, 3: ITEMS_PER_TYPE // 2}


def test_gold_letters_are_uniform_so_chance_is_exact(docs: list[dict[str, Any]]) -> None:
    mc = [doc for doc in docs if doc["kind"] == MULTIPLE_CHOICE]
    for (type_name, n_options), group in itertools.groupby(
        sorted(mc, key=lambda d: (_type(d), d["n_options"])), key=lambda d: (_type(d), d["n_options"])
    ):
        letters = Counter(doc["gold_letter"] for doc in group)
        assert sorted(letters) == list("ABCD"[:n_options]), (type_name, n_options)
        assert len(set(letters.values())) == 1, (type_name, n_options, letters)
        # a model that always answers one letter scores exactly chance on every type
        for letter in letters:
            assert letters[letter] / sum(letters.values()) == pytest.approx(1 / n_options)
    brighter = [doc for doc in mc if _type(doc) == "second_brighter"]
    assert Counter(doc["answer"].split(": ")[1] for doc in brighter) == {"Yes": ITEMS_PER_TYPE // 2, "No": ITEMS_PER_TYPE // 2}


def test_gold_positions_are_uniform_for_open_which_image(docs: list[dict[str, Any]]) -> None:
    open_which = [doc for doc in docs if _type(doc) == "open_circle_position"]
    for n_images in (2, 3):
        golds = Counter(doc["answer"] for doc in open_which if doc["n_images"] == n_images)
        assert sorted(golds) == [f"Image {n}." for n in range(1, n_images + 1)]
        assert len(set(golds.values())) == 1


def test_items_per_type_must_keep_the_balance() -> None:
    with pytest.raises(ValueError, match="multiple of 24"):
        sanity_items(12)


# ---------------------------------------------------------------- pixels: measured, not trusted


def _grey(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("L"), dtype=np.float64)


def fill_ratio(image: Image.Image) -> float:
    """Share of the bright figure's bounding box it fills: 1 for a square, pi/4 for a disc."""
    mask = _grey(image) > 128
    rows, cols = np.nonzero(mask)
    box = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
    return float(mask.sum() / box)


def lesion_area(image: Image.Image) -> int:
    """Pixels of the bright, grey (not red) lesion."""
    pixels = np.asarray(image.convert("RGB"), dtype=np.int64)
    bright = pixels.min(axis=2) >= 170
    grey = pixels.max(axis=2) - pixels.min(axis=2) < 40
    return int((bright & grey).sum())


def brightness(image: Image.Image) -> float:
    return float(_grey(image).mean())


def _gold_position(doc: dict[str, Any]) -> int:
    text = doc["answer"] if doc["kind"] == OPEN_ENDED else doc["answer"].split(": ", 1)[1]
    return int(re.search(r"Image (\d)", text).group(1)) - 1  # type: ignore[union-attr]


def test_images_show_what_the_questions_claim(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        qtype = question_type_of(doc["source"])
        images = [load_image(path) for path in doc["image_paths"]]
        assert len({image.tobytes() for image in images}) == len(images), doc["doc_key"]
        if qtype.subject == "circle":
            ratios = [fill_ratio(image) for image in images]
            gold = _gold_position(doc)
            assert ratios[gold] < 0.85, (doc["doc_key"], ratios)  # a disc (pi/4 = 0.785)
            assert all(ratio > 0.97 for n, ratio in enumerate(ratios) if n != gold), (doc["doc_key"], ratios)
        elif qtype.subject == "lesion":
            areas = [lesion_area(image) for image in images]
            gold = _gold_position(doc)
            assert all(areas[gold] >= 2 * area for n, area in enumerate(areas) if n != gold), (doc["doc_key"], areas)
        elif qtype.probe == IMAGE_ORDER:
            first, second = brightness(images[0]), brightness(images[1])
            assert abs(second - first) >= 50, doc["doc_key"]
            assert doc["answer"].endswith("Yes" if second > first else "No"), doc["doc_key"]
        elif qtype.probe == IMAGE_COUNT:
            gold = doc["answer"] if qtype.kind == OPEN_ENDED else doc["answer"].split(": ", 1)[1]
            expected = COUNT_WORDS[doc["n_images"]] if qtype.kind == OPEN_ENDED else str(doc["n_images"])
            assert gold == expected, doc["doc_key"]


# ---------------------------------------------------------------- oracle models read the pixels


def images_and_text_from_messages(doc: dict[str, Any]) -> tuple[list[Image.Image], str]:
    """What a chat model receives (lmms-eval's chat path): images and text in content order."""
    messages = doc_to_messages(doc, CHAT)
    images = [part["url"] for message in messages for part in message["content"] if part["type"] == "image"]
    text = "\n".join(part["text"] for message in messages for part in message["content"] if part["type"] == "text")
    return images, text


def images_and_text_from_visuals(doc: dict[str, Any]) -> tuple[list[Image.Image], str]:
    """What a simple model receives: doc_to_visual's images and doc_to_text's prompt."""
    return doc_to_visual(doc, CHAT), doc_to_text(doc, CHAT)


def oracle_reply(images: Sequence[Image.Image], text: str) -> str:
    """A perfect reader of whatever images it is given, in the order given, answering the question."""
    options = dict(re.findall(r"^([A-D]): (.+)$", text, flags=re.MULTILINE))
    if "circle" in text:
        answer: str | int = f"Image {int(np.argmin([fill_ratio(image) for image in images])) + 1}"
    elif "lesion" in text:
        answer = f"Image {int(np.argmax([lesion_area(image) for image in images])) + 1}"
    elif "brighter" in text:
        answer = "Yes" if len(images) >= 2 and brightness(images[1]) > brightness(images[0]) else "No"
    elif "How many images" in text:
        answer = len(images)
    else:
        raise AssertionError(f"the oracle cannot read this question: {text!r}")
    if options:
        wanted = str(answer)
        letters = [letter for letter, option in options.items() if option.strip() == wanted]
        return letters[0] if letters else "I cannot tell."
    return COUNT_WORDS[answer] if isinstance(answer, int) else f"{answer}."


Viewer = Callable[[list[Image.Image], dict[str, Any]], list[Image.Image]]


def sees_all(images: list[Image.Image], doc: dict[str, Any]) -> list[Image.Image]:
    return images


def sees_first_only(images: list[Image.Image], doc: dict[str, Any]) -> list[Image.Image]:
    return images[:1]


def sees_shuffled(images: list[Image.Image], doc: dict[str, Any]) -> list[Image.Image]:
    order = list(range(len(images)))
    random.Random(doc["doc_key"]).shuffle(order)
    return [images[n] for n in order]


def sees_reversed(images: list[Image.Image], doc: dict[str, Any]) -> list[Image.Image]:
    return images[::-1]


def score_model(docs: list[dict[str, Any]], viewer: Viewer, reader=images_and_text_from_messages) -> dict[str, float]:
    """Run an oracle model over the docs and aggregate the real scoring's per-type metrics."""
    collected: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for doc in docs:
        images, text = reader(doc)
        reply = oracle_reply(viewer(images, doc), text)
        for metric, value in process_sanity_results(doc, [reply]).items():
            collected[metric].append(value)
    return {metric: mean_score(values) for metric, values in collected.items()}


@pytest.fixture(scope="module")
def in_order(docs: list[dict[str, Any]]) -> dict[str, float]:
    return score_model(docs, sees_all)


@pytest.fixture(scope="module")
def first_only(docs: list[dict[str, Any]]) -> dict[str, float]:
    return score_model(docs, sees_first_only)


@pytest.fixture(scope="module")
def shuffled(docs: list[dict[str, Any]]) -> dict[str, float]:
    return score_model(docs, sees_shuffled)


WHICH_IMAGE_TYPES = [qtype.name for qtype in QUESTION_TYPES if qtype.probe == WHICH_IMAGE]
# Token F1 gives a wrong "Image n." half credit (the word "image"), so open chance is high and
# the gap to a perfect reader smaller; the multiple-choice rows carry the sharp signal.
WHICH_IMAGE_MC = [qtype.name for qtype in QUESTION_TYPES if qtype.probe == WHICH_IMAGE and qtype.kind == MULTIPLE_CHOICE]


@pytest.mark.parametrize("reader", [images_and_text_from_messages, images_and_text_from_visuals], ids=["chat", "simple"])
def test_a_model_that_sees_every_image_in_order_is_perfect(docs: list[dict[str, Any]], reader) -> None:
    scores = score_model(docs, sees_all, reader)
    for qtype in QUESTION_TYPES:
        assert scores[type_score_metric(qtype.name)] == 1.0, qtype.name
        assert scores[type_chance_metric(qtype.name)] < 0.75, qtype.name
    assert scores["mc_acc"] == 1.0 and scores["mc_parsed"] == 1.0 and scores["open_token_f1"] == 1.0


def test_a_model_that_sees_only_the_first_image_falls_to_chance(in_order: dict[str, float], first_only: dict[str, float]) -> None:
    for name in WHICH_IMAGE_TYPES:
        assert first_only[type_score_metric(name)] == pytest.approx(first_only[type_chance_metric(name)]), name
        assert in_order[type_score_metric(name)] - first_only[type_score_metric(name)] > 0.25, name
    # it cannot compare image 2 with image 1: chance; it counts one image: below chance
    assert first_only[type_score_metric("second_brighter")] == pytest.approx(0.5)
    assert first_only[type_score_metric("image_count")] == 0.0
    assert first_only[type_score_metric("open_image_count")] < first_only[type_chance_metric("open_image_count")]
    assert first_only["mc_acc"] < first_only["mc_chance"] + 0.05


def test_a_model_that_sees_the_images_shuffled_falls_to_chance(in_order: dict[str, float], shuffled: dict[str, float]) -> None:
    for name in WHICH_IMAGE_TYPES:
        score, chance = shuffled[type_score_metric(name)], shuffled[type_chance_metric(name)]
        assert abs(score - chance) <= 0.15, (name, score, chance)
        assert in_order[type_score_metric(name)] - score > (0.25 if name in WHICH_IMAGE_MC else 0.15), name
    assert in_order[type_score_metric("second_brighter")] - shuffled[type_score_metric("second_brighter")] > 0.25
    # counting does not depend on order
    assert shuffled[type_score_metric("image_count")] == 1.0


def test_over_every_order_which_image_accuracy_is_exactly_chance(docs: list[dict[str, Any]]) -> None:
    """Averaged over all orders a model could receive the images in, it scores chance exactly."""
    for name in WHICH_IMAGE_TYPES:
        scores, chances = [], []
        for doc in (doc for doc in docs if _type(doc) == name):
            images, text = images_and_text_from_messages(doc)
            for order in itertools.permutations(range(len(images))):
                reply = oracle_reply([images[n] for n in order], text)
                scores.append(process_sanity_results(doc, [reply])[type_score_metric(name)][SCORE_KEY])
                chances.append(chance_score(doc))
        assert np.mean(scores) == pytest.approx(np.mean(chances)), name
    # image 2 against image 1 in a random order: chance up to the third image's random brightness
    scores = []
    for doc in (doc for doc in docs if _type(doc) == "second_brighter"):
        images, text = images_and_text_from_messages(doc)
        for order in itertools.permutations(range(len(images))):
            reply = oracle_reply([images[n] for n in order], text)
            scores.append(process_sanity_results(doc, [reply])[type_score_metric("second_brighter")][SCORE_KEY])
    assert np.mean(scores) == pytest.approx(0.5, abs=0.1)


def test_a_model_that_sees_the_images_reversed_is_at_or_below_chance(docs: list[dict[str, Any]]) -> None:
    scores = score_model(docs, sees_reversed)
    for name in WHICH_IMAGE_TYPES + ["second_brighter"]:
        assert scores[type_score_metric(name)] <= scores[type_chance_metric(name)], name


# ---------------------------------------------------------------- scoring is the real splits'


def test_per_type_scores_come_from_the_shared_process_results(docs: list[dict[str, Any]]) -> None:
    for doc in docs[: 2 * len(QUESTION_TYPES)]:
        for reply in ("A", "B", "Image 2.", "Two images.", "no idea"):
            shared = process_results(doc, [reply])
            ours = process_sanity_results(doc, [reply])
            assert {key: ours[key] for key in shared} == shared
            primary = "mc_acc" if doc["kind"] == MULTIPLE_CHOICE else "open_token_f1"
            assert ours[type_score_metric(_type(doc))][SCORE_KEY] == shared[primary][SCORE_KEY]
            assert set(ours) - set(shared) == {type_score_metric(_type(doc)), type_chance_metric(_type(doc))}


def test_chance_is_the_mean_score_of_uniform_guessing(docs: list[dict[str, Any]]) -> None:
    for doc in docs:
        primary = "mc_acc" if doc["kind"] == MULTIPLE_CHOICE else "open_token_f1"
        through_scoring = [process_results(doc, [reply])[primary][SCORE_KEY] for reply in chance_candidates(doc)]
        assert chance_score(doc) == pytest.approx(sum(through_scoring) / len(through_scoring)), doc["doc_key"]
        if doc["kind"] == MULTIPLE_CHOICE:
            assert chance_score(doc) == pytest.approx(1 / doc["n_options"])
        elif _type(doc) == "open_circle_position":
            # "Image n." shares the token "image" with the gold answer: F1 0.5 when n is wrong
            assert chance_score(doc) == pytest.approx((1 + 0.5 * (doc["n_images"] - 1)) / doc["n_images"])


def test_process_sanity_docs_builds_the_task_from_its_manifest(sanity_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import datasets

    monkeypatch.setenv(SANITY_DIR_VARIABLE, str(sanity_root))
    built = process_sanity_docs(datasets.Dataset.from_list([{"task": SANITY_TASK}]))
    assert len(built) == ITEMS_PER_TYPE * len(QUESTION_TYPES)
    assert built[0]["image_paths"][0].startswith(str(sanity_root))
    with pytest.raises(ValueError, match="med_mim_sanity"):
        process_sanity_docs(datasets.Dataset.from_list([{"task": "med_mim_held_out_odir"}]))


# ---------------------------------------------------------------- the task YAML


class _TaggedLoader(yaml.SafeLoader):
    pass


_TaggedLoader.add_constructor("!function", lambda loader, node: f"!function {loader.construct_scalar(node)}")


def _yaml(name: str) -> dict[str, Any]:
    return yaml.load((YAML_DIR / name).read_text(), Loader=_TaggedLoader)


def test_task_yaml_lists_the_template_metrics_and_every_type_metric() -> None:
    task = _yaml("med_mim_sanity.yaml")
    template = _yaml("_default_template_yaml")
    assert task["task"] == SANITY_TASK and task["include"] == "_default_template_yaml"
    assert task["process_docs"] == "!function utils.process_sanity_docs"
    assert task["process_results"] == "!function utils.process_sanity_results"
    listed = [metric["metric"] for metric in task["metric_list"]]
    assert listed == [metric["metric"] for metric in template["metric_list"]] + sanity_metric_names()
    # lmms-eval matches group metrics by substring: no metric name contains another
    assert not [(a, b) for a in listed for b in listed if a != b and a in b]
    manifest = (YAML_DIR / task["dataset_kwargs"]["data_files"]["train"]).read_text().strip()
    assert manifest == '{"task": "med_mim_sanity"}'


def test_sanity_task_is_in_no_benchmark_group() -> None:
    for path in YAML_DIR.glob("med_mim*.yaml"):
        config = _yaml(path.name)
        if "group" in config:
            assert SANITY_TASK not in config["task"], path.name
