"""One question to an OpenAI-compatible chat endpoint, with retries, a deadline and a disk cache.

Shared by the LLM judge (medmim_tasks.scoring.judge) and the model-assisted letter fallback
(medmim_tasks.scoring.assisted). Each names itself with a ChatService: its label in messages, its
`MEDMIM_<PREFIX>_*` variables (URL, MODEL, API_KEY, CACHE, TIMEOUT, ATTEMPTS, BACKOFF, MAX_TIME,
rows of medmim_tasks.settings), the hint a failure ends with and its error classes.

Retryable failures are HTTP 429 and 5xx, refused or dropped connections and requests over their
time limit; HTTP 4xx and replies that are not chat completions are not. Every request is sent with
temperature 0 and a short token limit. Answers are cached by (model, prompt, reply), one JSON file
each, written atomically; what an entry must hold is the caller's to check.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from medmim_tasks.atomic_write import write_text_atomically
from medmim_tasks.benchmark.http_deadline import DeadlineExceeded, open_with_deadline
from medmim_tasks.settings import (
    DEFAULT_JUDGE_ATTEMPTS,
    DEFAULT_JUDGE_BACKOFF_S,
    DEFAULT_JUDGE_MAX_TIME_S,
    SettingError,
    setting,
)

MAX_REPLY_BYTES = 1 << 20  # a chat completion with a 16-token answer is a few hundred bytes
MAX_TOKENS = 16


@dataclass(frozen=True)
class ChatConfig:
    url: str
    model: str
    api_key: str | None
    cache_dir: Path
    timeout_s: float
    attempts: int = DEFAULT_JUDGE_ATTEMPTS
    backoff_s: float = DEFAULT_JUDGE_BACKOFF_S
    max_time_s: float = DEFAULT_JUDGE_MAX_TIME_S


@dataclass(frozen=True)
class ChatService:
    """Who asks: the label in messages, the variable prefix, the hints and the error classes."""

    label: str  # "LLM judge"
    prefix: str  # "MEDMIM_JUDGE": its variables are MEDMIM_JUDGE_URL, ..._MODEL, ...
    model_role: str  # "the judge model's name"
    off_hint: str  # "to turn the judge off"
    give_up_hint: str  # the end of the message when the retries are spent
    error: type[RuntimeError]
    retryable: type[RuntimeError]  # a subclass of `error`

    def variable(self, suffix: str) -> str:
        return f"{self.prefix}_{suffix}"


def chat_config(service: ChatService, environ: Mapping[str, str] | None = None) -> ChatConfig | None:
    """The service's settings from the environment, or None when it is off (no URL)."""
    try:
        url: str = setting(service.variable("URL"), environ)
        if not url:
            return None
        model: str = setting(service.variable("MODEL"), environ)
        if not model:
            raise service.error(
                f"{service.variable('URL')} is set ({url}) but {service.variable('MODEL')} is not: set it to "
                f"{service.model_role}, or unset {service.variable('URL')} {service.off_hint}."
            )
        return ChatConfig(
            url=url.rstrip("/"),
            model=model,
            api_key=setting(service.variable("API_KEY"), environ),
            cache_dir=setting(service.variable("CACHE"), environ),
            timeout_s=setting(service.variable("TIMEOUT"), environ),
            attempts=setting(service.variable("ATTEMPTS"), environ),
            backoff_s=setting(service.variable("BACKOFF"), environ),
            max_time_s=setting(service.variable("MAX_TIME"), environ),
        )
    except SettingError as error:
        raise service.error(str(error)) from None


def cache_key(model: str, prompt: str, reply: str) -> str:
    """sha256 of (model, prompt, reply)."""
    payload = json.dumps([model, prompt, reply], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def cache_path(config: ChatConfig, prompt: str, reply: str) -> Path:
    """The cache file of one answer."""
    key = cache_key(config.model, prompt, reply)
    return config.cache_dir / key[:2] / f"{key}.json"


def read_cache_entry(service: ChatService, path: Path) -> dict[str, Any] | None:
    """The cached entry, None when there is none; the service's error naming the file for an unreadable one."""
    try:
        with path.open(encoding="utf-8") as handle:
            entry = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as error:
        raise service.error(f"{path}: unreadable {service.label} cache entry ({error}); delete the file to ask again.") from error
    return entry if isinstance(entry, dict) else {}


def write_cache_entry(path: Path, entry: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomically(path, json.dumps(entry, ensure_ascii=False, indent=1))


def ask_with_retries(
    service: ChatService, config: ChatConfig, prompt: str, sleep: Callable[[float], None] = time.sleep
) -> str:
    """`ask`, retried with exponential backoff on retryable failures, within the attempt and time budgets."""
    started = time.monotonic()
    delay = config.backoff_s
    for attempt in range(1, config.attempts + 1):
        remaining = config.max_time_s - (time.monotonic() - started)
        try:
            return ask(service, config, prompt, min(config.timeout_s, max(remaining, 0.001)))
        except service.retryable as error:
            waited = time.monotonic() - started
            out_of_time = waited + delay >= config.max_time_s
            if attempt == config.attempts or out_of_time:
                tries = f"{attempt} {'try' if attempt == 1 else 'tries'}"
                budget = (
                    f"{tries} ({service.variable('ATTEMPTS')}={config.attempts})"
                    if not out_of_time
                    else f"{tries} in {waited:.0f} s ({service.variable('MAX_TIME')}={config.max_time_s:g})"
                )
                raise service.error(f"{error} Gave up after {budget}. {service.give_up_hint}") from error
        sleep(delay)
        delay *= 2
    raise AssertionError("unreachable: the loop returns or raises")


def ask(service: ChatService, config: ChatConfig, prompt: str, timeout_s: float) -> str:
    """The model's reply text to one user message; the service's error when the endpoint cannot be used."""
    body = json.dumps(
        {"model": config.model, "messages": [{"role": "user", "content": prompt}], "temperature": 0, "max_tokens": MAX_TOKENS}
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
        message = f"{service.label} at {endpoint} answered HTTP {error.code}: {detail}"
        if error.code == 429 or error.code >= 500:
            raise service.retryable(message) from error
        raise service.error(message) from error
    except DeadlineExceeded as error:
        raise service.retryable(
            f"{service.label} at {endpoint} gave no complete answer within {timeout_s:g} s ({service.variable('TIMEOUT')})."
        ) from error
    except (urllib.error.URLError, OSError, http.client.HTTPException) as error:
        reason = getattr(error, "reason", error)
        url_variable = service.variable("URL")
        raise service.retryable(
            f"{service.label} at {endpoint} is unreachable ({reason}). Start the endpoint, fix {url_variable}, "
            f"or unset {url_variable} {service.off_hint}."
        ) from error
    return _content(service, endpoint, raw)


def _content(service: ChatService, endpoint: str, raw: bytes) -> str:
    if len(raw) > MAX_REPLY_BYTES:
        raise service.error(f"{service.label} at {endpoint} sent more than {MAX_REPLY_BYTES} bytes; is it OpenAI-compatible?")
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise service.error(
            f"{service.label} at {endpoint} returned no chat completion ({raw[:200]!r}); is it OpenAI-compatible?"
        ) from error
    if not isinstance(content, str):
        raise service.error(f"{service.label} at {endpoint} returned non-text content {content!r}.")
    return content
