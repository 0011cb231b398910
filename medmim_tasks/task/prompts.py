"""Prompts: the same question text for every model, as plain text or as interleaved chat turns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medmim_tasks.benchmark.items import IMAGE_PLACEHOLDER, MULTIPLE_CHOICE
from medmim_tasks.settings import PROMPT_VARIANTS, setting

DEFAULT_PROMPT_SETTINGS: dict[str, Any] = {
    "prompt_variant": "default",  # "default" or "published" (the user turn exactly as published)
    "image_placeholders": "strip",  # "keep" for models that place images at <image>, "strip" otherwise
    "pre_prompt": "",
    "mc_post_prompt": "Answer with the option's letter from the given choices directly.",
    "open_post_prompt": "Answer the question in one or two sentences.",
    # "" = no labels. A label is only safe where the model's prompt puts each image right after
    # its label; chat templates that render every image first (llava-hf's) would detach them.
    "image_label": "",
}
IMAGE_LABEL = "Image {n}:"  # the label for wrappers proven to interleave (see docs/model-compatibility.md)
PLACEHOLDER_MODES = ("keep", "strip")
PROMPT_VARIANT_VARIABLE = "MEDMIM_PROMPT_VARIANT"


def prompt_settings(
    lmms_eval_specific_kwargs: Mapping[str, Any] | None, environ: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The task's prompt settings for this model, checked, with defaults for what is not given.

    MEDMIM_PROMPT_VARIANT (`default` or `published`) overrides the YAML's prompt_variant for
    every model, so a paper reproduction needs no edit of the installed YAML.
    """
    settings = dict(DEFAULT_PROMPT_SETTINGS)
    for key, value in (lmms_eval_specific_kwargs or {}).items():
        if key in DEFAULT_PROMPT_SETTINGS:
            settings[key] = value
    variant = setting(PROMPT_VARIANT_VARIABLE, environ)
    if variant is not None:
        settings["prompt_variant"] = variant
    if settings["prompt_variant"] not in PROMPT_VARIANTS:
        raise ValueError(f"lmms_eval_specific_kwargs.prompt_variant must be one of {PROMPT_VARIANTS}, got {settings['prompt_variant']!r}")
    label = settings["image_label"]
    if not isinstance(label, str) or (label and label.count("{n}") != 1):
        raise ValueError(
            f"lmms_eval_specific_kwargs.image_label must be \"\" (no labels) or text with one {{n}} "
            f"for the image number, e.g. {IMAGE_LABEL!r}; got {label!r}"
        )
    if settings["image_placeholders"] not in PLACEHOLDER_MODES:
        raise ValueError(
            f"lmms_eval_specific_kwargs.image_placeholders must be one of {PLACEHOLDER_MODES}, got {settings['image_placeholders']!r}"
        )
    return settings


def question_with_instruction(question: str, kind: str, settings: Mapping[str, Any]) -> str:
    """Question text (no placeholders) with the pre-prompt and the kind's instruction."""
    if settings["prompt_variant"] == "published":
        return question
    post = settings["mc_post_prompt"] if kind == MULTIPLE_CHOICE else settings["open_post_prompt"]
    parts = [settings["pre_prompt"].strip(), question.strip(), post.strip()]
    return "\n".join(part for part in parts if part)


def doc_text(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> str:
    """Plain-text prompt; `<image>` placeholders kept in front (as published) or stripped."""
    settings = prompt_settings(lmms_eval_specific_kwargs)
    if settings["prompt_variant"] == "published" and settings["image_placeholders"] == "keep":
        return doc["user_turn"]  # byte for byte as published
    text = question_with_instruction(doc["question"], doc["kind"], settings)
    if settings["image_placeholders"] == "keep":
        return IMAGE_PLACEHOLDER * int(doc["n_images"]) + text
    return text


def doc_messages(doc: Mapping[str, Any], images: list[Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    """One user turn: each image where its `<image>` stands, then the question.

    With an `image_label` (e.g. "Image {n}:") each image is introduced by its label, a text part
    right before the image part; with "" (the default) no label is added.
    """
    settings = prompt_settings(lmms_eval_specific_kwargs)
    if len(images) != int(doc["n_images"]):
        raise ValueError(f"{doc['doc_key']}: {len(images)} images opened for an item with {doc['n_images']}")
    segments = doc["user_turn"].split(IMAGE_PLACEHOLDER)
    content: list[dict[str, Any]] = []
    for number, image in enumerate(images, start=1):
        lead = segments[number - 1].strip()
        if lead:
            content.append({"type": "text", "text": lead})
        if settings["image_label"]:
            content.append({"type": "text", "text": settings["image_label"].format(n=number)})
        content.append({"type": "image", "url": image})
    content.append({"type": "text", "text": question_with_instruction(segments[-1].strip(), doc["kind"], settings)})
    return [{"role": "user", "content": content}]
