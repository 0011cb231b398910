"""What the sample browser shows: every logged document of one or two runs, joined with its benchmark item.

lmms-eval logs no documents, only our per-sample record (doc key, dataset, source, gold, parsed
letter, reply, scores: `medmim_tasks.results.runs`). The question, the options, the gold answer
and the image references come from the benchmark file of the split (`doc_key` is
`<task>:<item index>`), and the images are found by the resolver the tasks use
(MEDMIM_IMAGE_ROOT and the per-dataset roots), in the order the model received them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from medmim_tasks.benchmark.image_paths import ImageLocator
from medmim_tasks.benchmark.images import MAX_IMAGE_SIDE_KEY, checked_max_image_side
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, Item, load_split
from medmim_tasks.benchmark.splits import SPLITS_BY_TASK
from medmim_tasks.results.browser_thumbnails import ImageRequest
from medmim_tasks.results.runs import Run, RunFormatError

RIGHT, WRONG, UNPARSED, OPEN = "right", "wrong", "unparsed", "open-ended"
SCORE_DIGITS = 4


@dataclass
class BrowserData:
    """The page's data (JSON-ready) and the images its documents show, one request per table entry."""

    payload: dict[str, Any]
    image_requests: list[ImageRequest]


def recorded_max_image_side(run: Run, task: str) -> int | None:
    """The max_image_side the run's task used, as its results file records it (None: full size).

    lmms-eval records each task's `lmms_eval_specific_kwargs`: the block named after the model when
    there is one, else `default` (it merges `default` into the top level too). MEDMIM_MAX_IMAGE_SIDE
    set while the run was made is not recorded: `medmim browse --max-image-side` says it.
    """
    config = ((run.results.get("configs") or {}).get(task) or {}).get("lmms_eval_specific_kwargs") or {}
    block = config.get(run.model) if isinstance(config.get(run.model), dict) else config.get("default", config)
    value = block.get(MAX_IMAGE_SIDE_KEY) if isinstance(block, dict) else None
    try:
        return checked_max_image_side(value)
    except ValueError as error:
        raise RunFormatError(f"{run.results_file}: task {task}: {error}") from None


def outcome(kind: str, parsed: Any, mc_acc: Any) -> str:
    """right / wrong / unparsed for a multiple-choice reply; open-ended for the others."""
    if kind != MULTIPLE_CHOICE:
        return OPEN
    if not isinstance(parsed, str):
        return UNPARSED
    return RIGHT if mc_acc == 1 else WRONG


def _number(value: Any) -> float | None:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return None
    return round(float(value), SCORE_DIGITS)


def _run_entry(row: Mapping[str, Any], metrics: Sequence[str]) -> dict[str, Any]:
    parsed = row.get("parsed")
    parsed = parsed if isinstance(parsed, str) else None
    scores = {metric: _number(row.get(metric)) for metric in metrics if metric.startswith("open_")}
    return {
        "reply": str(row.get("reply") or ""),
        "parsed": parsed,
        "outcome": outcome(str(row["kind"]), parsed, row.get("mc_acc")),
        "scores": {name: value for name, value in scores.items() if value is not None},
    }


def question_without_options(item: Item) -> str:
    """The question text with its option lines left out (the page lists the options on their own)."""
    if not item.options:
        return item.question
    letters = {letter for letter, _ in item.options}
    kept = [line for line in item.question.split("\n") if not (len(line) > 1 and line[1] == ":" and line[0] in letters)]
    return "\n".join(kept).strip()


class _ImageTable:
    """Distinct (image, render setting) pairs, each one thumbnail; documents refer to them by index."""

    def __init__(self) -> None:
        self.requests: list[ImageRequest] = []
        self._index: dict[tuple[str, int | None], int] = {}

    def add(self, path: str | None, expected: str, max_image_side: int | None) -> int:
        key = (path or expected, max_image_side)
        if key not in self._index:
            self._index[key] = len(self.requests)
            self.requests.append(ImageRequest(path, expected, max_image_side))
        return self._index[key]


