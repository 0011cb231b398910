"""The optional LLM judge against a loopback OpenAI-compatible server: off by default, cached, loud when broken."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from medmim_tasks.judge import (
    METRIC,
    JudgeConfig,
    JudgeError,
    cache_key,
    judge_config,
    judge_prompt,
    judge_score,
    parse_score,
)
from medmim_tasks.lmms_hooks import process_results


class FakeJudge:
    """A loopback chat-completions endpoint that answers `verdict` (or an HTTP `status`) and records requests."""

    def __init__(self) -> None:
        self.verdict = "1"
        self.status = 200
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                if fake.status != 200:
                    self.send_response(fake.status)
                    self.end_headers()
                    self.wfile.write(b"overloaded")
                    return
                payload = {"choices": [{"message": {"role": "assistant", "content": fake.verdict}}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake_judge() -> Iterator[FakeJudge]:
    server = FakeJudge()
    yield server
    server.close()


@pytest.fixture
def config(fake_judge: FakeJudge, tmp_path: Path) -> JudgeConfig:
    return JudgeConfig(url=fake_judge.url, model="judge-7b", api_key=None, cache_dir=tmp_path / "cache", timeout_s=5)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_off_by_default_and_configured_by_environment(tmp_path: Path) -> None:
    assert judge_config({}) is None
    assert judge_config({"MEDMIM_JUDGE_MODEL": "m"}) is None  # the URL turns it on
    config = judge_config(
        {
            "MEDMIM_JUDGE_URL": "http://localhost:8000/v1/",
            "MEDMIM_JUDGE_MODEL": "qwen-judge",
            "MEDMIM_JUDGE_API_KEY": "secret",
            "MEDMIM_JUDGE_CACHE": str(tmp_path),
            "MEDMIM_JUDGE_TIMEOUT": "7.5",
        }
    )
    assert config == JudgeConfig("http://localhost:8000/v1", "qwen-judge", "secret", tmp_path, 7.5)
    with pytest.raises(JudgeError, match="MEDMIM_JUDGE_MODEL"):
        judge_config({"MEDMIM_JUDGE_URL": "http://localhost:8000/v1"})
    with pytest.raises(JudgeError, match="MEDMIM_JUDGE_TIMEOUT"):
        judge_config({"MEDMIM_JUDGE_URL": "http://x/v1", "MEDMIM_JUDGE_MODEL": "m", "MEDMIM_JUDGE_TIMEOUT": "soon"})


def test_parse_score() -> None:
    verdicts = {"1": 1.0, "0": 0.0, "0.5": 0.5, "Score: 1.": 1.0, "1.0": 1.0, "10": None, "0.75": None, "none": None}
    assert {verdict: parse_score(verdict) for verdict in verdicts} == verdicts


def test_asks_the_endpoint_once_then_serves_the_cache(fake_judge: FakeJudge, config: JudgeConfig) -> None:
    fake_judge.verdict = "0.5"
    assert judge_score(config, "Is the effusion larger?", "It is smaller.", "It is larger.") == 0.5
    assert len(fake_judge.requests) == 1
    request = fake_judge.requests[0]
    assert request["path"] == "/v1/chat/completions"
    assert request["auth"] is None
    assert request["body"]["model"] == "judge-7b"
    assert request["body"]["temperature"] == 0
    prompt = request["body"]["messages"][0]["content"]
    assert prompt == judge_prompt("Is the effusion larger?", "It is smaller.", "It is larger.")
    assert "Is the effusion larger?" in prompt and "It is smaller." in prompt and "It is larger." in prompt

    fake_judge.verdict = "0"  # a changed endpoint must not change a cached verdict
    assert judge_score(config, "Is the effusion larger?", "It is smaller.", "It is larger.") == 0.5
    assert len(fake_judge.requests) == 1
    key = cache_key("judge-7b", prompt, "It is larger.")
    entry = json.loads((config.cache_dir / key[:2] / f"{key}.json").read_text())
    assert entry["model"] == "judge-7b" and entry["reply"] == "It is larger." and entry["score"] == 0.5

    assert judge_score(config, "Is the effusion larger?", "It is smaller.", "It is smaller.") == 0.0  # new reply
    other_model = JudgeConfig(config.url, "judge-70b", "k", config.cache_dir, 5)
    fake_judge.verdict = "1"
    assert judge_score(other_model, "Is the effusion larger?", "It is smaller.", "It is larger.") == 1.0
    assert len(fake_judge.requests) == 3
    assert fake_judge.requests[-1]["auth"] == "Bearer k"


def test_unreachable_endpoint_is_an_error(tmp_path: Path) -> None:
    config = JudgeConfig(f"http://127.0.0.1:{_free_port()}/v1", "m", None, tmp_path, 5)
    with pytest.raises(JudgeError, match="unreachable.*MEDMIM_JUDGE_URL"):
        judge_score(config, "q", "a", "r")
    assert not any(tmp_path.rglob("*.json"))


def test_http_error_and_unparsable_verdict_are_errors(fake_judge: FakeJudge, config: JudgeConfig) -> None:
    fake_judge.status = 503
    with pytest.raises(JudgeError, match="HTTP 503"):
        judge_score(config, "q", "a", "r")
    fake_judge.status = 200
    fake_judge.verdict = "The answer looks fine to me."
    with pytest.raises(JudgeError, match="holds no score"):
        judge_score(config, "q", "a", "r")


def test_corrupt_cache_entry_is_an_error(fake_judge: FakeJudge, config: JudgeConfig) -> None:
    judge_score(config, "q", "a", "r")
    key = cache_key(config.model, judge_prompt("q", "a", "r"), "r")
    path = config.cache_dir / key[:2] / f"{key}.json"
    path.write_text("{not json")
    with pytest.raises(JudgeError, match="delete the file"):
        judge_score(config, "q", "a", "r")


def _open_doc() -> dict[str, Any]:
    return {
        "doc_key": "med_mim_held_in_comparison:3",
        "dataset": "MS-CXR-T",
        "source": "MS_CXR_T_comparison",
        "n_images": 2,
        "n_options": 0,
        "cluster": "MS-CXR-T:p10000032",
        "kind": "open_ended",
        "question": "Has the effusion changed?",
        "answer": "The effusion is smaller.",
        "options": [],
        "gold_letter": None,
        "items_evaluated": 344,
        "items_total": 344,
    }


def test_process_results_reports_open_judge_only_when_on(
    fake_judge: FakeJudge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MEDMIM_JUDGE_URL", raising=False)
    assert METRIC not in process_results(_open_doc(), ["Smaller effusion."])
    assert fake_judge.requests == []

    monkeypatch.setenv("MEDMIM_JUDGE_URL", fake_judge.url)
    monkeypatch.setenv("MEDMIM_JUDGE_MODEL", "judge-7b")
    monkeypatch.setenv("MEDMIM_JUDGE_CACHE", str(tmp_path / "cache"))
    scores = process_results(_open_doc(), ["Smaller effusion."])
    assert scores[METRIC] == {"score": 1.0, "cluster": "MS-CXR-T:p10000032", "doc_key": "med_mim_held_in_comparison:3"}
    assert len(fake_judge.requests) == 1

    monkeypatch.setenv("MEDMIM_JUDGE_URL", f"http://127.0.0.1:{_free_port()}/v1")
    with pytest.raises(JudgeError, match="unreachable"):
        process_results(_open_doc(), ["Another reply."])
