"""A stand-in model that spends a fixed time per document, as a GPU answering would, and opens every image.

    LMMS_EVAL_PLUGINS=medmim_standin_models lmms-eval --model medmim_sleepy \
        --model_args sleep_ms=100,order=sorted,record=/tmp/run --tasks med_mim ...

- `sleep_ms`: the time per document, slept after its images are opened (0 with `open_images=0`:
  lmms-eval's own fixed cost);
- `order`: `file` asks for the documents in the order lmms-eval hands them over (like `dummy`);
  `sorted` sorts them the way the Hugging Face wrappers do, through `lmms_eval.utils.Collator`
  by prompt length, longest first, grouped by generation settings (characters stand in for tokens);
- `record`: a path prefix; `<record>.rank<N>.jsonl` gets one line per document: its key, the time
  `doc_to_visual` took (wall, and CPU of the calling thread) and, with `hashes=1`, each image's type, mode, size and pixel SHA-256; and
  a last line with what this process's image prefetcher planned and did, and the seconds the
  model spent on all its documents (`generate_s`).
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from lmms_eval.api.model import lmms
from lmms_eval.utils import Collator


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in {"1", "true", "yes"}


def _prefetch_summary() -> dict[str, Any] | None:
    """What the prefetcher of this process planned and did (None when prefetching was off)."""
    from medmim_tasks.task.prefetch import current_prefetcher

    prefetcher = current_prefetcher()
    if prefetcher is None:
        return None
    return {
        "plan": [planned.key for planned in prefetcher.plan],
        "queued_docs": prefetcher.queued_docs,
        "hits": prefetcher.hits,
        "peak_held_bytes": prefetcher.peak_held_bytes,
        "budget": prefetcher.budget,
    }


class Sleepy(lmms):
    def __init__(
        self, sleep_ms: float = 100, order: str = "file", open_images: Any = 1, record: str = "", hashes: Any = 0, **kwargs: Any
    ) -> None:
        super().__init__()
        if order not in ("file", "sorted"):
            raise ValueError(f"order must be file or sorted, got {order!r}")
        self._sleep_s = float(sleep_ms) / 1000
        self._order = order
        self._open_images = _flag(open_images)
        self._record = str(record)
        self._hashes = _flag(hashes)
        import torch
        from accelerate import Accelerator

        self._device = torch.device("cpu")
        accelerator = Accelerator(cpu=True)
        if accelerator.num_processes > 1:
            self.accelerator = accelerator
            self._rank = accelerator.local_process_index
            self._world_size = accelerator.num_processes

    @property
    def device(self) -> Any:
        return self._device

    def _in_order(self, requests: list[Any]) -> list[tuple[Any, ...]]:
        arguments = [request.args for request in requests]
        if self._order == "file":
            return arguments
        collator = Collator(arguments, lambda x: (-len(x[0]), x[0]), grouping=True)
        return [x for chunk in collator.get_batched(n=1) for x in chunk]

    def generate_until(self, requests: list[Any]) -> list[str]:
        replies: dict[tuple[str, str, int], str] = {}
        lines = []
        started = time.perf_counter()
        for _context, _gen_kwargs, doc_to_visual, doc_id, task, split in self._in_order(requests):
            doc = self.task_dict[task][split][doc_id]
            line: dict[str, Any] = {"doc_key": doc.get("doc_key"), "task": task}
            if self._open_images:
                start, start_cpu = time.perf_counter(), time.thread_time()
                images = doc_to_visual(doc)
                line["visual_s"] = time.perf_counter() - start
                line["visual_cpu_s"] = time.thread_time() - start_cpu  # this thread's CPU: decoding, when serial
                if self._hashes:
                    line["images"] = [
                        [type(i).__module__ + "." + type(i).__name__, i.mode, list(i.size), hashlib.sha256(i.tobytes()).hexdigest()]
                        for i in images
                    ]
                del images
            time.sleep(self._sleep_s)
            lines.append(line)
            replies[(task, split, doc_id)] = "A"
        if self._record:
            lines.append({"prefetch": _prefetch_summary(), "generate_s": time.perf_counter() - started})
            with open(f"{self._record}.rank{self.rank}.jsonl", "a") as handle:
                handle.writelines(json.dumps(line) + "\n" for line in lines)
        return [replies[request.args[-2], request.args[-1], request.args[-3]] for request in requests]

    def loglikelihood(self, requests: list[Any]) -> list[Any]:
        raise NotImplementedError("medmim_sleepy answers generate_until requests only")

    def generate_until_multi_round(self, requests: list[Any]) -> list[Any]:
        raise NotImplementedError("medmim_sleepy answers generate_until requests only")
