"""The functions lmms-eval calls for every Med-MIM task (the YAML `utils.py` shims import these)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from medmim_tasks.benchmark.images import ImageDecodeError, load_image, max_image_side_setting
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE
from medmim_tasks.scoring.extraction import extract_choice
from medmim_tasks.scoring.metrics import open_scores
from medmim_tasks.scoring.text_credit import credited_by_text
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.prefetch import prefetched_images
from medmim_tasks.task.prompts import doc_messages, doc_text

SCORE_KEY = "score"
CLUSTER_KEY = "cluster"


def process_docs(dataset: Any) -> Any:
    """Replace the one-row task manifest lmms-eval loaded with the split's real documents."""
    import datasets

    tasks = {row["task"] for row in dataset}
    if len(tasks) != 1:
        raise ValueError(f"a Med-MIM task manifest must name exactly one task, found {sorted(tasks)}")
    return datasets.Dataset.from_list(build_docs(tasks.pop()))


def process_sanity_docs(dataset: Any) -> Any:
    """`process_docs` of the generated sanity task: its manifest names med_mim_sanity; builds the set."""
    import datasets

    from medmim_tasks.sanity.generated_set import SANITY_TASK, build_sanity_docs

    tasks = {row["task"] for row in dataset}
    if tasks != {SANITY_TASK}:
        raise ValueError(f"the sanity task's manifest must name {SANITY_TASK!r} only, found {sorted(tasks)}")
    return datasets.Dataset.from_list(build_sanity_docs())


def doc_to_visual(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> list[Any]:
    """The item's images as RGB PIL images, in the item's order: decoded now, or ahead of time in the
    background when lmms-eval's requests said this document comes next (MEDMIM_PREFETCH_BYTES)."""
    max_side = max_image_side_setting(lmms_eval_specific_kwargs)
    try:
        prefetched = prefetched_images(doc.get("doc_key"), doc["image_paths"], max_side)  # medmim_tasks.task.prefetch
        return prefetched if prefetched is not None else [load_image(path, max_side) for path in doc["image_paths"]]
    except ImageDecodeError as error:
        raise ImageDecodeError(f"document {doc['doc_key']}: {error}") from error


def doc_to_text(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> str:
    return doc_text(doc, lmms_eval_specific_kwargs)


def doc_to_messages(doc: Mapping[str, Any], lmms_eval_specific_kwargs: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
    return doc_messages(doc, doc_to_visual(doc, lmms_eval_specific_kwargs), lmms_eval_specific_kwargs)


def doc_to_target(doc: Mapping[str, Any]) -> str:
    return doc["answer"]


def process_results(doc: Mapping[str, Any], results: Sequence[Any]) -> dict[str, Any]:
    """Scores of one reply: MC metrics for MC docs only, open metrics for open docs only.

    Each value is a dict with `score` and `cluster` (lmms-eval's score_key and cluster_key);
    the first metric of each kind also carries the per-sample record breakdowns need
    (doc key, dataset, source, images, options, gold, parsed letter, reply).

    Open documents also get `open_bleu` and `open_rouge_l`, and `open_judge` when the LLM judge
    is on (MEDMIM_JUDGE_URL; see medmim_tasks.scoring.judge).

    No shared mutable state (the judge's disk cache is written atomically): safe in lmms-eval's
    scoring threads.
    """
    reply = results[0] if results else ""
    reply = reply if isinstance(reply, str) else str(reply)
    cluster, doc_key = doc["cluster"], doc["doc_key"]
    # Share of the split's items that became documents: 1.0 unless MEDMIM_ON_MISSING=skip left
    # items out, so a partial run states itself in the results file.
    coverage = {SCORE_KEY: doc["items_evaluated"] / doc["items_total"], CLUSTER_KEY: cluster, "doc_key": doc_key}
    if doc["kind"] == MULTIPLE_CHOICE:
        options = {option["letter"]: option["text"] for option in doc["options"]}
        gold = doc["gold_letter"]
        parsed = extract_choice(reply, options)
        return {
            "mc_acc": _record(doc, reply, gold, parsed, float(parsed == gold)),
            "mc_text_acc": _score(credited_by_text(parsed, options, gold), cluster, doc_key),  # a twin letter counts
            "mc_parsed": _score(parsed is not None, cluster, doc_key),
            "mc_chance": _score(1.0 / len(options), cluster, doc_key),
            "coverage": coverage,
        }
    return _open_scores(doc, reply, coverage)


def _score(value: float, cluster: Any, doc_key: Any) -> dict[str, Any]:
    return {SCORE_KEY: float(value), CLUSTER_KEY: cluster, "doc_key": doc_key}


def _open_scores(doc: Mapping[str, Any], reply: str, coverage: dict[str, Any]) -> dict[str, Any]:
    from medmim_tasks.scoring.judge import METRIC as JUDGE_METRIC
    from medmim_tasks.scoring.judge import judge_config, judge_score

    cluster, doc_key, answer = doc["cluster"], doc["doc_key"], doc["answer"]
    scored = open_scores(reply, answer)
    scores = {
        "open_token_f1": _record(doc, reply, answer, None, scored.token_f1),
        "open_token_recall": _score(scored.token_recall, cluster, doc_key),
        "open_bleu": _score(scored.bleu, cluster, doc_key),
        "open_rouge_l": _score(scored.rouge_l, cluster, doc_key),
        "coverage": coverage,
    }
    judge = judge_config()  # None unless MEDMIM_JUDGE_URL is set; then errors are raised, never skipped
    if judge is not None:
        scores[JUDGE_METRIC] = _score(judge_score(judge, doc["question"], answer, reply), cluster, doc_key)
    return scores


def _record(doc: Mapping[str, Any], reply: str, gold: str, parsed: str | None, score: float) -> dict[str, Any]:
    """The first metric of each kind: its score and the per-sample record that breakdowns need."""
    return {
        "doc_key": doc["doc_key"],
        "dataset": doc["dataset"],
        "source": doc["source"],
        "n_images": doc["n_images"],
        "n_options": doc["n_options"],
        "cluster": doc["cluster"],
        "kind": doc["kind"],
        "gold": gold,
        "reply": reply,
        "items_evaluated": doc["items_evaluated"],
        "items_total": doc["items_total"],
        # which benchmark file the document came from (benchmark_modified: not the pinned upstream one)
        "benchmark_sha256": doc.get("benchmark_sha256"),
        "benchmark_modified": doc.get("benchmark_modified"),
        "parsed": parsed,
        SCORE_KEY: float(score),
    }


def mean_score(items: Sequence[Mapping[str, Any]]) -> float:
    """lmms-eval aggregation: the mean of the per-doc scores."""
    if not items:
        raise ValueError("no scored documents to aggregate")
    return sum(item[SCORE_KEY] for item in items) / len(items)
