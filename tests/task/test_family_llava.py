"""Matrix rows for the LLaVA families (issue 10), through lmms-eval 0.7.3's own wrapper code.

- `llava_hf`, chat path: a tiny random-weight LLaVA built locally (medmim_tasks.sanity.tiny_model) with
  each published llava-hf chat template; the real processor's input is recorded.
- `llava_onevision` (LLaVA-NeXT code; longva, egogpt, videochat_flash, moviechat and
  llava_onevision_moviechat use the same `type(visual) is PIL.Image.Image` test): the `llava`
  package is not on PyPI, so a recording stand-in for the `llava.*` modules it imports is
  installed while the wrapper's own generate_until runs.
"""

from __future__ import annotations

import json
import shutil
import sys
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from family_checks import (
    DeliveryRecorder,
    FamilyBenchmark,
    RecordingProcessor,
    run_in_process,
)

TEMPLATES = Path(__file__).resolve().parents[1] / "data" / "chat_templates"


@pytest.fixture(scope="module")
def tiny_llava(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from medmim_tasks.sanity.tiny_model import build_tiny_llava

    return build_tiny_llava(tmp_path_factory.mktemp("tiny-llava") / "model")


def tiny_llava_with_template(tiny_llava: Path, template_file: str, target: Path) -> Path:
    """A copy of the tiny LLaVA whose processor carries a published chat template."""
    shutil.copytree(tiny_llava, target)
    (target / "chat_template.jinja").write_text(json.loads((TEMPLATES / template_file).read_text())["chat_template"])
    return target


@pytest.mark.slow
@pytest.mark.parametrize("template_file", ["llava_hf_llava15.json", "llava_hf_onevision.json"])
def test_llava_hf_chat_path_with_published_templates(family_env: FamilyBenchmark, tiny_llava: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, template_file: str) -> None:
    from lmms_eval.models.chat.llava_hf import LlavaHf

    model_dir = tiny_llava_with_template(tiny_llava, template_file, tmp_path / "model")
    lm = LlavaHf(pretrained=str(model_dir), device="cpu", device_map="cpu", dtype="float32")
    assert lm.is_simple is False
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    lm._image_processor = RecordingProcessor(lm._image_processor, recorder)
    run_in_process(lm, "llava_hf")
    recorder.assert_every_doc_delivered("<image>")
    # llava_hf's YAML block has no labels: these templates put every image first
    assert not any("Image 1:" in delivery.text for delivery in recorder.deliveries)


# ---------------------------------------------------------------- llava_onevision (LLaVA-NeXT code)

IMAGE_TOKEN_INDEX = -200


def install_llava_stand_in(monkeypatch: pytest.MonkeyPatch, recorder: DeliveryRecorder) -> None:
    """Recording stand-ins for the `llava.*` names the llava_onevision wrapper imports."""
    import torch

    prompts: list[str] = []

    def tokenizer_image_token(prompt: str, tokenizer: Any, image_token_index: int = IMAGE_TOKEN_INDEX, return_tensors: Any = None) -> Any:
        prompts.append(prompt)
        return torch.tensor([1, image_token_index, 2])

    def process_images(images: list[Any], image_processor: Any, model_config: Any) -> list[Any]:
        # the pixels travel on to model.generate as tensors (uint8 values are exact in float16)
        return [torch.from_numpy(np.asarray(image).copy()) for image in images]

    class Conversation:
        def __init__(self) -> None:
            self.messages: list[list[Any]] = []
            self.roles = ("user", "assistant")

        def copy(self) -> Conversation:
            return Conversation()

        def append_message(self, role: str, message: Any) -> None:
            self.messages.append([role, message])

        def get_prompt(self) -> str:
            return "".join(f"<|im_start|>{role}\n{message or ''}" for role, message in self.messages)

    class Model(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.config = types.SimpleNamespace(image_aspect_ratio="anyres", mm_patch_merge_type="spatial_unpad")

        def generate(self, inputs: Any = None, images: Any = None, **kwargs: Any) -> Any:
            # what reaches the model: the image tensors of this call and the prompt built for it
            recorder.record([tensor.float().numpy().astype(np.uint8) for tensor in images], prompts[-1])
            return torch.tensor([[5, 6]])

    class Tokenizer:
        padding_side = "right"
        pad_token_id = 0
        eos_token_id = 2
        eos_token = "</s>"

        def batch_decode(self, ids: Any, skip_special_tokens: bool = True) -> list[str]:
            return ["A"] * len(ids)

        def decode(self, ids: Any, skip_special_tokens: bool = True) -> str:
            return "A"

        def encode(self, text: str, **kwargs: Any) -> list[int]:
            return [1] * max(1, len(text.split()))

    def load_pretrained_model(*args: Any, **kwargs: Any) -> tuple[Any, Any, Any, int]:
        image_processor = types.SimpleNamespace(crop_size={"height": 4, "width": 4}, size={"shortest_edge": 4})
        return Tokenizer(), Model(), image_processor, 4096

    modules = {
        "llava": types.ModuleType("llava"),
        "llava.constants": types.ModuleType("llava.constants"),
        "llava.conversation": types.ModuleType("llava.conversation"),
        "llava.mm_utils": types.ModuleType("llava.mm_utils"),
        "llava.model": types.ModuleType("llava.model"),
        "llava.model.builder": types.ModuleType("llava.model.builder"),
    }
    constants = modules["llava.constants"]
    constants.DEFAULT_IMAGE_TOKEN = "<image>"  # type: ignore[attr-defined]
    constants.IMAGE_TOKEN_INDEX = IMAGE_TOKEN_INDEX  # type: ignore[attr-defined]
    constants.DEFAULT_IM_START_TOKEN = "<im_start>"  # type: ignore[attr-defined]
    constants.DEFAULT_IM_END_TOKEN = "<im_end>"  # type: ignore[attr-defined]
    constants.IGNORE_INDEX = -100  # type: ignore[attr-defined]
    conversation = modules["llava.conversation"]
    conversation.conv_templates = {"qwen_1_5": Conversation()}  # type: ignore[attr-defined]
    conversation.SeparatorStyle = types.SimpleNamespace(TWO="two", SINGLE="single")  # type: ignore[attr-defined]
    mm_utils = modules["llava.mm_utils"]
    mm_utils.tokenizer_image_token = tokenizer_image_token  # type: ignore[attr-defined]
    mm_utils.process_images = process_images  # type: ignore[attr-defined]
    mm_utils.get_model_name_from_path = lambda path: "llava_qwen"  # type: ignore[attr-defined]
    mm_utils.KeywordsStoppingCriteria = object  # type: ignore[attr-defined]
    modules["llava.model.builder"].load_pretrained_model = load_pretrained_model  # type: ignore[attr-defined]
    for name, module in modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.delitem(sys.modules, "lmms_eval.models.simple.llava_onevision", raising=False)


@pytest.mark.slow
def test_llava_onevision_gets_every_image_as_a_plain_pil_image(family_env: FamilyBenchmark, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    install_llava_stand_in(monkeypatch, recorder)
    from lmms_eval.models.simple.llava_onevision import Llava_OneVision

    checkpoint = tmp_path / "llava-onevision-stand-in"
    checkpoint.mkdir()
    (checkpoint / "config.json").write_text(json.dumps({"model_type": "qwen2"}))  # the wrapper reads it with AutoConfig
    lm = Llava_OneVision(pretrained=str(checkpoint), device="cpu", device_map="auto", conv_template="qwen_1_5")
    run_in_process(lm, "llava_onevision")
    # the wrapper processes a visual only if `type(visual) is PIL.Image.Image`; before the fix
    # doc_to_visual's JpegImageFile made it skip every ODIR image and reuse the last document's
    recorder.assert_every_doc_delivered("<image>")
