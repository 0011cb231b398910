"""`medmim check`'s report as text: tables for people, problems last, each with its fix."""

from __future__ import annotations

from collections.abc import Mapping

from medmim_tasks.benchmark.check import CheckReport
from medmim_tasks.results.tables import text_table


def _counted(counter: Mapping[str, int]) -> str:
    return ", ".join(f"{key} {value}" for key, value in sorted(counter.items(), key=lambda entry: -entry[1])) or "-"


def format_report(report: CheckReport) -> str:
    """The report as tables for people, problems last, each with its fix."""
    lines = [f"Benchmark files in {report.benchmark_dir} (from {report.benchmark_dir_from})"]
    file_rows = []
    for split in report.splits:
        checksum = "-" if split.sha256_ok is None else ("ok" if split.sha256_ok else "MISMATCH")
        state = "missing" if not split.present else ("invalid" if split.error else "ok")
        file_rows.append([split.task, split.file, state, checksum, "-" if split.items is None else str(split.items)])
    lines += text_table(["task", "file", "state", "sha256", "items"], file_rows, text_columns=4)

    lines += ["", "Images by split and source dataset (images: distinct files)"]
    rows = []
    for split in report.splits:
        for name, counts in split.datasets.items():
            unreadable = str(counts.unreadable) if report.decoded else "-"
            rows.append([split.task, name, str(counts.items), str(counts.image_refs), str(counts.images),
                         str(counts.present), str(counts.missing), unreadable])
    if rows:
        lines += text_table(["task", "dataset", "items", "refs", "images", "present", "missing", "unreadable"], rows)
    else:
        lines.append("  (no benchmark file could be read)")

    lines += ["", "Source datasets (distinct images)"]
    rows = []
    for dataset in report.datasets:
        unreadable = str(dataset.unreadable) if report.decoded else "-"
        rows.append([dataset.name, dataset.root + ("" if dataset.root_exists else "  (absent)"), str(dataset.images),
                     str(dataset.present), str(dataset.missing), unreadable])
    lines += text_table(["dataset", "root", "images", "present", "missing", "unreadable"], rows)
    for dataset in report.datasets:
        forms = _counted(dataset.found_forms) if dataset.found_forms else "nothing found"
        lines.append(f"  {dataset.name}: root from {dataset.root_from}; found as: {forms}")

    if report.decoded:
        lines += ["", "Decoded images"]
        rows = []
        for dataset in report.datasets:
            size = (
                f"{dataset.width_range[0]}-{dataset.width_range[1]} x {dataset.height_range[0]}-{dataset.height_range[1]}"
                if dataset.width_range and dataset.height_range else "-"
            )
            rows.append([dataset.name, _counted(dataset.formats), _counted(dataset.modes), size])
        lines += text_table(["dataset", "formats", "modes", "width x height"], rows, text_columns=4)
    else:
        lines += ["", "Images were checked for existence only; `medmim check --decode` opens every one."]

    if report.problems:
        lines += ["", f"Problems ({len(report.problems)}):"]
        for problem in report.problems:
            message = problem.message.replace("; e.g. ", "\n    e.g. ", 1)
            lines.append(f"- {problem.subject}: {message}")
            lines += [f"    fix: {problem.fix[0]}"] + [f"         {text}" for text in problem.fix[1:]]
        lines += ["", f"NOT READY ({report.seconds:.2f} s)"]
    else:
        lines += ["", f"All benchmark files and images present{' and decodable' if report.decoded else ''} ({report.seconds:.2f} s)"]
    return "\n".join(lines)
