"""Learn from lmms-eval the order in which the model will ask for the Med-MIM documents' images.

How requests flow in lmms-eval 0.7.x: `Task.build_all_requests` makes one Instance per document
of this process's share (`--limit`, `--offset`, and the rank's shard under `accelerate launch`),
whose arguments end with `(doc_id, task, split)` and carry `Task.doc_to_visual` uncalled. The
evaluator hands the Instances of all tasks, in that order, to the model's `generate_until`, which
calls `doc_to_visual(task_dict[task][split][doc_id])` when it reaches each one: in that order
(e.g. `dummy`, llava_onevision's loglikelihood), or in the order of `lmms_eval.utils.Collator`,
which most Hugging Face wrappers build over the arguments to sort them by prompt length
(longest first) within groups of equal generation settings.

With `--use_cache`, lmms-eval's response cache hands the model only the requests it has no
answer for. So three wraps, each guarded like the task registration (a failure warns and leaves
the images decoded when asked for; it never breaks a run):

- `Task.build_all_requests`: after it, this process's Med-MIM requests, in order, extend the plan;
- `lmms.create_from_arg_string` (how lmms-eval makes the model): the model's `generate_until`
  makes the requests it is handed the plan, in their order;
- `Collator._reorder` (the generator that sorts one group): when it sorts Med-MIM requests, the
  sorted order becomes the plan.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterable
from typing import Any

from medmim_tasks.benchmark.images import max_image_side_setting
from medmim_tasks.task import prefetch
from medmim_tasks.task.prefetch import PlannedDoc

_MARK = "_medmim_tasks_prefetch"
RequestKey = tuple[str, str, int]  # (task, split, doc_id)

# every Med-MIM request this process built, by (task, split, doc_id)
_planned: dict[RequestKey, PlannedDoc] = {}


def request_key(request: Any) -> RequestKey | None:
    """(task, split, doc_id) of an Instance or of its arguments, None for anything else."""
    arguments = getattr(request, "args", request)
    if not isinstance(arguments, tuple) or len(arguments) < 3:
        return None
    doc_id, task, split = arguments[-3:]
    if isinstance(doc_id, bool) or not isinstance(doc_id, int) or not isinstance(task, str) or not isinstance(split, str):
        return None
    return task, split, doc_id


def is_medmim_task(task: Any) -> bool:
    """Whether the task's images come from our doc_to_visual (the Med-MIM splits and the sanity task)."""
    from medmim_tasks.task.hooks import doc_to_visual

    return getattr(getattr(task, "config", None), "doc_to_visual", None) is doc_to_visual


def planned_docs(task: Any, instances: Iterable[Any]) -> list[PlannedDoc]:
    """The documents of a Med-MIM task's requests, in their order, as the model will get them."""
    max_side = max_image_side_setting(getattr(task, "lmms_eval_specific_kwargs", None))
    columns: dict[str, tuple[list[str], list[list[str]]]] = {}
    docs: list[PlannedDoc] = []
    for instance in instances:
        key = request_key(instance)
        if key is None:
            continue
        name, split, doc_id = key
        if split not in columns:
            table = task.dataset[split].select_columns(["doc_key", "image_paths"]).to_dict()
            columns[split] = (table["doc_key"], table["image_paths"])
        doc_keys, image_paths = columns[split]
        planned = PlannedDoc(doc_keys[doc_id], tuple(image_paths[doc_id]), max_side)
        _planned[(name, split, doc_id)] = planned
        docs.append(planned)
    return docs


def record_requests(task: Any) -> None:
    """After build_all_requests: this process's requests of a Med-MIM task extend the plan."""
    if prefetch.prefetch_budget() <= 0 or not is_medmim_task(task):
        return
    prefetch.set_plan(planned_docs(task, getattr(task, "_instances", None) or []), extend=True)


def record_order(ordered: Iterable[Any]) -> None:
    """Requests in the order the model will take them (handed to its generate_until, or sorted by a
    Collator): their Med-MIM documents, in that order, are the plan."""
    docs = [_planned[key] for key in map(request_key, ordered) if key is not None and key in _planned]
    if docs:
        prefetch.set_plan(docs)


def _guarded(record: Any, *args: Any) -> None:
    try:
        record(*args)
    except Exception as error:  # noqa: BLE001 - never break a run over prefetching
        prefetch.turn_off(f"{record.__name__} failed: {type(error).__name__}: {error}")


def wrap_build_all_requests() -> None:
    from lmms_eval.api.task import Task

    original = Task.build_all_requests
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def build_all_requests(self: Any, *args: Any, **kwargs: Any) -> Any:
        result = original(self, *args, **kwargs)
        _guarded(record_requests, self)
        return result

    setattr(build_all_requests, _MARK, True)
    Task.build_all_requests = build_all_requests


def wrap_collator() -> None:
    from lmms_eval.utils import Collator

    original = Collator._reorder
    if getattr(original, _MARK, False):
        return
    if not inspect.isgeneratorfunction(original):
        raise TypeError("lmms_eval.utils.Collator._reorder is no longer a generator")

    @functools.wraps(original)
    def _reorder(self: Any, arr: Any) -> Any:
        ordered = list(original(self, arr))  # the same sort, and the same reorder_indices
        _guarded(record_order, ordered)
        yield from ordered

    setattr(_reorder, _MARK, True)
    Collator._reorder = _reorder


def follow_model_requests(model: Any) -> None:
    """Make the requests handed to this model's generate_until the plan, in that order (after a
    response cache took out the answered ones, so only what the model will really ask for)."""
    method = model.generate_until
    if getattr(method, _MARK, False):
        return

    @functools.wraps(method)
    def generate_until(requests: Any, *args: Any, **kwargs: Any) -> Any:
        _guarded(record_order, requests)
        return method(requests, *args, **kwargs)

    setattr(generate_until, _MARK, True)
    model.generate_until = generate_until


def wrap_model_creation() -> None:
    from lmms_eval.api.model import lmms

    original = lmms.__dict__["create_from_arg_string"]
    if getattr(original, _MARK, False):
        return
    create = original.__func__  # a classmethod

    @functools.wraps(create)
    def create_from_arg_string(cls: Any, *args: Any, **kwargs: Any) -> Any:
        model = create(cls, *args, **kwargs)
        _guarded(follow_model_requests, model)
        return model

    wrapped = classmethod(create_from_arg_string)
    setattr(wrapped, _MARK, True)
    lmms.create_from_arg_string = wrapped


def install() -> bool:
    """Wrap lmms-eval so the plan follows its requests; False (with a warning) when it cannot."""
    try:
        wrap_build_all_requests()
        wrap_model_creation()
        wrap_collator()
    except Exception as error:  # noqa: BLE001 - never break lmms-eval for its other users
        prefetch.turn_off(f"lmms-eval's requests cannot be followed: {type(error).__name__}: {error}")
        return False
    return True


def forget() -> None:
    """Drop the plan and the requests recorded (tests)."""
    _planned.clear()
    prefetch.reset()
