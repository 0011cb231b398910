"""Every `MEDMIM_*` environment variable the package reads: one table, one reader, one docs page.

Each variable has a row in SETTINGS: its default, what it does, whether it changes results (a sweep
hashes and records those, see medmim_tasks.runners.sweep_plan) and the parser that turns its text into a value
or raises SettingError naming the variable and the fix. Modules read a variable with
`setting(name, environ)` (the parsed value) or `raw_setting(name, environ)` (its text, to say where a
value came from); both take an explicit mapping for tests and default to this process's environment.

docs/settings.md is generated from the table: `python -m medmim_tasks.settings --markdown`.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

PROMPT_VARIANTS = ("default", "published")
ON_MISSING_ERROR = "error"
ON_MISSING_SKIP = "skip"
ON_MISSING_CHOICES = (ON_MISSING_ERROR, ON_MISSING_SKIP)
DEFAULT_BENCHMARK_DIR = "~/.cache/medmim/benchmark"
DEFAULT_IMAGE_ROOT = "~/.cache/medmim/images"
DEFAULT_SANITY_DIR = "~/.cache/medmim/sanity"
DEFAULT_TINY_MODEL_DIR = "~/.cache/medmim/tiny-llava"
DEFAULT_JUDGE_CACHE_DIR = "~/.cache/medmim/judge"
DEFAULT_ASSIST_CACHE_DIR = "~/.cache/medmim/assist"
DEFAULT_THUMBNAIL_CACHE_DIR = "~/.cache/medmim/thumbnails"
DEFAULT_JUDGE_TIMEOUT_S = 60.0
DEFAULT_JUDGE_ATTEMPTS = 5
DEFAULT_JUDGE_BACKOFF_S = 1.0
DEFAULT_JUDGE_MAX_TIME_S = 300.0
DEFAULT_PREFETCH_BYTES = "128M"
_BYTE_UNITS = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
_YES = {"1", "true", "yes", "on"}
_NO = {"", "0", "false", "no", "off"}


class SettingError(ValueError):
    """A `MEDMIM_*` variable whose value cannot be used; the message names it and the fix."""


class FromTaskYaml(Enum):
    """MEDMIM_MAX_IMAGE_SIDE unset: the task YAML's max_image_side applies."""

    FROM_TASK_YAML = "the task YAML's max_image_side"


FROM_TASK_YAML = FromTaskYaml.FROM_TASK_YAML


# ---------------------------------------------------------------- parsers: the variable's text (None when unset) to a value


def _path_or(default: str) -> Callable[[str, str | None], Path]:
    def parse(name: str, text: str | None) -> Path:
        return Path(text or default).expanduser()

    return parse


def _optional_path(name: str, text: str | None) -> Path | None:
    return Path(text).expanduser() if text else None


def _stripped(name: str, text: str | None) -> str:
    return (text or "").strip()


def _stripped_or_none(name: str, text: str | None) -> str | None:
    return (text or "").strip() or None


def _on_missing(name: str, text: str | None) -> str:
    value = (text or ON_MISSING_ERROR).strip().lower()
    if value not in ON_MISSING_CHOICES:
        raise SettingError(
            f"{name}={text!r} is not a known value; "
            f"use {ON_MISSING_ERROR} (default: stop before any model runs when an image is missing) "
            f"or {ON_MISSING_SKIP} (evaluate only the items whose images are all present)."
        )
    return value


def _prompt_variant(name: str, text: str | None) -> str | None:
    if not text:
        return None
    if text not in PROMPT_VARIANTS:
        raise SettingError(f"{name} must be one of {PROMPT_VARIANTS}, got {text!r}")
    return text


def _max_image_side(name: str, text: str | None) -> int | None | FromTaskYaml:
    value = (text or "").strip()
    if not value:
        return FROM_TASK_YAML
    if value.lower() in {"off", "none", "null"}:
        return None
    if not value.isdigit() or int(value) < 1:
        raise SettingError(f"{name}={value!r}: use a whole number of pixels (1 or more), or `off` for full-size images.")
    return int(value)


def _base_url(what: str) -> Callable[[str, str | None], str]:
    def parse(name: str, text: str | None) -> str:
        url = (text or "").strip()
        if not url:
            return ""
        scheme = url.split("://", 1)[0].lower() if "://" in url else ""
        if scheme not in ("http", "https") or not url.split("://", 1)[1].strip("/"):
            raise SettingError(
                f"{name}={url!r} is not an http(s) URL: set it to the API's base URL, e.g. "
                f"http://localhost:8000/v1, or unset it to turn {what} off."
            )
        return url

    return parse


