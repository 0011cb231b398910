"""Recording stand-in for the remote code of Phi-3-vision and Phi-4-multimodal.

Copied into a local model folder whose config.json maps AutoConfig / AutoModelForCausalLM /
AutoProcessor here, so lmms-eval's `phi3v` and `phi4_multimodal` wrappers load it with
`trust_remote_code=True` exactly as they load the real model. The test records the processor's
calls; the processor and the model refuse inputs whose image placeholders and images differ, and
the model answers with the tokenizer's "A" and end token.
"""

from __future__ import annotations

import re
from typing import Any

import torch
from transformers import AutoTokenizer, BatchFeature, PretrainedConfig, PreTrainedModel

PLACEHOLDER = re.compile(r"<\|image_(\d+)\|>")


class PhiStandInConfig(PretrainedConfig):
    model_type = "phi_stand_in"


class PhiStandInForCausalLM(PreTrainedModel):
    config_class = PhiStandInConfig

    def __init__(self, config: PhiStandInConfig) -> None:
        super().__init__(config)
        self.probe = torch.nn.Linear(1, 1)
        self.post_init()

    def _init_weights(self, module: Any) -> None:
        pass

    def generate(self, input_ids: torch.Tensor, attention_mask: Any = None, pixel_values: Any = None, n_placeholders: Any = None, **kwargs: Any) -> torch.Tensor:
        n_images = 0 if pixel_values is None else int(pixel_values.shape[0])
        placeholders = 0 if n_placeholders is None else int(n_placeholders.sum())
        if placeholders != n_images:
            raise ValueError(f"{placeholders} image placeholders for {n_images} images")
        reply = torch.tensor([self.config.reply_ids] * input_ids.shape[0], dtype=input_ids.dtype)
        return torch.cat([input_ids, reply], dim=1)


class PhiStandInProcessor:
    """`processor(text=..., images=..., [audios=...])` as the Phi processors take it."""

    def __init__(self, tokenizer: Any) -> None:
        self.tokenizer = tokenizer

    @classmethod
    def register_for_auto_class(cls, auto_class: str = "AutoProcessor") -> None:
        pass  # transformers calls this on remote-code classes; nothing to register here

    @classmethod
    def from_pretrained(cls, path: str, **kwargs: Any) -> PhiStandInProcessor:
        return cls(AutoTokenizer.from_pretrained(path))

    def __call__(self, text: Any = None, images: Any = None, audios: Any = None, return_tensors: Any = None, **kwargs: Any) -> BatchFeature:
        prompt = text if isinstance(text, str) else text[0]
        numbers = [int(number) for number in PLACEHOLDER.findall(prompt)]
        n_images = len(images or [])
        if numbers != list(range(1, n_images + 1)):
            raise ValueError(f"image placeholders {numbers} for {n_images} images")
        encoded = self.tokenizer(PLACEHOLDER.sub(" ", prompt), return_tensors="pt")
        features = {"input_ids": encoded["input_ids"], "attention_mask": encoded["attention_mask"], "n_placeholders": torch.tensor([len(numbers)])}
        if n_images:
            features["pixel_values"] = torch.zeros(n_images, 3, 2, 2)
        return BatchFeature(features)

    def batch_decode(self, *args: Any, **kwargs: Any) -> list[str]:
        return self.tokenizer.batch_decode(*args, **kwargs)
