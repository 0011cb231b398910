"""Download the six Med-MIM benchmark files, checked against their pinned SHA-256 checksums and sizes.

Each file is streamed into a temporary `.<name>.<random>.part` file beside its target, hashed while
it arrives, and renamed over the target only when its checksum matches: a failed or corrupt
download leaves whatever was there before untouched. Files already in place with the right
checksum are not downloaded again.

Bounds: a download stops as soon as it passes the file's pinned size (or when the server
announces a larger one); each file has a total time limit over all its tries (`file_timeout_s`),
and the whole fetch one more (`total_timeout_s`); both cap the whole transfer, not only each read
(see medmim_tasks.benchmark.http_deadline). The temporary file is removed on every error and on an
interruption (KeyboardInterrupt, and SIGTERM where the caller turns it into an exception, as
`medmim data fetch` does); temporary files left by a run that was killed outright (SIGKILL, power
loss) are removed at the start of the next fetch into that folder. Two fetches into one folder at
once are not supported.
"""

from __future__ import annotations

import hashlib
import http.client
import math
import os
import socket
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from tqdm import tqdm

from medmim_tasks.atomic_write import atomic_file
from medmim_tasks.benchmark.http_deadline import DeadlineExceeded, open_with_deadline
from medmim_tasks.benchmark.splits import SPLITS, UPSTREAM_COMMIT, UPSTREAM_FOLDER, Split

DEFAULT_BASE_URL = f"https://raw.githubusercontent.com/Xikai97/Med-MIM/{UPSTREAM_COMMIT}"
CHUNK_BYTES = 64 * 1024
TIMEOUT_SECONDS = 30.0  # one read without a byte
DEFAULT_FILE_TIMEOUT_S = 120.0  # one file, all its tries
DEFAULT_TOTAL_TIMEOUT_S = 300.0  # the whole fetch
PART_SUFFIX = ".part"

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


def check_base_url(base_url: str) -> str:
    """The base URL without a trailing slash; ValueError saying what is wrong unless it is http(s)://host/..."""
    parsed = urllib.parse.urlsplit(base_url.strip())
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ValueError(
            f"{base_url!r} is not an http(s) URL with a host; give the folder above {UPSTREAM_FOLDER}/, "
            "e.g. https://mirror.example/med-mim"
        )
    try:
        parsed.port  # noqa: B018 (parsing the port raises ValueError for a bad one)
    except ValueError as error:
        raise ValueError(f"{base_url!r} has a bad port ({error})") from None
    return base_url.strip().rstrip("/")


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
        return f"no data for {TIMEOUT_SECONDS:.0f} s from {url}"
    return f"{type(error).__name__}: {error} ({url})"


