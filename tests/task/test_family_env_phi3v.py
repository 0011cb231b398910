"""`--model phi3v` on all six tasks (test_family_env_phi4.py: phi4_multimodal).

Both models need their remote code (trust_remote_code), so a recording stand-in for it
(tests/standins/phi) is loaded from a local folder exactly as the wrappers load the real model;
the wrappers' own prompt building runs. They number images `<|image_1|>`, `<|image_2|>`, ...:
the checks require those numbers in order, one per image. phi4_multimodal imports librosa and
decord (the `phi` extra).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import build_phi_stand_in
from family_env_support import record_processor_calls

pytestmark = pytest.mark.slow
NUMBERED_IMAGE = re.compile(r"<\|image_(\d+)\|>")
IMAGE = "<|image|>"


def assert_numbered_deliveries(recorder: DeliveryRecorder) -> None:
    """Images numbered 1..n in order in each prompt; then the shared checks on `<|image|>`."""
    for delivery in recorder.deliveries:
        numbers = [int(number) for number in NUMBERED_IMAGE.findall(delivery.text or "")]
        assert numbers == list(range(1, len(delivery.images) + 1)), f"{delivery.doc['doc_key']}: image numbers {numbers}:\n{delivery.text}"
    recorder.deliveries[:] = [type(delivery)(delivery.doc, delivery.images, NUMBERED_IMAGE.sub(IMAGE, delivery.text or "")) for delivery in recorder.deliveries]
    recorder.assert_every_doc_delivered(IMAGE, require_pil=True)


def test_phi3v_delivers_every_image_in_order(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.models.simple.phi3v import Phi3v

    model_dir = build_phi_stand_in(tmp_path / "phi3v-stand-in", chat_template_name="phi3v")
    lm = Phi3v(model_id_name=str(model_dir), device="cpu", dtype="float32")
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    record_processor_calls(monkeypatch, type(lm._processor), recorder)
    run_in_process(lm, "phi3v")
    assert_numbered_deliveries(recorder)
    assert all(delivery.text.startswith("<|user|>\n") and delivery.text.endswith("<|end|>\n<|assistant|>\n") for delivery in recorder.deliveries)
