"""`--model llava` (the original LLaVA wrapper; MIM-LLaVA-Med's code base) on all six tasks.

The `llava` package (haotian-liu/LLaVA, microsoft/LLaVA-Med) is not on the package index, so a
recording stand-in (tests/standins/llava) replaces it while lmms-eval's own wrapper code runs:
the images the wrapper hands `process_images` and the prompt it hands `tokenizer_image_token`
are recorded per document; the stand-in model refuses image tokens that do not match the images.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from family_checks import (  # noqa: F401 (fixtures)
    DeliveryRecorder,
    FamilyBenchmark,
    family_benchmark,
    family_env,
    run_in_process,
)
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
