"""Replies that made option-letter extraction take seconds to minutes (issue 18, item 3:
catastrophic backtracking in its patterns), and runs of every kind of character that the
patterns treat specially: each with the letter `extract_choice` gives for it with `OPTIONS`.

Used by tests/scoring/test_extraction_time.py (each must be decided) and utils/bench_overhead.py (the
worst time over them: `worst_pathological_reply_ms`). Every reply is at most `LONG` characters.
"""

from __future__ import annotations

OPTIONS = {"A": "normal fundus", "B": "cataract", "C": "glaucoma", "D": "diabetic retinopathy"}
LONG = 100_000
RUN = LONG - 20  # a run with a few characters around it
PROSE = (
    "The first image shows a well-defined opacity in the upper outer region with smooth margins, while the "
    "second image shows the same region with slightly different contrast. "
)


# (character, name, what "A" + a run of it + "x" gives, what "(A)" + a run of it + "x" gives)
RUNS = [
    (" ", "spaces", None, "A"),  # "A ... x": the article before a word
    ("\n", "newlines", None, "A"),
    ("\t", "tabs", None, "A"),
    ('"', "quotes", "A", "A"),  # a letter and a separator start the reply
    ("'", "apostrophes", "A", "A"),
    ("(", "parentheses", "A", "A"),
    (")", "closing parentheses", "A", "A"),
    ("[", "brackets", "A", "A"),
    ("{", "braces", "A", "A"),
    ("}", "closing braces", "A", "A"),
    ("\\", "backslashes", "A", "A"),
    ("a", "letters", None, "A"),  # one long word
    ("A", "capitals", None, "A"),
    (".", "dots", "A", "A"),
    (":", "colons", "A", "A"),
    ("-", "dashes", "A", "A"),
    (",", "commas", "A", "A"),
    ("<", "angle brackets", "A", "A"),
    ("*", "asterisks", None, "A"),  # markdown emphasis is dropped: "Ax"
    ("|", "bars", "A", "A"),
    ("1", "digits", None, "A"),
    ("\u00e9", "accented letters", "A", "A"),
    ("\u3002", "CJK full stops", "A", "A"),
    ("\u7b54", "CJK characters", None, None),
]


def _runs() -> list[tuple[str, str, str | None]]:
    """(name, reply, expected letter): a run of each character alone, after a letter, after an answer
    phrase and after a bracketed letter, each ending in something that makes the patterns fail."""
    cases = []
    for char, name, after_letter, after_bracketed_letter in RUNS:
        cases += [
            (f"{name} alone", char * RUN, None),
            (f"A, {name}, x", "A" + char * RUN + "x", after_letter),
            (f"answer, {name}", "answer" + char * RUN, None),
            (f"(A), {name}, x", "(A)" + char * RUN + "x", after_bracketed_letter),
        ]
    return cases


HOSTILE_REPLIES: list[tuple[str, str, str | None]] = [
    # the replies
    ("\\boxed{ + 200 spaces", "\\boxed{" + " " * 200, None),
    ("\\boxed{ + 300 spaces", "\\boxed{" + " " * 300, None),
    ("\\fbox{ + 300 spaces", "\\fbox{" + " " * 300, None),
    ("\\boxed{ + 300 newlines", "\\boxed{" + "\n" * 300, None),
    ("\\text{ + 4000 spaces", "\\text{" + " " * 4000, None),
    ("50,000 quotes", '"' * 50_000, None),
    ("50,000 brackets", "(" * 50_000, None),
    ("A + 16,000 spaces + x", "A" + " " * 16_000 + "x", None),
    # LaTeX and braces
    ("\\boxed{ + 99,980 spaces", "\\boxed{" + " " * RUN, None),
    ("\\boxed{\\text{ + 99,980 spaces", "\\boxed{\\text{" + " " * RUN, None),
    ("\\boxed{ 99,980 spaces C", "\\boxed{" + " " * RUN + "C}", "C"),
    ("nested braces", "{" * 50_000 + "}" * 50_000, None),
    ("\\boxed{ repeated", "\\boxed{" * 14_000, None),
    ("\\text{ repeated", "\\text{" * 16_000, None),
    # repeated answer shapes
    ("A. repeated", "A. " * 33_000, "A"),
    ("(A) repeated", "(A) " * 25_000, "A"),
    ("answer: repeated", "answer: " * 12_000, None),
    ("answer, 30 colons", "answer" + ":" * 30, None),
    ("answer, 5,000 colons, x", "answer" + ":" * 5_000 + "x", None),
    ("the answer is the, repeated", "the answer is the " * 5_500, None),
    ("so + colons and spaces, repeated", ("so " + ": " * 20 + "x ") * 2_200, None),
    ("not A, repeated", "not A " * 16_000, None),
    ("A or B, repeated", "A or B " * 14_000, None),  # letters left open at the end (issue 13)
    ("i think, repeated", "i think " * 12_000, None),
    ("option text, repeated", "cataract " * 11_000, "B"),
    ("image words, repeated", "first second image " * 5_000, None),
    ("letters on lines after spaces", ("A" + " " * 200 + "\n") * 400, "A"),
    ("the answer is A + spaces + x", "The answer is A" + " " * RUN + "x", None),  # "A x": the article
    ("A is + spaces + x", "A is" + " " * RUN + "x", "A"),
    ("A) + spaces", "A)" + " " * RUN, "A"),
    ("A: + spaces + newline", "A:" + " " * RUN + "\n", "A"),
    ("option text + spaces + (B)", "cataract" + " " * RUN + "(B)", "B"),
    ("unclosed reasoning", "<think>" + "x" * RUN, None),
    ("empty reasoning blocks", "<think></think>" * 6_000, None),
    ("special-token openings", "<|" * 50_000, None),
    ("first and second findings, repeated", "first: a, second: b; " * 4_000, None),
    # long replies of ordinary shapes, and mixtures of the special characters
    ("verbose prose, then the answer", PROSE * (RUN // len(PROSE)) + "Therefore the answer is B.", "B"),
    ("verbose prose with letters", ("The answer is not A; " + PROSE) * (RUN // (len(PROSE) + 21)), None),
    ("special characters in turn", (" ([{\"':-.\n\t\\|<>*" * (RUN // 16))[:RUN], None),
    ("special characters and letters in turn", ("A ([{\"':-.\n\tB\\|" * (RUN // 16))[:RUN], "A"),
    ("\\boxed{A} repeated", "\\boxed{A} " * 9_000, "A"),
    *_runs(),
]
