"""`python -m medmim_tasks.runners.resumable ARGS`: `python -m lmms_eval ARGS` whose response cache
keeps every reply as soon as it is made, so that a run killed halfway is resumed, not redone.

How lmms-eval 0.7's response cache (`--use_cache DIR`, lmms_eval/caching/response_cache.py) works,
and what `medmim sweep` changes about it:

- Each process (rank) writes its replies to `DIR/runs/<run id>/rank_<r>.db` (SQLite, committed per
  reply) and `rank_<r>.audit.jsonl` (fsynced per reply), and looks replies up in its own file first,
  then in `DIR/cache.db`. Only a clean finish merges the rank files into `DIR/cache.db`, and the run id
  is a fresh random one per process, so a rerun after a kill finds nothing (0 hits).
  `medmim sweep` therefore sets `LMMS_CACHE_RUN_ID` to the configuration hash (each rank reopens its
  file of the killed attempt) and merges every rank file into `cache.db` before each attempt
  (`keep_unmerged_replies`), so a different number of processes finds them too.
- `ResponseCache.execute` hands all uncached requests of a kind to the model in ONE call and stores the
  replies only when that call returns: a kill during generation keeps no reply at all. This runner
  wraps `execute` so that the model gets the requests in chunks of the batch size (`--batch_size`;
  CHUNK_FOR_AUTO_BATCH for `auto`): each chunk's replies are stored before the next chunk starts, and a
  kill loses at most the chunk in progress.

Only what lmms-eval caches is kept: deterministic generation (temperature 0, no sampling) with a
non-empty reply. On a network file system lmms-eval writes to local scratch and copies to DIR every
256 replies (`LMMS_CACHE_CHECKPOINT_INTERVAL`), so a kill there may lose up to that many.
"""

from __future__ import annotations

import functools
import runpy
import sqlite3
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CHUNK_FOR_AUTO_BATCH = 32
CACHE_DB = "cache.db"
RUNS_FOLDER = "runs"  # lmms-eval's folder of per-run, per-rank cache files


def chunk_size(argv: Sequence[str]) -> int:
    """Requests per model call: the `--batch_size` given to lmms-eval, or CHUNK_FOR_AUTO_BATCH (`auto`)."""
    value = ""
    for position, argument in enumerate(argv):
        if argument == "--batch_size" and position + 1 < len(argv):
            value = argv[position + 1]
        elif argument.startswith("--batch_size="):
            value = argument.split("=", 1)[1]
    return int(value) if value.isdigit() and int(value) > 0 else CHUNK_FOR_AUTO_BATCH


def keep_replies_as_made(chunk: int) -> None:
    """Make lmms-eval's response cache pass the model `chunk` requests at a time (idempotent)."""
    from lmms_eval.caching.response_cache import ResponseCache

    original = ResponseCache.execute
    if getattr(original, "medmim_chunk", None) is not None:
        return

    @functools.wraps(original)
    def execute_in_chunks(self: Any, lm: Any, reqtype: str, requests: list[Any]) -> list[Any]:
        replies: list[Any] = []
        for start in range(0, len(requests), chunk):
            replies.extend(original(self, lm, reqtype, requests[start : start + chunk]))
        return replies

    execute_in_chunks.medmim_chunk = chunk  # type: ignore[attr-defined]
    ResponseCache.execute = execute_in_chunks


DAMAGED_SUFFIX = ".damaged"


def _set_aside(path: Path, set_aside: list[Path]) -> None:
    """Move a damaged SQLite file (and its -wal/-shm companions) out of lmms-eval's way."""
    for companion in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            companion.replace(companion.with_name(companion.name + DAMAGED_SUFFIX))
    set_aside.append(path.with_name(path.name + DAMAGED_SUFFIX))


def _count_replies(database: Path) -> int:
    connection = sqlite3.connect(database)
    try:
        return int(connection.execute("SELECT COUNT(*) FROM responses").fetchone()[0])
    finally:
        connection.close()


def keep_unmerged_replies(cache_root: Path, set_aside: list[Path] | None = None) -> int:
    """Merge the per-rank files of earlier (killed) attempts into `cache_root/cache.db`; the replies it holds.

    Uses lmms-eval's own merge (insert-or-ignore, so running it twice changes nothing), one file at a
    time: a damaged file (cache.db or a rank file) is renamed to `<name>.damaged` and listed in
    `set_aside`, so neither this merge nor lmms-eval's next run opens it again, and the replies of the
    other files are still kept.
    """
    aside = [] if set_aside is None else set_aside
    target = cache_root / CACHE_DB
    if target.is_file():
        try:
            _count_replies(target)
        except sqlite3.Error:
            _set_aside(target, aside)
    shards = sorted((cache_root / RUNS_FOLDER).glob("*/rank_*.db"))
    if shards:
        from lmms_eval.caching.response_cache import ResponseCache

        for shard in shards:
            try:
                ResponseCache.merge_shards([str(shard)], str(target))
            except sqlite3.Error:
                _set_aside(shard, aside)
    return _count_replies(target) if target.is_file() else 0


def main() -> None:
    """Run lmms-eval's command line (as `python -m lmms_eval` does) with replies kept as made."""
    keep_replies_as_made(chunk_size(sys.argv[1:]))
    runpy.run_module("lmms_eval", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
