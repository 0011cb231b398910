"""Per-reply scores for open-ended answers."""

from __future__ import annotations

import re
from collections import Counter

_TOKEN = re.compile(r"[a-z0-9]+")
_ARTICLES = {"a", "an", "the"}


def normalised_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens without articles (SQuAD-style normalisation)."""
    return [token for token in _TOKEN.findall(text.lower()) if token not in _ARTICLES]


def token_f1_recall(prediction: str, reference: str) -> tuple[float, float]:
    """(F1, recall) of the normalised token multisets of a reply and the gold answer."""
    predicted = normalised_tokens(prediction)
    gold = normalised_tokens(reference)
    if not predicted or not gold:
        same = float(predicted == gold)
        return same, same
    common = sum((Counter(predicted) & Counter(gold)).values())
    if common == 0:
        return 0.0, 0.0
    precision = common / len(predicted)
    recall = common / len(gold)
    return 2 * precision * recall / (precision + recall), recall
