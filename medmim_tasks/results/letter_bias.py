"""Letter bias: which option letters a model answers, against the gold letters and the best constant letter.

Gold letters are not uniform in every split (on RAD, always answering "A" scores 44.0% against a
uniform chance of 33.3%), and models prefer letters. So, per run and split, over the
multiple-choice documents the run scored:

- the distribution of the letters the model answered (the letter parsed from each reply, as in the
  per-document record; `none` when no letter could be read) beside the gold letters' distribution;
- the best constant-letter baseline: the letter that is gold most often (the first in A-G on a
  tie) and its accuracy, the share of gold answers with that letter: what "always X" scores;
- the uniform chance (the mean of 1 / options), and whether the model's accuracy lies within one
  (clustered) standard error of the constant-letter baseline, flagged on the leaderboard.

The gold letters come from the documents the run scored, which carry the benchmark items' gold
letters, so a `--limit` run is compared with the baseline on the same documents and a report needs
no benchmark files.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.results.statistics import Estimate

LETTERS = "ABCDEFG"
NO_LETTER = "none"  # a reply from which no option letter could be read
NEAR_BASELINE = "near_constant_letter"  # leaderboard column: splits within one SE of their constant letter
NEAR_BASELINE_TITLE = "Within 1 SE of a constant letter"


@dataclass(frozen=True)
class ConstantLetter:
    """The best constant-letter strategy on some items: answer `letter` every time, score `accuracy`."""

    letter: str
    accuracy: float
    n: int


def letter_counts(letters: Iterable[object]) -> Counter[str]:
    """How often each letter occurs; anything that is not a letter A-G (None, NaN, "") counts as `none`."""
    return Counter(letter if isinstance(letter, str) and letter in LETTERS and letter else NO_LETTER for letter in letters)


def letter_shares(letters: Sequence[object]) -> dict[str, float]:
    """Share of each letter A-G that occurs (in order), then of `none` if any; empty for no letters."""
    counts = letter_counts(letters)
    total = sum(counts.values())
    ordered = [letter for letter in LETTERS if counts[letter]] + ([NO_LETTER] if counts[NO_LETTER] else [])
    return {letter: counts[letter] / total for letter in ordered}


def best_constant_letter(gold_letters: Sequence[str]) -> ConstantLetter:
    """The letter that is gold most often (the first in A-G on a tie) and the share of items it gets right."""
    counts = letter_counts(gold_letters)
    if not gold_letters or counts[NO_LETTER]:
        raise ValueError(f"gold letters must be A-G, one per multiple-choice item; got {sorted(counts)}")
    letter = max(LETTERS, key=lambda candidate: (counts[candidate], -LETTERS.index(candidate)))
    return ConstantLetter(letter, counts[letter] / len(gold_letters), len(gold_letters))


def within_one_stderr(accuracy: Estimate, baseline: ConstantLetter) -> bool:
    """Whether an accuracy lies within one standard error of a constant-letter baseline (False if unknown)."""
    if math.isnan(accuracy.value) or math.isnan(accuracy.stderr):
        return False
    return abs(accuracy.value - baseline.accuracy) <= accuracy.stderr


def split_letter_bias(docs: pd.DataFrame, accuracy: Estimate, decimals: int) -> dict[str, object] | None:
    """The letter-bias row of one run's documents of one split (percentages rounded), or None without MC items."""
    mc = docs[docs["kind"] == MULTIPLE_CHOICE]
    if mc.empty:
        return None
    baseline = best_constant_letter(mc["gold"].tolist())
    predicted, gold = letter_shares(mc["parsed"].tolist()), letter_shares(mc["gold"].tolist())
    row: dict[str, object] = {
        "n_mc": len(mc),
        "accuracy": round(100 * accuracy.value, decimals),
        "stderr": round(100 * accuracy.stderr, decimals),
        "baseline_letter": baseline.letter,
        "baseline_accuracy": round(100 * baseline.accuracy, decimals),
        "chance": round(100 * float((1 / mc["n_options"].astype(float)).mean()), decimals),
        "within_one_se": within_one_stderr(accuracy, baseline),
    }
    row.update({f"predicted_{letter}": round(100 * share, decimals) for letter, share in predicted.items()})
    row.update({f"gold_{letter}": round(100 * share, decimals) for letter, share in gold.items()})
    return row


def letter_bias_rows(
    label: str, docs: pd.DataFrame, estimates: Mapping[str, Estimate], titles: Mapping[str, str], decimals: int
) -> list[dict[str, object]]:
    """One row per split of a run (in the order of `estimates`) that has multiple-choice documents."""
    rows = []
    for task, estimate in estimates.items():
        row = split_letter_bias(docs[docs["task"] == task], estimate, decimals)
        if row is not None:
            rows.append({"model": label, "split": titles[task], "task": task, **row})
    return rows


def letter_bias_frame(rows: Sequence[Mapping[str, object]]) -> pd.DataFrame:
    """The rows as a table: fixed columns, then predicted_A..G, predicted_none, gold_A..G (those that occur)."""
    frame = pd.DataFrame(list(rows))
    fixed = [column for column in frame.columns if not column.startswith(("predicted_", "gold_"))]
    order = [*LETTERS, NO_LETTER]
    shares = [f"{prefix}{letter}" for prefix in ("predicted_", "gold_") for letter in order if f"{prefix}{letter}" in frame]
    return frame[fixed + shares]


def near_baseline_text(rows: Sequence[Mapping[str, object]]) -> str:
    """The leaderboard flag of a run: `RAD (always A 44.0%), ...` for its splits within one SE of it."""
    return ", ".join(
        f"{row['split']} (always {row['baseline_letter']} {row['baseline_accuracy']}%)" for row in rows if row["within_one_se"]
    )


def _distribution_text(row: Mapping[str, object], prefix: str) -> str:
    shares = [(key[len(prefix) :], value) for key, value in row.items() if key.startswith(prefix)]
    return " ".join(f"{letter} {value}" for letter, value in shares if isinstance(value, float) and not math.isnan(value))


def letter_bias_display(frame: pd.DataFrame) -> pd.DataFrame:
    """The letter-bias table as shown in Markdown and HTML (numbers as in letter_bias.csv)."""
    rows = frame.to_dict("records")
    return pd.DataFrame(
        {
            "Model": [row["model"] for row in rows],
            "Split": [row["split"] for row in rows],
            "MC items": [row["n_mc"] for row in rows],
            "Accuracy %": [f"{row['accuracy']} ± {row['stderr']}" for row in rows],
            "Best constant letter %": [f"always {row['baseline_letter']}: {row['baseline_accuracy']}" for row in rows],
            "Chance %": [row["chance"] for row in rows],
            "Within 1 SE": ["yes" if row["within_one_se"] else "" for row in rows],
            "Predicted letters %": [_distribution_text(row, "predicted_") for row in rows],
            "Gold letters %": [_distribution_text(row, "gold_") for row in rows],
        },
        columns=[
            "Model", "Split", "MC items", "Accuracy %", "Best constant letter %", "Chance %", "Within 1 SE",
            "Predicted letters %", "Gold letters %",
        ],
    )


LETTER_BIAS_TEXT = (
    "Per split, over the multiple-choice items the run scored: the letters the model answered (`none`: no "
    "letter could be read) beside the gold letters, the best constant letter (always answering the most "
    "frequent gold letter) with its accuracy, and the uniform chance (the mean of 1 / options). Accuracy is "
    "given ± one clustered standard error; `yes` marks an accuracy within one standard error of the best "
    "constant letter, a score that a model answering one letter every time would match."
)
