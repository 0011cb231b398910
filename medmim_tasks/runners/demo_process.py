"""Run lmms-eval as a watched subprocess for `medmim demo`: its whole output to a log, a few progress lines to the user."""

from __future__ import annotations

import re
import subprocess
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TextIO

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_RESPONDING = re.compile(r"Model Responding:\s*\d+%.*?\|\s*(\d+)/(\d+)")
_STARTING = "starting lmms-eval"
_STAGES: tuple[tuple[str, str], ...] = (
    (_STARTING, "starting lmms-eval (its imports take a while)"),
    ("Selected Tasks:", "loading the model and the task"),
    ("Building contexts for", "building the prompts"),
    ("Running generate_until requests", "the model is answering"),
    ("Postprocessed ", "scoring the replies"),
    ("Saving results aggregated", "saving the results"),
)


class _Progress:
    """Turns lmms-eval's log stream into a few progress lines (a live line on a terminal)."""

    def __init__(self, out: TextIO, started: float) -> None:
        self.out = out
        self.started = started
        self.live = out.isatty()
        self.stage = ""
        self.reported_quarter = -1
        self.open_live_line = False

    def _elapsed(self) -> str:
        return f"{time.monotonic() - self.started:5.1f} s"

    def _print(self, text: str, live: bool = False) -> None:
        if self.live and live:
            self.out.write(f"\r      [{self._elapsed()}] {text}\x1b[K")
            self.open_live_line = True
        else:
            if self.open_live_line:
                self.out.write("\n")
                self.open_live_line = False
            self.out.write(f"      [{self._elapsed()}] {text}\n")
        self.out.flush()

    def line(self, raw: str) -> None:
        text = _ANSI.sub("", raw)
        for marker, stage in _STAGES:
            if marker in text and stage != self.stage:
                self.stage = stage
                self._print(stage)
                return
        match = _RESPONDING.search(text)
        if match:
            done, total = int(match.group(1)), int(match.group(2))
            quarter = 4 * done // total if total else 4
            if self.live:
                self._print(f"answered {done}/{total} documents", live=True)
            elif quarter > self.reported_quarter:
                self.reported_quarter = quarter
                self._print(f"answered {done}/{total} documents")

    def finish(self) -> None:
        if self.open_live_line:
            self.out.write("\n")
            self.out.flush()


def run_lmms_eval(command: Sequence[str], env: Mapping[str, str], log_path: Path, out: TextIO) -> int:
    """Run lmms-eval, saving its whole output to `log_path` and showing progress; its exit code."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    progress = _Progress(out, time.monotonic())
    progress.line(_STARTING)
    with log_path.open("wb") as log, subprocess.Popen(
        list(command), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=dict(env), bufsize=0
    ) as process:
        assert process.stdout is not None
        pending = b""
        while chunk := process.stdout.read(8192):
            log.write(chunk)
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for line in lines:
                progress.line(line.decode("utf-8", "replace"))
        if pending:
            progress.line(pending.decode("utf-8", "replace"))
        code = process.wait()
    progress.finish()
    return code


def log_tail(log_path: Path, lines: int = 15, width: int = 300) -> str:
    """The log's last lines (long ones cut), for an error message."""
    try:
        text = log_path.read_text(errors="replace")
    except OSError:
        return "(no log)"
    cleaned = [_ANSI.sub("", line) for line in re.split(r"[\r\n]", text) if line.strip()]
    return "\n".join(line if len(line) <= width else line[:width] + " ..." for line in cleaned[-lines:])

