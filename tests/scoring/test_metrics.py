"""Open-ended metrics (token F1/recall, sacrebleu BLEU, rouge-score ROUGE-L) and their place in process_results."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import sacrebleu
from rouge_score.rouge_scorer import RougeScorer

from medmim_tasks.scoring.metrics import (
    normalised_tokens,
    rouge_l,
    sentence_bleu,
    token_f1_recall,
)
from medmim_tasks.task.hooks import process_results

REFERENCE = "The pleural effusion is smaller than before."
PAIRS = [
    ("The effusion is smaller.", REFERENCE),
    ("the PLEURAL effusion is smaller than before", REFERENCE),
    ("No change between the two radiographs.", REFERENCE),
    ("", REFERENCE),
    ("Both images show an occlusion of the portal vein.", "The portal vein is occluded in both images."),
    ("第二张图像显示积液减少。", REFERENCE),
]


def test_normalised_tokens_drop_case_punctuation_and_articles() -> None:
    assert normalised_tokens("The Effusion, an  increase; A-line!") == ["effusion", "increase", "line"]


def test_token_f1_recall() -> None:
    assert token_f1_recall("pleural effusion is smaller than before", REFERENCE) == (1.0, 1.0)
    assert token_f1_recall("cardiomegaly", REFERENCE) == (0.0, 0.0)
    f1, recall = token_f1_recall("The effusion is smaller.", REFERENCE)  # 3 of 3 predicted, 3 of 6 gold
    assert recall == pytest.approx(3 / 6)
    assert f1 == pytest.approx(2 * 1.0 * 0.5 / 1.5)
    assert token_f1_recall("", REFERENCE) == (0.0, 0.0)


def test_bleu_is_sacrebleu_sentence_bleu_on_a_unit_scale() -> None:
    assert sentence_bleu(REFERENCE, REFERENCE) == pytest.approx(1.0)
    assert sentence_bleu(REFERENCE.upper(), REFERENCE) == pytest.approx(1.0)  # lower-cased
    assert sentence_bleu("", REFERENCE) == 0.0
    for prediction, reference in PAIRS:
        expected = sacrebleu.sentence_bleu(prediction, [reference], lowercase=True).score / 100
        assert sentence_bleu(prediction, reference) == pytest.approx(expected)
    assert 0.0 < sentence_bleu("The effusion is smaller.", REFERENCE) < 1.0


def test_rouge_l_is_the_rouge_score_f_measure() -> None:
    # LCS of "the effusion is smaller" (4 tokens) and the 7-token reference is 4: P 1, R 4/7.
    assert rouge_l("The effusion is smaller.", REFERENCE) == pytest.approx(2 * (4 / 7) / (1 + 4 / 7))
    assert rouge_l(REFERENCE, REFERENCE) == pytest.approx(1.0)
    assert rouge_l("", REFERENCE) == 0.0
    scorer = RougeScorer(["rougeL"])
    for prediction, reference in PAIRS:
        assert rouge_l(prediction, reference) == pytest.approx(scorer.score(reference, prediction)["rougeL"].fmeasure)


def test_metrics_are_identical_across_threads() -> None:
    pairs = PAIRS * 20
    serial = [(sentence_bleu(p, r), rouge_l(p, r), token_f1_recall(p, r)) for p, r in pairs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(lambda pr: (sentence_bleu(*pr), rouge_l(*pr), token_f1_recall(*pr)), pairs))
    assert threaded == serial


def _doc(kind: str) -> dict[str, Any]:
    mc = kind == "multiple_choice"
    options = [{"letter": letter, "text": text} for letter, text in zip("ABC", ("one", "two", "three"))]
    return {
        "doc_key": "med_mim_held_out_rad:7",
        "dataset": "VQA-RAD",
        "source": "VQA_RAD_test",
        "n_images": 2,
        "n_options": 3 if mc else 0,
        "cluster": "VQA-RAD:synpic100",
        "kind": kind,
        "question": "Is the effusion larger?" if not mc else "Which is it?\nA: one\nB: two\nC: three",
        "answer": "B: two" if mc else REFERENCE,
        "options": options if mc else [],
        "gold_letter": "B" if mc else None,
        "items_evaluated": 366,
        "items_total": 366,
    }


def test_process_results_open_doc_reports_the_open_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDMIM_JUDGE_URL", raising=False)
    scores = process_results(_doc("open_ended"), ["The effusion is smaller."])
    assert set(scores) == {"open_token_f1", "open_token_recall", "open_bleu", "open_rouge_l", "coverage"}
    for name, value in scores.items():
        assert value["cluster"] == "VQA-RAD:synpic100", name
        assert value["doc_key"] == "med_mim_held_out_rad:7", name
        assert 0.0 <= value["score"] <= 1.0, name
    assert scores["open_bleu"]["score"] == pytest.approx(sentence_bleu("The effusion is smaller.", REFERENCE))
    assert scores["open_rouge_l"]["score"] == pytest.approx(rouge_l("The effusion is smaller.", REFERENCE))
    assert scores["open_token_f1"]["reply"] == "The effusion is smaller."  # the per-sample record rides on F1


def test_process_results_mc_doc_reports_only_mc_metrics(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDMIM_JUDGE_URL", raising=False)
    scores = process_results(_doc("multiple_choice"), ["The answer is B."])
    assert set(scores) == {"mc_acc", "mc_text_acc", "mc_parsed", "mc_chance", "coverage"}
    assert scores["mc_acc"]["score"] == 1.0 and scores["mc_acc"]["parsed"] == "B"
    assert scores["mc_chance"]["score"] == pytest.approx(1 / 3)
    unparsed = process_results(_doc("multiple_choice"), ["I cannot tell."])
    assert unparsed["mc_acc"]["score"] == 0.0 and unparsed["mc_parsed"]["score"] == 0.0


@pytest.mark.parametrize("kind", ["multiple_choice", "open_ended"])
def test_coverage_states_a_partial_run(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDMIM_JUDGE_URL", raising=False)
    full = process_results(_doc(kind), ["B"])
    assert full["coverage"]["score"] == 1.0
    partial = dict(_doc(kind), items_evaluated=99)  # MEDMIM_ON_MISSING=skip kept 99 of 366 items
    scores = process_results(partial, ["B"])
    assert scores["coverage"]["score"] == pytest.approx(99 / 366)
    record = scores["mc_acc" if kind == "multiple_choice" else "open_token_f1"]
    assert (record["items_evaluated"], record["items_total"]) == (99, 366)


def _generated_pairs(count: int) -> list[tuple[str, str]]:
    """Deterministic (reply, reference) pairs: repeated words, punctuation, case, unicode, empty
    texts, and the reply shapes the open metrics count differently: replies holding the answer
    (plain, in prose, repeated), long replies, repeated and overlapping n-grams, what sacrebleu's
    13a tokeniser rewrites (entities, digits around . , -), punctuation alone."""
    import random

    rng = random.Random(7)
    words = ["the", "a", "an", "effusion", "pleural", "is", "smaller", "larger", "than", "before", "no", "change", "between", "two", "images", "portal", "vein", "occluded", "both", "first", "second", "lesion", "stable", "progressive", "disease", "A-line", "2nd", "3", "x-ray", "İstanbul", "ıi", "straße", "ÄÖÜ", "第二张", "积液", ".", ",", ";", "!", "?", "'", '"', "(", ")", "-", "n't", "it's", "Patient's"]
    few = ["a", "b", "c", "d", ".", ","]  # a small vocabulary: repeated n-grams, long common subsequences
    tokeniser = ["3.5", "1,000", "3-4", "e.g.", "&amp;", "&quot;x&quot;", "&lt;b&gt;", "<skipped>", "a-\nb", "x\ny", "—", "ǅ", "e\u0301", "a\u00a0b", "\u200b", "ＡＢＣ", "Σς", "ﬁ", "THE", "An"]
    punctuation = [".", ",", "!", "?", ";", ":", "-", "(", ")", "...", "'", '"']

    def text(vocabulary: list[str], most: int) -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(0, most)))

    pairs = [(text(words, 60), text(words, 25)) for _ in range(count)] + [(text(few, 30), text(few, 30)) for _ in range(count)]
    pairs += [(reply, reply) for reply, _ in pairs[:50]]
    answers = [answer for _, answer in pairs[: count // 5]] + [text(few, 12) for _ in range(count // 5)]
    for answer in answers:  # replies holding the whole answer, with more around it or repeated
        pairs += [(f"{text(words, 8)} {answer} {text(few, 8)}", answer), (" ".join([answer] * rng.randint(2, 4)), answer)]
    pairs += [(text(words + few, 400), text(words, 40)) for _ in range(count // 20)]  # long replies
    pairs += [(" ".join(rng.choices(["a b", "a", "b a b", "a a"], k=rng.randint(1, 40))), text(["a", "b"], 12)) for _ in range(count // 5)]
    pairs += [(text(tokeniser + words, 30), text(tokeniser + few, 15)) for _ in range(count // 5)]
    pairs += [(text(punctuation, 10), text(punctuation + few, 6)) for _ in range(count // 10)]
    return pairs + [("", ""), ("", "x"), ("x", ""), (" ", "."), ("\n\t", "A"), ("...", "..."), ("a", "the")] + PAIRS


def test_rouge_l_equals_rouge_score_exactly() -> None:
    scorer = RougeScorer(["rougeL"])
    for prediction, reference in _generated_pairs(1500):
        assert rouge_l(prediction, reference) == scorer.score(reference, prediction)["rougeL"].fmeasure, (prediction, reference)


def test_rouge_tokens_are_rouge_scores_tokens() -> None:
    from rouge_score.tokenize import tokenize

    from medmim_tasks.scoring.metrics import _rouge_parts, _rouge_tokens

    assert _rouge_parts()[0] is _rouge_tokens  # rouge-score's patterns are still the ones _rouge_tokens mirrors
    texts = [text for pair in _generated_pairs(300) for text in pair] + ["ＡＢＣ １２ İI ǅ Σς ﬁ", "a\u00a0b\u2028c\x1cd"]
    for text in texts:
        assert _rouge_tokens(text) == tokenize(text, None), text


def test_rouge_l_does_not_import_nltk() -> None:
    import subprocess
    import sys

    code = "import sys; from medmim_tasks.scoring.metrics import rouge_l; rouge_l('a b', 'b'); print('nltk' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_bleu_equals_sacrebleu_sentence_score_exactly() -> None:
    from sacrebleu.metrics import BLEU

    bleu = BLEU(lowercase=True, effective_order=True)
    for prediction, reference in _generated_pairs(1500):
        expected = bleu.sentence_score(prediction, [reference]).score / 100.0
        assert sentence_bleu(prediction, reference) == expected, (prediction, reference)


def test_token_f1_recall_counts_the_multiset_overlap() -> None:
    for prediction, reference in _generated_pairs(500):
        predicted, gold = normalised_tokens(prediction), normalised_tokens(reference)
        f1, recall = token_f1_recall(prediction, reference)
        if predicted and gold:
            common = sum((Counter(predicted) & Counter(gold)).values())
            assert recall == common / len(gold)
            assert (f1 == 0.0) if common == 0 else f1 == pytest.approx(2 * common / (len(predicted) + len(gold)))


def test_open_scores_equal_the_reference_metrics_exactly() -> None:
    """open_scores counts F1 and ROUGE-L on one-character word codes and BLEU's matches by search:
    each value equals the libraries' (and the F1 definition's) to the last bit."""
    from sacrebleu.metrics import BLEU

    from medmim_tasks.scoring.metrics import open_scores

    bleu, scorer = BLEU(lowercase=True, effective_order=True), RougeScorer(["rougeL"])
    for prediction, reference in _generated_pairs(1000):
        expected = (
            *token_f1_recall(prediction, reference),
            bleu.sentence_score(prediction, [reference]).score / 100.0,
            scorer.score(reference, prediction)["rougeL"].fmeasure,
        )
        assert tuple(open_scores(prediction, reference)) == expected, (prediction, reference)


def test_clipped_matches_are_sacrebleus_counts() -> None:
    from sacrebleu.metrics import BLEU

    from medmim_tasks.scoring.bleu import clipped_matches

    bleu = BLEU(lowercase=True, effective_order=True)
    line = lambda text: bleu.tokenizer(text.lower().rstrip())  # noqa: E731 - what BLEU counts on
    for prediction, reference in _generated_pairs(1000):
        if line(prediction):
            counts = bleu.sentence_score(prediction, [reference]).counts
            assert clipped_matches(line(prediction), line(reference), 4) == counts, (prediction, reference)
    # the answer inside the reply: its own totals, repeated and overlapping n-grams included
    assert clipped_matches("x a a a b a a y", "a a a b a a", 4) == [6, 5, 4, 3]
    assert clipped_matches("a a a", "a a a a", 4) == [3, 2, 1, 0]  # each counts at most as often as the reply has it
    assert clipped_matches("b a b a b", "a b a b a b", 4) == [5, 4, 3, 2]


def test_long_texts_are_counted_exactly() -> None:
    """A long answer with a short reply (or the reverse) searches the short text's n-grams; when
    both texts have more than MOST_SHORTER_TOKENS tokens BLEU is sacrebleu's own, and over
    MOST_SHORTER_WORDS words F1 and ROUGE-L count word lists: the values stay the libraries'."""
    from sacrebleu.metrics import BLEU

    from medmim_tasks.scoring.bleu import MOST_SHORTER_TOKENS, clipped_matches
    from medmim_tasks.scoring.metrics import _rouge_parts, open_scores
    from medmim_tasks.scoring.word_codes import MOST_SHORTER_WORDS, word_overlap

    bleu = BLEU(lowercase=True, effective_order=True)
    long_text = " ".join(f"w{number % 700} x" for number in range(max(MOST_SHORTER_TOKENS, MOST_SHORTER_WORDS)))
    other_long_text = "w1 x w2 x w3 y w4 x the " * (max(MOST_SHORTER_TOKENS, MOST_SHORTER_WORDS) // 4)
    short_text = "w1 x w2 x w3 y w4 x the"
    for prediction, reference in [(short_text, long_text), (long_text, short_text), (other_long_text, long_text)]:
        expected = (
            *token_f1_recall(prediction, reference),
            bleu.sentence_score(prediction, [reference]).score / 100.0,
            rouge_l(prediction, reference),  # rouge-score's value: rapidfuzz on numbered words
        )
        assert tuple(open_scores(prediction, reference)) == expected, (prediction[:30], reference[:30])
        assert expected[0] > 0.0 and expected[3] > 0.0
    # the short text's n-grams searched in the long one: sacrebleu's counts, whichever is the reply
    for prediction, reference in [(short_text, long_text), (long_text, short_text)]:
        counts = clipped_matches(bleu.tokenizer(prediction), bleu.tokenizer(reference), 4)
        assert counts == bleu.sentence_score(prediction, [reference]).counts == [7, 5, 3, 2]
    with pytest.raises(ValueError, match="more than"):
        clipped_matches(" ".join(other_long_text.split()), long_text, 4)
    with pytest.raises(ValueError, match="more than"):
        word_overlap(other_long_text.split(), long_text.split(), _rouge_parts()[2])


def test_open_scores_are_identical_across_threads() -> None:
    from medmim_tasks.scoring.metrics import open_scores

    pairs = _generated_pairs(200)
    serial = [open_scores(*pair) for pair in pairs]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(lambda pair: open_scores(*pair), pairs)) == serial
