# Shim for lm-eval's `!function utils.<name>`: lm-eval loads this file by path, so it only
# re-exports the package's glue (absolute imports, no state here).
from medmim_tasks.task.lm_eval_glue import (  # noqa: F401
    doc_to_image,
    doc_to_target,
    doc_to_text,
    load_documents,
    mean_score,
    process_results,
)
