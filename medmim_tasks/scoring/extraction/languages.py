"""Answer phrases in Spanish, French, German and Portuguese that the English-shaped leads miss:
"Opción C", "la respuesta es la B", "la réponse est C", "Antwort: C", "a resposta correta é a D",
"Alternativa B" (issue 13). The letter must be a capital (so the articles "a", "o" are never read as
letters); "la B o la C" leaves two letters open."""

from __future__ import annotations

import re

from medmim_tasks.scoring.extraction.normalise import _UNDECIDED

# The lead, then words that may stand between it and the letter (verbs, adjectives, articles, the
# word for "option"), then the capital letter. Single-letter articles ("a", "o") only just before it.
_FOREIGN_ANSWER = re.compile(
    r"(?<![A-Za-z])(?:respuesta|r\u00e9ponse|reponse|resposta|antwort|opci\u00f3n|opcion|op\u00e7\u00e3o|opcao|alternativa)"
    r"(?:[\s:=,\-]|\b(?:es|est|ist|lautet|\u00e9|correcta|correcte|correta|richtige|final|finale|la|el|le|die|der|"
    r"opci\u00f3n|opcion|option|op\u00e7\u00e3o|opcao)\b){0,12}?(?:(?:a|o)[ \t]+)?[(\[]?(?-i:([A-Z]))(?![A-Za-z0-9])",
    re.IGNORECASE,
)
_FOREIGN_PARTNER = re.compile(r"[)\]]?[ \t]+(?i:o|ou|oder|u)[ \t]+(?:(?i:la|el|le|a|o|die|der)[ \t]+)?[(\[]?([A-Z])(?![A-Za-z0-9])")
_FOREIGN_NEGATED = re.compile(r"[)\]]?[ \t]+(?i:no|non|nicht|n\u00e3o|nao)\b")


def _foreign_commitments(text: str, folded: str | None) -> list[tuple[int, str]]:
    """(position, letter or '?') of each answer phrase of these languages; the caller judges the letter.
    `folded`: the reply lower-cased when it is ASCII (then only the ASCII spellings can occur)."""
    found: list[tuple[int, str]] = []
    if folded is not None and not _has_ascii_lead(folded):
        return found
    for match in _FOREIGN_ANSWER.finditer(text):
        letter = match.group(1)
        if _FOREIGN_NEGATED.match(text, match.end()):
            continue
        partner = _FOREIGN_PARTNER.match(text, match.end())
        found.append((match.start(1), _UNDECIDED if partner and partner.group(1) != letter else letter))
    return found


def _has_ascii_lead(folded: str) -> bool:
    """Whether the lower-cased reply holds an ASCII spelling of a lead (a few substring tests)."""
    return (
        "respuesta" in folded
        or "reponse" in folded
        or "resposta" in folded
        or "antwort" in folded
        or "opcion" in folded
        or "opcao" in folded
        or "alternativa" in folded
    )
