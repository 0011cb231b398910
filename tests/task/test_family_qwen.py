"""Matrix rows for Qwen2/2.5/3-VL (issue 10), through lmms-eval 0.7.3's own wrapper code.

Tiny random-weight models built here from the transformers configs (one-layer vision and text
towers), a word-level tokenizer with the families' special tokens and the published chat template
(tests/data/chat_templates, sources named there). The real processor's input is recorded: the
text after the chat template (one <|vision_start|><|image_pad|><|vision_end|> per image, each
"Image n:" label right before its image) and the images qwen_vl_utils hands it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from family_checks import (
    DeliveryRecorder,
    FamilyBenchmark,
    RecordingProcessor,
    run_in_process,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "chat_templates"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>"]
WORDS = ["system", "user", "assistant", "You", "are", "a", "helpful", "Image", "image", "A", "B", "C", "D", "the", "of", ":", ".", "?"]
QWEN_IMAGE_TOKEN = "<|image_pad|>"
QWEN_IMAGE_IN_PROMPT = "<|vision_start|><|image_pad|><|vision_end|>"  # one per image, before the processor expands it
SMALL_IMAGES = {"min_pixels": 28 * 28 * 4, "max_pixels": 32 * 32 * 16}


def qwen_tokenizer() -> Any:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocabulary = {token: index for index, token in enumerate(SPECIAL_TOKENS + WORDS)}
    backend = Tokenizer(models.WordLevel(vocab=vocabulary, unk_token="<|endoftext|>"))
    backend.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Split(token, behavior="isolated") for token in SPECIAL_TOKENS] + [pre_tokenizers.Whitespace()])
    return PreTrainedTokenizerFast(
        tokenizer_object=backend,
        unk_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        eos_token="<|im_end|>",
        extra_special_tokens={"image_token": QWEN_IMAGE_TOKEN, "video_token": "<|video_pad|>", "vision_start_token": "<|vision_start|>", "vision_end_token": "<|vision_end|>"},
    )


def token_ids(tokenizer: Any) -> dict[str, int]:
    ids = {name: tokenizer.convert_tokens_to_ids(token) for name, token in [("image_token_id", "<|image_pad|>"), ("video_token_id", "<|video_pad|>"), ("vision_start_token_id", "<|vision_start|>"), ("vision_end_token_id", "<|vision_end|>")]}
    return ids


def text_config(tokenizer: Any, **extra: Any) -> dict[str, Any]:
    return {
        "vocab_size": len(tokenizer),
        "hidden_size": 32,
        "intermediate_size": 64,
        "num_hidden_layers": 1,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "max_position_embeddings": 4096,
        "bos_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        "eos_token_id": tokenizer.convert_tokens_to_ids("<|im_end|>"),
        "pad_token_id": tokenizer.convert_tokens_to_ids("<|endoftext|>"),
        **extra,
    }


def build_tiny_qwen(family: str, output_dir: Path) -> Path:
    """A loadable tiny Qwen2-VL, Qwen2.5-VL or Qwen3-VL with the family's published chat template."""
    import torch
    import transformers

    tokenizer = qwen_tokenizer()
    template = json.loads((TEMPLATES / f"{family}.json").read_text())["chat_template"]
    if family == "qwen3_vl":
        image_processor = transformers.Qwen2VLImageProcessor(patch_size=16, merge_size=2, temporal_patch_size=2, **SMALL_IMAGES)
        processor = transformers.Qwen3VLProcessor(image_processor=image_processor, tokenizer=tokenizer, video_processor=transformers.Qwen3VLVideoProcessor(), chat_template=template)
        config = transformers.Qwen3VLConfig(
            vision_config={"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 32, "patch_size": 16, "spatial_merge_size": 2, "temporal_patch_size": 2, "num_position_embeddings": 64, "deepstack_visual_indexes": [0]},
            text_config=text_config(tokenizer, head_dim=16, rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3], "mrope_interleaved": True}),
            **token_ids(tokenizer),
        )
        model_class = transformers.Qwen3VLForConditionalGeneration
    else:
        image_processor = transformers.Qwen2VLImageProcessor(patch_size=14, merge_size=2, temporal_patch_size=2, **SMALL_IMAGES)
        processor_class = transformers.Qwen2_5_VLProcessor if family == "qwen2_5_vl" else transformers.Qwen2VLProcessor
        processor = processor_class(image_processor=image_processor, tokenizer=tokenizer, video_processor=transformers.Qwen2VLVideoProcessor(), chat_template=template)
        vision = {"depth": 1, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2}
        if family == "qwen2_5_vl":
            vision.update(out_hidden_size=32, window_size=56, fullatt_block_indexes=[0])
            config_class, model_class = transformers.Qwen2_5_VLConfig, transformers.Qwen2_5_VLForConditionalGeneration
        else:
            vision.update(embed_dim=32, mlp_ratio=2)
            config_class, model_class = transformers.Qwen2VLConfig, transformers.Qwen2VLForConditionalGeneration
        config = config_class(vision_config=vision, text_config=text_config(tokenizer, rope_scaling={"type": "mrope", "mrope_section": [2, 3, 3]}), **token_ids(tokenizer))
    torch.manual_seed(0)
    model = model_class(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return output_dir


CASES = {
    # --model name: (family, wrapper class path, chat path?)
    "qwen2_5_vl": ("qwen2_5_vl", "lmms_eval.models.chat.qwen2_5_vl.Qwen2_5_VL", True),
    "qwen3_vl": ("qwen3_vl", "lmms_eval.models.chat.qwen3_vl.Qwen3_VL", True),
    "qwen2_vl": ("qwen2_vl", "lmms_eval.models.simple.qwen2_vl.Qwen2_VL", False),
}


def wrapper_class(path: str) -> Any:
    import importlib

    module, name = path.rsplit(".", 1)
    return getattr(importlib.import_module(module), name)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", sorted(CASES))
def test_qwen_family_delivers_every_image_with_its_label(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, model_name: str) -> None:
    family, class_path, chat = CASES[model_name]
    model_dir = build_tiny_qwen(family, tmp_path / family)
    lm = wrapper_class(class_path)(pretrained=str(model_dir), device="cpu", device_map="cpu", **SMALL_IMAGES)
    assert lm.is_simple is (not chat)
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    lm.processor = RecordingProcessor(lm.processor, recorder)
    run_in_process(lm, model_name)
    recorder.assert_every_doc_delivered(QWEN_IMAGE_IN_PROMPT)
    labelled = ["Image 1:" in delivery.text for delivery in recorder.deliveries]
    # the chat path labels each image (qwen2_5_vl's and qwen3_vl's YAML blocks); the simple path never does
    assert all(labelled) if chat else not any(labelled)
