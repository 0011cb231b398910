"""Stand-in for ray, as lm-eval's vllm-vlm uses it for data_parallel_size > 1: each worker runs in
this process, one after another (`remote` runs the function, `get` returns its results)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class _Remote:
    def __init__(self, function: Callable[..., Any]) -> None:
        self._function = function

    def remote(self, *args: Any) -> Any:
        return self._function(*args)


def remote(function: Callable[..., Any]) -> _Remote:
    return _Remote(function)


def get(references: list[Any]) -> list[Any]:
    return list(references)


def shutdown() -> None:
    return None
