"""Which option letter a model's reply commits to: `extract_choice(response, options)`.

A careful grader's reading, written down as rules (README, "Scoring"):

1. Reasoning inside `<think>...</think>` (also `<thinking>`, `<reasoning>`) is dropped; a reply
   whose reasoning never closes has no answer. Full-width characters are folded (NFKC); markdown
   emphasis, LaTeX boxes and special tokens (`<|...|>`) are removed.
2. Strong letter commitments are collected with their positions: a bare letter however decorated
   (`C`, `(C)`, `C.`, `**C**`, `\\boxed{C}`, `{"answer": "C"}`), a reply or line that starts with
   a letter and a separator (`C: cataract`, `C. ...`, `C - ...`, `B, because ...`), answer phrases
   in English, Chinese and a few other languages ("the answer is C", "I'd choose C", "答案是C",
   "so C.", "wait, C"), "C is correct", and answer phrases followed by one option's text ("the
   answer is the second image"). The last strong commitment wins ("not A ... therefore C").
3. Weak commitments count only when there is no strong one, and only when they all agree: option
   text followed by its letter ("cataract (B)"), a letter in parentheses ending a line, a letter
   after a comma ending the reply, and descriptive phrases followed by option text ("this is
   consistent with glaucoma").
4. A commitment is void when negated ("not A", "A is incorrect"); it is undecided when it names two
   letters ("A or C", "B/C", "答案是A或C"), and then the result is None; a letter that is no
   option ("E" with options A-D) gives None; a gold-form line whose text is another option's text
   ("C: cataract" when cataract is B) gives None.
5. "A" and "I" followed by an ordinary word are the article and the pronoun, and no letter followed
   by an ordinary word (other than its own option text) is a commitment ("B cells"); letters inside
   words and abbreviations (CT, OD, DNA, C-spine, e.g.) and after "image", "vitamin", ... are never
   letters. Options listed back (two or more letters as "X:" / "X)" markers) are not commitments.
6. With no commitment, option text decides, compared after normalisation (lower case, punctuation
   and articles dropped, "image 2"/"2nd image"/"second one" read as "second image"): the whole
   reply, its first line or its first clause equal to one option's text (or to the head clause
   of a multi-clause option) when no other option is named; else the one option whose text occurs
   in the reply, longest option first, skipping negated mentions ("no cataract", "rather than
   glaucoma") and giving None for "X or Y". This last step is off for refusals and hedges
   ("cannot determine", "not sure"), for replies that talk about letters, and for replies that
   describe several images when the option does not name an image. When every option reads
   "First: X, Second: Y", the reply's findings per image ("the first image shows X and the second
   Y") must equal exactly one option's. When every option only names an image by its place
   ("the second in sequence", "image 2", "the last one"), the one place the reply names decides
   ("the second image"; "first" or "last" alone, never "third" for "last").
7. Anything else is None: no guess, no randomness, only letters of `options`.

Time: linear in the reply's length, whatever it holds (docs/reliability.md, "Time bound on scoring"). Every pattern
here has a shape Python's backtracking engine matches in linear time: no repeat beside another that
can match the same characters, no repeat whose iterations can split a text two ways, no searched
pattern that can rescan a run from each position inside it. tests/scoring/test_extraction_time.py checks
the shape of each module-level pattern (tests/regex_linearity.py names the rule one breaks).
"""

from __future__ import annotations

from medmim_tasks.scoring.extraction.decision import extract_choice

__all__ = ["extract_choice"]
