"""Decode the images of the documents lmms-eval will ask for next while the model answers this one.

A `Prefetcher` holds the plan: the documents in the order the model will call `doc_to_visual`
for them (learnt from lmms-eval by medmim_tasks.task.prefetch_hooks). Each time a document is
asked for, the documents after it in the plan are queued for decoding in background threads
(Pillow releases the GIL while it decodes), as many as fit in a budget of decoded pixel bytes
(MEDMIM_PREFETCH_BYTES; 0 turns prefetching off). The asked document's images are handed over
from there when they were prefetched, else the caller decodes them itself, as without prefetch.

The budget counts the RGB bytes of every document queued or decoded and not yet handed over (a
document's size is read from its files' headers before it is queued); a document is queued only
while the total stays within the budget, or when nothing is held, so the total never exceeds the
budget plus one document. Documents the plan skips past are dropped. A decoding error in the
background is raised when its document is asked for (ImageDecodeError names the file).
"""

from __future__ import annotations

import functools
import logging
import os
import threading
import warnings
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from PIL import Image

from medmim_tasks.benchmark.images import fitted_size, load_image
from medmim_tasks.settings import setting

PREFETCH_BYTES_VARIABLE = "MEDMIM_PREFETCH_BYTES"
MAX_THREADS = 4  # decoding threads: the CPUs there are, up to this many
RGB_BYTES_PER_PIXEL = 3
# after this many asks, a plan that served fewer than half of them is wrong: prefetching stops
_MISS_CHECK_AFTER = 16

logger = logging.getLogger(__name__)
Decode = Callable[[str, "int | None"], Image.Image]


@dataclass(frozen=True)
class PlannedDoc:
    """One document the model will ask for: its key, its image files and the max_image_side it gets."""

    key: str
    paths: tuple[str, ...]
    max_side: int | None


@dataclass
class _Entry:
    """A queued document: one future per image and the bytes the budget counts for each."""

    futures: list[Future[Image.Image]]
    counted: list[int]
    released: bool = False


def decoded_bytes(path: str, max_side: int | None) -> int:
    """The RGB bytes load_image will give for this file, from its header (0 when unreadable:
    the decode then raises the error, named, when the document is asked for)."""
    try:
        with Image.open(path) as image:
            size = image.size
    except Exception:  # noqa: BLE001 - the background decode reports the file's problem
        return 0
    if max_side is not None:
        size = fitted_size(size, max_side)
    return size[0] * size[1] * RGB_BYTES_PER_PIXEL


def image_bytes(image: Image.Image) -> int:
    return image.size[0] * image.size[1] * len(image.getbands())


def decoding_threads() -> int:
    return max(1, min(MAX_THREADS, os.cpu_count() or 1))


