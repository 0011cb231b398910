"""The functions lm-evaluation-harness calls for every Med-MIM task (lm_eval_tasks/utils.py re-exports them).

Only the glue differs from lmms-eval's (task/hooks.py): the documents are task/documents.py's
`build_docs`, the prompt is task/prompts.py's, the images are opened by the same `load_image`,
and each reply is scored by the same `process_results` and averaged by the same `mean_score`,
so a number means the same thing whichever framework produced it.

lm-eval takes a prompt as one string with a `<image>` placeholder where each image goes (its
MMMU tasks' convention): `hf-multimodal` and `vllm-vlm` split it there into chat content parts
(with `--apply_chat_template`) or replace each placeholder by the model's image token.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from medmim_tasks.benchmark.items import IMAGE_PLACEHOLDER
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import doc_to_target, doc_to_visual, mean_score, process_results
from medmim_tasks.task.prompts import doc_messages

TASK_KEY = "medmim_task"  # the dataset_kwargs key that names the split (the YAMLs set it)
TEST_SPLIT = "test"

__all__ = ["doc_to_image", "doc_to_target", "doc_to_text", "load_documents", "mean_score", "process_results"]


def load_documents(**task_config: Any) -> Any:
    """lm-eval's `custom_dataset`: the split's documents as a DatasetDict with one `test` split.

    lm-eval passes the task's metadata and dataset_kwargs as keyword arguments (plus whatever
    `--metadata` adds); only `medmim_task` is read.
    """
    import datasets

    return datasets.DatasetDict({TEST_SPLIT: datasets.Dataset.from_list(build_docs(task_named(task_config)))})


def task_named(task_config: Mapping[str, Any]) -> str:
    """The task name `dataset_kwargs.medmim_task` gives (lm-eval passes dataset_kwargs as keywords)."""
    task = task_config.get(TASK_KEY)
    if not isinstance(task, str):
        raise ValueError(
            f"a Med-MIM lm-eval task must set dataset_kwargs.{TASK_KEY} to its split's task name "
            f"(got {task!r}); the YAMLs in medmim_tasks/lm_eval_tasks do: regenerate them with utils/generate_task_yamls.py"
        )
    return task


def doc_to_image(doc: Mapping[str, Any]) -> list[Any]:
    """The item's images as RGB PIL images, in the item's order (task/hooks.py's `doc_to_visual`)."""
    return doc_to_visual(doc)


def prompt_parts(doc: Mapping[str, Any]) -> list[str | None]:
    """The prompt's content parts as lmms-eval's chat path builds them: text, or None for an image."""
    placeholders: list[Any] = [None] * int(doc["n_images"])
    content = doc_messages(doc, placeholders)[0]["content"]
    return [part["text"] if part["type"] == "text" else None for part in content]


def doc_to_text(doc: Mapping[str, Any]) -> str:
    """The prompt as one string: `<image>` where each image goes, text parts as lmms-eval sends them.

    Split at `<image>` (as hf-multimodal and vllm-vlm do with --apply_chat_template), the string
    gives back lmms-eval's text parts around the images; two text parts in a row (an image label
    after leading text) are joined by a newline.
    """
    pieces: list[str] = []
    previous_was_text = False
    for part in prompt_parts(doc):
        if part is None:
            pieces.append(IMAGE_PLACEHOLDER)
            previous_was_text = False
            continue
        if previous_was_text:
            pieces.append("\n")
        pieces.append(part)
        previous_was_text = True
    return "".join(pieces)
