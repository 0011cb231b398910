"""Stand-in for vllm.tokenizers.get_tokenizer: the model folder's Hugging Face tokenizer."""

from typing import Any


def get_tokenizer(name: str, tokenizer_mode: str = "auto", trust_remote_code: bool = False, revision: str | None = None, **kwargs: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(name, trust_remote_code=trust_remote_code, revision=revision, **kwargs)
