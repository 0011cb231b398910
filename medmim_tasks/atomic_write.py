"""Write a file whole or not at all: a unique temporary sibling, renamed over the target at the end."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

TEMPORARY_SUFFIX = ".tmp"


@contextmanager
def atomic_file(target: Path, suffix: str = TEMPORARY_SUFFIX) -> Iterator[BinaryIO]:
    """A binary file handle whose content replaces `target` when the block ends without an error.

    The handle writes to a temporary file named `.<target name>.<random><suffix>` in the target's
    folder (unique per call, so concurrent writers never share one), which `os.replace` renames
    over `target` after it is closed: readers see the old file or the new one, never half of one.
    On any exception (also KeyboardInterrupt) the temporary file is removed and the error
    propagates; `target` is left as it was. The target's folder must exist.
    """
    handle = tempfile.NamedTemporaryFile(dir=target.parent, prefix=f".{target.name}.", suffix=suffix, delete=False)
    temporary = Path(handle.name)
    try:
        with handle:
            yield handle  # type: ignore[misc]
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_text_atomically(path: Path, text: str) -> None:
    """Write `text` as UTF-8 to `path` through `atomic_file`."""
    with atomic_file(path) as handle:
        handle.write(text.encode("utf-8"))
