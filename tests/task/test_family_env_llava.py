"""`--model llava` (the original LLaVA wrapper; MIM-LLaVA-Med's code base) on all six tasks.

The `llava` package (haotian-liu/LLaVA, microsoft/LLaVA-Med) is not on the package index, so a
recording stand-in (tests/standins/llava) replaces it while lmms-eval's own wrapper code runs:
the images the wrapper hands `process_images` and the prompt it hands `tokenizer_image_token`
are recorded per document; the stand-in model refuses image tokens that do not match the images.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import word_tokenizer
from family_env_support import use_stand_in_package

pytestmark = pytest.mark.slow


def test_llava_wrapper_delivers_every_image_in_order(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    wrapper = use_stand_in_package(monkeypatch, "llava", "lmms_eval.models.simple.llava")
    import llava.mm_utils

    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    monkeypatch.setattr(llava.mm_utils, "on_prompt", recorder.record)
    model_dir = tmp_path / "tiny-llava-v1.5"
    word_tokenizer(["<unk>", "<s>", "</s>", "<pad>"], bos_token="<s>", eos_token="</s>", pad_token="<pad>").save_pretrained(model_dir)
    lm = wrapper.Llava(pretrained=str(model_dir), device="cpu", device_map="auto")
    results = run_in_process(lm, "llava")
    recorder.assert_every_doc_delivered("<image>", require_pil=True)
    # the vicuna_v1 conversation wraps each document's text; the stand-in's reply reaches the scorer
    assert all(delivery.text.endswith("ASSISTANT:") for delivery in recorder.deliveries)
    replies = [(sample.get("mc_acc") or sample["open_token_f1"])["reply"] for logged in results["samples"].values() for sample in logged]
    assert replies == ["A"] * len(recorder.deliveries)


def test_llava_med_builder_needs_attn_implementation_none(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """microsoft/LLaVA-Med's `load_pretrained_model(model_path, model_base, model_name, load_8bit,
    load_4bit, device_map, device)` takes no other keyword; lmms-eval's wrapper always passes
    `attn_implementation` (llava.py:89-101: its retry drops only `multimodal`), so loading fails
    with TypeError unless attn_implementation is None, which `--model_args` cannot express
    (a string "None" stays a string): construct the wrapper in Python (see model-environments.md)."""
    wrapper = use_stand_in_package(monkeypatch, "llava", "lmms_eval.models.simple.llava")
    stand_in_builder = wrapper.load_pretrained_model

    def llava_med_load_pretrained_model(model_path, model_base, model_name, load_8bit=False, load_4bit=False, device_map="auto", device="cuda"):  # type: ignore[no-untyped-def]
        return stand_in_builder(model_path, model_base, model_name, device_map=device_map)

    monkeypatch.setattr(wrapper, "load_pretrained_model", llava_med_load_pretrained_model)
    model_dir = tmp_path / "tiny-llava-med-v1.5-mistral-7b"
    word_tokenizer(["<unk>", "<s>", "</s>", "<pad>"], bos_token="<s>", eos_token="</s>", pad_token="<pad>").save_pretrained(model_dir)
    with pytest.raises(TypeError, match="attn_implementation"):
        wrapper.Llava(pretrained=str(model_dir), device="cpu", device_map="auto")
    with pytest.raises(TypeError, match="attn_implementation"):
        wrapper.Llava(pretrained=str(model_dir), device="cpu", device_map="auto", attn_implementation="None")  # what --model_args gives
    lm = wrapper.Llava(pretrained=str(model_dir), device="cpu", device_map="auto", attn_implementation=None)
    assert lm.tokenizer.eos_token == "</s>"
