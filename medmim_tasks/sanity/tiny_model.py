"""A tiny random-weight LLaVA, built locally from transformers configs (no download).

Used by the end-to-end tests and `medmim demo` to run lmms-eval's real `llava_hf` path on a
CPU in seconds: a word-level tokenizer over a small vocabulary, a 28x28 CLIP image processor,
a 2-layer CLIP vision tower and a 2-layer Llama language model. Its answers are noise; what it
proves is that the whole pipeline (prompts, images in order, generation, scoring) runs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import LlavaConfig, LlavaProcessor

IMAGE_TOKEN = "<image>"
SPECIAL_TOKENS = ["<unk>", "<pad>", "<s>", "</s>", IMAGE_TOKEN]
IMAGE_SIDE = 28
PATCH_SIZE = 14
MARKER_FILE = "medmim_tiny_llava.json"

# User and assistant turns; images stand where the chat content puts them.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'user' %}USER: {% else %}ASSISTANT: {% endif %}"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for item in message['content'] %}"
    "{% if item['type'] == 'image' %}<image>\n{% elif item['type'] == 'text' %}{{ item['text'] }}\n{% endif %}"
    "{% endfor %}{% endif %}"
    "{% if message['role'] != 'user' %}</s>{% endif %}\n"
    "{% endfor %}"
    "{% if add_generation_prompt %}ASSISTANT:{% endif %}"
)

BASE_WORDS = ["USER", "ASSISTANT", "Image", "image", "first", "second", "third", "the", "a", "an", "of", "in", "is", "are", "and", "or", "with", "which", "A", "B", "C", "D", "E", "F", "G", "answer", "option", "letter", "choices", "directly", "question", "sentences", "one", "two", "normal", "benign", "malignant", "left", "right", "stable", "progressive", "cataract", "glaucoma", "fundus"]

_WORD = re.compile(r"\w+|[^\w\s]")


def _vocabulary(extra_text: str = "") -> list[str]:
    words = list(BASE_WORDS) + _WORD.findall(extra_text)
    punctuation = list(".,:;?!()[]{}'\"-/")
    return SPECIAL_TOKENS + sorted(set(words + punctuation) - set(SPECIAL_TOKENS))


def build_tiny_llava(output_dir: Path, extra_text: str = "", seed: int = 0) -> Path:
    """Write a loadable tiny LLaVA (model, tokenizer, processor) to `output_dir`; returns it.

    `extra_text` adds its words to the vocabulary (e.g. the prompts the model will read).
    Rebuilding into a folder that already holds a tiny model with the same settings is a no-op.
    """
    import torch
    from transformers import LlavaForConditionalGeneration

    output_dir = Path(output_dir)
    words = _vocabulary(extra_text)
    settings = {"vocabulary": words, "seed": seed}
    marker = output_dir / MARKER_FILE
    if marker.is_file() and json.loads(marker.read_text()) == settings:
        return output_dir
    output_dir.mkdir(parents=True, exist_ok=True)

    vocabulary = {token: index for index, token in enumerate(words)}
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(_tiny_config(vocabulary)).eval()
    model.generation_config.pad_token_id = vocabulary["<pad>"]
    model.generation_config.eos_token_id = vocabulary["</s>"]
    model.save_pretrained(output_dir)
    _tiny_processor(vocabulary).save_pretrained(output_dir)
    marker.write_text(json.dumps(settings))
    return output_dir


def _tiny_processor(vocabulary: dict[str, int]) -> LlavaProcessor:
    """A LlavaProcessor: a word-level tokenizer over `vocabulary` (the image token kept whole) and a small CLIP image processor."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import CLIPImageProcessor, LlavaProcessor, PreTrainedTokenizerFast

    backend = Tokenizer(models.WordLevel(vocab=vocabulary, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(IMAGE_TOKEN, behavior="isolated"), pre_tokenizers.Whitespace()]
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        extra_special_tokens={"image_token": IMAGE_TOKEN},
    )
    image_processor = CLIPImageProcessor(
        size={"shortest_edge": IMAGE_SIDE},
        crop_size={"height": IMAGE_SIDE, "width": IMAGE_SIDE},
    )
    return LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        patch_size=PATCH_SIZE,
        vision_feature_select_strategy="default",
        chat_template=CHAT_TEMPLATE,
        num_additional_image_tokens=1,
    )


def _tiny_config(vocabulary: dict[str, int]) -> LlavaConfig:
    """A LlavaConfig with a 2-layer CLIP vision tower and a 2-layer Llama of hidden size 32."""
    from transformers import CLIPVisionConfig, LlamaConfig, LlavaConfig

    return LlavaConfig(
        vision_config=CLIPVisionConfig(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            image_size=IMAGE_SIDE,
            patch_size=PATCH_SIZE,
            projection_dim=32,
        ),
        text_config=LlamaConfig(
            vocab_size=len(vocabulary),
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=2,
            num_key_value_heads=2,
            max_position_embeddings=2048,
            pad_token_id=vocabulary["<pad>"],
            bos_token_id=vocabulary["<s>"],
            eos_token_id=vocabulary["</s>"],
        ),
        image_token_index=vocabulary[IMAGE_TOKEN],
        vision_feature_select_strategy="default",
        vision_feature_layer=-1,
    )
