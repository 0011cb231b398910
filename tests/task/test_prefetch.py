"""Image prefetching (issue 16): the same images in the same order, a bounded budget, errors named,
and a broken lmms-eval hook that warns and leaves images decoded when asked for."""

from __future__ import annotations

import threading
import warnings
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from medmim_tasks.benchmark.images import ImageDecodeError, load_image
from medmim_tasks.task import prefetch, prefetch_hooks
from medmim_tasks.task.hooks import doc_to_visual
from medmim_tasks.task.prefetch import PlannedDoc, Prefetcher

SIDE = 40  # every test image is SIDE x SIDE: 4,800 RGB bytes
IMAGE_BYTES = SIDE * SIDE * 3
TASK = "med_mim_held_out_rad"


@pytest.fixture(autouse=True)
def _fresh_state(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.delenv("MEDMIM_PREFETCH_BYTES", raising=False)
    monkeypatch.delenv("MEDMIM_MAX_IMAGE_SIDE", raising=False)
    prefetch_hooks.forget()
    yield
    prefetch_hooks.forget()


def _docs(folder: Path, images_per_doc: list[int]) -> list[dict[str, Any]]:
    """Documents of 16-bit PNG and 8-bit JPEG images (the two decode paths), distinct pixels each."""
    docs = []
    for index, count in enumerate(images_per_doc):
        paths = []
        for number in range(count):
            seed = index * 10 + number
            if number % 2:
                path = folder / f"doc{index}_{number}.jpg"
                Image.fromarray(np.full((SIDE, SIDE, 3), seed * 3 % 256, dtype=np.uint8)).save(path)
            else:
                path = folder / f"doc{index}_{number}.png"
                Image.fromarray(np.arange(SIDE * SIDE, dtype=np.uint16).reshape(SIDE, SIDE) * (seed + 1)).save(path)
            paths.append(str(path))
        docs.append({"doc_key": f"{TASK}:{index}", "image_paths": paths})
    return docs


def _plan(docs: list[dict[str, Any]]) -> list[PlannedDoc]:
    return [PlannedDoc(doc["doc_key"], tuple(doc["image_paths"]), None) for doc in docs]


def _pixels(images: list[Image.Image]) -> list[tuple[type, str, tuple[int, int], bytes]]:
    return [(type(image), image.mode, image.size, image.tobytes()) for image in images]


def _serial(doc: dict[str, Any]) -> list[tuple[type, str, tuple[int, int], bytes]]:
    return _pixels([load_image(path) for path in doc["image_paths"]])


def test_prefetched_images_are_the_serial_ones_in_order(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [2, 1, 3, 2, 1])
    prefetch.set_plan(_plan(docs))
    handed = [doc_to_visual(doc) for doc in docs]
    prefetcher = prefetch.current_prefetcher()
    assert prefetcher is not None and prefetcher.hits == len(docs) - 1  # the first one is asked at once
    assert [_pixels(images) for images in handed] == [_serial(doc) for doc in docs]
    assert all(type(image) is Image.Image for images in handed for image in images)


def test_off_switch_queues_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MEDMIM_PREFETCH_BYTES", "0")
    docs = _docs(tmp_path, [1, 1])
    prefetch.set_plan(_plan(docs))
    assert prefetch.current_prefetcher() is None
    assert [_pixels(doc_to_visual(doc)) for doc in docs] == [_serial(doc) for doc in docs]


@pytest.mark.parametrize("budget_images", [0, 1, 3, 7])
def test_decoded_bytes_held_stay_within_the_budget_plus_one_document(tmp_path: Path, budget_images: int) -> None:
    sizes = [3, 1, 2, 3, 1, 1, 2, 3, 2, 1]
    docs = _docs(tmp_path, sizes)
    budget = budget_images * IMAGE_BYTES + 1
    prefetcher = Prefetcher(budget=budget, plan=_plan(docs))
    for doc in docs:
        entry = prefetcher.claim(doc["doc_key"], doc["image_paths"], None)
        images = prefetcher.hand_over(entry) if entry is not None else [load_image(p) for p in doc["image_paths"]]
        assert _pixels(images) == _serial(doc)
    assert 0 < prefetcher.peak_held_bytes <= budget + max(sizes) * IMAGE_BYTES
    assert prefetcher.held_bytes == 0  # everything handed over: nothing held after the last document
    prefetcher.close()


def test_nothing_is_queued_past_the_end_of_the_plan(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [1, 1, 1, 1])
    decoded: list[str] = []
    lock = threading.Lock()

    def counting_decode(path: str, max_side: int | None) -> Image.Image:
        with lock:
            decoded.append(Path(path).name)
        return load_image(path, max_side)

    prefetcher = Prefetcher(budget=1 << 30, plan=_plan(docs[:2]), decode=counting_decode)
    for doc in docs[:2]:
        entry = prefetcher.claim(doc["doc_key"], doc["image_paths"], None)
        if entry is not None:
            prefetcher.hand_over(entry)
    prefetcher.close()
    assert sorted(decoded) == ["doc0_0.png", "doc1_0.png"]  # the planned ones only, each once


def test_documents_the_model_skips_are_dropped_and_unplanned_ones_decoded_when_asked(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [1, 1, 1, 1, 1])
    prefetcher = Prefetcher(budget=1 << 30, plan=_plan(docs[:4]))
    first = prefetcher.claim(docs[0]["doc_key"], docs[0]["image_paths"], None)  # queued at once, decoded first
    assert first is not None and _pixels(prefetcher.hand_over(first)) == _serial(docs[0])
    entry = prefetcher.claim(docs[2]["doc_key"], docs[2]["image_paths"], None)  # doc 1 skipped
    assert entry is not None and prefetcher.hits == 1 and _pixels(prefetcher.hand_over(entry)) == _serial(docs[2])
    assert prefetcher.claim(docs[1]["doc_key"], docs[1]["image_paths"], None) is None  # behind: decoded when asked
    assert prefetcher.claim(docs[4]["doc_key"], docs[4]["image_paths"], None) is None  # not in the plan
    prefetcher.close()
    assert prefetcher.held_bytes == 0


def test_a_different_max_image_side_is_decoded_as_asked(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [1, 1])
    prefetch.set_plan(_plan(docs))  # planned at full size
    doc_to_visual(docs[0])
    [image] = doc_to_visual(docs[1], {"max_image_side": 20})
    assert image.size == (20, 20)


def test_a_background_decoding_error_is_raised_when_its_document_is_asked_for(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [1, 2, 1])
    broken = Path(docs[1]["image_paths"][1])
    broken.write_bytes(broken.read_bytes()[:200])  # a cut-off JPEG
    prefetch.set_plan(_plan(docs))
    doc_to_visual(docs[0])  # queues documents 1 and 2 in the background
    with pytest.raises(ImageDecodeError) as raised:
        doc_to_visual(docs[1])
    assert f"document {TASK}:1" in str(raised.value) and str(broken) in str(raised.value)
    assert _pixels(doc_to_visual(docs[2])) == _serial(docs[2])


# ---------------------------------------------------------------- the lmms-eval hooks


@dataclass
class _Request:
    args: tuple[Any, ...]


class _FakeTask:
    """What the hooks read of an lmms-eval Task: config.doc_to_visual, dataset, _instances."""

    def __init__(self, docs: list[dict[str, Any]]) -> None:
        import datasets

        self.config = SimpleNamespace(doc_to_visual=doc_to_visual)
        self.lmms_eval_specific_kwargs = {"max_image_side": None}
        self.dataset = {"test": datasets.Dataset.from_list(docs)}
        self._instances = [_Request(("prompt " * index, {}, None, index, TASK, "test")) for index in range(len(docs))]


def test_requests_then_collator_order_become_the_plan(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [1, 2, 1, 1])
    task = _FakeTask(docs)
    prefetch_hooks.record_requests(task)
    assert [p.key for p in prefetch.current_prefetcher().plan] == [doc["doc_key"] for doc in docs]  # type: ignore[union-attr]
    sorted_requests = [request.args for request in reversed(task._instances)]  # longest prompt first
    prefetch_hooks.record_order(sorted_requests)
    assert [p.key for p in prefetch.current_prefetcher().plan] == [doc["doc_key"] for doc in reversed(docs)]  # type: ignore[union-attr]
    handed = [doc_to_visual(doc) for doc in reversed(docs)]
    assert prefetch.current_prefetcher().hits == len(docs) - 1  # type: ignore[union-attr]
    assert [_pixels(images) for images in handed] == [_serial(doc) for doc in reversed(docs)]


def test_the_real_collator_is_followed(tmp_path: Path) -> None:
    from lmms_eval.utils import Collator

    assert prefetch_hooks.install()
    docs = _docs(tmp_path, [1, 1, 1])
    task = _FakeTask(docs)
    prefetch_hooks.record_requests(task)
    collator = Collator([request.args for request in task._instances], lambda x: (-len(x[0]), x[0]), grouping=True)
    ordered = [x for chunk in collator.get_batched(n=1) for x in chunk]
    assert [p.key for p in prefetch.current_prefetcher().plan] == [f"{TASK}:{x[3]}" for x in ordered]  # type: ignore[union-attr]
    assert [x[3] for x in ordered] == [2, 1, 0]
    assert collator.get_original(["a", "b", "c"]) == ["c", "b", "a"]  # the wrap keeps the Collator's bookkeeping


def test_a_failing_hook_warns_and_images_are_decoded_when_asked_for(tmp_path: Path) -> None:
    docs = _docs(tmp_path, [1, 1])
    task = _FakeTask(docs)
    task.dataset = {}  # lmms-eval changed shape: the split is not where the hook looks
    with pytest.warns(UserWarning, match="image prefetching is off"):
        prefetch_hooks._guarded(prefetch_hooks.record_requests, task)
    assert prefetch.current_prefetcher() is None
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        prefetch.set_plan(_plan(docs))  # stays off for the rest of the process, silently
    assert prefetch.current_prefetcher() is None
    assert [_pixels(doc_to_visual(doc)) for doc in docs] == [_serial(doc) for doc in docs]


def test_a_collator_of_another_shape_is_not_wrapped(monkeypatch: pytest.MonkeyPatch) -> None:
    from lmms_eval.utils import Collator

    monkeypatch.setattr(Collator, "_reorder", lambda self, arr: sorted(arr))  # no longer a generator
    with pytest.warns(UserWarning, match="image prefetching is off"):
        assert not prefetch_hooks.install()
    assert prefetch.current_prefetcher() is None


def test_a_broken_prefetcher_falls_back_to_decoding_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    docs = _docs(tmp_path, [1, 1])
    prefetch.set_plan(_plan(docs))

    def broken(*args: Any) -> None:
        raise RuntimeError("a bug in the prefetcher")

    monkeypatch.setattr(Prefetcher, "claim", broken)
    with pytest.warns(UserWarning, match="a bug in the prefetcher"):
        images = doc_to_visual(docs[0])
    assert _pixels(images) == _serial(docs[0])


def test_the_entry_point_installs_the_hooks() -> None:
    import lmms_eval.models  # noqa: F401  (loads the entry points, as the lmms-eval CLI does)
    from lmms_eval.api.task import Task
    from lmms_eval.utils import Collator

    assert getattr(Task.build_all_requests, prefetch_hooks._MARK, False)
    assert getattr(Collator._reorder, prefetch_hooks._MARK, False)


def test_the_requests_handed_to_the_model_become_the_plan(tmp_path: Path) -> None:
    """A response cache (--use_cache) hands the model only the unanswered requests: those are the plan."""
    from lmms_eval.api.model import lmms

    class Model(lmms):
        def generate_until(self, requests: list[Any]) -> list[str]:
            return [doc_to_visual(docs[request.args[3]]) and "A" for request in requests]

        def loglikelihood(self, requests: list[Any]) -> list[Any]:
            raise NotImplementedError

        def generate_until_multi_round(self, requests: list[Any]) -> list[Any]:
            raise NotImplementedError

    assert prefetch_hooks.install()
    docs = _docs(tmp_path, [1, 1, 1, 1])
    task = _FakeTask(docs)
    prefetch_hooks.record_requests(task)
    model = Model.create_from_arg_string("")
    unanswered = [task._instances[3], task._instances[1]]
    assert model.generate_until(unanswered) == ["A", "A"]
    prefetcher = prefetch.current_prefetcher()
    assert prefetcher is not None and [p.key for p in prefetcher.plan] == [f"{TASK}:3", f"{TASK}:1"]
    assert prefetcher.queued_docs == 2 and prefetcher.hits == 1


def test_handed_over_images_are_freed_when_the_caller_drops_them(tmp_path: Path) -> None:
    """No reference cycle keeps them (a future's done-callback holds its entry): memory stays
    bounded between garbage collections, not only after them."""
    import gc
    import time
    import weakref

    docs = _docs(tmp_path, [1, 2])
    prefetcher = Prefetcher(budget=1 << 30, plan=_plan(docs))
    gc.disable()
    try:
        for doc in docs:
            entry = prefetcher.claim(doc["doc_key"], doc["image_paths"], None)
            assert entry is not None
            images = prefetcher.hand_over(entry)
            references = [weakref.ref(image) for image in images]
            del images, entry
            for _ in range(200):  # a decoding thread lets go of its finished work item right after it
                if all(reference() is None for reference in references):
                    break
                time.sleep(0.01)
            assert all(reference() is None for reference in references)
    finally:
        gc.enable()
        prefetcher.close()
