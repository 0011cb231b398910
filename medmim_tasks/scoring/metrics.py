"""Per-reply scores for open-ended answers: token F1/recall, sentence BLEU (sacrebleu), ROUGE-L (rouge-score)."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from functools import lru_cache, partial
from itertools import filterfalse, repeat
from typing import Any, NamedTuple

from medmim_tasks.scoring.bleu import MOST_SHORTER_TOKENS, clipped_matches
from medmim_tasks.scoring.word_codes import ARTICLES, MOST_SHORTER_WORDS, f1_recall_of_counts, word_overlap

_TOKEN = re.compile(r"[a-z0-9]+")
_ARTICLES = frozenset(ARTICLES)
# ASCII text: A-Z to a-z, a-z and 0-9 kept, every other character a space; split() then gives the
# runs of [a-z0-9] of the lower-cased text, as _TOKEN.findall does, about 3x faster. Text with
# other characters takes the pattern (str.lower can turn some of them into ASCII letters).
_ASCII_TOKENS = str.maketrans(
    {chr(code): chr(code).lower() if chr(code).isalnum() else " " for code in range(128)}
)


def word_tokens(text: str) -> list[str]:
    """The runs of [a-z0-9] of the lower-cased text: rouge-score's tokens, and the normalised
    tokens before articles are dropped."""
    if text.isascii():
        return text.translate(_ASCII_TOKENS).split()
    return _TOKEN.findall(text.lower())


def _without_articles(tokens: list[str]) -> list[str]:
    return list(filterfalse(_ARTICLES.__contains__, tokens))


def normalised_tokens(text: str) -> list[str]:
    """Lower-cased alphanumeric tokens without articles (SQuAD-style normalisation)."""
    return _without_articles(word_tokens(text))


class OpenScores(NamedTuple):
    """The open-ended scores of one reply against the gold answer."""

    token_f1: float
    token_recall: float
    bleu: float
    rouge_l: float


def open_scores(prediction: str, reference: str) -> OpenScores:
    """Token F1 and recall, sentence BLEU and ROUGE-L of a reply, each reply and answer tokenised
    once: the values of `token_f1_recall`, `sentence_bleu` and `rouge_l`. F1 and ROUGE-L count on
    the words as one character each (`word_codes`): str methods and rapidfuzz on two strings
    instead of lists of words."""
    prediction_words, reference_words = word_tokens(prediction), word_tokens(reference)
    bleu = sentence_bleu(prediction, reference)
    tokenize, fmeasure, lcs_length = _rouge_parts()
    if tokenize is not _rouge_tokens or min(len(prediction_words), len(reference_words)) > MOST_SHORTER_WORDS:
        f1, recall = _f1_recall(_without_articles(prediction_words), _without_articles(reference_words))
        return OpenScores(f1, recall, bleu, _rouge_l_of_words(prediction_words, reference_words, prediction, reference))
    overlap = word_overlap(prediction_words, reference_words, lcs_length)
    common = overlap.common_subsequence
    rouge = fmeasure(common / len(prediction_words), common / len(reference_words)) if common else 0.0
    return OpenScores(overlap.token_f1, overlap.token_recall, bleu, rouge)


def token_f1_recall(prediction: str, reference: str) -> tuple[float, float]:
    """(F1, recall) of the normalised token multisets of a reply and the gold answer."""
    return _f1_recall(normalised_tokens(prediction), normalised_tokens(reference))


def _f1_recall(predicted: list[str], gold: list[str]) -> tuple[float, float]:
    if not predicted or not gold:
        return f1_recall_of_counts(0, len(predicted), len(gold))
    distinct_gold = set(gold)
    if len(distinct_gold) == len(gold):  # each gold token once: it counts 1 if the reply has it
        common = len(distinct_gold.intersection(predicted))
    else:
        gold_counts = Counter(gold)
        predicted_counts = Counter(filter(distinct_gold.__contains__, predicted))  # multiset overlap
        common = sum(map(min, gold_counts.values(), map(predicted_counts.get, gold_counts, repeat(0))))
    return f1_recall_of_counts(common, len(predicted), len(gold))


@lru_cache(maxsize=1)
def _bleu() -> Any:
    # Imported on first use: sacrebleu is not needed to list or build tasks.
    from sacrebleu.metrics import BLEU

    return BLEU(lowercase=True, effective_order=True)


def _rouge_tokens(text: str) -> list[str]:
    """rouge-score's tokens (its `tokenize.tokenize(text, stemmer=None)`), 5-20x faster.

    rouge-score lower-cases, turns each run of characters outside [a-z0-9] into a space, splits
    on white space and keeps the tokens that match ^[a-z0-9]+$: exactly the runs of [a-z0-9] in
    the lower-cased text (`word_tokens`). `_rouge_parts` uses rouge-score's own function if its
    patterns differ.
    """
    return word_tokens(text)


@lru_cache(maxsize=1)
def _rouge_parts() -> tuple[Callable[[str], list[str]], Callable[[float, float], float], Callable[..., int]]:
    # rouge-score's tokeniser and F-measure, imported on first use. Its rouge_scorer and
    # tokenizers modules are not needed: they pull in nltk (seconds to import) for the stemmer,
    # which ROUGE-L without stemming never uses.
    from rapidfuzz.distance import LCSseq
    from rouge_score import tokenize
    from rouge_score.scoring import fmeasure

    patterns = (tokenize.NON_ALPHANUM_PATTERN, tokenize.SPACES_PATTERN, tokenize.VALID_TOKEN_PATTERN)
    if patterns == (r"[^a-z0-9]+", r"\s+", r"^[a-z0-9]+$"):
        return _rouge_tokens, fmeasure, LCSseq.similarity
    return partial(tokenize.tokenize, stemmer=None), fmeasure, LCSseq.similarity


def _bleu_line(bleu: Any, text: str) -> str:
    # What BLEU does to every segment before counting n-grams: lower-case (lowercase=True), strip
    # the end, then its tokeniser (13a), which returns the tokens joined by single spaces.
    return str(bleu.tokenizer(text.lower().rstrip()))


def sentence_bleu(prediction: str, reference: str) -> float:
    """sacrebleu sentence BLEU of a reply against the gold answer, on a 0-1 scale.

    13a tokenisation, lower-cased, effective n-gram order (the sentence-level setting sacrebleu
    recommends): the value of `BLEU(lowercase=True, effective_order=True).sentence_score(prediction,
    [reference]).score / 100`. sacrebleu's tokeniser and its `BLEU.compute_bleu` (brevity penalty,
    smoothing, effective order) do the work; only the clipped n-gram counts it needs are counted
    here, by searching the answer's n-grams in the tokenised reply (`bleu.clipped_matches`) instead
    of sacrebleu's Counters of every n-gram of both (about 10x faster on a long reply). The shared
    BLEU object is only read (its tokeniser's cache is thread-safe), so lmms-eval's scoring
    threads may share it.
    """
    bleu = _bleu()
    hypothesis_line = _bleu_line(bleu, prediction)
    if not hypothesis_line:
        return 0.0  # no reply token: no match, what compute_bleu returns then
    gold_line = _bleu_line(bleu, reference)
    hypothesis_length = hypothesis_line.count(" ") + 1  # single spaces between tokens
    gold_length = gold_line.count(" ") + 1 if gold_line else 0
    if min(hypothesis_length, gold_length) > MOST_SHORTER_TOKENS:  # too long to search n-grams: sacrebleu counts
        return float(bleu.sentence_score(prediction, [reference]).score / 100.0)
    correct = clipped_matches(hypothesis_line, gold_line, bleu.max_ngram_order)
    if not correct[0]:
        return 0.0  # what compute_bleu returns without a match (its early stop), without building a score
    total = [max(0, hypothesis_length - order + 1) for order in range(1, bleu.max_ngram_order + 1)]
    score = bleu.compute_bleu(
        correct,
        total,
        hypothesis_length,
        gold_length,
        smooth_method=bleu.smooth_method,
        smooth_value=bleu.smooth_value,
        effective_order=bleu.effective_order,
        max_ngram_order=bleu.max_ngram_order,
    )
    return score.score / 100.0


def rouge_l(prediction: str, reference: str) -> float:
    """rouge-score ROUGE-L F-measure of a reply against the gold answer (its default tokeniser, no stemming).

    The value `RougeScorer(["rougeL"]).score(reference, prediction)["rougeL"].fmeasure` gives:
    rouge-score's tokens and F-measure, with the longest common subsequence of the two token
    lists counted by rapidfuzz (C++) instead of rouge-score's pure-Python table (about 1 ms on a
    long reply). Tokens are numbered per call (reply tokens absent from the answer all get -1,
    which matches nothing), so rapidfuzz compares exact tokens, never hashes.

    Time: rapidfuzz's LCS is bit-parallel, reply tokens x ceil(answer tokens / 64) word operations:
    linear in the reply for the benchmark's answers (166 words at most), so no reply is truncated.
    """
    tokenize = _rouge_parts()[0]
    return _rouge_l_of_tokens(tokenize(prediction), tokenize(reference))


def _rouge_l_of_words(prediction_words: list[str], reference_words: list[str], prediction: str, reference: str) -> float:
    """`rouge_l` given the texts' `word_tokens`, which are rouge-score's tokens unless its patterns changed."""
    tokenize = _rouge_parts()[0]
    if tokenize is _rouge_tokens:
        return _rouge_l_of_tokens(prediction_words, reference_words)
    return _rouge_l_of_tokens(tokenize(prediction), tokenize(reference))


def _rouge_l_of_tokens(prediction_tokens: list[str], reference_tokens: list[str]) -> float:
    _, fmeasure, lcs_length = _rouge_parts()
    if not reference_tokens or not prediction_tokens:
        return 0.0
    numbers = {token: number for number, token in enumerate(dict.fromkeys(reference_tokens))}
    common = lcs_length(
        list(map(numbers.__getitem__, reference_tokens)), list(map(numbers.get, prediction_tokens, repeat(-1)))
    )
    return fmeasure(common / len(prediction_tokens), common / len(reference_tokens))

