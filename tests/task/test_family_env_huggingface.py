"""`--model huggingface` (the generic chat wrapper) with SmolVLM (Idefics3): broken upstream.

lmms_eval/models/chat/huggingface.py:92-97 picks the model class by testing `config.model_type`
(a string) against `AutoModelForCausalLM._model_mapping.keys()` and
`AutoModelForImageTextToText._model_mapping.keys()`, which hold config classes: the test is never
true, so every model loads with `AutoModel`, the bare model without a language-model head and
without `generate`. Under transformers 4.57 and 5 alike, generation then fails with
`AttributeError: 'Idefics3Model' object has no attribute 'generate'` before any prompt is built.
This test pins that cause on a tiny random Idefics3 with SmolVLM-Instruct's published template,
so the table is updated when lmms-eval fixes it.
"""

from __future__ import annotations

from pathlib import Path

from family_env_models import build_tiny_idefics3


def test_huggingface_wrapper_loads_smolvlm_without_generate(tmp_path: Path) -> None:
    from lmms_eval.models.chat.huggingface import Huggingface

    lm = Huggingface(pretrained=str(build_tiny_idefics3(tmp_path / "tiny-smolvlm")), device="cpu", device_map="cpu")
    assert type(lm.model).__name__ == "Idefics3Model"
    assert not hasattr(lm.model, "generate")
