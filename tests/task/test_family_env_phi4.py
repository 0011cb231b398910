"""`--model phi4_multimodal` (chat path) on all six tasks; runs where librosa is installed (the `phi` extra).

Same stand-in as test_family_env_phi3v.py (Phi-4-multimodal's remote code); the wrapper builds
the prompt itself, `<|user|>` + one `<|image_n|>` per image part where the message puts it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import build_phi_stand_in
from family_env_support import record_processor_calls
from test_family_env_phi3v import assert_numbered_deliveries

pytestmark = pytest.mark.slow


def test_phi4_multimodal_chat_path_delivers_every_image_in_order(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("librosa", reason="phi4_multimodal imports librosa: pip install 'medmim-tasks[phi]' (.ci/run installs it in the extra environment)")
    from lmms_eval.models.chat.phi4_multimodal import Phi4

    model_dir = build_phi_stand_in(tmp_path / "phi4-multimodal-stand-in")
    lm = Phi4(pretrained=str(model_dir), device="cpu", device_map="cpu", dtype="float32")
    assert lm.is_simple is False
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    record_processor_calls(monkeypatch, type(lm._processor), recorder)
    run_in_process(lm, "phi4_multimodal")
    assert_numbered_deliveries(recorder)
    assert all(delivery.text.startswith("<|user|>") and delivery.text.endswith("<|end|><|assistant|>") for delivery in recorder.deliveries)
