"""Support for the results tests: constructed lmms-eval runs (a results file and its sample files)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

TEMPORAL = "med_mim_held_in_temporal"
ODIR = "med_mim_held_out_odir"
EMBED_MC_SOURCE = "EMBED_multichoice_typeB_VQA_ImgLenRandom_Forecast1Year_randomAttempt10_2024_12_07_12_00_22"
EMBED_OPEN_SOURCE = "EMBED_conv_typeB_VQA_ImgLenRandom_Forecast1Year_randomAttempt10_2024_12_11_16_37_28"
ODIR_MC_SOURCE = "VQA_ODIR_instruction_multichoice_20250124"


def mc_doc(
    correct: bool,
    cluster: str = "c0",
    *,
    source: str = EMBED_MC_SOURCE,
    dataset: str = "EMBED",
    n_images: int = 2,
    n_options: int = 4,
    gold: str = "A",
    parsed: str | None = None,
) -> dict[str, Any]:
    """A multiple-choice document as a test writes it: the fields of its per-sample record and its scores."""
    parsed = parsed if parsed is not None else (gold if correct else ("B" if gold != "B" else "C"))
    return {
        "kind": "multiple_choice",
        "source": source,
        "dataset": dataset,
        "cluster": cluster,
        "n_images": n_images,
        "n_options": n_options,
        "gold": gold,
        "parsed": parsed,
        "reply": parsed,
        "scores": {"mc_acc": float(correct), "mc_parsed": 1.0, "mc_chance": 1.0 / n_options},
    }


def open_doc(f1: float, cluster: str = "o0", *, source: str = EMBED_OPEN_SOURCE, dataset: str = "EMBED", **extra: float | None) -> dict[str, Any]:
    """An open-ended document with token F1/recall and any further open_* scores."""
    return {
        "kind": "open_ended",
        "source": source,
        "dataset": dataset,
        "cluster": cluster,
        "n_images": 2,
        "n_options": 0,
        "gold": "a gold answer",
        "parsed": None,
        "reply": "a reply",
        "scores": {"open_token_f1": f1, "open_token_recall": f1, **extra},
    }


def write_run(
    folder: Path,
    docs_by_task: dict[str, Sequence[dict[str, Any]]],
    *,
    date: str = "20260101_120000",
    model: str = "dummy",
    model_args: str = "response=A",
    limit: float | None = None,
) -> Path:
    """Write `<date>_results.json` and `<date>_samples_<task>.jsonl` as lmms-eval does; return the results file."""
    folder.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, Any]] = {}
    n_samples: dict[str, dict[str, int]] = {}
    for task, docs in docs_by_task.items():
        lines = []
        sums: dict[str, list[float]] = {}
        for index, doc in enumerate(docs):
            record = {key: doc[key] for key in ("dataset", "source", "n_images", "n_options", "cluster", "kind", "gold", "reply", "parsed")}
            record["doc_key"] = f"{task}:{index}"
            record.update({key: doc[key] for key in ("items_evaluated", "items_total") if key in doc})
            sample: dict[str, Any] = {"doc_id": index, "target": doc["gold"], "filtered_resps": doc["reply"]}
            for position, (metric, score) in enumerate(doc["scores"].items()):
                entry = {"score": score, "cluster": doc["cluster"], "doc_key": record["doc_key"]}
                sample[metric] = {**record, **entry} if position == 0 else entry
                if score is not None:
                    sums.setdefault(metric, []).append(score)
            lines.append(json.dumps(sample))
        (folder / f"{date}_samples_{task}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        results[task] = {"alias": task}
        for metric, scores in sums.items():
            results[task][f"{metric},none"] = sum(scores) / len(scores)
        n_samples[task] = {"original": len(docs), "effective": len(docs)}
    payload = {
        "results": results,
        "n-samples": n_samples,
        "config": {"model": model, "model_args": model_args, "limit": limit},
        "model_name": "",
        "date": date,
    }
    results_file = folder / f"{date}_results.json"
    results_file.write_text(json.dumps(payload), encoding="utf-8")
    return results_file