def _seconds(default: float, *, allow_zero: bool = False) -> Callable[[str, str | None], float]:
    def parse(name: str, text: str | None) -> float:
        value_text = (text or "").strip()
        if not value_text:
            return default
        try:
            value = float(value_text)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
            least = "0 or more" if allow_zero else "more than 0"
            raise SettingError(f"{name}={value_text!r} is not a number of seconds: set it to a finite number, {least}, or unset it.")
        return value

    return parse


def _attempts(name: str, text: str | None) -> int:
    value = (text or "").strip()
    if not value:
        return DEFAULT_JUDGE_ATTEMPTS
    if not value.isdigit() or int(value) < 1:
        raise SettingError(f"{name}={value!r} is not a number of tries: set it to a whole number, 1 or more, or unset it.")
    return int(value)


def _yes_no(name: str, text: str | None) -> bool:
    value = (text or "").strip().lower()
    if value in _YES:
        return True
    if value in _NO:
        return False
    raise SettingError(
        f"{name}={text!r} is not a known value; use 1 to "
        "evaluate benchmark files that differ from the pinned upstream ones, or unset it (the default: refuse them)."
    )


def _byte_count(name: str, text: str | None) -> int:
    value = (text or DEFAULT_PREFETCH_BYTES).strip().upper().removesuffix("B").removesuffix("I")
    number, unit = (value[:-1], value[-1]) if value[-1:] in _BYTE_UNITS else (value, "")
    if not number.isdigit():
        raise SettingError(
            f"{name}={text!r} is not a number of bytes: use a whole number with an optional K, M or G "
            f"(KiB, MiB, GiB), e.g. {DEFAULT_PREFETCH_BYTES} (the default), or 0 to turn prefetching off."
        )
    return int(number) * _BYTE_UNITS[unit]


# ---------------------------------------------------------------- the table


@dataclass(frozen=True)
class Setting:
    """One `MEDMIM_*` variable: what it does, its default, whether it can change a number, its parser."""

    name: str
    default: str  # as the docs show it
    meaning: str
    changes_results: bool
    why: str  # why it changes results, or why it does not
    parse: Callable[[str, str | None], Any]
    is_path: bool = False  # recorded by a sweep as an absolute path


def _endpoint_settings(prefix: str, who: str, wait_for: str, answer: str, fails: str, cache: str) -> tuple[Setting, ...]:
    """The transport rows of a chat endpoint (medmim_tasks.scoring.chat_client): key, cache, time limits, retries."""
    return (
        Setting(f"{prefix}_API_KEY", "unset", f"bearer token, if the {who} endpoint needs one", False,
                f"a credential: it decides access, not a {answer} (never recorded)", _stripped_or_none),
        Setting(f"{prefix}_CACHE", f"`{cache}`", f"folder of cached {who} {answer}s", False,
                f"where {answer}s are cached, not what they are", _path_or(cache)),
        Setting(f"{prefix}_TIMEOUT", f"{DEFAULT_JUDGE_TIMEOUT_S:g}",
                f"seconds one {who} request may take in all: connect, headers, body", False,
                f"how long to wait for {wait_for}; a timeout fails {fails}, it changes no score", _seconds(DEFAULT_JUDGE_TIMEOUT_S)),
        Setting(f"{prefix}_ATTEMPTS", f"{DEFAULT_JUDGE_ATTEMPTS}", f"tries per {answer} on retryable failures", False,
                f"how often a failed {who} request is tried; a {answer} is the same whichever try gives it", _attempts),
        Setting(f"{prefix}_BACKOFF", f"{DEFAULT_JUDGE_BACKOFF_S:g}",
                f"seconds before the first {who} retry, doubled before each next one", False,
                f"the wait between {who} retries; it changes no {answer}", _seconds(DEFAULT_JUDGE_BACKOFF_S, allow_zero=True)),
        Setting(f"{prefix}_MAX_TIME", f"{DEFAULT_JUDGE_MAX_TIME_S:g}",
                f"seconds one {answer} may take over all its tries and waits", False,
                f"the time one {answer} may take over all its tries; a timeout fails {fails}, it changes no score",
                _seconds(DEFAULT_JUDGE_MAX_TIME_S)),
    )


