"""The fast path for "answer phrase + letter" replies (scoring/extraction/lead_reply.py) against the
rules it skips: on every reply shape it accepts, with letters in and out of the options, brackets,
punctuation and case variants, and option sets whose texts are letters or answer phrases, both give
the same answer. A rule change that makes them differ fails here."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from extraction_modules import extraction_names

from medmim_tasks.scoring.extraction import extract_choice

OPTION_SETS = [
    {"A": "normal fundus", "B": "cataract", "C": "glaucoma", "D": "diabetic retinopathy"},
    {"A": "B", "B": "A", "C": "S", "D": "I"},  # option texts that are letters
    {"A": "b", "B": "c cells", "C": "the answer is A", "D": "correct option"},  # letters and answer phrases
    {"A": "the first image", "B": "the second image"},  # options that name images by place
    {"A": "First: normal, Second: effusion", "B": "First: effusion, Second: normal"},
    {"A": "is", "B": "option", "C": "answer", "D": "final", "E": "not B", "F": "A or B"},
    {"E": "cataract", "Z": "glaucoma"},
]
LETTERS = "ABDEISZ"  # in and out of the options; the article "A", the pronoun "I", the filler "S"
ADJECTIVES = ("", "final ", "correct ", "right ", "best ")
LEADS = [
    *(f"{the}{adjective}answer is {option}" for the in ("the ", "") for adjective in ADJECTIVES for option in ("", "option ")),
    *(f"{the}{adjective}{noun} is " for the in ("the ", "") for adjective in ADJECTIVES[1:] for noun in ("option", "choice")),
    *(f"{the}{adjective}answer{colon}" for the in ("the ", "") for adjective in ADJECTIVES for colon in (": ", ":", " : ", ":  ")),
]
CASES = (str, str.capitalize, str.upper, str.title)
LETTER_FORMS = ("{}", "({})", "[{}]", "{})", "({}")
ENDS = ("", ".")


def _replies() -> list[str]:
    return [
        case(lead) + form.format(letter) + end
        for lead, case, form, letter, end in itertools.product(LEADS, CASES, LETTER_FORMS, LETTERS, ENDS)
    ]


def test_fast_path_gives_what_the_rules_give() -> None:
    names = extraction_names()
    taken = 0
    for options in OPTION_SETS:
        prepared = names._prepare(tuple(options.items()))
        for reply in _replies():
            decided, letter = names._lead_letter_reply(reply, prepared)
            assert decided or ":" in reply, reply  # it declines only some "answer: X"
            if decided:
                taken += 1
                assert letter == names._rules_choice(reply, prepared), (reply, options)
    assert taken > 0.95 * len(OPTION_SETS) * len(_replies())


# Prose before an ending answer phrase: letters, answer phrases, negations, hedges, listings and
# foreign answer phrases that the rules read, none of which may change what the ending decides.
PROSE = [
    "",
    "Comparing the two images, the findings are consistent with cataract",
    "The first image is not A, and I don't think it is B",
    "It could be A or B",
    "Options:\nA: normal fundus\nB: cataract\nC: glaucoma",
    "I'd lean to B, but C cannot be excluded",
    "Answer: B",
    "La respuesta es la C",
    "Antwort: D",
    "B is correct",
    "The answer is not the second image",
    "(B) cataract",
    "C",
    "A or maybe D",
    "image B shows vitamin D deficiency",
    "I would say",
    "The answer is",
    "I cannot say whether it is option D",
    "First image: effusion; second image: normal",
    "答案是C",
    "The first image shows a well-defined opacity in the upper outer region with smooth margins, while the second image shows the same",
]
BREAKS = (". ", ", ", "; ", ": ", "! ", "? ", "\n", ".\n\n", ",", " ")
CONNECTIVES = ("", "so ", "So, ", "therefore ", "Therefore, ", "thus ", "hence ")
PHRASES = [
    *(f"the {adjective}answer is {option}" for adjective in ADJECTIVES for option in ("", "option ")),
    *(f"the {adjective}{noun} is " for adjective in ADJECTIVES[1:] for noun in ("option", "choice")),
]


def _endings() -> list[str]:
    endings = []
    for number, (connective, phrase, form, end) in enumerate(itertools.product(CONNECTIVES, PHRASES, LETTER_FORMS, ENDS)):
        case = CASES[number % len(CASES)]
        endings.append(case(connective + phrase) + form.format(LETTERS[number % len(LETTERS)]) + end)
    return endings


def test_ending_fast_path_gives_what_the_rules_give() -> None:
    names = extraction_names()
    taken = 0
    endings = _endings()
    # every ending after every prose and break would be 260,000 replies: each pair takes a ninth of them
    replies = [
        prose + brk + ending for number, (prose, brk) in enumerate(itertools.product(PROSE, BREAKS)) for ending in endings[number % 9 :: 9]
    ]
    for options in OPTION_SETS:
        prepared = names._prepare(tuple(options.items()))
        for reply in replies[OPTION_SETS.index(options) :: 3]:
            decided, letter = names._lead_letter_reply(reply, prepared)
            if decided:
                taken += 1
                assert letter == names._rules_choice(reply, prepared), (reply, options)
    assert taken > 0.5 * len(replies) * len(OPTION_SETS) / 3


def test_fast_path_declines_what_it_does_not_read() -> None:
    names = extraction_names()
    prepared = names._prepare(tuple(OPTION_SETS[0].items()))
    for reply in (
        "The answer is not A.",
        "The answer is A or B.",
        "The answer is a.",
        "The option is A.",
        "I think the answer is A.",
        "The answer is A, because the lens is clouded.",
        "The answer is\nA.",
        "The answer is A. B.",
        "It is not the case that the answer is A.",
        "Cataract or the answer is A.",
        "... the answer is A or B.",
        "... the answer is A, not B.",
    ):
        assert names._lead_letter_reply(reply, prepared) == (False, None), reply
    assert extract_choice("Final answer: B", {"A": "B", "B": "A"}) is None  # the rules: B by letter, A by its text
    assert extract_choice("Final answer: (B)", {"A": "B", "B": "A"}) == "B"
