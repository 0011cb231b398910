"""Matrix rows for the API wrappers and vLLM (issue 10), through lmms-eval 0.7.3's own wrapper code.

`openai` (alias `openai_compatible`, chat path) and `gpt4v` (simple path) talk to a recording
OpenAI-compatible HTTP server on 127.0.0.1; `vllm` (chat path) gets a recording stand-in for
`vllm.LLM`. Every request's base64 images are decoded back and fingerprinted against their files.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from family_checks import (
    DeliveryRecorder,
    FamilyBenchmark,
    openai_prompt_text,
    run_in_process,
)

REPLY = "A"


def completion(model: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-matrix",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "message": {"role": "assistant", "content": REPLY}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


class RecordingServer:
    """An OpenAI-compatible /chat/completions endpoint that keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        bodies = self.bodies

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                bodies.append(body)
                payload = json.dumps(completion(body.get("model", "stand-in"))).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/v1"


@pytest.fixture
def recording_server(monkeypatch: pytest.MonkeyPatch) -> Iterator[RecordingServer]:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(name, raising=False)  # 127.0.0.1 directly, never through a proxy
    server = RecordingServer()
    server.thread.start()
    try:
        yield server
    finally:
        server.server.shutdown()
        server.server.server_close()


def record_bodies(recorder: DeliveryRecorder, bodies: list[dict[str, Any]]) -> None:
    for body in bodies:
        text, images = openai_prompt_text(body["messages"])
        recorder.record_by_content(images, text)


@pytest.mark.slow
@pytest.mark.parametrize("model_name", ["openai", "openai_compatible"])
def test_openai_chat_requests_carry_each_documents_images(family_env: FamilyBenchmark, recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch, model_name: str) -> None:
    from lmms_eval.models.chat.openai import OpenAICompatible

    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    lm = OpenAICompatible(model_version="stand-in-model", base_url=recording_server.base_url, api_key="test", max_retries=1, httpx_trust_env=False)
    assert lm.is_simple is False
    run_in_process(lm, model_name)
    record_bodies(recorder, recording_server.bodies)
    recorder.assert_every_doc_delivered("<image>")
    # no labels: the server's own chat template decides where images go (vLLM serving a llava-hf
    # checkpoint would put them all first)
    assert not any("Image 1:" in delivery.text for delivery in recorder.deliveries)


@pytest.mark.slow
def test_gpt4v_requests_carry_each_documents_images(family_env: FamilyBenchmark, recording_server: RecordingServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_BASE_URL", recording_server.base_url)
    monkeypatch.setenv("OPENAI_API_KEY", "test")
    from lmms_eval.models.simple.gpt4v import GPT4V

    monkeypatch.setattr("lmms_eval.models.simple.gpt4v.API_KEY", "test", raising=False)
    recorder = DeliveryRecorder(family_env).install(monkeypatch)
    lm = GPT4V(model_version="stand-in-model", modality="image")
    assert lm.is_simple is True
    run_in_process(lm, "gpt4v")
    # the simple path: the question text first (its <image> placeholders stripped), then the images
    for body in recording_server.bodies:
        first = body["messages"][0]["content"][0]
        assert first["type"] == "text" and "<image>" not in first["text"], first
    record_bodies(recorder, recording_server.bodies)
    recorder.assert_every_doc_delivered("<image>")


class _Output:
    def __init__(self, text: str) -> None:
        self.outputs = [type("Completion", (), {"text": text})()]


@pytest.mark.slow
def test_vllm_chat_messages_carry_each_documents_images(family_env: FamilyBenchmark, monkeypatch: pytest.MonkeyPatch) -> None:
    import lmms_eval.models.chat.vllm as chat_vllm
    import lmms_eval.models.simple.vllm as simple_vllm

    recorder = DeliveryRecorder(family_env).install(monkeypatch)

    class RecordingLLM:
        """Stand-in for vllm.LLM: keeps the OpenAI-format messages it is asked to chat on."""

        def __init__(self, model: str, **kwargs: Any) -> None:
            self.model = model

        def chat(self, sampling_params: Any, messages: list[list[dict[str, Any]]], chat_template: Any = None, **kwargs: Any) -> list[_Output]:
            for conversation in messages:
                text, images = openai_prompt_text(conversation)
                recorder.record_by_content(images, text)
            return [_Output(REPLY) for _ in messages]

    class SamplingParams:
        def __init__(self, **params: Any) -> None:
            self.params = params

    monkeypatch.setattr(simple_vllm, "LLM", RecordingLLM)
    monkeypatch.setattr(chat_vllm, "SamplingParams", SamplingParams)
    monkeypatch.setattr(simple_vllm, "SamplingParams", SamplingParams)
    lm = chat_vllm.VLLM(model="stand-in/model", disable_log_stats=True)
    assert lm.is_simple is False
    run_in_process(lm, "vllm")
    recorder.assert_every_doc_delivered("<image>")
    assert not any("Image 1:" in delivery.text for delivery in recorder.deliveries)
