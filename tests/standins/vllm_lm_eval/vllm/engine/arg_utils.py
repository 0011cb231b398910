"""Stand-in for vllm.engine.arg_utils.EngineArgs (lm-eval builds one with data_parallel_size > 1)."""

from typing import Any

from vllm import ModelConfig


class EngineArgs:
    def __init__(self, model: str, max_model_len: int | None = None, **kwargs: Any) -> None:
        self.max_model_len = max_model_len

    def create_model_config(self) -> ModelConfig:
        return ModelConfig(self.max_model_len or 2048)
