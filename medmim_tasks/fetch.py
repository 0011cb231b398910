"""Download the six Med-MIM benchmark files, checked against their pinned SHA-256 checksums.

Each file is streamed into a temporary file beside its target, hashed while it arrives, and
renamed over the target only when its checksum matches: a failed or corrupt download leaves
whatever was there before untouched. Files already in place with the right checksum are not
downloaded again.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from medmim_tasks.splits import SPLITS, UPSTREAM_COMMIT, UPSTREAM_FOLDER, Split

DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/Xikai97/Med-MIM/{UPSTREAM_COMMIT}"
CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 60.0

PRESENT = "present"
DOWNLOADED = "downloaded"
FAILED = "failed"


class DownloadError(RuntimeError):
    """One file could not be downloaded intact (the message says why).

    `retryable` is true for failures another attempt may cure: a dropped connection, a timeout,
    an unreachable host or a server error (HTTP 5xx); false for HTTP 4xx and a wrong checksum.
    """

    def __init__(self, message: str, retryable: bool = False) -> None:
        super().__init__(message)
        self.retryable = retryable


@dataclass(frozen=True)
class FetchResult:
    """What happened to one benchmark file."""

    split: Split
    path: Path
    status: str
    detail: str


def file_url(split: Split, base_url: str = DEFAULT_BASE_URL) -> str:
    """`<base>/Benchmark_Dataset/<file name>` (the upstream layout, also expected of mirrors)."""
    return f"{base_url.rstrip('/')}/{UPSTREAM_FOLDER}/{urllib.parse.quote(split.file_name)}"


def sha256_of_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(CHUNK_BYTES), b""):
            digest.update(chunk)
    return digest.hexdigest()


def has_expected_checksum(path: Path, split: Split) -> bool:
    return path.is_file() and sha256_of_file(path) == split.sha256


def _describe(error: BaseException, url: str) -> str:
    if isinstance(error, urllib.error.HTTPError):
        return f"HTTP {error.code} {error.reason} from {url}"
    if isinstance(error, urllib.error.URLError):
        return f"cannot reach {url} ({error.reason})"
    if isinstance(error, http.client.IncompleteRead):
        received = len(error.partial)
        expected = f" of {received + error.expected} bytes" if error.expected is not None else ""
        return f"connection closed after {received}{expected} from {url}"
    if isinstance(error, (TimeoutError, socket.timeout)):
        return f"no answer within {TIMEOUT_SECONDS:.0f} s from {url}"
    return f"{type(error).__name__}: {error} ({url})"


def _download_to(url: str, handle: IO[bytes], label: str, stream: IO[str], show_bar: bool | None) -> tuple[str, int]:
    """Stream a URL into an open file; (sha256, bytes). Raises DownloadError with the reason."""
    digest = hashlib.sha256()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "medmim-tasks"})
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=label,
                file=stream, disable=(not show_bar) if show_bar is not None else None, leave=False,
            ) as bar:
                while True:
                    chunk = response.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    handle.write(chunk)
                    digest.update(chunk)
                    received += len(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise DownloadError(f"connection closed after {received} of {total} bytes from {url}", retryable=True)
    except DownloadError:
        raise
    except urllib.error.HTTPError as error:
        raise DownloadError(_describe(error, url), retryable=error.code >= 500) from error
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(_describe(error, url), retryable=True) from error
    return digest.hexdigest(), received


def fetch_file(
    split: Split,
    dest: Path,
    base_url: str = DEFAULT_BASE_URL,
    stream: IO[str] | None = None,
    show_bar: bool | None = None,
    attempts: int = 3,
    retry_delay_s: float = 2.0,
) -> FetchResult:
    """Make `dest/<file name>` the checked upstream file, downloading it only when needed."""
    stream = sys.stderr if stream is None else stream
    target = dest / split.file_name
    if has_expected_checksum(target, split):
        return FetchResult(split, target, PRESENT, "sha256 matches, not downloaded again")
    url = file_url(split, base_url)
    stale = target.exists()
    reason = ""
    attempts = max(1, attempts)
    for attempt in range(1, attempts + 1):
        temporary: Path | None = None
        retryable = False
        try:
            with tempfile.NamedTemporaryFile(
                dir=dest, prefix=f".{split.file_name}.", suffix=".part", delete=False
            ) as handle:
                temporary = Path(handle.name)
                digest, size = _download_to(url, handle, split.file_name, stream, show_bar)
                handle.flush()
                os.fsync(handle.fileno())
            if digest != split.sha256:
                raise DownloadError(
                    f"sha256 mismatch for {url}: expected {split.sha256}, got {digest} ({size} bytes); "
                    "the server sent a different file (wrong mirror or commit, or a corrupted copy)"
                )
            os.replace(temporary, target)
            replaced = " (replaced a file whose sha256 did not match)" if stale else ""
            return FetchResult(split, target, DOWNLOADED, f"{size} bytes, sha256 matches{replaced}")
        except DownloadError as error:
            reason = str(error)
            retryable = error.retryable
        except OSError as error:  # writing or renaming here failed (disk full, permissions, a folder in the way)
            reason = f"cannot write {target}: {error}"
        finally:
            if temporary is not None:
                temporary.unlink(missing_ok=True)
        if not retryable or attempt == attempts:
            break
        print(f"{split.file_name}: attempt {attempt} of {attempts} failed: {reason}; retrying", file=stream)
        time.sleep(retry_delay_s)
    before = "the file already there was left untouched" if target.exists() else "nothing was written"
    return FetchResult(split, target, FAILED, f"{reason}; {before}")


def fetch_benchmark(
    dest: Path,
    base_url: str = DEFAULT_BASE_URL,
    splits: Iterable[Split] = SPLITS,
    stream: IO[str] | None = None,
    show_bar: bool | None = None,
    attempts: int = 3,
    retry_delay_s: float = 2.0,
) -> list[FetchResult]:
    """Fetch every split's file into `dest`, one line per file on `stream`; failures are returned, not raised."""
    stream = sys.stderr if stream is None else stream
    dest.mkdir(parents=True, exist_ok=True)
    results = []
    for split in splits:
        result = fetch_file(split, dest, base_url, stream, show_bar, attempts, retry_delay_s)
        print(f"{split.file_name}: {result.status}: {result.detail}", file=stream)
        results.append(result)
    return results
