"""Credit by option text: a reply naming another letter with the gold option's text counts (`mc_text_acc`).

Some items list one text under two letters (102 of ODIR's 300 multiple-choice items list the gold
text twice). The letter-exact `mc_acc` counts only the gold letter; `mc_text_acc` also counts its
twin. Texts are compared as normalised tokens (lower case, alphanumeric runs, articles dropped), so
"Cataract." and "cataract" are the same answer. See docs/circular.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from medmim_tasks.scoring.metrics import normalised_tokens


@lru_cache(maxsize=8192)  # option texts repeat across a split's documents
def text_key(text: str) -> tuple[str, ...]:
    """What two option texts must share to count as the same answer: their normalised tokens."""
    return tuple(normalised_tokens(text))


def credited_by_text(parsed: str | None, options: Mapping[str, str], gold_letter: str) -> bool:
    """Whether the letter named has the gold option's text (the gold letter itself, or a twin with the same text)."""
    if parsed == gold_letter:
        return gold_letter in options
    return parsed is not None and parsed in options and text_key(options[parsed]) == text_key(options[gold_letter])


def twin_letters(options: Mapping[str, str], gold_letter: str) -> list[str]:
    """The other letters whose text is the gold option's text (empty for most items)."""
    gold = text_key(options[gold_letter])
    return [letter for letter, text in options.items() if letter != gold_letter and text_key(text) == gold]
