"""Token F1/recall and the longest common subsequence of a reply's and its answer's words, counted
with str methods and rapidfuzz on the words as one character each (no per-word Python loop)."""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

ARTICLES = ("a", "an", "the")  # token F1 leaves them out
# The articles always have these characters; every other word of the shorter text gets its own
# from _WORD_CHARACTERS.
_ARTICLE_CODES = dict(zip(ARTICLES, "\x01\x02\x03"))
# Pairs whose shorter text has more words keep the per-word way (the characters would reach the
# surrogates): the benchmark's answers have a few hundred words at most.
MOST_SHORTER_WORDS = 4096
_WORD_CHARACTERS = "".join(map(chr, range(4, 4 + MOST_SHORTER_WORDS)))


class WordOverlap(NamedTuple):
    """What the open metrics count on the words of a reply and its answer."""

    token_f1: float
    token_recall: float
    common_subsequence: int  # words in the longest common subsequence (ROUGE-L's count)


def word_overlap(reply_words: list[str], answer_words: list[str], lcs_length: Callable[[str, str], int]) -> WordOverlap:
    """Token F1 and recall of the words without articles (the multiset overlap, as
    `token_f1_recall` in medmim_tasks.scoring.metrics counts it on word lists) and the longest common
    subsequence of the words (`lcs_length`, rapidfuzz's, counts it on two strings).

    When one text holds the other's words in a row, every word of the inner one is as often in
    the outer one: the overlap is the inner text's words and so is the common subsequence, with
    no word looked up. Otherwise the words become one character each (`_codes`) and str methods
    count the overlap, rapidfuzz the subsequence, on two strings.
    """
    if not reply_words or not answer_words:
        return WordOverlap(*f1_recall_of_counts(0, _content_words(reply_words), _content_words(answer_words)), 0)
    reply_line, answer_line = f" {' '.join(reply_words)} ", f" {' '.join(answer_words)} "
    inner = answer_words if answer_line in reply_line else reply_words if reply_line in answer_line else None
    if inner is not None:
        scores = f1_recall_of_counts(_content_words(inner), _content_words(reply_words), _content_words(answer_words))
        return WordOverlap(*scores, len(inner))
    if min(len(reply_words), len(answer_words)) > MOST_SHORTER_WORDS:
        raise ValueError(f"both texts have more than {MOST_SHORTER_WORDS} words")
    reply, answer = _codes(reply_words, answer_words)
    reply_content, answer_content = _without_articles(reply), _without_articles(answer)
    # each code keeps every article, so the words less the code's articles are the content words
    reply_count = len(reply_words) - (len(reply) - len(reply_content))
    answer_count = len(answer_words) - (len(answer) - len(answer_content))
    scores = f1_recall_of_counts(_common_count(reply_content, answer_content), reply_count, answer_count)
    return WordOverlap(*scores, lcs_length(answer, reply))


def _codes(reply_words: list[str], answer_words: list[str]) -> tuple[str, str]:
    """The reply and the answer, one character per word of the shorter text (its own, articles
    `_ARTICLE_CODES`) and per word of the longer text that the shorter one has, or is an article
    (the same word's character). The longer text's other words match nothing, so they are left
    out: neither the overlap nor the common subsequence changes."""
    reply_is_shorter = len(reply_words) < len(answer_words)
    shorter, longer = (reply_words, answer_words) if reply_is_shorter else (answer_words, reply_words)
    codes = dict(zip(shorter, _WORD_CHARACTERS))  # a repeated word keeps one character
    codes.update(_ARTICLE_CODES)
    shorter_code = "".join(map(codes.__getitem__, shorter))
    longer_code = "".join(filter(None, map(codes.get, longer)))
    return (shorter_code, longer_code) if reply_is_shorter else (longer_code, shorter_code)


def _common_count(reply: str, answer: str) -> int:
    """How many answer words the reply has: each as often as both have it (a multiset overlap)."""
    shared = set(answer).intersection(reply)
    return sum(map(min, map(answer.count, shared), map(reply.count, shared)))


def f1_recall_of_counts(common: int, predicted_count: int, gold_count: int) -> tuple[float, float]:
    """Token F1 and recall from the overlap and the two texts' token counts (without articles)."""
    if not predicted_count or not gold_count:
        same = float(predicted_count == gold_count)  # both without a word: the same (empty) answer
        return same, same
    if common == 0:
        return 0.0, 0.0
    precision = common / predicted_count
    recall = common / gold_count
    return 2 * precision * recall / (precision + recall), recall


def _content_words(words: list[str]) -> int:
    return len(words) - sum(map(words.count, ARTICLES))


def _without_articles(code: str) -> str:
    for article in _ARTICLE_CODES.values():
        code = code.replace(article, "")
    return code
