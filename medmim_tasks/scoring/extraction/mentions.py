"""Where the reply names an option by its text, and whether each mention counts."""

from __future__ import annotations

from medmim_tasks.scoring.extraction.negation import (
    _in_disjunction,
    _negated_at,
)
from medmim_tasks.scoring.extraction.normalise import (
    _UNDECIDED,
)
from medmim_tasks.scoring.extraction.options import (
    _Options,
)

_MENTION_CONTEXT = 61  # characters around a mention that _negated_at, _in_disjunction, ... read (and one more)


def _mentions(padded: str, phrase: str) -> tuple[str, list[tuple[str, int, int]]]:
    """Each occurrence of a padded phrase in a padded normalised text, as (context, start, end): the
    text around it, with every earlier occurrence blanked out ('\\0'), and where the phrase lies in
    that context (`start` > 60 exactly when the phrase starts after the text's 60th character);
    and the text with all of them blanked out (a shorter phrase looked for next is not found inside).

    In one pass: blanking each occurrence in the whole text before looking for the next one costs
    the text's length per occurrence (quadratic in a reply that repeats an option's text)."""
    starts: list[int] = []
    position = padded.find(phrase)
    while position != -1:
        starts.append(position)
        position = padded.find(phrase, position + len(phrase) - 1)  # neighbours share their padding space
    if not starts:
        return padded, []
    pieces: list[str] = []
    kept_from = 0
    for position in starts:
        pieces += [padded[kept_from : position + 1], "\0" * (len(phrase) - 2)]
        kept_from = position + len(phrase) - 1
    blanked = "".join(pieces) + padded[kept_from:]
    mentions = []
    for position in starts:
        context_start = max(0, position - _MENTION_CONTEXT)
        end = position + len(phrase)
        context = blanked[context_start:position] + padded[position : end + _MENTION_CONTEXT]
        mentions.append((context, position - context_start, end - context_start))
    return blanked, mentions


def _mentioned_options(padded: str, options: _Options) -> set[str]:
    """Letters whose option text occurs un-negated in the normalised reply (longest first); '?' if left open."""
    hits: set[str] = set()
    for letter, option_text in options.texts:
        padded, mentions = _mentions(padded, option_text)
        for context, start, end in mentions:
            if _negated_at(context, start, end):
                pass
            elif _overlaps_longer_option(context, start, end, option_text, options) or _in_disjunction(context, start, end):
                hits.add(_UNDECIDED)
            else:
                hits.update(options.heads.get(option_text, {letter}))
    return hits


def _mentioned_phrases(padded: str, phrases: tuple[str, ...]) -> set[str]:
    """The phrases (longest first) that occur un-negated in a normalised clause."""
    mentioned: set[str] = set()
    for phrase in phrases:
        padded, mentions = _mentions(padded, phrase)
        if any(not _negated_at(context, start, end) for context, start, end in mentions):
            mentioned.add(phrase)
    return mentioned


def _overlaps_longer_option(padded: str, start: int, end: int, option_text: str, options: _Options) -> bool:
    """'probably benign' names part of 'probably benign, follow-up' more than it names 'benign'."""
    before = padded[max(0, start - 40) : start].split()
    after = padded[end : end + 40].split()
    for _, longer in options.texts:
        if len(longer) <= len(option_text) or option_text not in longer:
            continue
        at = longer.find(option_text)
        longer_before = longer[:at].split()
        longer_after = longer[at + len(option_text) :].split()
        if (before and longer_before and before[-1] == longer_before[-1]) or (after and longer_after and after[0] == longer_after[0]):
            return True
    return False
