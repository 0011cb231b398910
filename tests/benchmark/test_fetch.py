"""`medmim data fetch` against a loopback HTTP server serving copies of the benchmark files."""

from __future__ import annotations

import io
import json
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from medmim_tasks.benchmark.fetch import (
    DEFAULT_BASE_URL,
    DOWNLOADED,
    FAILED,
    PART_SUFFIX,
    PRESENT,
    fetch_benchmark,
    file_url,
    sha256_of_file,
)
from medmim_tasks.benchmark.http_deadline import WATCHDOG_THREAD_NAME
from medmim_tasks.benchmark.splits import SPLITS, UPSTREAM_COMMIT
from medmim_tasks.cli.main import main

MIRROR_PREFIX = "/mirror"
RAD = SPLITS[-1]
ODIR = SPLITS[-2]


@dataclass
class LoopbackServer:
    """Serves `files_dir` at http://127.0.0.1:<port>/mirror/Benchmark_Dataset/<name>, with faults."""

    files_dir: Path
    drop: set[str] = field(default_factory=set)  # always cut the body in half, then close
    drop_once: set[str] = field(default_factory=set)  # cut the first request only
    trickle: set[str] = field(default_factory=set)  # send one byte every `trickle_s` seconds
    trickle_s: float = 0.05
    oversize: dict[str, int] = field(default_factory=dict)  # append this many bytes, without a Content-Length
    announce_oversize: set[str] = field(default_factory=set)  # announce a Content-Length one byte too large
    sent: dict[str, int] = field(default_factory=dict)  # bytes of the body written per file (last request)
    requests: list[str] = field(default_factory=list)
    base_url: str = ""

    def handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                prefix = f"{MIRROR_PREFIX}/Benchmark_Dataset/"
                name = self.path[len(prefix):] if self.path.startswith(prefix) else ""
                server.requests.append(name)
                path = server.files_dir / name
                if not name or not path.is_file():
                    self.send_error(404, "Not Found")
                    return
                body = path.read_bytes()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if name in server.announce_oversize:
                    self.send_header("Content-Length", str(len(body) + 1))
                elif name not in server.oversize:
                    self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                server.sent[name] = 0
                try:
                    if name in server.trickle:
                        for byte in body:
                            self.wfile.write(bytes([byte]))
                            self.wfile.flush()
                            server.sent[name] += 1
                            time.sleep(server.trickle_s)
                        return
                    if name in server.oversize:
                        padded = body + b" " * server.oversize[name]
                        for start in range(0, len(padded), 65536):
                            self.wfile.write(padded[start : start + 65536])
                            server.sent[name] += len(padded[start : start + 65536])
                        self.close_connection = True
                        return
                except OSError:  # the client hung up
                    self.close_connection = True
                    return
                cut = name in server.drop or (name in server.drop_once and server.requests.count(name) == 1)
                if cut:
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.connection.shutdown(socket.SHUT_RDWR)
                    self.close_connection = True
                    return
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        return Handler


@pytest.fixture(autouse=True)
def no_proxy_for_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def served(benchmark_dir: Path, tmp_path: Path) -> Iterator[LoopbackServer]:
    """A loopback server with copies of the six real files (in a temporary folder)."""
    files_dir = tmp_path / "served"
    files_dir.mkdir()
    for split in SPLITS:
        shutil.copyfile(benchmark_dir / split.file_name, files_dir / split.file_name)
    server = LoopbackServer(files_dir)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), server.handler())
    server.base_url = f"http://127.0.0.1:{httpd.server_address[1]}{MIRROR_PREFIX}"
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join()


def _corrupt(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _leftovers(dest: Path) -> list[str]:
    return sorted(path.name for path in dest.iterdir() if path.name.startswith("."))


def test_urls_point_at_the_pinned_commit_or_the_mirror():
    assert DEFAULT_BASE_URL == f"https://raw.githubusercontent.com/Xikai97/Med-MIM/{UPSTREAM_COMMIT}"
    assert file_url(RAD) == f"{DEFAULT_BASE_URL}/Benchmark_Dataset/{RAD.file_name}"
    assert file_url(RAD, "https://mirror.example/med-mim/") == (
        f"https://mirror.example/med-mim/Benchmark_Dataset/{RAD.file_name}"
    )


def test_fetch_downloads_checks_and_shows_progress(served, tmp_path):
    dest = tmp_path / "dest" / "benchmark"
    progress = io.StringIO()
    results = fetch_benchmark(dest, served.base_url, stream=progress, show_bar=True)
    assert [result.status for result in results] == [DOWNLOADED] * 6
    assert all(sha256_of_file(dest / split.file_name) == split.sha256 for split in SPLITS)
    assert _leftovers(dest) == []
    text = progress.getvalue()
    for split in SPLITS:
        assert f"{split.file_name}: downloaded: {(dest / split.file_name).stat().st_size} bytes, sha256 matches" in text
        assert re.search(rf"{re.escape(split.file_name)}:\s+\d+%\|", text)  # its tqdm byte bar


def test_second_run_downloads_nothing(served, tmp_path):
    dest = tmp_path / "dest"
    fetch_benchmark(dest, served.base_url, stream=io.StringIO())
    served.requests.clear()
    results = fetch_benchmark(dest, served.base_url, stream=io.StringIO())
    assert [result.status for result in results] == [PRESENT] * 6
    assert served.requests == []


def test_corrupt_download_fails_and_leaves_the_old_file_untouched(served, tmp_path):
    _corrupt(served.files_dir / RAD.file_name)
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / RAD.file_name).write_bytes(b"an older copy")
    results = fetch_benchmark(dest, served.base_url, stream=io.StringIO(), attempts=3, retry_delay_s=0)
    by_file = {result.split.file_name: result for result in results}
    failed = by_file[RAD.file_name]
    assert failed.status == FAILED
    assert "sha256 mismatch" in failed.detail and RAD.sha256 in failed.detail
    assert "left untouched" in failed.detail
    assert (dest / RAD.file_name).read_bytes() == b"an older copy"
    assert served.requests.count(RAD.file_name) == 1  # a wrong checksum is not retried
    assert all(result.status == DOWNLOADED for name, result in by_file.items() if name != RAD.file_name)
    assert _leftovers(dest) == []