def _download_to(
    url: str, handle: IO[bytes], split: Split, stream: IO[str], show_bar: bool | None, total_s: float, limit: str
) -> tuple[str, int]:
    """Stream a URL into an open file within `total_s` seconds and the split's size; (sha256, bytes).

    `limit` names the time limit for messages, e.g. "120 s (--timeout)".

    Raises DownloadError with the reason.
    """
    digest = hashlib.sha256()
    received = 0
    request = urllib.request.Request(url, headers={"User-Agent": "medmim-tasks"})
    try:
        with open_with_deadline(request, total_s, read_timeout_s=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > split.size:
                raise DownloadError(
                    f"{url} announces {total} bytes, but the pinned file has {split.size}: "
                    "the server sends a different file (wrong mirror or commit)"
                )
            with tqdm(
                total=total, unit="B", unit_scale=True, unit_divisor=1024, desc=split.file_name,
                file=stream, disable=(not show_bar) if show_bar is not None else None, leave=False,
            ) as bar:
                while True:
                    chunk = response.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    received += len(chunk)
                    if received > split.size:
                        raise DownloadError(
                            f"{url} sent more than the pinned file's {split.size} bytes; stopped at {received} "
                            "bytes: the server sends a different file (wrong mirror or commit)"
                        )
                    handle.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
            if total is not None and received != total:
                raise DownloadError(f"connection closed after {received} of {total} bytes from {url}", retryable=True)
    except DeadlineExceeded as error:
        raise DownloadError(f"{url}: not complete within {limit} ({received} bytes received)", retryable=True) from error
    except DownloadError:
        raise
    except urllib.error.HTTPError as error:
        raise DownloadError(_describe(error, url), retryable=error.code >= 500) from error
    except (OSError, http.client.HTTPException) as error:
        raise DownloadError(_describe(error, url), retryable=True) from error
    return digest.hexdigest(), received


def remove_stale_parts(split: Split, dest: Path) -> int:
    """Remove the temporary files an earlier, killed fetch of this split left in `dest`; how many."""
    removed = 0
    for part in dest.glob(f".{split.file_name}.*{PART_SUFFIX}"):
        try:
            part.unlink()
            removed += 1
        except FileNotFoundError:
            pass
    return removed


def fetch_file(
    split: Split,
    dest: Path,
    base_url: str = DEFAULT_BASE_URL,
    stream: IO[str] | None = None,
    show_bar: bool | None = None,
    attempts: int = 3,
    retry_delay_s: float = 2.0,
    file_timeout_s: float = DEFAULT_FILE_TIMEOUT_S,
    deadline: float = math.inf,
) -> FetchResult:
    """Make `dest/<file name>` the checked upstream file, downloading it only when needed.

    All tries together take at most `file_timeout_s` seconds and end by `deadline` (a
    `time.monotonic()` value; the whole fetch's limit).
    """
    stream = sys.stderr if stream is None else stream
    target = dest / split.file_name
    removed = remove_stale_parts(split, dest)
    if removed:
        print(f"{split.file_name}: removed {removed} partial download(s) left by an earlier, interrupted fetch", file=stream)
    if has_expected_checksum(target, split):
        return FetchResult(split, target, PRESENT, "sha256 matches, not downloaded again")
    url = file_url(split, base_url)
    stale = target.exists()
    reason = ""
    attempts = max(1, attempts)
    file_deadline = min(time.monotonic() + file_timeout_s, deadline)
    limit = (
        "the time left of --total-timeout" if deadline <= time.monotonic() + file_timeout_s
        else f"{file_timeout_s:g} s (--timeout)"
    )
    for attempt in range(1, attempts + 1):
        retryable = False
        try:
            size = _download_once(split, target, url, stream, show_bar, file_deadline, limit)
            replaced = " (replaced a file whose sha256 did not match)" if stale else ""
            return FetchResult(split, target, DOWNLOADED, f"{size} bytes, sha256 matches{replaced}")
        except DownloadError as error:
            reason = str(error)
            retryable = error.retryable
        except OSError as error:  # writing or renaming here failed (disk full, permissions, a folder in the way)
            reason = f"cannot write {target}: {error}"
        out_of_time = time.monotonic() + retry_delay_s >= file_deadline
        if not retryable or attempt == attempts or out_of_time:
            if retryable and out_of_time and attempt < attempts:
                reason += f"; no time for another try within {limit}"
            break
        print(f"{split.file_name}: attempt {attempt} of {attempts} failed: {reason}; retrying", file=stream)
        time.sleep(retry_delay_s)
    before = "the file already there was left untouched" if target.exists() else "nothing was written"
    return FetchResult(split, target, FAILED, f"{reason}; {before}")


def _download_once(
    split: Split, target: Path, url: str, stream: IO[str], show_bar: bool | None, file_deadline: float, limit: str
) -> int:
    """One try: download into a temporary file, check its SHA-256, then put it in place; its size in bytes.

    On any error (also KeyboardInterrupt and SystemExit) no temporary file stays behind.
    """
    with atomic_file(target, suffix=PART_SUFFIX) as handle:
        remaining = file_deadline - time.monotonic()
        if remaining <= 0:
            raise DownloadError(f"{url}: no time left within {limit}")
        digest, size = _download_to(url, handle, split, stream, show_bar, remaining, limit)
        handle.flush()
        os.fsync(handle.fileno())
        if digest != split.sha256:
            raise DownloadError(
                f"sha256 mismatch for {url}: expected {split.sha256}, got {digest} ({size} bytes); "
                "the server sent a different file (wrong mirror or commit, or a corrupted copy)"
            )
    return size


def fetch_benchmark(
    dest: Path,
    base_url: str = DEFAULT_BASE_URL,
    splits: Iterable[Split] = SPLITS,
    stream: IO[str] | None = None,
    show_bar: bool | None = None,
    attempts: int = 3,
    retry_delay_s: float = 2.0,
    file_timeout_s: float = DEFAULT_FILE_TIMEOUT_S,
    total_timeout_s: float = DEFAULT_TOTAL_TIMEOUT_S,
) -> list[FetchResult]:
    """Fetch every split's file into `dest`, one line per file on `stream`; failures are returned, not raised.

    Each file gets at most `file_timeout_s` seconds, the whole fetch `total_timeout_s`; files not
    started within the total are failed with that reason.
    """
    stream = sys.stderr if stream is None else stream
    base_url = check_base_url(base_url)
    dest.mkdir(parents=True, exist_ok=True)
    deadline = time.monotonic() + total_timeout_s
    results = []
    for split in splits:
        if time.monotonic() >= deadline and not has_expected_checksum(dest / split.file_name, split):
            remove_stale_parts(split, dest)
            result = FetchResult(
                split, dest / split.file_name, FAILED,
                f"not tried: the fetch's time limit of {total_timeout_s:g} s (--total-timeout) was used up",
            )
        else:
            result = fetch_file(
                split, dest, base_url, stream, show_bar, attempts, retry_delay_s, file_timeout_s, deadline
            )
        print(f"{split.file_name}: {result.status}: {result.detail}", file=stream)
        results.append(result)
    return results
