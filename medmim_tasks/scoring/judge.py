"""Optional LLM judge for open-ended answers, through any OpenAI-compatible chat endpoint.

Off by default. Setting `MEDMIM_JUDGE_URL` turns it on; then every open-ended document also gets
the metric `open_judge` (1 correct, 0.5 partly correct, 0 wrong, as the judge model says).

Environment: the MEDMIM_JUDGE_* variables (URL, MODEL, API_KEY, CACHE, TIMEOUT, ATTEMPTS, BACKOFF,
MAX_TIME), read, checked and documented in medmim_tasks.settings (docs/settings.md).

Requests, retries, deadlines and the disk cache are medmim_tasks.scoring.chat_client's (shared with
the model-assisted letter fallback). Retryable failures are HTTP 429 and 5xx, refused or dropped
connections and requests over their time limit; HTTP 4xx, replies that are not chat completions
and malformed verdicts are not.

The judge must answer with one verdict in the grammar `[Score:] 1 | 0.5 | 0 [.]` (case and the
surrounding white space are free, `1.0`, `0.0` and `.5` are accepted); anything else ("Score: 1/2",
"1 (mostly correct)") is an error naming the reply. The prompt asks for exactly this.

Verdicts are cached on disk by (judge model, judge prompt, reply), one JSON file each, written
atomically, so a rerun asks nothing again and gives the same numbers. The judge prompt holds the
question, the gold answer and the reply. An unreachable endpoint after its retries, a
non-retryable HTTP error, a malformed verdict or a cache entry that is not a well-formed verdict
raises JudgeError: the judge never falls back silently. Inside an lmms-eval run such an error stops
the run before it writes results or samples; the recommended way is to run without
MEDMIM_JUDGE_URL and judge the samples afterwards with `medmim judge RUN_DIR`
(medmim_tasks.scoring.judge_run).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from medmim_tasks.scoring.chat_client import (
    ChatConfig,
    ChatService,
    ask_with_retries,
    cache_key,
    cache_path,
    chat_config,
    read_cache_entry,
    write_cache_entry,
)

__all__ = ["JudgeConfig", "JudgeError", "cache_key", "cache_path", "judge_config", "judge_score"]

URL_VARIABLE = "MEDMIM_JUDGE_URL"
MODEL_VARIABLE = "MEDMIM_JUDGE_MODEL"
API_KEY_VARIABLE = "MEDMIM_JUDGE_API_KEY"
CACHE_VARIABLE = "MEDMIM_JUDGE_CACHE"
TIMEOUT_VARIABLE = "MEDMIM_JUDGE_TIMEOUT"
ATTEMPTS_VARIABLE = "MEDMIM_JUDGE_ATTEMPTS"
BACKOFF_VARIABLE = "MEDMIM_JUDGE_BACKOFF"
MAX_TIME_VARIABLE = "MEDMIM_JUDGE_MAX_TIME"
METRIC = "open_judge"
SCORES = (0.0, 0.5, 1.0)

PROMPT_TEMPLATE = """You are grading an answer to a medical visual question. You cannot see the images; judge only whether the candidate answer agrees with the reference answer.

Question: {question}
Reference answer: {reference}
Candidate answer: {reply}

Reply with exactly one of these three numbers and nothing else: 1 if the candidate answer is correct (it states the same findings as the reference), 0.5 if it is partly correct, 0 if it is wrong, contradicts the reference or does not answer."""

# The verdict grammar: optional "Score:", one of the three scores, an optional final period.
# matched against the stripped reply: no two unbounded repeats side by side (linear time)
_VERDICT = re.compile(r"(?:score\s*:\s*)?(1(?:\.0)?|0?\.5|0(?:\.0)?)(?:\s*\.)?", re.IGNORECASE)


class JudgeError(RuntimeError):
    """The LLM judge is on but cannot give a verdict (unreachable, misconfigured, unparsable reply)."""


class RetryableJudgeError(JudgeError):
    """A failure another try may cure: HTTP 429 or 5xx, a refused or dropped connection, a timeout."""


JudgeConfig = ChatConfig  # the judge's settings (one ChatConfig, read by judge_config)

JUDGE = ChatService(
    label="LLM judge",
    prefix="MEDMIM_JUDGE",
    model_role="the judge model's name",
    off_hint="to turn the judge off",
    give_up_hint=(
        "The verdicts judged so far are cached; fix the endpoint and judge again, or run without "
        f"{URL_VARIABLE} and judge the samples afterwards with `medmim judge RUN_DIR`."
    ),
    error=JudgeError,
    retryable=RetryableJudgeError,
)


def judge_config(environ: Mapping[str, str] | None = None) -> JudgeConfig | None:
    """The judge settings from the environment, or None when the judge is off (no MEDMIM_JUDGE_URL)."""
    return chat_config(JUDGE, environ)


def judge_prompt(question: str, reference: str, reply: str) -> str:
    """The single user message the judge model gets."""
    return PROMPT_TEMPLATE.format(question=question.strip(), reference=reference.strip(), reply=reply.strip())


def parse_score(verdict: str) -> float | None:
    """The score of a well-formed verdict (see the grammar above), or None for anything else."""
    match = _VERDICT.fullmatch(verdict.strip())
    return float(match.group(1)) if match else None


def judge_score(
    config: JudgeConfig, question: str, reference: str, reply: str, sleep: Callable[[float], None] = time.sleep
) -> float:
    """The judge's score for one open-ended reply (from the cache when it was asked before)."""
    prompt = judge_prompt(question, reference, reply)
    path = cache_path(config, prompt, reply)
    cached = _read_cache(path)
    if cached is not None:
        return cached
    verdict = ask_with_retries(JUDGE, config, prompt, sleep)
    score = parse_score(verdict)
    if score is None:
        raise JudgeError(
            f"LLM judge {config.model} at {config.url} answered {verdict[:200]!r}, which is not a verdict "
            "(expected exactly 1, 0.5 or 0, optionally as 'Score: 1'). Use a model that follows the "
            f"instruction, or turn the judge off by unsetting {URL_VARIABLE}."
        )
    write_cache_entry(path, {"model": config.model, "prompt": prompt, "reply": reply, "verdict": verdict, "score": score})
    return score


def _read_cache(path: Path) -> float | None:
    """The cached score, None when there is none; JudgeError naming the file for a bad entry."""
    entry = read_cache_entry(JUDGE, path)
    if entry is None:
        return None
    score, verdict = entry.get("score"), entry.get("verdict")
    if not (
        isinstance(score, (int, float))
        and not isinstance(score, bool)
        and score in SCORES
        and isinstance(verdict, str)
        and parse_score(verdict) == score
    ):
        raise JudgeError(
            f"{path}: judge cache entry is not a well-formed verdict (score {score!r} from verdict {verdict!r}; "
            "expected a score of 1, 0.5 or 0 that its verdict states); delete the file to ask again."
        )
    return float(score)