def test_dropped_connection_fails_cleanly_after_retries(served, tmp_path):
    served.drop.add(ODIR.file_name)
    dest = tmp_path / "dest"
    progress = io.StringIO()
    [result] = fetch_benchmark(dest, served.base_url, splits=[ODIR], stream=progress, attempts=2, retry_delay_s=0)
    assert result.status == FAILED
    assert "connection closed after" in result.detail and "nothing was written" in result.detail
    assert served.requests.count(ODIR.file_name) == 2
    assert "attempt 1 of 2 failed" in progress.getvalue()
    assert not (dest / ODIR.file_name).exists() and _leftovers(dest) == []


def test_dropped_connection_is_retried(served, tmp_path):
    served.drop_once.add(ODIR.file_name)
    [result] = fetch_benchmark(tmp_path, served.base_url, splits=[ODIR], stream=io.StringIO(), retry_delay_s=0)
    assert result.status == DOWNLOADED
    assert served.requests.count(ODIR.file_name) == 2


def test_http_error_is_named_and_not_retried(served, tmp_path):
    (served.files_dir / RAD.file_name).unlink()
    [result] = fetch_benchmark(tmp_path, served.base_url, splits=[RAD], stream=io.StringIO(), retry_delay_s=0)
    assert result.status == FAILED and "HTTP 404" in result.detail and RAD.file_name in result.detail
    assert served.requests.count(RAD.file_name) == 1


def test_unreachable_server_is_named(tmp_path):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    [result] = fetch_benchmark(tmp_path, f"http://127.0.0.1:{port}", splits=[RAD], stream=io.StringIO(), attempts=1)
    assert result.status == FAILED and "cannot reach" in result.detail


def test_stale_file_is_replaced(served, tmp_path):
    (tmp_path / RAD.file_name).write_text("[]")
    [result] = fetch_benchmark(tmp_path, served.base_url, splits=[RAD], stream=io.StringIO())
    assert result.status == DOWNLOADED and "replaced a file whose sha256 did not match" in result.detail
    assert sha256_of_file(tmp_path / RAD.file_name) == RAD.sha256


def test_cli_fetch_into_benchmark_dir_then_nothing_to_do(served, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(tmp_path / "bench"))
    assert main(["data", "fetch", "--base-url", served.base_url]) == 0
    err = capsys.readouterr().err
    assert "6 downloaded, 0 already present, 0 failed" in err
    assert "export MEDMIM_BENCHMARK_DIR" not in err  # the files are where the tasks look
    assert main(["data", "fetch", "--base-url", served.base_url]) == 0
    assert "0 downloaded, 6 already present, 0 failed" in capsys.readouterr().err


def test_cli_fetch_reports_failure_with_exit_status_1(served, tmp_path, monkeypatch, capsys):
    monkeypatch.delenv("MEDMIM_BENCHMARK_DIR", raising=False)
    served.drop.add(RAD.file_name)
    dest = tmp_path / "elsewhere"
    assert main(["data", "fetch", "--base-url", served.base_url, "--dest", str(dest), "--attempts", "1"]) == 1
    err = capsys.readouterr().err
    assert f"{RAD.file_name}: failed: connection closed after" in err
    assert "5 downloaded, 0 already present, 1 failed" in err
    assert "Run `medmim data fetch` again" in err


