"""The optional LLM judge against a loopback OpenAI-compatible server: off by default, cached, loud when broken."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from lmms_eval_runner import offline_env, run_lmms_eval
from run_samples import ODIR, ODIR_MC_SOURCE, TEMPORAL, mc_doc, open_doc, write_run

from medmim_tasks.benchmark.http_deadline import WATCHDOG_THREAD_NAME
from medmim_tasks.benchmark.items import OPEN_ENDED, load_split
from medmim_tasks.benchmark.splits import split_for_task
from medmim_tasks.cli.main import main
from medmim_tasks.results.report import build_report
from medmim_tasks.results.run_files import samples_file
from medmim_tasks.results.runs import load_run, load_runs
from medmim_tasks.scoring.judge import (
    METRIC,
    JudgeConfig,
    JudgeError,
    cache_key,
    judge_config,
    judge_prompt,
    judge_score,
    parse_score,
)
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import process_results

TASK = "med_mim_held_in_comparison"  # 136 of its 344 items are open-ended


class FakeJudge:
    """A loopback chat-completions endpoint that answers `verdict` (or an HTTP `status`) and records requests."""

    def __init__(self) -> None:
        self.verdict = "1"
        self.status = 200
        self.statuses: list[int] = []  # answered first, one per request, before `status`
        self.verdict_for: Callable[[str], str] | None = None  # the verdict for a prompt, instead of `verdict`
        self.trickle_s = 0.0  # > 0: send the reply one byte at a time, this many seconds apart
        self.requests: list[dict[str, Any]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), "body": body})
                status = fake.statuses.pop(0) if fake.statuses else fake.status
                if status != 200:
                    self.send_response(status)
                    self.end_headers()
                    fake.send(self, b"overloaded " * 20)
                    return
                prompt = body["messages"][0]["content"]
                verdict = fake.verdict_for(prompt) if fake.verdict_for else fake.verdict
                payload = {"choices": [{"message": {"role": "assistant", "content": verdict}}]}
                data = json.dumps(payload).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                fake.send(self, data)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def send(self, handler: BaseHTTPRequestHandler, data: bytes) -> None:
        """Write a body at once, or one byte every `trickle_s` seconds."""
        if not self.trickle_s:
            handler.wfile.write(data)
            return
        for byte in data:
            try:
                handler.wfile.write(bytes([byte]))
                handler.wfile.flush()
            except OSError:  # the client hung up
                return
            time.sleep(self.trickle_s)

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
    return JudgeConfig(
        url=fake_judge.url, model="judge-7b", api_key=None, cache_dir=tmp_path / "cache", timeout_s=5, attempts=3, backoff_s=0
    )


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
    assert (config.attempts, config.backoff_s, config.max_time_s) == (5, 1.0, 300.0)
    tuned = judge_config(
        {
            "MEDMIM_JUDGE_URL": "http://localhost:8000/v1",
            "MEDMIM_JUDGE_MODEL": "m",
            "MEDMIM_JUDGE_ATTEMPTS": "2",
            "MEDMIM_JUDGE_BACKOFF": "0",
            "MEDMIM_JUDGE_MAX_TIME": "30",
        }
    )
    assert tuned is not None and (tuned.attempts, tuned.backoff_s, tuned.max_time_s) == (2, 0.0, 30.0)
    with pytest.raises(JudgeError, match="MEDMIM_JUDGE_MODEL"):
        judge_config({"MEDMIM_JUDGE_URL": "http://localhost:8000/v1"})
    with pytest.raises(JudgeError, match="MEDMIM_JUDGE_TIMEOUT"):
        judge_config({"MEDMIM_JUDGE_URL": "http://x/v1", "MEDMIM_JUDGE_MODEL": "m", "MEDMIM_JUDGE_TIMEOUT": "soon"})


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("MEDMIM_JUDGE_TIMEOUT", "nan"),
        ("MEDMIM_JUDGE_TIMEOUT", "inf"),
        ("MEDMIM_JUDGE_TIMEOUT", "-3"),
        ("MEDMIM_JUDGE_TIMEOUT", "0"),
        ("MEDMIM_JUDGE_ATTEMPTS", "0"),
        ("MEDMIM_JUDGE_ATTEMPTS", "2.5"),
        ("MEDMIM_JUDGE_BACKOFF", "-1"),
        ("MEDMIM_JUDGE_BACKOFF", "nan"),
        ("MEDMIM_JUDGE_MAX_TIME", "inf"),
        ("MEDMIM_JUDGE_URL", "localhost:8000/v1"),
        ("MEDMIM_JUDGE_URL", "ftp://x/v1"),
    ],
)
def test_bad_settings_are_named_with_the_fix(variable: str, value: str) -> None:
    env = {"MEDMIM_JUDGE_URL": "http://x/v1", "MEDMIM_JUDGE_MODEL": "m", variable: value}
    with pytest.raises(JudgeError, match=rf"{variable}='{re.escape(value)}'.*(set it|unset it)"):
        judge_config(env)


def test_parse_score_accepts_only_a_well_formed_verdict() -> None:
    verdicts = {
        "1": 1.0, "0": 0.0, "0.5": 0.5, ".5": 0.5, "1.0": 1.0, "0.0": 0.0, " 0.5\n": 0.5, "Score: 1.": 1.0,
        "score:0": 0.0, "Score: 1/2": None, "1/2": None, "1 (mostly correct)": None, "0.5 or 1": None,
        "Score: 1, but 0 for the size": None, "10": None, "0.75": None, "none": None, "": None,
    }
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
    config = JudgeConfig(f"http://127.0.0.1:{_free_port()}/v1", "m", None, tmp_path, 5, backoff_s=0)
    with pytest.raises(JudgeError, match="unreachable.*MEDMIM_JUDGE_URL.*Gave up after 5 tries"):
        judge_score(config, "q", "a", "r")
    assert not any(tmp_path.rglob("*.json"))


def test_retryable_errors_are_retried_with_exponential_backoff(fake_judge: FakeJudge, config: JudgeConfig) -> None:
    fake_judge.statuses = [503, 429, 502]
    fake_judge.verdict = "0.5"
    waits: list[float] = []
    tuned = JudgeConfig(config.url, config.model, None, config.cache_dir, 5, attempts=4, backoff_s=0.25)
    assert judge_score(tuned, "q", "a", "r", sleep=waits.append) == 0.5
    assert len(fake_judge.requests) == 4
    assert waits == [0.25, 0.5, 1.0]


def test_a_single_503_does_not_lose_the_document(
    fake_judge: FakeJudge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's case: one HTTP 503 in the middle of a run; the document still gets its verdict."""
    monkeypatch.setenv("MEDMIM_JUDGE_URL", fake_judge.url)
    monkeypatch.setenv("MEDMIM_JUDGE_MODEL", "judge-7b")
    monkeypatch.setenv("MEDMIM_JUDGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("MEDMIM_JUDGE_BACKOFF", "0")
    fake_judge.statuses = [503]
    assert process_results(_open_doc(), ["Smaller effusion."])[METRIC]["score"] == 1.0


def test_persistent_errors_give_up_within_the_budget_and_say_what_to_do(
    fake_judge: FakeJudge, config: JudgeConfig
) -> None:
    fake_judge.status = 503
    with pytest.raises(JudgeError, match=r"HTTP 503.*Gave up after 3 tries.*medmim judge"):
        judge_score(config, "q", "a", "r")
    assert len(fake_judge.requests) == 3
    fake_judge.requests.clear()
    short = JudgeConfig(config.url, config.model, None, config.cache_dir, 5, attempts=10, backoff_s=4, max_time_s=5)
    with pytest.raises(JudgeError, match="MEDMIM_JUDGE_MAX_TIME=5"):
        judge_score(short, "q", "a", "r", sleep=lambda seconds: None)
    assert len(fake_judge.requests) == 2  # try, wait 4 s (within 5 s), try, and the next 8 s wait would pass 5 s


def test_client_errors_and_malformed_verdicts_are_not_retried(fake_judge: FakeJudge, config: JudgeConfig) -> None:
    fake_judge.status = 400
    with pytest.raises(JudgeError, match="HTTP 400") as raised:
        judge_score(config, "q", "a", "r")
    assert "Gave up" not in str(raised.value) and len(fake_judge.requests) == 1
    fake_judge.status = 200
    for verdict in ("The answer looks fine to me.", "Score: 1/2"):
        fake_judge.verdict = verdict
        with pytest.raises(JudgeError, match=re.escape(repr(verdict)) + ".*not a verdict"):
            judge_score(config, "q", "a", "r")
    assert not any(config.cache_dir.rglob("*.json"))


def test_timeout_caps_the_whole_request_of_a_trickling_server(fake_judge: FakeJudge, config: JudgeConfig) -> None:
    """The reply arrives one byte every 0.05 s (about 5 s in all): every read is quick, the request is not."""
    fake_judge.trickle_s = 0.05
    quick = JudgeConfig(config.url, config.model, None, config.cache_dir, timeout_s=0.5, attempts=1)
    with pytest.raises(JudgeError, match=r"no complete answer within 0.5 s \(MEDMIM_JUDGE_TIMEOUT\)"):
        judge_score(quick, "q", "a", "r")
    fake_judge.status = 503  # an error whose body trickles is capped as well
    with pytest.raises(JudgeError, match=r"no complete answer within 0.5 s \(MEDMIM_JUDGE_TIMEOUT\)"):
        judge_score(quick, "q", "a", "r")
    assert not [thread for thread in threading.enumerate() if thread.name == WATCHDOG_THREAD_NAME]


@pytest.mark.parametrize(
    "entry",
    [
        "{not json",
        '{"score": 7, "verdict": "7"}',
        '{"score": NaN, "verdict": "NaN"}',
        '{"score": true, "verdict": "1"}',
        '{"score": 1.0, "verdict": "Score: 1/2"}',
        '{"score": 0.5}',
        "[0.5]",
    ],
)
def test_bad_cache_entry_is_an_error_naming_the_file(fake_judge: FakeJudge, config: JudgeConfig, entry: str) -> None:
    judge_score(config, "q", "a", "r")
    key = cache_key(config.model, judge_prompt("q", "a", "r"), "r")
    path = config.cache_dir / key[:2] / f"{key}.json"
    path.write_text(entry)
    with pytest.raises(JudgeError, match=re.escape(str(path)) + ".*delete the file"):
        judge_score(config, "q", "a", "r")
    assert len(fake_judge.requests) == 1


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
    monkeypatch.setenv("MEDMIM_JUDGE_BACKOFF", "0")
    with pytest.raises(JudgeError, match="unreachable"):
        process_results(_open_doc(), ["Another reply."])


# Judging after the run: `medmim judge RUN_DIR` on a run made without the judge.


def _run_without_judge(folder: Path) -> Path:
    """A finished run (lmms-eval's layout) of two splits: open and MC documents, no open_judge yet."""
    results_file = write_run(
        folder,
        {
            TEMPORAL: [mc_doc(True), open_doc(0.5), open_doc(0.2), open_doc(0.9)],
            ODIR: [mc_doc(False, source=ODIR_MC_SOURCE, dataset="ODIR")],
        },
    )
    for task in (TEMPORAL, ODIR):
        sample_file = samples_file(results_file, task)
        samples = [json.loads(line) for line in sample_file.read_text().splitlines()]
        for index, sample in enumerate(samples):  # lmms-eval logs the document beside the scores
            record = next(value for value in sample.values() if isinstance(value, dict) and "kind" in value)
            record["reply"] = f"reply {index}"
            sample["doc"] = {"doc_key": record["doc_key"], "question": f"question {index}?", "answer": record["gold"]}
        sample_file.write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    return results_file


def _judge_env(monkeypatch: pytest.MonkeyPatch, fake_judge: FakeJudge, cache: Path) -> None:
    monkeypatch.setenv("MEDMIM_JUDGE_URL", fake_judge.url)
    monkeypatch.setenv("MEDMIM_JUDGE_MODEL", "judge-7b")
    monkeypatch.setenv("MEDMIM_JUDGE_CACHE", str(cache))
    monkeypatch.setenv("MEDMIM_JUDGE_BACKOFF", "0")


def test_judge_after_the_run_adds_open_judge_that_report_reads(
    fake_judge: FakeJudge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results_file = _run_without_judge(tmp_path / "run")
    before = {line["doc_id"]: line for line in map(json.loads, samples_file(results_file, TEMPORAL).read_text().splitlines())}
    _judge_env(monkeypatch, fake_judge, tmp_path / "cache")
    verdicts = {"reply 1": "1", "reply 2": "Score: 0.5", "reply 3": "0"}
    fake_judge.verdict_for = lambda prompt: next(v for reply, v in verdicts.items() if f"Candidate answer: {reply}\n" in prompt)
    fake_judge.statuses = [503]  # one transient failure on the way costs nothing

    assert main(["judge", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert f"{TEMPORAL}: 3 open-ended documents judged, 0.500 on average" in out
    assert f"{ODIR}: 0 open-ended documents judged" in out
    assert len(fake_judge.requests) == 4  # three documents, one retried
    prompts = [request["body"]["messages"][0]["content"] for request in fake_judge.requests]
    assert judge_prompt("question 1?", "a gold answer", "reply 1") in prompts  # the in-run judge's prompt

    run = load_run(results_file)  # what `medmim report` reads: consistent files, open_judge per document
    judged = run.docs.set_index("doc_key")["open_judge"]
    assert judged[f"{TEMPORAL}:1"] == 1.0 and judged[f"{TEMPORAL}:2"] == 0.5 and judged[f"{TEMPORAL}:3"] == 0.0
    assert judged[[f"{TEMPORAL}:0", f"{ODIR}:0"]].isna().all()  # MC documents are not judged
    results = json.loads(results_file.read_text())
    assert results["results"][TEMPORAL]["open_judge,none"] == 0.5
    assert "open_judge,none" not in results["results"][ODIR]
    assert results["medmim_judge"]["model"] == "judge-7b"
    assert results["medmim_judge"]["documents"] == {TEMPORAL: 3, ODIR: 0}
    after = {line["doc_id"]: line for line in map(json.loads, samples_file(results_file, TEMPORAL).read_text().splitlines())}
    assert after[0] == before[0]  # the MC line is kept as it was
    assert {key: value for key, value in after[1].items() if key != "open_judge"} == before[1]
    assert "open_judge" in build_report(load_runs([tmp_path / "run"])).metrics

    fake_judge.requests.clear()  # judging again: every verdict comes from the cache, same numbers
    assert main(["judge", str(results_file)]) == 0
    assert fake_judge.requests == []
    assert json.loads(results_file.read_text())["results"][TEMPORAL]["open_judge,none"] == 0.5


def test_judge_after_the_run_changes_nothing_when_the_judge_fails(
    fake_judge: FakeJudge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results_file = _run_without_judge(tmp_path / "run")
    files = sorted((tmp_path / "run").iterdir())
    contents = [path.read_bytes() for path in files]
    _judge_env(monkeypatch, fake_judge, tmp_path / "cache")
    monkeypatch.setenv("MEDMIM_JUDGE_ATTEMPTS", "2")
    fake_judge.statuses = [200, 503, 503]  # the first verdict arrives, then the endpoint fails twice
    assert main(["judge", str(tmp_path / "run"), "--workers", "1"]) == 1
    err = capsys.readouterr().err
    assert str(results_file) in err and "HTTP 503" in err and "Nothing of this run was changed" in err
    assert sorted((tmp_path / "run").iterdir()) == files and [path.read_bytes() for path in files] == contents
    cached = len(list((tmp_path / "cache").rglob("*.json")))
    assert cached >= 1  # the verdicts that arrived are kept
    fake_judge.requests.clear()
    assert main(["judge", str(tmp_path / "run")]) == 0  # the endpoint is back: only the missing verdicts are asked
    assert len(fake_judge.requests) == 3 - cached


def test_judge_after_the_run_reads_questions_from_the_benchmark_when_no_document_was_logged(
    fake_judge: FakeJudge, benchmark_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lmms-eval 0.7 logs no `doc` with a sample: the question is looked up by document key."""
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    items = load_split(split_for_task(TASK))[:3]
    docs = [open_doc(0.5) for _ in items]
    for doc, item in zip(docs, items):
        doc["gold"] = item.answer
    results_file = write_run(tmp_path / "run", {TASK: docs})
    _judge_env(monkeypatch, fake_judge, tmp_path / "cache")
    assert main(["judge", str(results_file)]) == 0
    prompts = sorted(request["body"]["messages"][0]["content"] for request in fake_judge.requests)
    assert prompts == sorted(judge_prompt(item.question, item.answer, "a reply") for item in items)
    assert load_run(results_file).docs["open_judge"].tolist() == [1.0, 1.0, 1.0]


def test_judge_command_explains_a_missing_configuration_and_a_run_of_other_benchmark_files(
    benchmark_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MEDMIM_JUDGE_URL", raising=False)
    assert main(["judge", str(tmp_path)]) == 2
    assert "set MEDMIM_JUDGE_URL" in capsys.readouterr().err
    monkeypatch.setenv("MEDMIM_JUDGE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("MEDMIM_JUDGE_MODEL", "m")
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    results_file = _run_without_judge(tmp_path / "run")
    sample_file = samples_file(results_file, TEMPORAL)
    lines = [json.loads(line) for line in sample_file.read_text().splitlines()]
    del lines[2]["doc"]
    sample_file.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert main(["judge", str(tmp_path / "run")]) == 2
    assert (
        f"{sample_file}, document line 3: document {TEMPORAL}:2 has another gold answer in "
        f"{benchmark_dir / split_for_task(TEMPORAL).file_name}: the run was made with other benchmark files"
    ) in capsys.readouterr().err


@pytest.mark.slow
def test_judging_after_a_real_run_equals_judging_during_it(
    fake_judge: FakeJudge, medmim_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two lmms-eval runs of the dummy model on the open documents among the first 30: judged during the run, and judged afterwards."""
    fake_judge.verdict_for = lambda prompt: ("0", "0.5", "1")[int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % 3]
    args = ["--model", "dummy", "--model_args", "response=The effusion is smaller.", "--tasks", TASK, "--limit", "30"]
    judge_env = {"MEDMIM_JUDGE_URL": fake_judge.url, "MEDMIM_JUDGE_MODEL": "judge-7b", "MEDMIM_JUDGE_CACHE": str(tmp_path / "cache")}
    during, during_samples = run_lmms_eval(args, offline_env({**medmim_env, **judge_env}, tmp_path), tmp_path / "during")
    asked_during = len(fake_judge.requests)
    # documents come in representative order: the first 30 mix open and multiple-choice items
    assert asked_during == sum(doc["kind"] == OPEN_ENDED for doc in build_docs(TASK, medmim_env)[:30]) >= 10

    plain, _ = run_lmms_eval(args, offline_env(medmim_env, tmp_path), tmp_path / "after")
    assert f"{METRIC},none" not in plain["results"][TASK]
    for name, value in {**judge_env, "MEDMIM_JUDGE_CACHE": str(tmp_path / "cache-after")}.items():
        monkeypatch.setenv(name, value)
    assert main(["judge", str(tmp_path / "after")]) == 0
    assert len(fake_judge.requests) == 2 * asked_during  # asked again: a separate cache, the same prompts

    [results_file] = (tmp_path / "after").rglob("*_results.json")
    after = load_run(results_file)
    expected = {sample[METRIC]["doc_key"]: sample[METRIC]["score"] for sample in during_samples[TASK] if METRIC in sample}
    assert len(expected) == asked_during
    assert after.docs.dropna(subset=[METRIC]).set_index("doc_key")[METRIC].to_dict() == expected
    assert json.loads(results_file.read_text())["results"][TASK][f"{METRIC},none"] == pytest.approx(
        during["results"][TASK][f"{METRIC},none"], abs=1e-12
    )


def test_timeout_caps_a_proxy_tunnel_that_trickles(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An HTTPS judge behind a proxy whose CONNECT answer trickles: the deadline holds before TLS starts."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()
    answer = b"HTTP/1.1 200 Connection established\r\nX-Padding: " + b"x" * 400 + b"\r\n\r\n"
    sent: list[int] = []

    def trickle() -> None:
        connection, _ = listener.accept()
        with connection:
            connection.recv(65536)
            for byte in answer:
                if stop.is_set():
                    return
                try:
                    connection.sendall(bytes([byte]))
                except OSError:  # the client hung up
                    return
                sent.append(byte)
                time.sleep(0.05)

    thread = threading.Thread(target=trickle, daemon=True)
    thread.start()
    monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{listener.getsockname()[1]}")
    monkeypatch.delenv("no_proxy", raising=False)
    monkeypatch.delenv("NO_PROXY", raising=False)
    config = JudgeConfig("https://judge.invalid/v1", "m", None, tmp_path, timeout_s=0.5, attempts=1)
    try:
        with pytest.raises(JudgeError, match=r"no complete answer within 0.5 s"):
            judge_score(config, "q", "a", "r")
        thread.join()  # the trickle ends when the client hangs up
        assert len(sent) < len(answer)  # cut off, not waited out
    finally:
        stop.set()
        thread.join()
        listener.close()


@pytest.mark.slow
def test_a_judge_that_fails_for_good_during_a_run_says_how_to_judge_afterwards(
    fake_judge: FakeJudge, medmim_env: dict[str, str], tmp_path: Path
) -> None:
    """The in-run failure mode: lmms-eval writes no results; its log names the endpoint, the tries and the way out."""
    fake_judge.status = 503
    judge_env = {
        "MEDMIM_JUDGE_URL": fake_judge.url, "MEDMIM_JUDGE_MODEL": "judge-7b", "MEDMIM_JUDGE_CACHE": str(tmp_path / "cache"),
        "MEDMIM_JUDGE_ATTEMPTS": "2", "MEDMIM_JUDGE_BACKOFF": "0",
    }  # fmt: skip
    args = ["--model", "dummy", "--model_args", "response=The effusion is smaller.", "--tasks", TASK, "--limit", "2"]
    with pytest.raises(AssertionError, match=r"(?s)lmms-eval wrote no results file.*HTTP 503.*Gave up after 2 tries.*medmim judge RUN_DIR"):
        run_lmms_eval(args, offline_env({**medmim_env, **judge_env}, tmp_path), tmp_path / "run")
