"""lm-evaluation-harness task YAMLs for Med-MIM (installed as medmim_tasks.lm_eval_tasks)."""
