"""`--model idefics2` on all six tasks: a tiny random Idefics2 with idefics2-8b's published chat template."""

from __future__ import annotations

from pathlib import Path

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import build_tiny_idefics2
from family_env_support import record_processor_calls

pytestmark = pytest.mark.slow


def test_idefics2_delivers_every_image_in_order(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.models.simple.idefics2 import Idefics2
    from transformers import Idefics2Processor

    model_dir = build_tiny_idefics2(tmp_path / "tiny-idefics2", chat_template_name="mantis_idefics2")
    lm = Idefics2(pretrained=str(model_dir), device="cpu", device_map="cpu", dtype="float32")
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    record_processor_calls(monkeypatch, Idefics2Processor, recorder)
    run_in_process(lm, "idefics2")
    recorder.assert_every_doc_delivered("<image>", require_pil=True)
    assert all(delivery.text.startswith("User: ") and delivery.text.endswith("<end_of_utterance>\nAssistant:") for delivery in recorder.deliveries)
