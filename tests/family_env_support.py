"""Helpers for the extra-environment matrix rows (tests/test_family_env_*.py).

`record_processor_calls` makes every call of a processor class report its images and prompt to
family_checks' DeliveryRecorder, also calls a processor makes on itself (`apply_chat_template`
with `tokenize=True`). `use_stand_in_package` puts a recording stand-in from tests/standins on
the import path and imports a wrapper module afresh, so the wrapper's own `try: import` finds it.
"""

from __future__ import annotations

import functools
import importlib
import inspect
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from family_checks import DeliveryRecorder, decode_data_url

STAND_INS = Path(__file__).resolve().parent / "standins"


def flat_images(images: Any) -> list[Any]:
    """A processor's `images` argument (None, one image, or nested lists) as a flat list; data
    URLs (what `apply_chat_template(tokenize=True)` passes on for URL image parts) decoded."""
    if images is None:
        return []
    if isinstance(images, (list, tuple)):
        return [image for item in images for image in flat_images(item)]
    if isinstance(images, str) and images.startswith("data:"):
        return [decode_data_url(images)]
    return [images]


def record_processor_calls(monkeypatch: pytest.MonkeyPatch, processor_class: type, recorder: DeliveryRecorder) -> None:
    """Wrap `processor_class.__call__`: record (images, the one prompt) of each call, then run it."""
    original = processor_class.__call__
    signature = inspect.signature(original)

    @functools.wraps(original)
    def recording_call(*args: Any, **kwargs: Any) -> Any:
        arguments = signature.bind_partial(*args, **kwargs).arguments
        text = arguments.get("text")
        prompts = [text] if isinstance(text, str) else list(text or [])
        assert len(prompts) == 1, f"expected one prompt per call (batch size 1), got {len(prompts)}"
        recorder.record(flat_images(arguments.get("images")), prompts[0])
        return original(*args, **kwargs)

    monkeypatch.setattr(processor_class, "__call__", recording_call)


def use_stand_in_package(monkeypatch: pytest.MonkeyPatch, package: str, wrapper_module: str) -> ModuleType:
    """Import `wrapper_module` afresh with tests/standins/PACKAGE first on the path; when the test
    ends, sys.modules holds again what it held before (no stand-in left for later tests)."""
    monkeypatch.syspath_prepend(str(STAND_INS))
    stand_in_modules = {
        ".".join(path.relative_to(STAND_INS).with_suffix("").parts).removesuffix(".__init__") for path in (STAND_INS / package).rglob("*.py")
    }
    loaded = {name for name in sys.modules if name == package or name.startswith(package + ".")}
    for name in sorted(stand_in_modules | loaded | {wrapper_module}):
        monkeypatch.setitem(sys.modules, name, None)  # remembered: restored or removed at the end
        del sys.modules[name]
    return importlib.import_module(wrapper_module)