def test_fresh_machine_fetch_then_check_tells_what_is_missing(served, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(tmp_path / "bench"))
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(tmp_path / "images"))
    assert main(["check"]) == 1  # nothing at all yet
    assert "medmim data fetch" in capsys.readouterr().out
    assert main(["data", "fetch", "--base-url", served.base_url]) == 0
    capsys.readouterr()
    assert main(["check", "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert all(split["present"] and split["sha256_ok"] for split in report["splits"])
    assert [problem["subject"] for problem in report["problems"]] == ["EMBED", "LUMIERE", "MS-CXR-T", "ODIR", "VQA-RAD"]
    assert sum(dataset["missing"] for dataset in report["datasets"]) == 7336


def test_pinned_sizes_match_the_files(benchmark_dir):
    assert all((benchmark_dir / split.file_name).stat().st_size == split.size for split in SPLITS)


def test_a_trickling_server_is_cut_off_by_the_per_file_time_limit(served, tmp_path):
    """One byte every 0.05 s: every read is quick, the file would take hours; the limit caps the whole file."""
    served.trickle.add(RAD.file_name)
    [result] = fetch_benchmark(
        tmp_path, served.base_url, splits=[RAD], stream=io.StringIO(), attempts=3, retry_delay_s=0, file_timeout_s=0.5
    )
    assert result.status == FAILED
    assert "not complete within 0.5 s (--timeout)" in result.detail and "nothing was written" in result.detail
    assert served.sent[RAD.file_name] < RAD.size
    assert _leftovers(tmp_path) == []
    assert not [thread for thread in threading.enumerate() if thread.name == WATCHDOG_THREAD_NAME]


def test_the_total_time_limit_ends_the_whole_fetch(served, tmp_path):
    for split in SPLITS:
        served.trickle.add(split.file_name)
    results = fetch_benchmark(
        tmp_path, served.base_url, stream=io.StringIO(), retry_delay_s=0, file_timeout_s=60, total_timeout_s=0.5
    )
    assert [result.status for result in results] == [FAILED] * 6
    assert "not complete within the time left of --total-timeout" in results[0].detail
    assert all("not tried" in result.detail and "--total-timeout" in result.detail for result in results[1:])
    assert served.requests == [SPLITS[0].file_name]
    assert _leftovers(tmp_path) == []


@pytest.mark.parametrize("announced", [False, True])
def test_a_stream_longer_than_the_pinned_size_is_stopped_at_once(served, tmp_path, announced):
    if announced:
        served.announce_oversize.add(RAD.file_name)
    else:
        served.oversize[RAD.file_name] = 20 * 1024 * 1024
    [result] = fetch_benchmark(tmp_path, served.base_url, splits=[RAD], stream=io.StringIO(), retry_delay_s=0)
    assert result.status == FAILED
    expected = f"announces {RAD.size + 1} bytes" if announced else f"sent more than the pinned file's {RAD.size} bytes"
    assert expected in result.detail
    assert served.requests.count(RAD.file_name) == 1  # a wrong file is not retried
    assert _leftovers(tmp_path) == [] and not (tmp_path / RAD.file_name).exists()


def _fetch_process(dest: Path, base_url: str) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "medmim_tasks.cli.main", "data", "fetch", "--base-url", base_url, "--dest", str(dest)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _wait_for_part_file(dest: Path, process: subprocess.Popen[bytes]) -> Path:
    for _ in range(600):  # polls for up to a minute; the download stalls until the process is stopped
        parts = list(dest.glob(f".*{PART_SUFFIX}")) if dest.is_dir() else []
        if parts:
            return parts[0]
        assert process.poll() is None, process.stderr.read().decode() if process.stderr else ""
        time.sleep(0.1)
    raise AssertionError("the fetch never started writing")


def test_sigterm_during_a_download_leaves_no_temporary_file(served, tmp_path):
    served.trickle.update(split.file_name for split in SPLITS)
    dest = tmp_path / "dest"
    process = _fetch_process(dest, served.base_url)
    _wait_for_part_file(dest, process)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=60) == 128 + signal.SIGTERM
    assert _leftovers(dest) == []


def test_a_killed_download_leaves_nothing_behind_after_the_next_run(served, tmp_path):
    served.trickle.update(split.file_name for split in SPLITS)
    dest = tmp_path / "dest"
    process = _fetch_process(dest, served.base_url)
    part = _wait_for_part_file(dest, process)
    process.kill()  # SIGKILL: no cleanup can run
    process.wait(timeout=60)
    assert part.exists()  # what the issue saw
    served.trickle.clear()
    progress = io.StringIO()
    results = fetch_benchmark(dest, served.base_url, stream=progress)
    assert [result.status for result in results] == [DOWNLOADED] * 6
    assert "removed 1 partial download(s) left by an earlier, interrupted fetch" in progress.getvalue()
    assert _leftovers(dest) == []


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--base-url", "mirror.example/med-mim"], "argument --base-url: 'mirror.example/med-mim' is not an http(s) URL"),
        (["--base-url", "http://127.0.0.1:99999"], "argument --base-url: 'http://127.0.0.1:99999' has a bad port"),
        (["--timeout", "nan"], "argument --timeout: must be a finite number of seconds more than 0, not 'nan'"),
        (["--timeout", "-1"], "argument --timeout: must be a finite number of seconds more than 0"),
        (["--total-timeout", "inf"], "argument --total-timeout: must be a finite number of seconds more than 0"),
        (["--attempts", "0"], "argument --attempts: must be at least 1"),
    ],
)
def test_bad_options_are_named_with_the_fix(tmp_path, capsys, arguments, message):
    with pytest.raises(SystemExit) as exited:
        main(["data", "fetch", "--dest", str(tmp_path), *arguments])
    assert exited.value.code == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
