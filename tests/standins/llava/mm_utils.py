"""Image and prompt helpers: record what the wrapper hands over, return what LLaVA would."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from llava.constants import DEFAULT_IMAGE_TOKEN

_last_images: list[Any] = []


def _no_recorder(images: list[Any], prompt: str) -> None:
    raise RuntimeError("set llava.mm_utils.on_prompt to a recorder before running the wrapper")


on_prompt: Callable[[list[Any], str], None] = _no_recorder  # the test's DeliveryRecorder.record


def get_model_name_from_path(model_path: str) -> str:
    return Path(model_path.rstrip("/")).name


def process_images(images: list[Any], image_processor: Any, model_config: Any) -> torch.Tensor:
    """Keep the images for the prompt that follows; one 3x2x2 tensor per image."""
    _last_images[:] = list(images)
    return torch.zeros(len(images), 3, 2, 2)


def tokenizer_image_token(prompt: str, tokenizer: Any, image_token_index: int, return_tensors: str | None = None) -> Any:
    """Record (prompt, images of the last process_images call); ids with `image_token_index` per `<image>`."""
    on_prompt(list(_last_images), prompt)
    _last_images.clear()
    ids: list[int] = []
    for number, chunk in enumerate(prompt.split(DEFAULT_IMAGE_TOKEN)):
        if number:
            ids.append(image_token_index)
        ids.extend(tokenizer(chunk, add_special_tokens=False).input_ids)
    return torch.tensor(ids, dtype=torch.long) if return_tensors == "pt" else ids
