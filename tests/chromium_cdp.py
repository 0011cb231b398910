"""Drive Debian's headless `chromium` over the Chrome DevTools Protocol (no driver, no browser download).

Chromium is started with `--remote-debugging-port=0`; the port it picked is read from
`DevToolsActivePort` in its profile folder, the page's websocket from http://127.0.0.1:PORT/json,
and commands go over that websocket (`websocket-client`, the test extra).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
STARTUP_SECONDS = 60


class Chromium:
    """One headless Chromium with one page; `evaluate` runs JavaScript in it and returns the value."""

    def __init__(self, profile: Path, window: tuple[int, int] = (1280, 900)) -> None:
        if CHROMIUM is None:
            raise RuntimeError("no chromium on PATH (Debian: apt-get install -y chromium)")
        self.process = subprocess.Popen(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--remote-debugging-port=0",
             f"--user-data-dir={profile}", f"--window-size={window[0]},{window[1]}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        self._id = 0
        self.socket = self._connect(profile)

    def _connect(self, profile: Path) -> Any:
        import websocket

        deadline = time.monotonic() + STARTUP_SECONDS
        port_file = profile / "DevToolsActivePort"
        while time.monotonic() < deadline:
            if port_file.is_file() and port_file.read_text().strip():
                port = int(port_file.read_text().splitlines()[0])
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as answer:
                    pages = [target for target in json.load(answer) if target.get("type") == "page"]
                if pages:
                    return websocket.create_connection(pages[0]["webSocketDebuggerUrl"], timeout=60, suppress_origin=True)
            if self.process.poll() is not None:
                raise RuntimeError(f"chromium exited with status {self.process.returncode} before it could be driven")
            time.sleep(0.2)
        raise RuntimeError(f"chromium gave no DevTools port within {STARTUP_SECONDS} s")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command; its result (events arriving meanwhile are skipped)."""
        self._id += 1
        self.socket.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            message = json.loads(self.socket.recv())
            if message.get("id") == self._id:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return message["result"]

    def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (promises awaited); a JavaScript exception raises."""
        result = self.send("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in result:
            raise RuntimeError(f"JavaScript error: {result['exceptionDetails']}")
        return result["result"].get("value")

    def open(self, url: str) -> None:
        """Load a page and wait until it has finished loading."""
        self.send("Page.navigate", url=url)
        deadline = time.monotonic() + STARTUP_SECONDS
        while self.evaluate("document.readyState") != "complete" or self.evaluate("location.href") != url:
            if time.monotonic() > deadline:
                raise RuntimeError(f"{url} did not finish loading")
            time.sleep(0.1)

    def close(self) -> None:
        try:
            self.socket.close()
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
