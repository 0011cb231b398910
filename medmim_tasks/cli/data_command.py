"""`medmim data fetch` (the six benchmark files) and `medmim data prepare embed` (EMBED PNGs from DICOM)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from medmim_tasks.benchmark.fetch import (
    DEFAULT_BASE_URL,
    DEFAULT_FILE_TIMEOUT_S,
    DEFAULT_TOTAL_TIMEOUT_S,
    FAILED,
    check_base_url,
    fetch_benchmark,
)
from medmim_tasks.benchmark.items import (
    BENCHMARK_DIR_VARIABLE,
    BenchmarkFormatError,
    benchmark_dir,
)
from medmim_tasks.benchmark.prepare_embed import (
    BIT_DEPTHS,
    EMBED,
    embed_references,
    prepare_embed,
)
from medmim_tasks.benchmark.sources import image_root
from medmim_tasks.benchmark.splits import UPSTREAM_COMMIT, UPSTREAM_FOLDER, UPSTREAM_REPOSITORY
from medmim_tasks.cli.arguments import positive_int, positive_seconds
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder


def base_url(text: str) -> str:
    """argparse type of --base-url: an http(s) URL with a host."""
    try:
        return check_base_url(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


@contextmanager
def sigterm_as_exit() -> Iterator[None]:
    """Within the block, SIGTERM raises SystemExit(143), so `finally` clauses (temporary files) still run."""

    def stop(signum: int, frame: object) -> None:
        raise SystemExit(128 + signum)

    try:
        previous = signal.signal(signal.SIGTERM, stop)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_fetch(args: argparse.Namespace) -> int:
    dest = Path(args.dest).expanduser() if args.dest else benchmark_dir()
    source = args.base_url or DEFAULT_BASE_URL
    print(f"Fetching the Med-MIM benchmark files from {source}/{UPSTREAM_FOLDER}/ into {dest}", file=sys.stderr)
    try:
        with sigterm_as_exit():
            results = fetch_benchmark(
                dest, source, attempts=args.attempts, file_timeout_s=args.timeout, total_timeout_s=args.total_timeout
            )
    except OSError as error:
        print(f"error: cannot use {dest} as the benchmark folder: {error}", file=sys.stderr)
        return 1
    failed = [result for result in results if result.status == FAILED]
    counts = {status: sum(result.status == status for result in results) for status in ("downloaded", "present")}
    print(
        f"{len(results)} files in {dest}: {counts['downloaded']} downloaded, {counts['present']} already present, "
        f"{len(failed)} failed",
        file=sys.stderr,
    )
    if failed:
        print(
            "Run `medmim data fetch` again to retry the failed files (files already in place are kept). "
            f"Upstream: {UPSTREAM_REPOSITORY}, folder {UPSTREAM_FOLDER}/, commit {UPSTREAM_COMMIT}.",
            file=sys.stderr,
        )
        return 1
    if dest.resolve() != benchmark_dir().resolve():
        print(f"Point the tasks at these files: export {BENCHMARK_DIR_VARIABLE}={dest}", file=sys.stderr)
    return 0


def run_prepare_embed(args: argparse.Namespace) -> int:
    out_root = Path(args.out).expanduser() if args.out else image_root(EMBED)
    try:
        references = embed_references()
        writable_folder(out_root, f"--out (or {EMBED.root_variable})")
    except (BenchmarkFormatError, OutputFolderError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    try:
        report = prepare_embed(
            Path(args.dicom_root).expanduser(), out_root, references, bit_depth=args.bit_depth, overwrite=args.overwrite
        )
    except (FileNotFoundError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(report.summary())
    if args.out and out_root.resolve() != image_root(EMBED).resolve():
        print(f"Point the tasks at these images: export {EMBED.root_variable}={out_root}")
    return 0 if report.complete else 1


def add_parser(subparsers: Any) -> None:
    data = subparsers.add_parser(
        "data",
        help="get and prepare the Med-MIM data (benchmark files, EMBED PNGs)",
        description="Get and prepare the Med-MIM data. See `medmim check` for what is present and missing.",
    )
    actions = data.add_subparsers(dest="data_command", metavar="ACTION")
    actions.required = True
    _add_fetch_parser(actions)
    _add_prepare_parser(actions)


def _add_fetch_parser(actions: Any) -> None:
    fetch = actions.add_parser(
        "fetch",
        help="download the six benchmark JSON files and check their SHA-256",
        description=(
            f"Download the six Med-MIM benchmark JSON files from {UPSTREAM_REPOSITORY} (folder "
            f"{UPSTREAM_FOLDER}/, commit {UPSTREAM_COMMIT}) and check each against its pinned SHA-256. "
            "Files already in place with the right checksum are not downloaded again; a failed or corrupt "
            "download leaves the file that was there untouched. A download stops at the file's pinned size "
            "and within --timeout per file and --total-timeout overall; interrupted downloads leave no "
            "temporary files (those of a killed fetch are removed by the next one)."
        ),
    )
    fetch.add_argument(
        "--base-url", metavar="URL", default=None, type=base_url,
        help=f"fetch URL/{UPSTREAM_FOLDER}/<file name> instead (a mirror); default {DEFAULT_BASE_URL}",
    )
    fetch.add_argument(
        "--dest", metavar="DIR", default=None,
        help=f"folder for the files; default ${BENCHMARK_DIR_VARIABLE} or ~/.cache/medmim/benchmark",
    )
    fetch.add_argument(
        "--attempts", type=positive_int, default=3, metavar="N",
        help="tries per file for dropped connections, timeouts and server errors (default 3)",
    )
    fetch.add_argument(
        "--timeout", type=positive_seconds, default=DEFAULT_FILE_TIMEOUT_S, metavar="SECONDS",
        help=f"time limit per file, all its tries together (default {DEFAULT_FILE_TIMEOUT_S:g})",
    )
    fetch.add_argument(
        "--total-timeout", type=positive_seconds, default=DEFAULT_TOTAL_TIMEOUT_S, metavar="SECONDS",
        help=f"time limit of the whole fetch; files not started by then fail (default {DEFAULT_TOTAL_TIMEOUT_S:g})",
    )
    fetch.set_defaults(func=run_fetch)


def _add_prepare_parser(actions: Any) -> None:
    prepare = actions.add_parser("prepare", help="prepare a source dataset's images")
    datasets = prepare.add_subparsers(dest="prepare_dataset", metavar="DATASET")
    datasets.required = True
    embed = datasets.add_parser(
        "embed",
        help="write the EMBED PNGs the benchmark names from the EMBED DICOM files",
        description=(
            "Write the EMBED PNGs the benchmark names (only those) from the DICOM files with the same "
            "study, series and SOP UIDs: modality LUT, then VOI LUT or window, MONOCHROME1 inverted, "
            "grayscale PNG. Needs the six benchmark files (medmim data fetch)."
        ),
    )
    embed.add_argument("--dicom-root", required=True, metavar="DIR", help="folder holding the EMBED DICOM files (any layout)")
    embed.add_argument(
        "--out", metavar="DIR", default=None,
        help=f"EMBED image root to write; default ${EMBED.root_variable} or $MEDMIM_IMAGE_ROOT/{EMBED.folder}",
    )
    embed.add_argument("--bit-depth", type=int, choices=BIT_DEPTHS, default=8, help="PNG bit depth (default 8)")
    embed.add_argument("--overwrite", action="store_true", help="rewrite PNGs that already exist")
    embed.set_defaults(func=run_prepare_embed)

