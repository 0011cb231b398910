"""lmms-eval task YAMLs for Med-MIM (installed as medmim_tasks.yaml_tasks; no Python API here)."""
