"""Matrix row for InternVL-HF (issue 10), through lmms-eval 0.7.3's own `internvl_hf` wrapper.

A tiny random-weight InternVLForConditionalGeneration built here from the transformers config
(one-layer vision and text towers, 56x56 tiles, 4 image tokens per tile), a word-level tokenizer
carrying the tokens InternVLProcessor reads from it (`start_image_token` <img>, `end_image_token`
</img>, `context_image_token` <IMG_CONTEXT>, `video_token` <video>), and the published chat
template of the -hf conversions (tests/data/chat_templates, sources named there). The real
processor's input is recorded: the text after the chat template (one <IMG_CONTEXT> per image,
which the processor then expands to <img> + <IMG_CONTEXT> x 4 per tile + </img>; each
"Image n:" label right before its image) and the images the wrapper hands it.

The processor's image token is `tokenizer.context_image_token` (transformers'
processing_internvl.py, InternVLProcessor.__init__): a template that writes `<image>` (the form
stored in internvl_hf.json, from before transformers PR #37656) is refused with a ValueError at
the first document, pinned below.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from family_checks import (
    TASKS,
    DeliveryRecorder,
    FamilyBenchmark,
    RecordingProcessor,
    run_in_process,
)
from family_env_models import (
    TEXT_LAYERS,
    VISION_LAYERS,
    published_chat_template,
    word_tokenizer,
)

IMAGE_TOKEN = "<IMG_CONTEXT>"
IMAGE_TOKENS = {"start_image_token": "<img>", "end_image_token": "</img>", "context_image_token": IMAGE_TOKEN, "video_token": "<video>"}
SPECIAL_TOKENS = ["<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>", *IMAGE_TOKENS.values()]
TILE_SIDE = 56
PATCH_SIDE = 14
DOWNSAMPLE_RATIO = 0.5
TOKENS_PER_TILE = int((TILE_SIDE // PATCH_SIDE) ** 2 * DOWNSAMPLE_RATIO**2)  # InternVLProcessor's image_seq_length
MAX_TILES = 2  # the wrapper's max_patches: at most 2 tiles + a thumbnail per image


def build_tiny_internvl(output_dir: Path, template_name: str) -> Path:
    """Write a loadable tiny InternVL-HF checkpoint (model, tokenizer, processor) with a stored template."""
    import torch
    import transformers

    tokenizer = word_tokenizer(SPECIAL_TOKENS, pad_token="<|endoftext|>", eos_token="<|im_end|>", extra_special_tokens=IMAGE_TOKENS)
    image_processor = transformers.GotOcr2ImageProcessor(size={"height": TILE_SIDE, "width": TILE_SIDE}, crop_to_patches=True, min_patches=1, max_patches=MAX_TILES)
    processor = transformers.InternVLProcessor(
        image_processor=image_processor,
        tokenizer=tokenizer,
        video_processor=transformers.InternVLVideoProcessor(),
        image_seq_length=TOKENS_PER_TILE,
        chat_template=published_chat_template(template_name),
    )
    config = transformers.InternVLConfig(
        vision_config={**VISION_LAYERS, "image_size": [TILE_SIDE, TILE_SIDE], "patch_size": [PATCH_SIDE, PATCH_SIDE]},
        text_config={"model_type": "qwen2", "vocab_size": len(tokenizer), **TEXT_LAYERS, "max_position_embeddings": 4096},
        image_token_id=tokenizer.convert_tokens_to_ids(IMAGE_TOKEN),
        image_seq_length=TOKENS_PER_TILE,
        downsample_ratio=DOWNSAMPLE_RATIO,
    )
    torch.manual_seed(0)
    model = transformers.InternVLForConditionalGeneration(config).eval()
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    model.save_pretrained(output_dir)
    processor.save_pretrained(output_dir)
    return output_dir


def internvl_wrapper(model_dir: Path) -> Any:
    from lmms_eval.models.chat.internvl_hf import InternVLHf

    return InternVLHf(pretrained=str(model_dir), device="cpu", device_map="cpu", max_patches=MAX_TILES)


@pytest.mark.slow
def test_internvl_hf_delivers_every_image_with_its_label(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lm = internvl_wrapper(build_tiny_internvl(tmp_path / "internvl", "internvl_hf_img_context"))
    assert lm.is_simple is False
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    lm.processor = RecordingProcessor(lm.processor, recorder)
    image_token_id = lm.tokenizer.convert_tokens_to_ids(IMAGE_TOKEN)
    generated: list[tuple[int, int]] = []  # per model call: (context tokens in the input, tiles in pixel_values)
    generate = lm.model.generate

    def recording_generate(**inputs: Any) -> Any:
        # the wrapper logs and swallows generation errors (chat/internvl_hf.py, try around generate):
        # only calls that return count, so a failing model cannot pass as empty answers
        output = generate(**inputs)
        generated.append((int((inputs["input_ids"] == image_token_id).sum()), int(inputs["pixel_values"].shape[0])))
        return output

    monkeypatch.setattr(lm.model, "generate", recording_generate)
    run_in_process(lm, "internvl_hf")
    recorder.assert_every_doc_delivered(IMAGE_TOKEN)
    # the internvl_hf YAML block labels each image ("Image {n}:"), and the template keeps each label before its image
    assert all("Image 1:" in delivery.text for delivery in recorder.deliveries)
    assert len(generated) == len(recorder.deliveries), f"{len(generated)} generations for {len(recorder.deliveries)} documents"
    # each image's one token became TOKENS_PER_TILE context tokens per tile the processor cut
    for context_tokens, tiles in generated:
        assert context_tokens == TOKENS_PER_TILE * tiles


@pytest.mark.slow
def test_internvl_hf_refuses_a_template_that_writes_image(family_env: FamilyBenchmark, tmp_path: Path) -> None:
    """With the pre-release template (`<image>` per image) the installed InternVLProcessor finds no
    <IMG_CONTEXT> for the document's images and the run stops at the first document: loud, not mis-scored."""
    lm = internvl_wrapper(build_tiny_internvl(tmp_path / "internvl-image", "internvl_hf"))
    with pytest.raises(ValueError, match=r"<IMG_CONTEXT> tokens in the prompts should be the same as the number of images"):
        run_in_process(lm, "internvl_hf", tasks=TASKS[:1])
