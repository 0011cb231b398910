# Shim for lm-eval's `!function utils.<name>`: lm-eval loads this file by path, so it only
# re-exports the package's glue (absolute imports, no state here).
from medmim_tasks.scoring.circular import (  # noqa: F401
    circular_accuracy,
    circular_accuracy_stderr,
    circular_accuracy_text,
    circular_chance,
    circular_consistency,
    circular_incomplete_count,
    circular_item_count,
)
from medmim_tasks.task.circular_hooks import process_circular_results  # noqa: F401
from medmim_tasks.task.lm_eval_circular import load_circular_documents  # noqa: F401
from medmim_tasks.task.lm_eval_glue import (  # noqa: F401
    doc_to_image,
    doc_to_target,
    doc_to_text,
    load_documents,
    mean_score,
    process_results,
)
