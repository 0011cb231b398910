"""lmms-eval models for tests and utils/bench_overhead.py, found through LMMS_EVAL_PLUGINS=medmim_standin_models."""