@dataclass
class Prefetcher:
    """The plan of one evaluation, its window of queued documents and the budget they count against."""

    budget: int
    threads: int = field(default_factory=decoding_threads)
    decode: Decode = load_image
    plan: list[PlannedDoc] = field(default_factory=list)
    held_bytes: int = 0  # what the budget counts now (tests read it)
    peak_held_bytes: int = 0
    asks: int = 0
    hits: int = 0
    queued_docs: int = 0
    stopped: bool = False

    def __post_init__(self) -> None:
        self._positions: dict[str, list[int]] = {}
        for position, planned in enumerate(self.plan):
            self._positions.setdefault(planned.key, []).append(position)
        self._cursor = 0  # the plan position expected next
        self._frontier = 0  # the first plan position not queued yet
        self._window: dict[int, _Entry] = {}
        # re-entrant: a future done or cancelled under the lock runs its callback at once, in this thread
        self._lock = threading.RLock()
        self._pool: ThreadPoolExecutor | None = None
        self._pid = os.getpid()

    def extend(self, docs: Iterable[PlannedDoc]) -> None:
        """Add documents to the end of the plan (before the first ask)."""
        with self._lock:
            for planned in docs:
                self._positions.setdefault(planned.key, []).append(len(self.plan))
                self.plan.append(planned)

    @property
    def started(self) -> bool:
        return self.asks > 0

    def claim(self, key: str, paths: Sequence[str], max_side: int | None) -> _Entry | None:
        """Note that the document is asked for; its queued entry when it was prefetched, else None
        (the caller decodes it). Queues the documents after it either way."""
        with self._lock:
            return self._advance(key, tuple(paths), max_side)

    def hand_over(self, entry: _Entry) -> list[Image.Image]:
        """The claimed document's images, in order; a background decoding error is raised here."""
        try:
            return [future.result() for future in entry.futures]
        finally:
            with self._lock:
                self._release(entry)
                try:
                    self._top_up()
                except Exception as error:  # noqa: BLE001 - the images are good; only prefetching stops
                    self._stop(f"queueing the next documents failed ({type(error).__name__}: {error})")

    def close(self) -> None:
        """Drop every queued document and stop the threads (queued decodes are cancelled)."""
        with self._lock:
            self.stopped = True
            for position in list(self._window):
                self._release(self._window.pop(position))
        if self._pool is not None and self._pid == os.getpid():
            self._pool.shutdown(wait=False, cancel_futures=True)

    # ---------------------------------------------------------------- under the lock

    def _advance(self, key: str, paths: tuple[str, ...], max_side: int | None) -> _Entry | None:
        self.asks += 1
        if self.stopped or self._pid != os.getpid():  # a forked child has no decoding threads
            return None
        position = next((p for p in self._positions.get(key, ()) if p >= self._cursor), None)
        if position is None:  # asked again, or not in the plan
            return None
        planned = self.plan[position]
        entry = self._window.pop(position, None)
        for skipped in [p for p in self._window if p < position]:
            self._release(self._window.pop(skipped))
        self._cursor = position + 1
        self._frontier = max(self._frontier, self._cursor)
        if planned.paths != paths or planned.max_side != max_side:
            if entry is not None:
                self._release(entry)  # the document changed since the plan was made: decode it as asked
            self._top_up()
            return None
        if entry is not None:
            self.hits += 1
        elif self.asks >= _MISS_CHECK_AFTER and self.hits * 2 < self.asks:
            self._stop(
                f"the model asked for documents in another order than the one learnt from lmms-eval ({self.hits} of {self.asks} prefetched)"
            )
            return None
        else:  # asked before it was queued (the first one; or the model skipped ahead): its images first, side by side
            entry = self._queue(planned, [decoded_bytes(path, max_side) for path in paths])
        self._top_up()
        return entry

    def _stop(self, reason: str) -> None:
        self.stopped = True
        for position in list(self._window):
            self._release(self._window.pop(position))
        warnings.warn(f"medmim-tasks: {reason}; image prefetching is off for the rest of this run.", stacklevel=4)

    def _top_up(self) -> None:
        """Queue the documents after the cursor while they fit in the budget (one when none is held)."""
        while not self.stopped and self._frontier < len(self.plan):
            planned = self.plan[self._frontier]
            sizes = [decoded_bytes(path, planned.max_side) for path in planned.paths]
            if self.held_bytes > 0 and self.held_bytes + sum(sizes) > self.budget:
                return
            self._window[self._frontier] = self._queue(planned, sizes)
            self._frontier += 1

    def _queue(self, planned: PlannedDoc, sizes: list[int]) -> _Entry:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="medmim-prefetch")
        entry = _Entry(futures=[], counted=list(sizes))
        self.queued_docs += 1
        self._count(sum(sizes))
        for index, path in enumerate(planned.paths):
            future = self._pool.submit(self.decode, path, planned.max_side)
            future.add_done_callback(functools.partial(self._decoded, entry, index))
            entry.futures.append(future)
        return entry

    def _count(self, change: int) -> None:
        self.held_bytes += change
        self.peak_held_bytes = max(self.peak_held_bytes, self.held_bytes)

    def _release(self, entry: _Entry) -> None:
        """Stop counting a document (handed over or dropped); its queued decodes are cancelled."""
        if entry.released:
            return
        entry.released = True
        for future in entry.futures:
            future.cancel()
        # each future's done-callback holds the entry: without its futures the images are freed now,
        # not whenever the garbage collector next finds the reference cycle
        entry.futures = []
        self._count(-sum(entry.counted))

    def _decoded(self, entry: _Entry, index: int, future: Future[Image.Image]) -> None:
        """Count an image's real bytes once it is decoded (a worker thread, or at once when cancelled)."""
        if future.cancelled() or future.exception() is not None:
            return
        with self._lock:
            if entry.released:
                return
            actual = image_bytes(future.result())
            self._count(actual - entry.counted[index])
            entry.counted[index] = actual


# ---------------------------------------------------------------- the run's prefetcher

_current: Prefetcher | None = None
_off_because: str | None = None


def prefetch_budget() -> int:
    """MEDMIM_PREFETCH_BYTES: decoded bytes held ahead of the model (0: off)."""
    budget: int = setting(PREFETCH_BYTES_VARIABLE)
    return budget


def current_prefetcher() -> Prefetcher | None:
    return _current


def turn_off(reason: str) -> None:
    """Prefetching off for the rest of this process (a hook failed); images are decoded when asked for."""
    global _current, _off_because
    previous, _current = _current, None
    if _off_because is None:
        _off_because = reason
        warnings.warn(f"medmim-tasks: image prefetching is off, images are decoded when asked for ({reason})", stacklevel=3)
    if previous is not None:
        previous.close()


def reset() -> None:
    """No plan, prefetching on again (tests, and a new evaluation in the same process)."""
    global _current, _off_because
    previous, _current, _off_because = _current, None, None
    if previous is not None:
        previous.close()


def set_plan(docs: Iterable[PlannedDoc], *, extend: bool = False) -> None:
    """The order the model will ask in: a new plan, or more of the current one while nothing was asked."""
    global _current
    if _off_because is not None:
        return
    budget = prefetch_budget()
    previous = _current
    if extend and previous is not None and not previous.started and previous.budget == budget:
        previous.extend(docs)
        return
    if previous is not None:
        previous.close()
    _current = Prefetcher(budget=budget, plan=list(docs)) if budget > 0 else None


def prefetched_images(key: str | None, paths: Sequence[str], max_side: int | None) -> list[Image.Image] | None:
    """The images of the asked document when the background decoded them, else None."""
    prefetcher = _current
    if prefetcher is None or key is None:
        return None
    try:
        entry = prefetcher.claim(key, paths, max_side)
    except Exception as error:  # noqa: BLE001 - never break a run: decode when asked instead
        turn_off(f"{type(error).__name__}: {error}")
        return None
    return None if entry is None else prefetcher.hand_over(entry)
