"""Per-reply scores for open-ended answers: token F1/recall, sentence BLEU (sacrebleu), ROUGE-L (rouge-score)."""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache
from typing import Any

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


@lru_cache(maxsize=1)
def _bleu() -> Any:
    # Imported on first use: sacrebleu is not needed to list or build tasks.
    from sacrebleu.metrics import BLEU

    return BLEU(lowercase=True, effective_order=True)


@lru_cache(maxsize=1)
def _rouge() -> Any:
    # Imported on first use: rouge-score pulls in nltk, which takes seconds to import.
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(["rougeL"], use_stemmer=False)


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu sentence BLEU of a reply against the gold answer, on a 0-1 scale.

    13a tokenisation, lower-cased, effective n-gram order (the sentence-level setting sacrebleu
    recommends). The BLEU object holds no per-call state, so threads may share it.
    """
    return _bleu().sentence_score(prediction, [reference]).score / 100.0


def rouge_l(prediction: str, reference: str) -> float:
    """rouge-score ROUGE-L F-measure of a reply against the gold answer (its default tokeniser, no stemming)."""
    return _rouge().score(reference, prediction)["rougeL"].fmeasure
