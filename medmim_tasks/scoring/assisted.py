"""Optional model-assisted letter extraction: a chat model reads the multiple-choice replies the rules leave undecided.

Off by default; `medmim assist RUN_DIR` (medmim_tasks.scoring.assisted_run) uses it after a run.
Only replies for which extract_choice returned None are asked about; the rules' letters are never
sent and never overridden. The request holds the options and the reply only (no question, no gold
answer, no images), at temperature 0, through any OpenAI-compatible chat endpoint configured by the
MEDMIM_ASSIST_* variables (medmim_tasks.settings, docs/settings.md), with the judge's client,
retries, deadline and disk cache (medmim_tasks.scoring.chat_client).

The model must answer in the grammar `[Answer:] X | (X) | none [.]`, X one letter (case free).
A letter that is not one of the document's options is an error, not "none": the model did not
follow the instruction, and counting it as an abstention would hide that. Anything else
("B or C", "I think B") is an error naming the answer. Answers are cached by (model, prompt,
reply); a cache entry whose letter its answer does not state is an error naming the file.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

from medmim_tasks.scoring.chat_client import (
    ChatConfig,
    ChatService,
    ask_with_retries,
    cache_path,
    chat_config,
    read_cache_entry,
    write_cache_entry,
)

URL_VARIABLE = "MEDMIM_ASSIST_URL"
MODEL_VARIABLE = "MEDMIM_ASSIST_MODEL"
ACC_METRIC = "mc_assisted_acc"  # not `mc_acc_assisted`: lmms-eval matches metric names by substring
SHARE_METRIC = "mc_assisted_share"
NONE_ANSWER = "none"

PROMPT_TEMPLATE = """Below are the options of a multiple-choice question and a reply that was given to it. Decide which single option the reply chooses.

Options:
{options}

Reply:
{reply}

Answer with only the letter of the option the reply chooses ({letters}). If the reply chooses no option, or hedges between several, answer none."""

# one letter, "(X)" or "none", after an optional "Answer:", before an optional period; fullmatch on
# the stripped answer, no two unbounded repeats side by side (linear time)
_ANSWER = re.compile(r"(?:answer\s*:\s*)?(?:\(([a-z])\)|([a-z])|(none))(?:\s*\.)?", re.IGNORECASE)


class AssistError(RuntimeError):
    """The assisted fallback is on but cannot give a letter (unreachable, misconfigured, malformed answer)."""


class RetryableAssistError(AssistError):
    """A failure another try may cure: HTTP 429 or 5xx, a refused or dropped connection, a timeout."""


ASSIST = ChatService(
    label="assist model",
    prefix="MEDMIM_ASSIST",
    model_role="the assist model's name",
    off_hint="to turn the assisted fallback off",
    give_up_hint=(
        "The letters obtained so far are cached; fix the endpoint and run `medmim assist RUN_DIR` again "
        "(it asks only for the rest). The run's replies and rules-only scores are untouched."
    ),
    error=AssistError,
    retryable=RetryableAssistError,
)


def assist_config(environ: Mapping[str, str] | None = None) -> ChatConfig | None:
    """The fallback's settings from the environment, or None when it is off (no MEDMIM_ASSIST_URL)."""
    return chat_config(ASSIST, environ)


def assist_prompt(options: Mapping[str, str], reply: str) -> str:
    """The single user message the assist model gets: the options and the reply, nothing else."""
    listed = "\n".join(f"{letter}. {text.strip()}" for letter, text in options.items())
    return PROMPT_TEMPLATE.format(options=listed, reply=reply.strip(), letters=", ".join(options))


def parse_answer(answer: str, letters: tuple[str, ...]) -> tuple[bool, str | None]:
    """(well formed, letter): (True, "B"), (True, None) for "none", (False, None) for anything else.

    A well-formed letter outside `letters` is (False, None): it is not an answer to this question.
    """
    match = _ANSWER.fullmatch(answer.strip())
    if match is None:
        return False, None
    if match.group(3):
        return True, None
    letter = (match.group(1) or match.group(2)).upper()
    return (True, letter) if letter in letters else (False, None)


def assisted_letter(
    config: ChatConfig, options: Mapping[str, str], reply: str, sleep: Callable[[float], None] = time.sleep
) -> str | None:
    """The assist model's letter for one reply the rules left undecided, None for "none" (cached)."""
    letters = tuple(options)
    prompt = assist_prompt(options, reply)
    path = cache_path(config, prompt, reply)
    entry = read_cache_entry(ASSIST, path)
    if entry is not None:
        answer, letter = entry.get("answer"), entry.get("letter")
        if isinstance(answer, str) and parse_answer(answer, letters) == (True, letter):
            return letter if isinstance(letter, str) else None
        raise AssistError(
            f"{path}: assist cache entry is not a well-formed answer (letter {letter!r} from answer {answer!r}; "
            f"expected one of {', '.join(letters)} or none, as its answer states); delete the file to ask again."
        )
    answer = ask_with_retries(ASSIST, config, prompt, sleep)
    well_formed, letter = parse_answer(answer, letters)
    if not well_formed:
        raise AssistError(
            f"assist model {config.model} at {config.url} answered {answer[:200]!r}, which is not one of the "
            f"options' letters ({', '.join(letters)}) or 'none'. Use a model that follows the instruction, "
            f"or unset {URL_VARIABLE}; mc_acc (rules only) is unaffected."
        )
    write_cache_entry(path, {"model": config.model, "prompt": prompt, "reply": reply, "answer": answer, "letter": letter})
    return letter
