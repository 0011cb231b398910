"""Prompts: plain text with placeholders kept or stripped, chat turns with images in place."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from medmim_tasks.benchmark.items import parse_items
from medmim_tasks.task.documents import item_doc
from medmim_tasks.task.prompts import (
    DEFAULT_PROMPT_SETTINGS,
    IMAGE_LABEL,
    doc_messages,
    doc_text,
    prompt_settings,
)

MC_POST = "Answer with the option's letter from the given choices directly."
OPEN_POST = "Answer the question in one or two sentences."


def make_doc(user: str, answer: str, images: int = 2) -> dict:
    raw = {
        "id": "x",
        "images": [f"synpic{n}.jpg" for n in range(images)],
        "conversation": [{"role": "user", "content": user}, {"role": "assistant", "content": answer}],
        "source": "VQA_RAD_instruction",
    }
    [item] = parse_items([raw], "f.json")
    return item_doc("med_mim_held_out_rad", item, [f"/img/synpic{n}.jpg" for n in range(images)], "VQA-RAD:synpic0")


MC = make_doc("<image><image>Which image is normal?\nA: the first image\nB: the second image\n", "B: the second image")
OPEN = make_doc("<image><image><image>What changed?", "A new effusion.", images=3)


@pytest.fixture(autouse=True)
def _no_variant_override(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDMIM_PROMPT_VARIANT", raising=False)


def test_default_text_strips_placeholders_and_adds_instruction() -> None:
    assert doc_text(MC) == f"Which image is normal?\nA: the first image\nB: the second image\n{MC_POST}"
    assert doc_text(OPEN) == f"What changed?\n{OPEN_POST}"


def test_keep_mode_keeps_one_placeholder_per_image() -> None:
    text = doc_text(OPEN, {"image_placeholders": "keep"})
    assert text == f"<image><image><image>What changed?\n{OPEN_POST}"


def test_published_variant_sends_the_question_as_published() -> None:
    assert doc_text(MC, {"prompt_variant": "published"}) == "Which image is normal?\nA: the first image\nB: the second image"
    published = "<image><image>Which image is normal?\nA: the first image\nB: the second image\n"
    assert doc_text(MC, {"prompt_variant": "published", "image_placeholders": "keep"}) == published


def test_prompt_variant_can_be_chosen_by_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMIM_PROMPT_VARIANT", "published")
    assert doc_text(MC) == "Which image is normal?\nA: the first image\nB: the second image"
    assert doc_messages(MC, ["i1", "i2"])[0]["content"][-1]["text"].endswith("B: the second image")
    monkeypatch.setenv("MEDMIM_PROMPT_VARIANT", "paper")
    with pytest.raises(ValueError, match="MEDMIM_PROMPT_VARIANT"):
        doc_text(MC)


def test_pre_and_post_prompts_are_configurable() -> None:
    settings = {"pre_prompt": "You are a radiologist.", "open_post_prompt": "One word."}
    assert doc_text(OPEN, settings) == "You are a radiologist.\nWhat changed?\nOne word."


def test_lmms_eval_bookkeeping_keys_are_ignored_and_bad_values_rejected() -> None:
    settings = prompt_settings({"default": {}, "qwen2_vl": {}, "image_placeholders": "keep"})
    assert settings["image_placeholders"] == "keep" and "default" not in settings
    with pytest.raises(ValueError, match="prompt_variant"):
        prompt_settings({"prompt_variant": "paper"})
    with pytest.raises(ValueError, match="image_placeholders"):
        prompt_settings({"image_placeholders": "drop"})


def test_messages_interleave_labelled_images_in_order() -> None:
    images = [Image.new("RGB", (2, 2), (n, n, n)) for n in range(3)]
    [turn] = doc_messages(OPEN, images, {"image_label": IMAGE_LABEL})
    assert turn["role"] == "user"
    content = turn["content"]
    assert [part["type"] for part in content] == ["text", "image", "text", "image", "text", "image", "text"]
    assert [part["text"] for part in content if part["type"] == "text"][:3] == ["Image 1:", "Image 2:", "Image 3:"]
    assert [part["url"] for part in content if part["type"] == "image"] == images
    assert content[-1]["text"] == f"What changed?\n{OPEN_POST}"


def test_text_between_placeholders_stays_in_place() -> None:
    doc = make_doc("Before:<image>After:<image>Is it worse?", "Yes.")
    content = doc_messages(doc, ["i1", "i2"], {"image_label": IMAGE_LABEL})[0]["content"]
    texts = [part.get("text") or part["url"] for part in content]
    assert texts == ["Before:", "Image 1:", "i1", "After:", "Image 2:", "i2", f"Is it worse?\n{OPEN_POST}"]


def test_no_labels_by_default() -> None:
    # A label is only safe where the prompt keeps it next to its image; images-first chat templates
    # (llava-hf's) would move every image in front of every label.
    images = [Image.new("RGB", (2, 2), (n, n, n)) for n in range(3)]
    content = doc_messages(OPEN, images)[0]["content"]
    assert [part["type"] for part in content] == ["image", "image", "image", "text"]
    assert not any("Image" in part.get("text", "") for part in content)


@pytest.mark.parametrize("label", ["Image:", "Image {n} of {n}:", None, 3])
def test_bad_image_label_is_rejected(label: object) -> None:
    with pytest.raises(ValueError, match="image_label"):
        prompt_settings({"image_label": label})


def test_messages_need_every_image() -> None:
    with pytest.raises(ValueError, match="1 images opened for an item with 2"):
        doc_messages(MC, [Image.new("RGB", (2, 2))])


def test_defaults_match_the_yaml_template() -> None:
    import yaml

    template = Path(__file__).resolve().parents[2] / "yaml_tasks" / "_default_template_yaml"
    text = template.read_text().replace("!function", "")
    config = yaml.safe_load(text)
    blocks = config["lmms_eval_specific_kwargs"]
    expected_keys = set(DEFAULT_PROMPT_SETTINGS) | {"max_image_side"}
    for model, block in blocks.items():
        assert set(block) == expected_keys, f"{model} block must repeat every key"
        for key, value in DEFAULT_PROMPT_SETTINGS.items():
            if key not in {"image_placeholders", "image_label"}:
                assert block[key] == value, (model, key)
    labelled = {model for model, block in blocks.items() if block["image_label"]}
    # only wrappers whose prompt keeps each label right before its image (tests/test_family_*.py)
    assert labelled == {"qwen2_5_vl", "qwen3_vl", "internvl_hf"}
    assert all(blocks[model]["image_label"] == IMAGE_LABEL for model in labelled)
    assert blocks["default"]["image_label"] == DEFAULT_PROMPT_SETTINGS["image_label"] == ""
    keep = {model for model, block in blocks.items() if block["image_placeholders"] == "keep"}
    assert keep == {"llava", "llava_onevision", "llava_hf", "mantis", "idefics2", "internvl3"}
    assert blocks["default"]["image_placeholders"] == "strip"
    assert config["generation_kwargs"]["do_sample"] is False
    assert "\n\n" not in config["generation_kwargs"]["until"]


@pytest.mark.parametrize(("model", "placeholders"), [("llava_hf", "keep"), ("qwen2_5_vl", "strip"), ("internvl2", "strip")])
def test_lmms_eval_picks_the_model_block(medmim_env: dict[str, str], model: str, placeholders: str) -> None:
    from lmms_eval.tasks import TaskManager

    from medmim_tasks.task.task_path import tasks_path

    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False, model_name=model)
    task = manager.load_task_or_group(["med_mim_held_out_rad"])["med_mim_held_out_rad"]
    doc = task.test_docs()[0]
    text = task.doc_to_text(doc)
    assert text.startswith("<image>" * doc["n_images"]) == (placeholders == "keep")
