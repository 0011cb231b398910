"""BLEU's clipped n-gram matches of one reply against one answer, by substring search: no n-gram
of the reply is built."""

from __future__ import annotations

from collections import Counter
from itertools import compress, repeat

# Longest answer (in tokens) counted here; sacrebleu counts longer ones (searches per answer
# n-gram would make the time answer x reply tokens). The benchmark's answers have a few hundred.
MOST_GOLD_TOKENS = 4096
_ELSEWHERE = "\0"  # the symbol of every reply token that is not in the answer


def clipped_matches(hypothesis_line: str, gold_line: str, max_order: int) -> list[int]:
    """For each order n = 1..max_order, BLEU's matched n-gram count: over the distinct n-grams of
    the answer, the lesser of their counts in the answer and in the reply (what sacrebleu's
    `_compute_segment_statistics` counts with Counters of every n-gram of both).

    Both lines are texts as sacrebleu's tokeniser returns them: tokens joined by single spaces
    (every sacrebleu tokeniser ends with `' '.join(line.split())`). A reply that holds the whole
    answer holds every answer n-gram at least as often as the answer does: its counts are the
    answer's n-gram totals, found with one search of " answer " in " reply ". Otherwise each
    distinct answer token becomes one character (every other reply token `_ELSEWHERE`), so an
    n-gram occurs in the reply exactly where its n characters do; only the answer's n-grams are
    looked for, one of order n > 1 only where both of its (n-1)-grams occur (no other can).

    Time: at most max_order x MOST_GOLD_TOKENS searches of one character per reply token.
    """
    gold = gold_line.split()
    if f" {gold_line} " in f" {hypothesis_line} ":
        return [max(0, len(gold) - order + 1) for order in range(1, max_order + 1)]
    if len(gold) > MOST_GOLD_TOKENS:
        raise ValueError(f"an answer of {len(gold)} tokens is longer than {MOST_GOLD_TOKENS}")
    symbols = dict(zip(gold, map(chr, range(1, len(gold) + 1))))  # one per distinct token, never _ELSEWHERE
    gold_text = "".join(map(symbols.__getitem__, gold))
    reply_text = "".join(map(symbols.get, hypothesis_line.split(" "), repeat(_ELSEWHERE)))  # single spaces
    common = set(reply_text).intersection(gold_text)  # the answer tokens the reply has
    correct = [0] * max_order
    # Unigrams: one character each, so str.count counts them exactly.
    correct[0] = sum(map(min, map(gold_text.count, common), map(reply_text.count, common)))
    positions = list(compress(range(len(gold_text)), map(common.__contains__, gold_text)))
    for order in range(2, max_order + 1):
        if not positions:
            break  # no n-gram in common: no longer one either
        occurring = set(positions)  # where the answer's (n-1)-grams occur in the reply
        positions = [position for position in positions if position + 1 in occurring]  # an n-gram needs both
        needles = [gold_text[position : position + order] for position in positions]
        found = list(map(reply_text.__contains__, needles))
        correct[order - 1] = _clipped_count(reply_text, needles, found)
        positions = list(compress(positions, found))
    return correct


def _clipped_count(text: str, needles: list[str], found: list[bool]) -> int:
    """Matches of the answer n-grams `needles` (one per position), `found` saying which occur in
    the reply: each position counts once, except that an n-gram the answer repeats counts at most
    as often as the reply has it."""
    matched = sum(found)
    if len(set(needles)) == len(needles):
        return matched
    found_by_needle = dict(zip(needles, found))
    for needle, gold_count in Counter(needles).items():
        if gold_count > 1 and found_by_needle[needle]:
            matched -= gold_count - _occurrences(text, needle, gold_count)
    return matched


def _occurrences(haystack: str, needle: str, most: int) -> int:
    """Occurrences of `needle` in `haystack`, overlapping ones included, counted up to `most`."""
    count, start = 0, haystack.find(needle)
    while start >= 0 and count < most:
        count += 1
        start = haystack.find(needle, start + 1)
    return count
