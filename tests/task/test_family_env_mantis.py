"""`--model mantis` (Mantis-8B-Idefics2, the base of Med-Mantis) on all six tasks.

lmms-eval 0.7.3 imports `AutoModelForVision2Seq` and `AutoProcessor` in one `try` block
(lmms_eval/models/simple/mantis.py:31-35); transformers 5 removed `AutoModelForVision2Seq`, so
the wrapper dies with `NameError: AutoProcessor`. Under transformers 4 (the `transformers4`
extra) its Idefics2 path runs: a tiny random Idefics2 with Mantis's published chat template.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import transformers
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import build_tiny_idefics2
from family_env_support import record_processor_calls
from packaging.version import Version

TRANSFORMERS_5 = Version(transformers.__version__).major >= 5
NEEDS_TRANSFORMERS_4 = "runs only under transformers 4: pip install 'medmim-tasks[transformers4]' (.ci/run builds that environment)"


@pytest.mark.skipif(not TRANSFORMERS_5, reason="the upstream cause exists only under transformers 5")
def test_upstream_cause_under_transformers_5() -> None:
    """Why `mantis` needs the transformers4 environment (docs/model-environments.md cites this)."""
    with pytest.raises(ImportError, match="AutoModelForVision2Seq"):
        from transformers import AutoModelForVision2Seq  # noqa: F401


@pytest.mark.slow
@pytest.mark.skipif(TRANSFORMERS_5, reason=f"mantis {NEEDS_TRANSFORMERS_4}")
def test_mantis_idefics2_delivers_every_image_in_order(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.models.simple.mantis import Mantis
    from transformers import Idefics2Processor

    # the wrapper takes its Idefics2 path when "idefics" is in the model's name
    model_dir = build_tiny_idefics2(tmp_path / "tiny-mantis-idefics2", chat_template_name="mantis_idefics2")
    lm = Mantis(pretrained=str(model_dir), device="cpu", device_map="auto", dtype="float32")
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    record_processor_calls(monkeypatch, Idefics2Processor, recorder)
    run_in_process(lm, "mantis")
    recorder.assert_every_doc_delivered("<image>", require_pil=True)
    assert all(delivery.text.startswith("User: ") and delivery.text.endswith("<end_of_utterance>\nAssistant:") for delivery in recorder.deliveries)
