"""`--model llava_hf --force_simple` with the llava-hf chat templates (issue 10, item 3).

Upstream cause: lmms_eval/models/simple/llava_hf.py:326-331 hands the tokenizer's chat template
a message whose content is a string; the llava-hf templates (llava-1.5, onevision) iterate the
content as a list of parts, so the rendered prompt is `USER: ASSISTANT:` with no image token
and no question, and the processor refuses the images. Nothing in the task can change that.
Workaround, proven here: the wrapper's own `chat_template` model argument with a template that
renders string content (no commas and no `=`, so it survives `--model_args` parsing); or drop
`--force_simple` (the chat path works: tests/task/test_family_llava.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from family_checks import DeliveryRecorder, FamilyBenchmark, run_in_process
from family_env_models import CHAT_TEMPLATES
from family_env_support import record_processor_calls

pytestmark = pytest.mark.slow

# the user turn as llava-1.5 was trained on ("USER: <image>\n... ASSISTANT:"), string content only
STRING_CONTENT_TEMPLATE = "{% for message in messages %}USER: {{ message['content'] }} {% endfor %}{% if add_generation_prompt %}ASSISTANT:{% endif %}"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "model-environments.md"


@pytest.fixture(scope="module")
def tiny_llava_hf15(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny LLaVA with llava-1.5-7b-hf's published template (tokenizer and processor)."""
    from medmim_tasks.sanity.tiny_model import build_tiny_llava

    model_dir = build_tiny_llava(tmp_path_factory.mktemp("tiny-llava-hf15") / "model")
    (model_dir / "chat_template.jinja").write_text(json.loads((CHAT_TEMPLATES / "llava_hf_llava15.json").read_text())["chat_template"])
    tokenizer_config = json.loads((model_dir / "tokenizer_config.json").read_text())
    tokenizer_config["chat_template"] = (model_dir / "chat_template.jinja").read_text()
    (model_dir / "tokenizer_config.json").write_text(json.dumps(tokenizer_config))
    return model_dir


def test_upstream_cause_renders_an_empty_user_turn(tiny_llava_hf15: Path) -> None:
    from lmms_eval.models.simple.llava_hf import LlavaHf

    lm = LlavaHf(pretrained=str(tiny_llava_hf15), device="cpu", device_map="cpu", dtype="float32")
    messages = [{"role": "user", "content": "<image><image>Which image shows the left eye?"}]
    rendered = lm.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered.split() == ["USER:", "ASSISTANT:"]


def test_chat_template_model_argument_works_around_it(family_env: FamilyBenchmark, tiny_llava_hf15: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.models.simple.llava_hf import LlavaHf
    from lmms_eval.utils import simple_parse_args_string
    from transformers import LlavaProcessor

    model_args = f"pretrained={tiny_llava_hf15},device=cpu,device_map=cpu,dtype=float32,chat_template={STRING_CONTENT_TEMPLATE}"
    parsed = simple_parse_args_string(model_args)  # what `--model_args` becomes
    assert parsed["chat_template"] == STRING_CONTENT_TEMPLATE
    assert STRING_CONTENT_TEMPLATE in DOCS.read_text(), "docs/model-environments.md must show the tested template"
    lm = LlavaHf(**parsed)
    assert lm.is_simple is True
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    record_processor_calls(monkeypatch, LlavaProcessor, recorder)
    run_in_process(lm, "llava_hf")
    recorder.assert_every_doc_delivered("<image>", require_pil=True)
    assert all(delivery.text.startswith("USER: <image>") and delivery.text.endswith("ASSISTANT:") for delivery in recorder.deliveries)
