"""lmms-eval documents for a split: validated items with resolved image paths and cluster ids."""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from medmim_tasks.benchmark.checksum import benchmark_identity
from medmim_tasks.benchmark.clusters import cluster_ids
from medmim_tasks.benchmark.image_paths import (
    ImageLocator,
    MissingImagesError,
    missing_images_message,
)
from medmim_tasks.benchmark.items import Item, load_split
from medmim_tasks.benchmark.sources import SourceDataset
from medmim_tasks.benchmark.splits import split_for_task
from medmim_tasks.settings import ON_MISSING_ERROR, ON_MISSING_SKIP, setting
from medmim_tasks.task.ordering import representative_order

ON_MISSING_VARIABLE = "MEDMIM_ON_MISSING"

logger = logging.getLogger(__name__)


def on_missing_policy(environ: Mapping[str, str]) -> str:
    """MEDMIM_ON_MISSING: `error` (default) or `skip`; any other value is an error naming the variable."""
    return setting(ON_MISSING_VARIABLE, environ)


def item_doc(task: str, item: Item, image_paths: list[str], cluster: str) -> dict[str, Any]:
    """The flat, Arrow-friendly record lmms-eval keeps per document (logged with every sample)."""
    return {
        "doc_key": f"{task}:{item.index}",
        "task": task,
        "index": item.index,
        "id": item.id,
        "source": item.source,
        "dataset": item.dataset.name,
        "kind": item.kind,
        "user_turn": item.user_turn,
        "question": item.question,
        "answer": item.answer,
        "options": [{"letter": letter, "text": text} for letter, text in item.options],
        "gold_letter": item.gold_letter,
        "n_images": len(item.images),
        "n_options": len(item.options),
        "image_refs": list(item.images),
        "image_paths": image_paths,
        "cluster": cluster,
    }


def build_docs(task: str, environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """Every document of a task, in representative order (every prefix, so `--limit N`, holds each
    kind, source dataset and sub-type in its share: task.ordering); raises before any model runs if
    images are missing. Keys stay `<task>:<file index>`.

    With MEDMIM_ON_MISSING=skip only the items whose images are all present become documents, a
    warning says how many were left out, and every document carries `items_total` (items in the
    split) and `items_evaluated` (documents built) so results show a partial run as partial.

    The split file must be the pinned upstream one (benchmark_checksum); every document records
    `benchmark_sha256` and `benchmark_modified`.
    """
    env = os.environ if environ is None else environ
    policy = on_missing_policy(env)
    split = split_for_task(task)
    items = load_split(split, env)  # type: ignore[arg-type]
    identity = benchmark_identity(split, env)  # refuses a modified file unless MEDMIM_ALLOW_MODIFIED_BENCHMARK=1
    docs, missing, references = _complete_item_docs(task, items, ImageLocator(env))
    if missing and (policy == ON_MISSING_ERROR or not docs):
        message = missing_images_message(task, missing, references)
        if docs == [] and policy == ON_MISSING_SKIP:
            message = f"{ON_MISSING_VARIABLE}=skip leaves no complete item to evaluate.\n{message}"
        raise MissingImagesError(message)
    if missing:
        logger.warning(
            "task %s: %s=skip: evaluating %d of %d items; %d items lack images (%d of %d image "
            "references missing). Results of this task cover only these %d items (its n-samples in the "
            "results file; items_evaluated and items_total in each document); `medmim check` lists what is missing.",
            task, ON_MISSING_VARIABLE, len(docs), len(items), len(items) - len(docs),
            len(missing), references, len(docs),
        )
    docs = representative_order(docs)
    for doc in docs:
        doc["items_total"] = len(items)
        doc["items_evaluated"] = len(docs)
        doc["benchmark_sha256"] = identity.sha256
        doc["benchmark_modified"] = identity.modified
    return docs


def _complete_item_docs(task: str, items: Sequence[Item], locator: ImageLocator) -> tuple[list[dict[str, Any]], list[tuple[SourceDataset, Path]], int]:
    """The documents of the items whose images are all found (file order), the missing images
    (dataset, expected path) and the number of image references; each distinct image checked once."""
    clusters = cluster_ids(items)
    docs: list[dict[str, Any]] = []
    missing = []
    references = 0
    resolved: dict[str, dict[str, str | None]] = {}  # {dataset name: {reference: path or None}}
    for dataset_name, dataset in {item.dataset.name: item.dataset for item in items}.items():
        resolved[dataset_name] = locator.resolve_all(
            dataset, (relative for item in items if item.dataset is dataset for relative in item.images)
        )
    for item, cluster in zip(items, clusters):
        paths: list[str] = []
        references += len(item.images)
        for relative in item.images:
            found = resolved[item.dataset.name][relative]
            if found is None:
                missing.append((item.dataset, locator.expected(item.dataset, relative)))
            else:
                paths.append(found)
        if len(paths) == len(item.images):
            docs.append(item_doc(task, item, paths, cluster))
    return docs, missing, references