# Settings that change results go into a sweep's configuration hash and run record; the others into neither.
SETTINGS: tuple[Setting, ...] = (
    Setting("MEDMIM_BENCHMARK_DIR", f"`{DEFAULT_BENCHMARK_DIR}`", "folder with the six Med-MIM benchmark JSON files", True,
            "which benchmark files are read (their SHA-256 are hashed too)", _path_or(DEFAULT_BENCHMARK_DIR), is_path=True),
    Setting("MEDMIM_IMAGE_ROOT", f"`{DEFAULT_IMAGE_ROOT}`", "folder with one sub-folder of images per source dataset", True,
            "which images the model sees", _path_or(DEFAULT_IMAGE_ROOT), is_path=True),
    Setting("MEDMIM_EMBED_ROOT", "`$MEDMIM_IMAGE_ROOT/EMBED`", "EMBED image folder, overrides MEDMIM_IMAGE_ROOT for EMBED", True,
            "which EMBED images the model sees", _optional_path, is_path=True),
    Setting("MEDMIM_LUMIERE_ROOT", "`$MEDMIM_IMAGE_ROOT/LUMIERE`", "LUMIERE image folder, overrides MEDMIM_IMAGE_ROOT for LUMIERE", True,
            "which LUMIERE images the model sees", _optional_path, is_path=True),
    Setting("MEDMIM_MS_CXR_T_ROOT", "`$MEDMIM_IMAGE_ROOT/MS-CXR-T`", "MS-CXR-T image folder (MIMIC-CXR-JPG works too)", True,
            "which MS-CXR-T images the model sees", _optional_path, is_path=True),
    Setting("MEDMIM_ODIR_ROOT", "`$MEDMIM_IMAGE_ROOT/ODIR`", "ODIR image folder, overrides MEDMIM_IMAGE_ROOT for ODIR", True,
            "which ODIR images the model sees", _optional_path, is_path=True),
    Setting("MEDMIM_VQA_RAD_ROOT", "`$MEDMIM_IMAGE_ROOT/VQA-RAD`", "VQA-RAD image folder, overrides MEDMIM_IMAGE_ROOT for VQA-RAD", True,
            "which VQA-RAD images the model sees", _optional_path, is_path=True),
    Setting("MEDMIM_SANITY_DIR", f"`{DEFAULT_SANITY_DIR}`", "folder of the generated sanity set (items and images)", True,
            "which sanity set (items and images) the sanity task reads", _path_or(DEFAULT_SANITY_DIR), is_path=True),
    Setting("MEDMIM_ON_MISSING", f"`{ON_MISSING_ERROR}`",
            f"`{ON_MISSING_ERROR}`: stop before any model runs when an image is missing; "
            f"`{ON_MISSING_SKIP}`: evaluate only the items whose images are all present", True,
            "skip evaluates only the items whose images are all present", _on_missing),
    Setting("MEDMIM_PROMPT_VARIANT", "the task YAML's `prompt_variant`",
            "`default` or `published` (the paper's prompts), for every model", True,
            "the prompt the model is given", _prompt_variant),
    Setting("MEDMIM_MAX_IMAGE_SIDE", "the task YAML's `max_image_side`",
            "longest image side in pixels given to the model, or `off` for full-size images", True,
            "the size of the images the model is given", _max_image_side),
    Setting("MEDMIM_JUDGE_URL", "unset (judge off)",
            "base URL of an OpenAI-compatible API (`…/v1`); turns the LLM judge metric on", True,
            "turns the judge metric on and names its endpoint", _base_url("the judge")),
    Setting("MEDMIM_JUDGE_MODEL", "unset (required with the URL)", "judge model name sent to the endpoint", True,
            "the judge model that gives the verdicts", _stripped),
    *_endpoint_settings("MEDMIM_JUDGE", "judge", "the judge", "verdict", "the run", DEFAULT_JUDGE_CACHE_DIR),
    Setting("MEDMIM_ASSIST_URL", "unset (fallback off)",
            "base URL of an OpenAI-compatible API (`…/v1`) that `medmim assist` asks for the letters the rules leave undecided",
            False, "used by `medmim assist` only, after a run; mc_acc stays rules-only", _base_url("the assisted fallback")),
    Setting("MEDMIM_ASSIST_MODEL", "unset (required with the URL)", "model name sent to the assist endpoint", False,
            "used by `medmim assist` only; recorded in the run's medmim_assist block", _stripped),
    *_endpoint_settings("MEDMIM_ASSIST", "assist", "the assist model", "letter", "`medmim assist`", DEFAULT_ASSIST_CACHE_DIR),
    Setting("MEDMIM_ALLOW_MODIFIED_BENCHMARK", "unset (refuse them)",
            "`1` (or true, yes, on) evaluates benchmark files that differ from the pinned upstream ones (with a warning)", False,
            "permits a modified benchmark file; the benchmark SHA-256 in the hash say what was read", _yes_no),
    Setting("MEDMIM_PREFETCH_BYTES", f"`{DEFAULT_PREFETCH_BYTES}`",
            "decoded image bytes (`K`, `M`, `G`: KiB, MiB, GiB) held ahead of the model: the next documents' "
            "images are decoded in background threads while the model answers; `0` turns it off", False,
            "the same images in the same order, only decoded earlier (see performance.md)", _byte_count),
    Setting("MEDMIM_TINY_MODEL_DIR", f"`{DEFAULT_TINY_MODEL_DIR}`", "where `medmim demo` builds its tiny random LLaVA", False,
            "used by `medmim demo` only; a sweep names its model in model_args", _path_or(DEFAULT_TINY_MODEL_DIR)),
    Setting("MEDMIM_THUMBNAIL_CACHE", f"`{DEFAULT_THUMBNAIL_CACHE_DIR}`", "folder of cached thumbnails of `medmim browse`", False,
            "used by `medmim browse` only, after a run", _path_or(DEFAULT_THUMBNAIL_CACHE_DIR)),
)
SETTINGS_BY_NAME: dict[str, Setting] = {entry.name: entry for entry in SETTINGS}

