"""A reply's and its answer's words as one character each, and the token F1/recall and longest
common subsequence counted on them with str methods and rapidfuzz (no per-word Python loop)."""

from __future__ import annotations

from collections import Counter
from itertools import repeat
from typing import NamedTuple

# The articles always have these characters (token F1 leaves them out); every other answer word
# gets its own from _WORD_CHARACTERS, and a reply word the answer lacks gets _ELSEWHERE, which no
# answer character equals.
_ARTICLE_CODES = {"a": "\x01", "an": "\x02", "the": "\x03"}
_ELSEWHERE = "\x00"
# Answers with more words keep the per-word way; the benchmark's answers have a few hundred words.
MOST_ANSWER_WORDS = 4096
_WORD_CHARACTERS = "".join(map(chr, range(4, 4 + MOST_ANSWER_WORDS)))


class WordCodes(NamedTuple):
    """The reply's and the answer's words, one character each: equal words, equal characters."""

    reply: str
    answer: str


def word_codes(reply_words: list[str], answer_words: list[str]) -> WordCodes:
    """Each answer word one character (articles `_ARTICLE_CODES`), each reply word the character
    of the same answer word, or `_ELSEWHERE` (or its article's) when the answer lacks it."""
    if len(answer_words) > MOST_ANSWER_WORDS:
        raise ValueError(f"an answer of {len(answer_words)} words is longer than {MOST_ANSWER_WORDS}")
    codes = dict(zip(answer_words, _WORD_CHARACTERS))  # a repeated word keeps one character
    codes.update(_ARTICLE_CODES)
    return WordCodes(
        "".join(map(codes.get, reply_words, repeat(_ELSEWHERE))),
        "".join(map(codes.__getitem__, answer_words)),
    )


def f1_recall_of_codes(codes: WordCodes) -> tuple[float, float]:
    """Token F1 and recall of the words without articles: the multiset overlap of the reply's and
    the answer's words (each answer word counts as often as both have it), as `_f1_recall` in
    medmim_tasks.scoring.metrics computes it from the word lists."""
    reply, answer = _without_articles(codes.reply), _without_articles(codes.answer)
    if not reply or not answer:
        same = float(reply == answer)  # both without a word: the same (empty) answer
        return same, same
    distinct = set(answer)
    common = len(distinct.intersection(reply))  # each answer word once if the reply has it
    if len(distinct) < len(answer):  # a repeated answer word counts up to as often as the reply has it
        for character, answer_times in Counter(answer).items():
            if answer_times > 1:
                reply_times = reply.count(character)
                common += min(answer_times, reply_times) - min(1, reply_times)
    if common == 0:
        return 0.0, 0.0
    precision = common / len(reply)
    recall = common / len(answer)
    return 2 * precision * recall / (precision + recall), recall


def _without_articles(text: str) -> str:
    for article in _ARTICLE_CODES.values():
        text = text.replace(article, "")
    return text
