"""Labels stay next to their images in the final prompt, on published chat templates (issue 10).

Every document of the matrix's set is turned into lmms-eval chat messages by the task's own
doc_to_messages with each wrapper's YAML block, converted the way that wrapper converts them,
and rendered with the published template the wrapper's checkpoints ship (tests/data/chat_templates,
sources named there; nothing downloaded). llava-hf's templates put every image first, so
llava_hf gets no labels; with labels forced on they would be detached (shown below).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from family_checks import (
    FamilyBenchmark,
    assert_prompt,
    openai_prompt_text,
)

from medmim_tasks.task.hooks import doc_to_visual
from medmim_tasks.task.prompts import IMAGE_LABEL, doc_messages

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "chat_templates"
QWEN_IMAGE = "<|vision_start|><|image_pad|><|vision_end|>"

# wrapper (its YAML block) -> (template file, image token in the rendered text, how the wrapper converts messages)
CASES: dict[str, tuple[str, str, str]] = {
    "llava_hf-llava-1.5": ("llava_hf_llava15.json", "<image>", "model_dump"),
    "llava_hf-onevision": ("llava_hf_onevision.json", "<image>", "model_dump"),
    "qwen2_5_vl-qwen2-vl": ("qwen2_vl.json", QWEN_IMAGE, "hf"),
    "qwen2_5_vl": ("qwen2_5_vl.json", QWEN_IMAGE, "hf"),
    "qwen3_vl": ("qwen3_vl.json", QWEN_IMAGE, "hf"),
    "internvl_hf": ("internvl_hf.json", "<image>", "model_dump"),
}
IMAGES_FIRST = {"llava_hf-llava-1.5", "llava_hf-onevision"}


def yaml_block(model: str) -> dict[str, Any]:
    import yaml

    text = (Path(__file__).resolve().parents[2] / "yaml_tasks" / "_default_template_yaml").read_text()
    blocks = yaml.safe_load(text.replace("!function", ""))["lmms_eval_specific_kwargs"]
    return blocks.get(model, blocks["default"])


def published_template(name: str) -> str:
    entry = json.loads((TEMPLATES / name).read_text())
    assert entry["source"] and entry["models"], f"{name}: the source of a published template must be named"
    return entry["chat_template"]


def rendered(messages: list[dict[str, Any]], template: str, conversion: str) -> str:
    from lmms_eval.protocol import ChatMessages
    from transformers.utils.chat_template_utils import render_jinja_template

    chat = ChatMessages(messages=messages)
    converted = chat.model_dump()["messages"] if conversion == "model_dump" else chat.to_hf_messages()
    output = render_jinja_template(conversations=[converted], chat_template=template, add_generation_prompt=True)
    while not isinstance(output, str):  # (rendered list, generation indices) -> rendered list -> text
        output = output[0]
    return output


def wrapper_settings(case: str) -> dict[str, Any]:
    return yaml_block(case.split("-")[0])


@pytest.mark.parametrize("case", sorted(CASES))
def test_every_document_renders_with_its_images_and_labels_in_place(family_benchmark: FamilyBenchmark, case: str) -> None:
    template_file, image_token, conversion = CASES[case]
    template = published_template(template_file)
    settings = wrapper_settings(case)
    for doc in family_benchmark.all_docs():
        images = doc_to_visual(doc, settings)
        text = rendered(doc_messages(doc, images, settings), template, conversion)
        assert_prompt(doc, text, image_token)
        has_labels = "Image 1:" in text
        assert has_labels == (case not in IMAGES_FIRST), f"{case}: labels {'present' if has_labels else 'absent'}:\n{text}"


@pytest.mark.parametrize("case", sorted(IMAGES_FIRST))
def test_images_first_templates_would_detach_forced_labels(family_benchmark: FamilyBenchmark, case: str) -> None:
    # Why llava_hf's block has image_label "": the published templates render every image, then every text.
    template_file, image_token, conversion = CASES[case]
    doc = next(doc for doc in family_benchmark.all_docs() if doc["n_images"] == 3)
    settings = {**wrapper_settings(case), "image_label": IMAGE_LABEL}
    text = rendered(doc_messages(doc, doc_to_visual(doc, settings), settings), published_template(template_file), conversion)
    assert "Image 1:" in text
    with pytest.raises(AssertionError, match="not followed by an image"):
        assert_prompt(doc, text, image_token)


def test_openai_format_keeps_each_label_before_its_image(family_benchmark: FamilyBenchmark) -> None:
    from lmms_eval.protocol import ChatMessages

    settings = {**yaml_block("default"), "image_label": IMAGE_LABEL}
    for doc in family_benchmark.all_docs():
        messages = ChatMessages(messages=doc_messages(doc, doc_to_visual(doc, settings), settings)).to_openai_messages()
        text, _ = openai_prompt_text(messages)
        assert_prompt(doc, text, "<image>")
        assert "Image 1:" in text
