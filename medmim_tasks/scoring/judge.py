"""Optional LLM judge for open-ended answers, through any OpenAI-compatible chat endpoint.

Off by default. Setting `MEDMIM_JUDGE_URL` turns it on; then every open-ended document also gets
the metric `open_judge` (1 correct, 0.5 partly correct, 0 wrong, as the judge model says).

Environment: the MEDMIM_JUDGE_* variables (URL, MODEL, API_KEY, CACHE, TIMEOUT, ATTEMPTS, BACKOFF,
MAX_TIME), read, checked and documented in medmim_tasks.settings (docs/settings.md).

Retryable failures are HTTP 429 and 5xx, refused or dropped connections and requests over their
time limit; HTTP 4xx, replies that are not chat completions and malformed verdicts are not.

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

import hashlib
import http.client
import json
import re
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from medmim_tasks.atomic_write import write_text_atomically
from medmim_tasks.benchmark.http_deadline import DeadlineExceeded, open_with_deadline
from medmim_tasks.settings import (
    DEFAULT_JUDGE_ATTEMPTS,
    DEFAULT_JUDGE_BACKOFF_S,
    DEFAULT_JUDGE_MAX_TIME_S,
    SettingError,
    setting,
)

URL_VARIABLE = "MEDMIM_JUDGE_URL"
MODEL_VARIABLE = "MEDMIM_JUDGE_MODEL"
API_KEY_VARIABLE = "MEDMIM_JUDGE_API_KEY"
CACHE_VARIABLE = "MEDMIM_JUDGE_CACHE"
TIMEOUT_VARIABLE = "MEDMIM_JUDGE_TIMEOUT"
ATTEMPTS_VARIABLE = "MEDMIM_JUDGE_ATTEMPTS"
BACKOFF_VARIABLE = "MEDMIM_JUDGE_BACKOFF"
MAX_TIME_VARIABLE = "MEDMIM_JUDGE_MAX_TIME"
MAX_REPLY_BYTES = 1 << 20  # a chat completion with a 16-token verdict is a few hundred bytes
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


@dataclass(frozen=True)
class JudgeConfig:
    url: str
    model: str
    api_key: str | None
    cache_dir: Path
    timeout_s: float
    attempts: int = DEFAULT_JUDGE_ATTEMPTS
    backoff_s: float = DEFAULT_JUDGE_BACKOFF_S
    max_time_s: float = DEFAULT_JUDGE_MAX_TIME_S


def judge_config(environ: Mapping[str, str] | None = None) -> JudgeConfig | None:
    """The judge settings from the environment, or None when the judge is off (no MEDMIM_JUDGE_URL)."""
    try:
        return _judge_config(environ)
    except SettingError as error:
        raise JudgeError(str(error)) from None


def _judge_config(environ: Mapping[str, str] | None) -> JudgeConfig | None:
    url: str = setting(URL_VARIABLE, environ)
    if not url:
        return None
    model: str = setting(MODEL_VARIABLE, environ)
    if not model:
        raise JudgeError(
            f"{URL_VARIABLE} is set ({url}) but {MODEL_VARIABLE} is not: set it to the judge model's name, "
            f"or unset {URL_VARIABLE} to turn the judge off."
        )
    return JudgeConfig(
        url=url.rstrip("/"),
        model=model,
        api_key=setting(API_KEY_VARIABLE, environ),
        cache_dir=setting(CACHE_VARIABLE, environ),
        timeout_s=setting(TIMEOUT_VARIABLE, environ),
        attempts=setting(ATTEMPTS_VARIABLE, environ),
        backoff_s=setting(BACKOFF_VARIABLE, environ),
        max_time_s=setting(MAX_TIME_VARIABLE, environ),
    )


def judge_prompt(question: str, reference: str, reply: str) -> str:
    """The single user message the judge model gets."""
    return PROMPT_TEMPLATE.format(question=question.strip(), reference=reference.strip(), reply=reply.strip())


def cache_key(model: str, prompt: str, reply: str) -> str:
    """sha256 of (judge model, judge prompt, reply)."""
    payload = json.dumps([model, prompt, reply], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def parse_score(verdict: str) -> float | None:
    """The score of a well-formed verdict (see the grammar above), or None for anything else."""
    match = _VERDICT.fullmatch(verdict.strip())
    return float(match.group(1)) if match else None


def cache_path(config: JudgeConfig, prompt: str, reply: str) -> Path:
    """The cache file of one verdict."""
    key = cache_key(config.model, prompt, reply)
    return config.cache_dir / key[:2] / f"{key}.json"


def judge_score(
    config: JudgeConfig, question: str, reference: str, reply: str, sleep: Callable[[float], None] = time.sleep
) -> float:
    """The judge's score for one open-ended reply (from the cache when it was asked before)."""
    prompt = judge_prompt(question, reference, reply)
    path = cache_path(config, prompt, reply)
    cached = _read_cache(path)
    if cached is not None:
        return cached
    verdict = _ask_with_retries(config, prompt, sleep)
    score = parse_score(verdict)
    if score is None:
        raise JudgeError(
            f"LLM judge {config.model} at {config.url} answered {verdict[:200]!r}, which is not a verdict "
            "(expected exactly 1, 0.5 or 0, optionally as 'Score: 1'). Use a model that follows the "
            f"instruction, or turn the judge off by unsetting {URL_VARIABLE}."
        )
    _write_cache(path, {"model": config.model, "prompt": prompt, "reply": reply, "verdict": verdict, "score": score})
    return score


