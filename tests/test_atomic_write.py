"""The one atomic write (issue 14): whole file or old file, unique temporary names, no leftovers."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from medmim_tasks.atomic_write import atomic_file, write_text_atomically
from medmim_tasks.sanity.generated_set import _write_atomically


def test_write_text_atomically_replaces_the_file_and_leaves_only_it(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("old")
    write_text_atomically(target, "néw\n")
    assert target.read_bytes() == "néw\n".encode()
    assert [path.name for path in tmp_path.iterdir()] == ["out.json"]


@pytest.mark.parametrize("error", [ValueError("bad content"), KeyboardInterrupt()])
def test_a_failed_write_keeps_the_old_file_and_removes_its_temporary(tmp_path: Path, error: BaseException) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")
    with pytest.raises(type(error)):
        with atomic_file(target, suffix=".part") as handle:
            handle.write(b"half a fi")
            raise error
    assert target.read_bytes() == b"old"
    assert [path.name for path in tmp_path.iterdir()] == ["out.png"]


def test_concurrent_writers_use_their_own_temporary_files(tmp_path: Path) -> None:
    """Two writers of one target, interleaved: each writes to its own temporary, so the result is
    one writer's whole text (the sanity builder's old fixed `.<name>.<pid>.tmp` was shared by threads)."""
    target = tmp_path / "items.json"
    both_open = threading.Barrier(2)
    names: list[str] = []

    def write(text: str) -> None:
        with atomic_file(target) as handle:
            names.append(handle.name)
            handle.write(text[:3].encode())
            both_open.wait(timeout=10)
            handle.write(text[3:].encode())

    threads = [threading.Thread(target=write, args=(text,)) for text in ("aaaaaa", "bbbbbb")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(names)) == 2 and all(Path(name).name.startswith(".items.json.") for name in names)
    assert target.read_text() in {"aaaaaa", "bbbbbb"}
    assert [path.name for path in tmp_path.iterdir()] == ["items.json"]


def test_sanity_writer_makes_the_folder_and_cleans_up_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "images" / "a.png"

    def fail(handle) -> None:
        handle.write(b"partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        _write_atomically(target, fail)
    assert list(target.parent.iterdir()) == []
    _write_atomically(target, lambda handle: handle.write(b"png"))
    assert target.read_bytes() == b"png"
