"""Optional LLM judge for open-ended answers, through any OpenAI-compatible chat endpoint.

Off by default. Setting `MEDMIM_JUDGE_URL` turns it on; then every open-ended document also gets
the metric `open_judge` (1 correct, 0.5 partly correct, 0 wrong, as the judge model says).

Environment:
- MEDMIM_JUDGE_URL      base URL of the API, e.g. http://localhost:8000/v1 (POST {url}/chat/completions)
- MEDMIM_JUDGE_MODEL    model name sent to the endpoint (required when the URL is set)
- MEDMIM_JUDGE_API_KEY  bearer token, if the endpoint wants one (optional)
- MEDMIM_JUDGE_CACHE    cache folder (default ~/.cache/medmim/judge)
- MEDMIM_JUDGE_TIMEOUT  seconds per request (default 60)

Verdicts are cached on disk by (judge model, judge prompt, reply), one JSON file each, written
atomically, so a rerun asks nothing again and gives the same numbers. The judge prompt holds the
question, the gold answer and the reply. An unreachable endpoint, an HTTP error or a verdict
without a score raises JudgeError: the judge never falls back silently.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import urllib.error
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

URL_VARIABLE = "MEDMIM_JUDGE_URL"
MODEL_VARIABLE = "MEDMIM_JUDGE_MODEL"
API_KEY_VARIABLE = "MEDMIM_JUDGE_API_KEY"
CACHE_VARIABLE = "MEDMIM_JUDGE_CACHE"
TIMEOUT_VARIABLE = "MEDMIM_JUDGE_TIMEOUT"
DEFAULT_CACHE_DIR = "~/.cache/medmim/judge"
DEFAULT_TIMEOUT_S = 60.0
METRIC = "open_judge"

PROMPT_TEMPLATE = """You are grading an answer to a medical visual question. You cannot see the images; judge only whether the candidate answer agrees with the reference answer.

Question: {question}
Reference answer: {reference}
Candidate answer: {reply}

Reply with one number and nothing else: 1 if the candidate answer is correct (it states the same findings as the reference), 0.5 if it is partly correct, 0 if it is wrong, contradicts the reference or does not answer."""

_SCORE = re.compile(r"(?<![\d.])(1(?:\.0+)?|0?\.50*|0(?:\.0+)?)(?!\d|\.\d)")


class JudgeError(RuntimeError):
    """The LLM judge is on but cannot give a verdict (unreachable, misconfigured, unparsable reply)."""


@dataclass(frozen=True)
class JudgeConfig:
    url: str
    model: str
    api_key: str | None
    cache_dir: Path
    timeout_s: float


def judge_config(environ: Mapping[str, str] | None = None) -> JudgeConfig | None:
    """The judge settings from the environment, or None when the judge is off (no MEDMIM_JUDGE_URL)."""
    env = os.environ if environ is None else environ
    url = (env.get(URL_VARIABLE) or "").strip()
    if not url:
        return None
    model = (env.get(MODEL_VARIABLE) or "").strip()
    if not model:
        raise JudgeError(
            f"{URL_VARIABLE} is set ({url}) but {MODEL_VARIABLE} is not: set it to the judge model's name, "
            f"or unset {URL_VARIABLE} to turn the judge off."
        )
    timeout_text = (env.get(TIMEOUT_VARIABLE) or "").strip()
    try:
        timeout_s = float(timeout_text) if timeout_text else DEFAULT_TIMEOUT_S
    except ValueError:
        raise JudgeError(f"{TIMEOUT_VARIABLE}={timeout_text!r} is not a number of seconds.") from None
    if timeout_s <= 0:
        raise JudgeError(f"{TIMEOUT_VARIABLE}={timeout_text!r} must be a positive number of seconds.")
    return JudgeConfig(
        url=url.rstrip("/"),
        model=model,
        api_key=(env.get(API_KEY_VARIABLE) or "").strip() or None,
        cache_dir=Path(env.get(CACHE_VARIABLE) or DEFAULT_CACHE_DIR).expanduser(),
        timeout_s=timeout_s,
    )


def judge_prompt(question: str, reference: str, reply: str) -> str:
    """The single user message the judge model gets."""
    return PROMPT_TEMPLATE.format(question=question.strip(), reference=reference.strip(), reply=reply.strip())


def cache_key(model: str, prompt: str, reply: str) -> str:
    """sha256 of (judge model, judge prompt, reply)."""
    payload = json.dumps([model, prompt, reply], ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def parse_score(verdict: str) -> float | None:
    """The 0 / 0.5 / 1 score in the judge's reply, or None when it holds none."""
    match = _SCORE.search(verdict)
    return float(match.group(1)) if match else None


def judge_score(config: JudgeConfig, question: str, reference: str, reply: str) -> float:
    """The judge's score for one open-ended reply (from the cache when it was asked before)."""
    prompt = judge_prompt(question, reference, reply)
    key = cache_key(config.model, prompt, reply)
    path = config.cache_dir / key[:2] / f"{key}.json"
    cached = _read_cache(path)
    if cached is not None:
        return cached
    verdict = _ask(config, prompt)
    score = parse_score(verdict)
    if score is None:
        raise JudgeError(
            f"LLM judge {config.model} at {config.url} answered {verdict[:200]!r}, which holds no score "
            "(expected 1, 0.5 or 0). Use a model that follows the instruction, or turn the judge off by "
            f"unsetting {URL_VARIABLE}."
        )
    _write_cache(path, {"model": config.model, "prompt": prompt, "reply": reply, "verdict": verdict, "score": score})
    return score


def _read_cache(path: Path) -> float | None:
    try:
        with path.open(encoding="utf-8") as handle:
            entry = json.load(handle)
    except FileNotFoundError:
        return None
    except (OSError, json.JSONDecodeError) as error:
        raise JudgeError(f"{path}: unreadable judge cache entry ({error}); delete the file to ask again.") from error
    score = entry.get("score") if isinstance(entry, dict) else None
    if not isinstance(score, (int, float)):
        raise JudgeError(f"{path}: judge cache entry has no numeric 'score'; delete the file to ask again.")
    return float(score)


def _write_cache(path: Path, entry: dict[str, object]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(entry, handle, ensure_ascii=False, indent=1)
        os.replace(temporary, path)  # atomic: concurrent writers of one key leave one whole file
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _ask(config: JudgeConfig, prompt: str) -> str:
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
        with urllib.request.urlopen(request, timeout=config.timeout_s) as response:
            raw = response.read()
    except urllib.error.HTTPError as error:
        detail = error.read()[:300].decode("utf-8", "replace")
        raise JudgeError(f"LLM judge at {endpoint} answered HTTP {error.code}: {detail}") from error
    except (urllib.error.URLError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise JudgeError(
            f"LLM judge at {endpoint} is unreachable ({reason}). Start the endpoint, fix {URL_VARIABLE}, "
            f"or unset {URL_VARIABLE} to run without the judge."
        ) from error
    try:
        content = json.loads(raw)["choices"][0]["message"]["content"]
    except (ValueError, KeyError, IndexError, TypeError) as error:
        raise JudgeError(
            f"LLM judge at {endpoint} returned no chat completion ({raw[:200]!r}); is it OpenAI-compatible?"
        ) from error
    if not isinstance(content, str):
        raise JudgeError(f"LLM judge at {endpoint} returned non-text content {content!r}.")
    return content
