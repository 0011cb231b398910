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
    """Deterministic (reply, reference) pairs: repeated words, punctuation, case, unicode, empty texts."""
    import random

    rng = random.Random(7)
    words = ["the", "a", "an", "effusion", "pleural", "is", "smaller", "larger", "than", "before", "no", "change", "between", "two", "images", "portal", "vein", "occluded", "both", "first", "second", "lesion", "stable", "progressive", "disease", "A-line", "2nd", "3", "x-ray", "İstanbul", "ıi", "straße", "ÄÖÜ", "第二张", "积液", ".", ",", ";", "!", "?", "'", '"', "(", ")", "-", "n't", "it's", "Patient's"]
    few = ["a", "b", "c", "d", ".", ","]  # a small vocabulary: repeated n-grams, long common subsequences

    def text(vocabulary: list[str], most: int) -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(0, most)))

    pairs = [(text(words, 60), text(words, 25)) for _ in range(count)] + [(text(few, 30), text(few, 30)) for _ in range(count)]
    pairs += [(reply, reply) for reply, _ in pairs[:50]]
    return pairs + [("", ""), ("", "x"), ("x", ""), (" ", "."), ("\n\t", "A")] + PAIRS


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
