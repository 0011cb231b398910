"""Stand-in for vllm.lora.request (lm-eval imports LoRARequest at module level; these tests use no adapter)."""


class LoRARequest:
    def __init__(self, name: str, request_id: int, path: str) -> None:
        raise AssertionError("the Med-MIM tests use no LoRA adapter")