def _read_cache(path: Path) -> float | None:
    """The cached score, None when there is none; JudgeError naming the file for a bad entry."""
    try:
        with path.open(encoding="utf-8") as handle:
            entry = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise JudgeError(f"{path}: unreadable judge cache entry ({error}); delete the file to ask again.") from error
    score = entry.get("score") if isinstance(entry, dict) else None
    verdict = entry.get("verdict") if isinstance(entry, dict) else None
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


def _write_cache(path: Path, entry: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(entry, ensure_ascii=False, indent=1))


def _ask_with_retries(config: JudgeConfig, prompt: str, sleep: Callable[[float], None]) -> str:
    """`_ask`, retried with exponential backoff on retryable failures, within the attempt and time budgets."""
    started = time.monotonic()
    delay = config.backoff_s
    for attempt in range(1, config.attempts + 1):
        remaining = config.max_time_s - (time.monotonic() - started)
        try:
            return _ask(config, prompt, min(config.timeout_s, max(remaining, 0.001)))
        except RetryableJudgeError as error:
            waited = time.monotonic() - started
            out_of_time = waited + delay >= config.max_time_s
            if attempt == config.attempts or out_of_time:
                tries = f"{attempt} {'try' if attempt == 1 else 'tries'}"
                budget = (
                    f"{tries} ({ATTEMPTS_VARIABLE}={config.attempts})"
                    if not out_of_time
                    else f"{tries} in {waited:.0f} s ({MAX_TIME_VARIABLE}={config.max_time_s:g})"
                )
                raise JudgeError(
                    f"{error} Gave up after {budget}. The verdicts judged so far are cached; fix the "
                    f"endpoint and judge again, or run without {URL_VARIABLE} and judge the samples "
                    "afterwards with `medmim judge RUN_DIR`."
                ) from error
        sleep(delay)
        delay *= 2
    raise AssertionError("unreachable: the loop returns or raises")


def _ask(config: JudgeConfig, prompt: str, timeout_s: float) -> str:
    """The judge model's reply text; JudgeError when the endpoint cannot be used."""
    body = json.dumps(
        {
            "model": config.model,
            "messages": [{"role": "user", "content": prompt}],
            "temperature": 0,
            "max_tokens": 16,
        }
    ).encode("utf-8")
    headers = {"Content-Type": "application/json"}
    if config.api_key:
        headers["Authorization"] = f"Bearer {config.api_key}"
    endpoint = f"{config.url}/chat/completions"
    request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
    try:
        with open_with_deadline(request, timeout_s) as response:
            raw = response.read(MAX_REPLY_BYTES + 1)
    except urllib.error.HTTPError as error:
        detail = error.read(300).decode("utf-8", "replace")
        message = f"LLM judge at {endpoint} answered HTTP {error.code}: {detail}"
        if error.code == 429 or error.code >= 500:
            raise RetryableJudgeError(message) from error
        raise JudgeError(message) from error
    except DeadlineExceeded as error:
        raise RetryableJudgeError(
            f"LLM judge at {endpoint} gave no complete answer within {timeout_s:g} s ({TIMEOUT_VARIABLE})."
        ) from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        raise RetryableJudgeError(
            f"LLM judge at {endpoint} is unreachable ({reason}). Start the endpoint, fix {URL_VARIABLE}, "
            f"or unset {URL_VARIABLE} to run without the judge."
        ) from error
    if len(raw) > MAX_REPLY_BYTES:
        raise JudgeError(f"LLM judge at {endpoint} sent more than {MAX_REPLY_BYTES} bytes; is it OpenAI-compatible?")
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise JudgeError(
            f"LLM judge at {endpoint} returned no chat completion ({raw[:200]!r}); is it OpenAI-compatible?"
        ) from error
    if not isinstance(content, str):
        raise JudgeError(f"LLM judge at {endpoint} returned non-text content {content!r}.")
    return content