# MEDMIM_ names in the package that are not variables
NOT_SETTINGS: dict[str, str] = {
    "MEDMIM_SANITY": "the source prefix MEDMIM_SANITY_<type> of the sanity items, not a variable",
    "MEDMIM_JUDGE": "the family name MEDMIM_JUDGE_* in a message, not a variable",
    "MEDMIM_ASSIST": "the family name MEDMIM_ASSIST_* of the assisted fallback's variables, not a variable",
}


# ---------------------------------------------------------------- reading


def _entry(name: str) -> Setting:
    entry = SETTINGS_BY_NAME.get(name)
    if entry is None:
        raise KeyError(f"{name} is not in medmim_tasks.settings.SETTINGS; add it there first")
    return entry


def raw_setting(name: str, environ: Mapping[str, str] | None = None) -> str | None:
    """The variable's text as set (None when unset); for saying where a value came from."""
    _entry(name)
    return (os.environ if environ is None else environ).get(name)


def setting(name: str, environ: Mapping[str, str] | None = None) -> Any:
    """The variable's parsed value (its default when unset); SettingError names a bad value and the fix."""
    return _entry(name).parse(name, (os.environ if environ is None else environ).get(name))


def settings_markdown() -> str:
    """docs/settings.md: every variable, its default, what it does and whether it changes results."""
    lines = [
        "# Settings",
        "",
        "Every `MEDMIM_*` environment variable medmim-tasks reads. Generated from",
        "`medmim_tasks/settings.py` by `python -m medmim_tasks.settings --markdown`; a test checks",
        "that this page matches it. A setting that changes results goes into a sweep's configuration",
        "hash and run record (see [reliability.md](reliability.md#what-decides-a-models-folder-the-configuration-hash));",
        "the others go into neither. A new variable gets a row in `SETTINGS` (default, meaning, parser,",
        "whether it changes results) and is read with `setting(name, environ)`; then regenerate this page.",
        "",
        "| variable | default | what it does | changes results |",
        "|---|---|---|---|",
    ]
    for entry in SETTINGS:
        changes = "yes" if entry.changes_results else "no"
        lines.append(f"| `{entry.name}` | {entry.default} | {entry.meaning} | {changes}: {entry.why} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m medmim_tasks.settings", description=__doc__.splitlines()[0])
    parser.add_argument("--markdown", action="store_true", required=True, help="print docs/settings.md")
    parser.parse_args(argv)
    sys.stdout.write(settings_markdown())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
