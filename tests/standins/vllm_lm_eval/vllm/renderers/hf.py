"""Stand-in for vllm.renderers.hf.resolve_chat_template: the tokenizer's own template (vllm-vlm renders with its processor's)."""

from typing import Any


def resolve_chat_template(tokenizer: Any, chat_template: str | None = None, tools: Any = None, **kwargs: Any) -> str | None:
    return chat_template or getattr(tokenizer, "chat_template", None)
