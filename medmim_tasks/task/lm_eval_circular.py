"""The functions lm-evaluation-harness calls for the circular tasks (`med_mim_circular_<split>`, docs/circular.md).

Only the glue differs from lmms-eval's (task/circular_hooks.py): the documents are task/circular.py's
`build_circular_docs`, each reply is scored by the same `process_circular_results` (one shift record
per item-level metric), and lm-eval hands each metric's aggregation the list of per-document values
as lmms-eval does, so the item-level aggregations of scoring/circular.py group the same records by
item. Prompts and images are task/lm_eval_glue.py's, as for the plain tasks.
"""

from __future__ import annotations

from typing import Any

from medmim_tasks.benchmark.circular_splits import is_circular
from medmim_tasks.task.circular import build_circular_docs
from medmim_tasks.task.lm_eval_glue import TEST_SPLIT, task_named

__all__ = ["load_circular_documents"]


def load_circular_documents(**task_config: Any) -> Any:
    """lm-eval's `custom_dataset` of a circular task: its documents (each item once per shift) as a `test` split."""
    import datasets

    task = task_named(task_config)
    if not is_circular(task):
        raise ValueError(
            f"dataset_kwargs.medmim_task is {task!r}, but load_circular_documents builds circular tasks "
            "(med_mim_circular_<split>); regenerate medmim_tasks/lm_eval_tasks with utils/generate_task_yamls.py"
        )
    return datasets.DatasetDict({TEST_SPLIT: datasets.Dataset.from_list(build_circular_docs(task))})
