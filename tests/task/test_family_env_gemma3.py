"""`--model gemma3` on all six tasks: a tiny random Gemma 3 with gemma-3-it's published chat template.

The wrapper re-encodes every image as JPEG (quality 85) into a data URL before the processor
decodes it again (lmms_eval/models/simple/gemma3.py `_encode_image_data_url`): the pixels are
checked by fingerprint, within the checker's tolerance, and they are no longer PIL originals.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import build_tiny_gemma3
from family_env_support import record_processor_calls

pytestmark = pytest.mark.slow


def test_gemma3_delivers_every_image_in_order(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.models.simple.gemma3 import Gemma3
    from transformers import Gemma3Processor

    model_dir = build_tiny_gemma3(tmp_path / "tiny-gemma3")
    lm = Gemma3(pretrained=str(model_dir), device="cpu", device_map="cpu")
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    record_processor_calls(monkeypatch, Gemma3Processor, recorder)
    run_in_process(lm, "gemma3")
    recorder.assert_every_doc_delivered("<start_of_image>")