def _items_by_key(tasks: Sequence[str], environ: Mapping[str, str] | None) -> dict[str, tuple[Item, list[tuple[str | None, str]]]]:
    """Every item of the tasks by doc key, with its images as (found path or None, expected path)."""
    locator = ImageLocator(environ)
    found: dict[str, tuple[Item, list[tuple[str | None, str]]]] = {}
    for task in tasks:
        items = load_split(SPLITS_BY_TASK[task], environ)  # type: ignore[arg-type]
        resolved: dict[str, dict[str, str | None]] = {}
        for item in items:
            resolved.setdefault(item.dataset.name, {})
        for name in resolved:
            dataset = next(item.dataset for item in items if item.dataset.name == name)
            resolved[name] = locator.resolve_all(dataset, (ref for item in items if item.dataset.name == name for ref in item.images))
        for item in items:
            images = [(resolved[item.dataset.name][ref], str(locator.expected(item.dataset, ref))) for ref in item.images]
            found[f"{task}:{item.index}"] = (item, images)
    return found


def _document(
    key: str, item: Item, images: list[tuple[str | None, str]], rows: Sequence[Mapping[str, Any] | None],
    runs: Sequence[Run], sides: Sequence[Mapping[str, int | None]], table: _ImageTable,
) -> dict[str, Any]:
    first = next(row for row in rows if row is not None)
    task = str(first["task"])
    return {
        "key": key,
        "split": str(first["split"]),
        "dataset": str(first["dataset"]),
        "subtype": str(first["subtype"]),
        "source": item.source,
        "kind": str(first["kind"]),
        "n_images": len(images),
        "question": question_without_options(item),
        "options": [[letter, text] for letter, text in item.options],
        "gold": item.answer,
        "gold_letter": item.gold_letter,
        "images": [[table.add(path, expected, side[task]) for path, expected in images] for side in sides],
        "runs": [None if row is None else _run_entry(row, run.metrics) for row, run in zip(rows, runs)],
    }


def browser_data(runs: Sequence[Run], max_image_side: int | None = None, environ: Mapping[str, str] | None = None) -> BrowserData:
    """The documents of one or two runs (in the first run's order, then those only the second has).

    `max_image_side` overrides what the runs recorded (for runs made with MEDMIM_MAX_IMAGE_SIDE set).
    """
    if not 1 <= len(runs) <= 2:
        raise ValueError(f"the browser shows one run or compares two; got {len(runs)}")
    tasks = [task for task in SPLITS_BY_TASK if any(task in run.tasks for run in runs)]
    sides = [
        {task: (max_image_side if max_image_side is not None else recorded_max_image_side(run, task)) for task in tasks}
        for run in runs
    ]
    items = _items_by_key(tasks, environ)
    by_run = [{str(row["doc_key"]): row for row in run.docs.to_dict("records")} for run in runs]
    keys = list(dict.fromkeys(key for rows in by_run for key in rows))
    table = _ImageTable()
    documents = []
    for key in keys:
        if key not in items:
            raise RunFormatError(
                f"document {key} of the run is not in the benchmark files read now ({', '.join(tasks)}); the run was made "
                "with other benchmark files: point MEDMIM_BENCHMARK_DIR at the ones the run used"
            )
        item, images = items[key]
        logged = next(rows[key] for rows in by_run if key in rows)
        if int(logged["n_images"]) != len(images):
            raise RunFormatError(
                f"document {key}: the run logged {int(logged['n_images'])} images but the benchmark item has {len(images)}; "
                "the run was made with other benchmark files: point MEDMIM_BENCHMARK_DIR at the ones the run used"
            )
        documents.append(_document(key, item, images, [rows.get(key) for rows in by_run], runs, sides, table))
    payload = {
        "runs": [
            {"label": run.label, "model": run.model, "model_args": run.model_args, "results_file": str(run.results_file),
             "max_image_side": {SPLITS_BY_TASK[task].alias: side[task] for task in tasks}}
            for run, side in zip(runs, sides)
        ],
        "docs": documents,
    }
    return BrowserData(payload, table.requests)
