# Shim for lmms-eval's `!function utils.<name>`: this file is loaded by path once per YAML,
# so it only re-exports the package's functions (absolute imports, no state here).
from medmim_tasks.sanity.scoring import process_sanity_results  # noqa: F401
from medmim_tasks.scoring.circular import (  # noqa: F401
    circular_accuracy,
    circular_accuracy_stderr,
    circular_accuracy_text,
    circular_chance,
    circular_consistency,
    circular_incomplete_count,
    circular_item_count,
)
from medmim_tasks.task.circular_hooks import process_circular_docs, process_circular_results  # noqa: F401
from medmim_tasks.task.hooks import (  # noqa: F401
    doc_to_messages,
    doc_to_target,
    doc_to_text,
    doc_to_visual,
    mean_score,
    process_docs,
    process_results,
    process_sanity_docs,
)
