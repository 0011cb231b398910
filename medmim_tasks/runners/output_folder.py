"""Check an output folder before any work: it (or the parent it will be made in) must accept new files."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputFolderError(OSError):
    """An output folder cannot be created or written; the message names it and the fix."""


def writable_folder(folder: Path, option: str) -> Path:
    """`folder`, once proven writable: a file can be made in it, or in its nearest existing parent
    when it does not exist yet (then the command can create it). Nothing is left behind.

    `option` is the command-line option that chose the folder (named in the error, with the fix).
    Permission bits alone do not tell (root and read-only mounts ignore them), so a real file is
    written and removed at once.
    """
    existing = folder
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    try:
        if not existing.is_dir():
            raise NotADirectoryError(f"{existing} is not a folder")
        handle, probe = tempfile.mkstemp(dir=existing, prefix=".medmim-write-test-")
        os.close(handle)
        os.unlink(probe)
    except OSError as error:
        raise OutputFolderError(
            f"cannot write to the output folder {folder} ({error.strerror or error}); nothing was done. "
            f"Fix: choose a folder you can write to with {option} DIR, or make this one writable."
        ) from None
    return folder
