"""BLEU's clipped n-gram matches of one reply against one answer, by searching the shorter text's
n-grams in the longer one: no n-gram of the longer text is built."""

from __future__ import annotations

from collections import Counter
from itertools import compress

# The most tokens the shorter of the two texts may have here; sacrebleu counts longer pairs (each
# search of one of the shorter text's n-grams reads the longer text; the benchmark's answers have
# a few hundred tokens at most).
MOST_SHORTER_TOKENS = 512


def clipped_matches(hypothesis_line: str, gold_line: str, max_order: int) -> list[int]:
    """For each order n = 1..max_order, BLEU's matched n-gram count: over the n-grams of the
    answer, the lesser of their counts in the answer and in the reply (what sacrebleu's
    `_compute_segment_statistics` counts with Counters of every n-gram of both). The count is
    the same with the texts' roles swapped, so the shorter text's n-grams are the ones searched.

    Both lines are texts as sacrebleu's tokeniser returns them: tokens joined by single spaces
    (every sacrebleu tokeniser ends with `' '.join(line.split())`), so an n-gram occurs in a text
    exactly where " t1 ... tn " occurs in " line ". A text that holds the other whole holds each
    of its n-grams at least as often: the counts are the inner text's n-gram totals, found with
    one search. Otherwise the shorter text's n-grams are searched in the longer line (which is
    never split), one of order n > 1 only where both of its (n-1)-grams occur (no other can).

    Time: at most max_order x MOST_SHORTER_TOKENS searches of the longer line, each at most its
    length times the n-gram's (CPython's search; linear in it for long lines).
    """
    gold_length, hypothesis_length = _token_count(gold_line), _token_count(hypothesis_line)
    for inner, outer, length in ((gold_line, hypothesis_line, gold_length), (hypothesis_line, gold_line, hypothesis_length)):
        if f" {inner} " in f" {outer} ":
            return [max(0, length - order + 1) for order in range(1, max_order + 1)]
    shorter_line, longer_line = (gold_line, hypothesis_line) if gold_length <= hypothesis_length else (hypothesis_line, gold_line)
    shorter = shorter_line.split()
    if len(shorter) > MOST_SHORTER_TOKENS:
        raise ValueError(f"both texts have more than {MOST_SHORTER_TOKENS} tokens")
    haystack = f" {longer_line} "
    correct = [0] * max_order
    positions = list(range(len(shorter)))  # where the shorter text's n-grams of the last order occur in the longer
    for order in range(1, max_order + 1):
        if order > 1:  # an n-gram needs the (n-1)-grams at its position and at the next one
            occurring = set(positions)
            positions = [position for position in positions if position + 1 in occurring]
        needles = shorter if order == 1 else [" ".join(shorter[position : position + order]) for position in positions]
        correct[order - 1], found = _order_matches(haystack, needles)
        positions = list(compress(positions, found))
        if not positions:
            break  # no n-gram in common: no longer one either
    return correct


def _token_count(line: str) -> int:
    return line.count(" ") + 1 if line else 0


def _order_matches(haystack: str, needles: list[str]) -> tuple[int, list[bool]]:
    """The clipped matches of one order's n-grams `needles` (one per position of the shorter
    text) in `haystack` (" longer line "), and which of them occur there: each position counts
    once, except that an n-gram the shorter text repeats counts at most as often as the longer
    one has it."""
    occurs = {needle: f" {needle} " in haystack for needle in dict.fromkeys(needles)}
    found = list(map(occurs.__getitem__, needles))
    matched = sum(found)
    if len(occurs) < len(needles):
        for needle, needle_count in Counter(needles).items():
            if needle_count > 1 and occurs[needle]:
                matched -= needle_count - _occurrences(haystack, f" {needle} ", needle_count)
    return matched, found


def _occurrences(haystack: str, needle: str, most: int) -> int:
    """Occurrences of `needle` in `haystack`, overlapping ones included, counted up to `most`."""
    count, start = 0, haystack.find(needle)
    while start >= 0 and count < most:
        count += 1
        start = haystack.find(needle, start + 1)
    return count
