"""Recording stand-in for vLLM: the names lm-eval 0.4.13's vllm_causallms.py and vllm_vlms.py use.

`LLM.generate` records each request's prompt and images (the images as lossless PNG files) into
the folder MEDMIM_TEST_RECORD names, one JSON line per request in requests.jsonl, and answers
every request with MEDMIM_TEST_VLLM_REPLY. It checks what the real engine would need of a
multi-modal request: a text prompt, a list of PIL images under multi_modal_data["image"], and as
many image tokens in the prompt as images. No model runs; there is no GPU here.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict

from PIL import Image

IMAGE_TOKEN = "<image>"  # the tiny LLaVA's image token (medmim_tasks/sanity/tiny_model.py)


class TextPrompt(TypedDict, total=False):
    prompt: str
    multi_modal_data: dict[str, Any]


class TokensPrompt(TypedDict, total=False):
    prompt_token_ids: list[int]


class SamplingParams:
    def __init__(self, max_tokens: int | None = None, stop: list[str] | None = None, **kwargs: Any) -> None:
        self.max_tokens = max_tokens
        self.stop = stop
        self.extra = kwargs


@dataclass
class CompletionOutput:
    text: str


@dataclass
class RequestOutput:
    prompt: str
    outputs: list[CompletionOutput] = field(default_factory=list)


@dataclass
class ModelConfig:
    max_model_len: int


@dataclass
class LLMEngine:
    model_config: ModelConfig


class LLM:
    def __init__(self, model: str, max_model_len: int | None = None, **kwargs: Any) -> None:
        self.model = model
        self.engine_args = kwargs
        self.llm_engine = LLMEngine(ModelConfig(max_model_len or 2048))
        self.instance = uuid.uuid4().hex[:8]  # one per engine: data-parallel workers each build one

    def generate(self, requests: list[TextPrompt], sampling_params: SamplingParams, **kwargs: Any) -> list[RequestOutput]:
        record = Path(os.environ["MEDMIM_TEST_RECORD"])
        reply = os.environ.get("MEDMIM_TEST_VLLM_REPLY", "A")
        outputs = []
        for request in requests:
            prompt = request["prompt"]
            images = request["multi_modal_data"]["image"]
            assert isinstance(prompt, str), f"vLLM takes a text prompt, got {type(prompt).__name__}"
            assert isinstance(images, list) and all(isinstance(image, Image.Image) for image in images), "multi_modal_data['image'] must be a list of PIL images"
            assert prompt.count(IMAGE_TOKEN) == len(images), f"{prompt.count(IMAGE_TOKEN)} image tokens for {len(images)} images:\n{prompt}"
            names = []
            for image in images:
                name = f"{uuid.uuid4().hex}.png"
                image.save(record / name)
                names.append(name)
            kinds = [f"{type(image).__module__}.{type(image).__name__} {image.mode}" for image in images]
            line = {"engine": self.instance, "prompt": prompt, "images": names, "kinds": kinds, "max_tokens": sampling_params.max_tokens, "stop": sampling_params.stop, "sampling": sampling_params.extra}
            with (record / "requests.jsonl").open("a", encoding="utf-8") as out:
                out.write(json.dumps(line) + "\n")
            outputs.append(RequestOutput(prompt, [CompletionOutput(reply)]))
        return outputs
