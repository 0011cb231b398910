"""lmms-eval documents for a split: validated items with resolved image paths and cluster ids."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from medmim_tasks.clusters import cluster_ids
from medmim_tasks.image_paths import ImageLocator, MissingImagesError, missing_images_message
from medmim_tasks.items import Item, load_split
from medmim_tasks.splits import split_for_task


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
    """Every document of a task, in file order; raises before any model runs if images are missing."""
    env = os.environ if environ is None else environ
    split = split_for_task(task)
    items = load_split(split, env)  # type: ignore[arg-type]
    locator = ImageLocator(env)
    clusters = cluster_ids(items)
    docs: list[dict[str, Any]] = []
    missing = []
    references = 0
    for item, cluster in zip(items, clusters):
        paths: list[str] = []
        for relative in item.images:
            references += 1
            found = locator.resolve(item.dataset, relative)
            if found is None:
                missing.append((item.dataset, locator.expected(item.dataset, relative)))
            else:
                paths.append(str(found))
        docs.append(item_doc(task, item, paths, cluster))
    if missing:
        raise MissingImagesError(missing_images_message(task, missing, references))
    return docs
