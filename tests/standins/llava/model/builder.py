"""`load_pretrained_model`: a real tokenizer from the folder, a stand-in model that checks inputs."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import torch
from transformers import AutoTokenizer

from llava.constants import IMAGE_TOKEN_INDEX


class RecordingLlava(torch.nn.Module):
    """Answers with the tokenizer's reply words; refuses inputs whose image tokens and images differ."""

    def __init__(self, reply_ids: list[int]) -> None:
        super().__init__()
        self.config = SimpleNamespace(model_type="llava_stand_in")
        self.reply_ids = reply_ids

    def tie_weights(self) -> None:
        pass

    def generate(self, input_ids: torch.Tensor, images: Any = None, image_sizes: Any = None, **kwargs: Any) -> torch.Tensor:
        image_tokens = int((input_ids == IMAGE_TOKEN_INDEX).sum())
        n_images = 0 if images is None else len(images)
        if image_tokens != n_images or (image_sizes is not None and len(image_sizes) != n_images):
            raise ValueError(f"{image_tokens} image tokens for {n_images} images ({image_sizes})")
        return torch.tensor([self.reply_ids] * input_ids.shape[0], dtype=torch.long)


def load_pretrained_model(model_path: str, model_base: Any, model_name: str, device_map: Any = "auto", **kwargs: Any) -> tuple[Any, Any, Any, int]:
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = RecordingLlava(tokenizer("A", add_special_tokens=False).input_ids + [tokenizer.eos_token_id])
    return tokenizer, model, SimpleNamespace(name="stand-in image processor"), 2048
