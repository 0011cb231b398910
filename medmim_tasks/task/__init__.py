"""Stage 2, the lmms-eval task: plugin, documents, prompts and the hooks the task YAMLs call."""
