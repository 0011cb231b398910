"""The model-assisted letter fallback against a loopback OpenAI-compatible server: opt-in, cached, strict, loud when broken."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
from run_samples import ODIR, ODIR_MC_SOURCE, TEMPORAL, mc_doc, open_doc, write_run
from test_judge import FakeJudge, _free_port

from medmim_tasks.benchmark.items import load_split
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.cli.main import main
from medmim_tasks.results.report import build_report
from medmim_tasks.results.run_files import samples_file
from medmim_tasks.results.runs import load_run, load_runs
from medmim_tasks.scoring.assisted import (
    ACC_METRIC,
    SHARE_METRIC,
    AssistError,
    assist_config,
    assist_prompt,
    assisted_letter,
    parse_answer,
)
from medmim_tasks.scoring.chat_client import ChatConfig, cache_path

OPTIONS = {"A": "Decreased bilateral lung opacities", "B": "Increased bilateral lung opacities", "C": "No change", "D": "New effusion"}
LETTERS = tuple(OPTIONS)
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def fake_judge() -> Iterator[FakeJudge]:
    with closing(FakeJudge()) as server:  # the judge's fake endpoint
        yield server


@pytest.fixture
def config(fake_judge: FakeJudge, tmp_path: Path) -> ChatConfig:
    return ChatConfig(fake_judge.url, "judge-7b", None, tmp_path / "cache", timeout_s=5, attempts=3, backoff_s=0)


def test_off_by_default_and_configured_by_environment(tmp_path: Path) -> None:
    assert assist_config({}) is None
    assert assist_config({"MEDMIM_JUDGE_URL": "http://x/v1", "MEDMIM_JUDGE_MODEL": "m"}) is None  # the judge's URL is not the assist's
    config = assist_config({"MEDMIM_ASSIST_URL": "http://localhost:8000/v1/", "MEDMIM_ASSIST_MODEL": "qwen", "MEDMIM_ASSIST_CACHE": str(tmp_path)})
    assert config == ChatConfig("http://localhost:8000/v1", "qwen", None, tmp_path, 60.0)
    with pytest.raises(AssistError, match="MEDMIM_ASSIST_MODEL"):
        assist_config({"MEDMIM_ASSIST_URL": "http://localhost:8000/v1"})
    with pytest.raises(AssistError, match="MEDMIM_ASSIST_URL='ftp://x'.*assisted fallback off"):
        assist_config({"MEDMIM_ASSIST_URL": "ftp://x", "MEDMIM_ASSIST_MODEL": "m"})


@pytest.mark.parametrize(
    ("answer", "parsed"),
    [
        ("B", (True, "B")), (" b. ", (True, "B")), ("(C)", (True, "C")), ("Answer: D", (True, "D")),
        ("none", (True, None)), ("None.", (True, None)),
        ("E", (False, None)),  # a letter outside the options is not an abstention
        ("B or C", (False, None)), ("I think B", (False, None)), ("", (False, None)), ("AB", (False, None)),
    ],
)
def test_answer_grammar_is_strict(answer: str, parsed: tuple[bool, str | None]) -> None:
    assert parse_answer(answer, LETTERS) == parsed


def test_asks_once_with_options_and_reply_only_at_temperature_zero_then_serves_the_cache(fake_judge: FakeJudge, config: ChatConfig) -> None:
    fake_judge.verdict = "B"
    reply = "More widespread opacities in both lungs."
    assert assisted_letter(config, OPTIONS, reply) == "B"
    assert assisted_letter(config, OPTIONS, reply) == "B"
    assert len(fake_judge.requests) == 1
    body = fake_judge.requests[0]["body"]
    assert body["temperature"] == 0 and body["model"] == "judge-7b"
    assert body["messages"] == [{"role": "user", "content": assist_prompt(OPTIONS, reply)}]
    assert all(text in body["messages"][0]["content"] for text in OPTIONS.values())
    fake_judge.verdict = "none"
    assert assisted_letter(config, OPTIONS, "I cannot tell.") is None
    assert assisted_letter(config, OPTIONS, "I cannot tell.") is None and len(fake_judge.requests) == 2


@pytest.mark.parametrize("answer", ["E", "B or C", "The answer is B"])
def test_a_malformed_answer_or_a_letter_outside_the_options_is_an_error(fake_judge: FakeJudge, config: ChatConfig, answer: str) -> None:
    fake_judge.verdict = answer
    with pytest.raises(AssistError, match=re.escape(repr(answer)) + r".*not one of the options' letters \(A, B, C, D\) or 'none'"):
        assisted_letter(config, OPTIONS, "a reply")
    assert not list(config.cache_dir.rglob("*.json"))  # nothing cached


def test_unreachable_and_failing_endpoints_are_errors_naming_the_url(fake_judge: FakeJudge, config: ChatConfig, tmp_path: Path) -> None:
    down = ChatConfig(f"http://127.0.0.1:{_free_port()}/v1", "m", None, tmp_path / "c", 1, attempts=2, backoff_s=0)
    with pytest.raises(AssistError, match=r"127\.0\.0\.1.*unreachable.*MEDMIM_ASSIST_URL.*Gave up after 2 tries.*medmim assist"):
        assisted_letter(down, OPTIONS, "a reply")
    fake_judge.status = 500
    with pytest.raises(AssistError, match=r"HTTP 500.*Gave up after 3 tries \(MEDMIM_ASSIST_ATTEMPTS=3\)"):
        assisted_letter(config, OPTIONS, "a reply")
    assert len(fake_judge.requests) == 3


def test_a_bad_cache_entry_is_an_error_naming_the_file(fake_judge: FakeJudge, config: ChatConfig) -> None:
    fake_judge.verdict = "B"
    assisted_letter(config, OPTIONS, "a reply")
    path = cache_path(config, assist_prompt(OPTIONS, "a reply"), "a reply")
    entry = json.loads(path.read_text())
    path.write_text(json.dumps({**entry, "letter": "C"}))  # its answer says B
    with pytest.raises(AssistError, match=re.escape(str(path)) + ".*delete the file"):
        assisted_letter(config, OPTIONS, "a reply")


# `medmim assist RUN_DIR` on a constructed run


ANSWERS = {"widespread opacities": "B", "it is the third": "C", "hard to say": "none", "(c) i guess": "(c)"}


def _undecided(gold: str, reply: str) -> dict[str, object]:
    doc = mc_doc(False, gold=gold)
    doc.update(parsed=None, reply=reply)
    doc["scores"]["mc_parsed"] = 0.0
    return doc


def _constructed_run(folder: Path) -> Path:
    """7 MC documents (3 decided by the rules, 2 right) and one open document, options logged with each sample."""
    docs = [
        mc_doc(True, gold="A"), mc_doc(True, gold="B"), mc_doc(False, gold="C"),  # the rules decided: never sent
        _undecided("B", "widespread opacities"),  # the model: B, right
        _undecided("A", "it is the third"),  # the model: C, wrong
        _undecided("D", "hard to say"),  # the model: none
        _undecided("C", "(c) i guess"),  # the model: C, right
        open_doc(0.5),  # open-ended: never sent
    ]
    results_file = write_run(folder, {TEMPORAL: docs, ODIR: [mc_doc(True, source=ODIR_MC_SOURCE, dataset="ODIR")]})
    for task in (TEMPORAL, ODIR):
        sample_file = samples_file(results_file, task)
        samples = [json.loads(line) for line in sample_file.read_text().splitlines()]
        for sample in samples:
            key = next(value["doc_key"] for value in sample.values() if isinstance(value, dict) and "kind" in value)
            sample["doc"] = {"doc_key": key, "options": [{"letter": k, "text": v} for k, v in OPTIONS.items()]}
        sample_file.write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    return results_file


def _assist_env(monkeypatch: pytest.MonkeyPatch, url: str, cache: Path) -> None:
    monkeypatch.setenv("MEDMIM_ASSIST_URL", url)
    monkeypatch.setenv("MEDMIM_ASSIST_MODEL", "assist-7b")
    monkeypatch.setenv("MEDMIM_ASSIST_CACHE", str(cache))
    monkeypatch.setenv("MEDMIM_ASSIST_BACKOFF", "0")


def _answer(prompt: str) -> str:
    return next(answer for reply, answer in ANSWERS.items() if f"Reply:\n{reply}\n" in prompt)


def test_assist_after_the_run_sends_only_undecided_replies_and_adds_both_metrics(
    fake_judge: FakeJudge, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results_file = _constructed_run(tmp_path / "run")
    mc_acc_before = json.loads(results_file.read_text())["results"][TEMPORAL]["mc_acc,none"]
    _assist_env(monkeypatch, fake_judge.url, tmp_path / "cache")
    fake_judge.verdict_for = _answer
    assert main(["assist", str(tmp_path / "run")]) == 0
    assert f"{TEMPORAL}: 7 multiple-choice documents, 4 undecided by the rules asked, 3 decided by the model" in capsys.readouterr().out
    sent = sorted(request["body"]["messages"][0]["content"] for request in fake_judge.requests)
    assert sent == sorted(assist_prompt(OPTIONS, reply) for reply in ANSWERS)  # only the rules' None replies

    results = json.loads(results_file.read_text())
    assert results["results"][TEMPORAL]["mc_acc,none"] == mc_acc_before == pytest.approx(2 / 7)  # rules-only, untouched
    assert results["results"][TEMPORAL][f"{ACC_METRIC},none"] == pytest.approx(4 / 7)
    assert results["results"][TEMPORAL][f"{SHARE_METRIC},none"] == pytest.approx(3 / 7)
    assert results["results"][ODIR][f"{ACC_METRIC},none"] == 1.0 and results["results"][ODIR][f"{SHARE_METRIC},none"] == 0.0
    assert results["medmim_assist"]["asked"] == {TEMPORAL: 4, ODIR: 0}
    docs = load_run(results_file).docs.set_index("doc_key")  # consistent files: what `medmim report` reads
    assert docs.loc[f"{TEMPORAL}:7", ACC_METRIC] != docs.loc[f"{TEMPORAL}:7", ACC_METRIC]  # NaN: open-ended
    assert docs.loc[[f"{TEMPORAL}:{i}" for i in range(7)], ACC_METRIC].tolist() == [1, 1, 0, 1, 0, 0, 1]
    assert {ACC_METRIC, SHARE_METRIC} <= set(build_report(load_runs([tmp_path / "run"])).metrics)

    fake_judge.requests.clear()  # again: every letter from the cache, the same numbers
    assert main(["assist", str(results_file)]) == 0
    assert fake_judge.requests == []
    assert json.loads(results_file.read_text())["results"][TEMPORAL][f"{ACC_METRIC},none"] == pytest.approx(4 / 7)


def test_an_unreachable_endpoint_fails_the_command_and_changes_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    results_file = _constructed_run(tmp_path / "run")
    files = sorted((tmp_path / "run").iterdir())
    contents = [path.read_bytes() for path in files]
    url = f"http://127.0.0.1:{_free_port()}/v1"
    _assist_env(monkeypatch, url, tmp_path / "cache")
    monkeypatch.setenv("MEDMIM_ASSIST_ATTEMPTS", "1")
    assert main(["assist", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err
    assert str(results_file) in err and url in err and "unreachable" in err and "Nothing of this run was changed" in err
    assert [path.read_bytes() for path in files] == contents


def test_assist_command_explains_a_missing_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MEDMIM_ASSIST_URL", raising=False)
    assert main(["assist", str(tmp_path)]) == 2
    assert "set MEDMIM_ASSIST_URL" in capsys.readouterr().err


def test_options_come_from_the_benchmark_when_no_document_was_logged(
    fake_judge: FakeJudge, benchmark_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    task = next(split.task for split in SPLITS if any(item.gold_letter for item in load_split(split)))
    items = [item for item in load_split(next(s for s in SPLITS if s.task == task)) if item.gold_letter][:2]
    docs = []
    for item in items:
        doc = _undecided(str(item.gold_letter), "widespread opacities")
        docs.append(doc)
    results_file = write_run(tmp_path / "run", {task: docs})
    sample_file = samples_file(results_file, task)  # doc keys of the real items
    samples = [json.loads(line) for line in sample_file.read_text().splitlines()]
    for sample, item in zip(samples, items):
        for value in sample.values():
            if isinstance(value, dict) and "doc_key" in value:
                value["doc_key"] = f"{task}:{item.index}"
    sample_file.write_text("".join(json.dumps(sample) + "\n" for sample in samples))
    _assist_env(monkeypatch, fake_judge.url, tmp_path / "cache")
    fake_judge.verdict = "none"
    assert main(["assist", str(results_file)]) == 0
    prompts = sorted(request["body"]["messages"][0]["content"] for request in fake_judge.requests)
    assert prompts == sorted(assist_prompt(dict(item.options), "widespread opacities") for item in items)


def test_no_assisted_metric_name_contains_another_metric_name() -> None:
    """lmms-eval matches group metric names by substring: mc_acc_assisted would collide with mc_acc."""
    listed = set(re.findall(r"metric: (\w+)", "".join(p.read_text() for p in (REPO_ROOT / "yaml_tasks").glob("*yaml"))))
    assert "mc_acc" in listed
    for new in (ACC_METRIC, SHARE_METRIC):
        assert not [name for name in listed | {ACC_METRIC, SHARE_METRIC} if name != new and (name in new or new in name)]
