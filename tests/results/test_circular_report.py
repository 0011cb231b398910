"""`medmim report` and `medmim compare` on circular runs written from the package's own scoring.

The runs are written as lmms-eval writes them (results file plus one samples file per task), from
the real circular documents of two splits scored by process_circular_results and the YAMLs'
aggregations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from medmim_tasks.cli.main import main
from medmim_tasks.results.compare import compare_runs
from medmim_tasks.results.report import build_report
from medmim_tasks.results.report_text import leaderboard_display, markdown_report, splits_display
from medmim_tasks.results.runs import load_runs
from medmim_tasks.scoring.circular import CIRCULAR_AGGREGATIONS
from medmim_tasks.task.circular import build_circular_docs
from medmim_tasks.task.circular_hooks import process_circular_results
from medmim_tasks.task.hooks import mean_score

TASKS = ("med_mim_circular_held_out_odir", "med_mim_circular_held_out_rad")
Doc = dict[str, Any]


@pytest.fixture(scope="module")
def docs(benchmark_dir: Path, synthetic_image_root: Path) -> dict[str, list[Doc]]:
    env = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir), "MEDMIM_IMAGE_ROOT": str(synthetic_image_root)}
    return {task: build_circular_docs(task, env) for task in TASKS}


def write_circular_run(folder: Path, docs: dict[str, list[Doc]], reply: Callable[[Doc], str], name: str) -> Path:
    """A results file and its samples files, as lmms-eval --log_samples writes them."""
    folder.mkdir(parents=True)
    results: dict[str, Any] = {}
    for task, task_docs in docs.items():
        per_metric: dict[str, list[Any]] = {}
        lines = []
        for doc_id, doc in enumerate(task_docs):
            scores = process_circular_results(doc, [reply(doc)])
            lines.append(json.dumps({"doc_id": doc_id, "target": doc["answer"], **scores}))
            for metric, value in scores.items():
                per_metric.setdefault(metric, []).append(value)
        (folder / f"20260101_000000_samples_{task}.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
        results[task] = {f"{m},none": CIRCULAR_AGGREGATIONS.get(m, mean_score)(v) for m, v in per_metric.items()}
    payload = {
        "results": results,
        "n-samples": {task: {"original": len(d), "effective": len(d)} for task, d in docs.items()},
        "config": {"model": "dummy", "model_args": "", "limit": None},
        "model_name": name,
    }
    results_file = folder / "20260101_000000_results.json"
    results_file.write_text(json.dumps(payload), encoding="utf-8")
    return results_file


def _first_items_right(docs: list[Doc], items: int) -> Callable[[Doc], str]:
    keys = list(dict.fromkeys(doc["item_key"] for doc in docs))[:items]
    return lambda doc: doc["gold_letter"] if doc["item_key"] in keys else "A"


def test_report_has_circular_columns_and_compare_pairs_items(tmp_path: Path, docs: dict[str, list[Doc]]) -> None:
    rad = docs["med_mim_circular_held_out_rad"]
    right_rad = _first_items_right(rad, 100)
    write_circular_run(tmp_path / "good", docs, lambda doc: right_rad(doc) if doc["task"].endswith("rad") else doc["gold_letter"], "good")
    write_circular_run(tmp_path / "a", docs, lambda doc: "A", "always-a")
    runs = load_runs([tmp_path])
    assert sorted(run.label for run in runs) == ["always-a [circular]", "good [circular]"]
    good = next(run for run in runs if run.label.startswith("good"))
    assert good.circular and good.tasks == ("med_mim_held_out_odir", "med_mim_held_out_rad")
    report = build_report(runs)
    splits = report.splits.set_index(["model", "split"])
    assert splits.loc[("good [circular]", "RAD"), "circular"] == round(100 * 100 / 293, 1)
    assert splits.loc[("good [circular]", "ODIR"), "circular"] == 100.0
    assert splits.loc[("always-a [circular]", "ODIR"), "circular"] == 0.0
    assert splits.loc[("always-a [circular]", "ODIR"), "circular_consistency"] == 0.0
    assert splits.loc[("good [circular]", "ODIR"), "circular_consistency"] == 100.0
    assert 0 < splits.loc[("always-a [circular]", "ODIR"), "accuracy"] < 100  # asks, not items
    shown = splits_display(report)
    assert "Circular %" in shown.columns and "Consistency %" in shown.columns
    assert "Circular %" not in leaderboard_display(report).columns  # its macro mean needs all six splits
    text = markdown_report(report)
    assert "circular run: each multiple-choice item is asked once per shift" in text
    assert "Circular is over the 593 items" in text
    comparison = compare_runs(good, next(run for run in runs if run.label.startswith("always")), resamples=200)
    rows = comparison.rows.set_index(["split", "metric"])
    rad_items = rows.loc[("Held-out: RAD", "mc_circular_acc")]
    assert rad_items["n_paired"] == 293 and rad_items["a"] == pytest.approx(100 / 293) and rad_items["b"] == 0.0
    assert "100 vs 0 discordant" in rad_items["test"]
    assert rows.loc[("Held-out: RAD", "mc_acc"), "n_paired"] == len(rad)  # asks paired by <task>:<index>:<shift>


def test_a_results_file_with_plain_and_circular_tasks_is_two_runs(
    tmp_path: Path, docs: dict[str, list[Doc]], capsys: pytest.CaptureFixture[str]
) -> None:
    from run_samples import ODIR, mc_doc, write_run

    results_file = write_run(tmp_path / "both", {ODIR: [mc_doc(True), mc_doc(False)]}, date="20260101_000000")
    circular = write_circular_run(tmp_path / "circ", {TASKS[1]: docs[TASKS[1]]}, lambda doc: doc["gold_letter"], "")
    merged = json.loads(results_file.read_text())
    merged["results"].update(json.loads(circular.read_text())["results"])
    merged["n-samples"].update(json.loads(circular.read_text())["n-samples"])
    results_file.write_text(json.dumps(merged))
    samples = f"20260101_000000_samples_{TASKS[1]}.jsonl"
    (tmp_path / "both" / samples).write_bytes((tmp_path / "circ" / samples).read_bytes())
    runs = load_runs([results_file])
    assert [(run.label.endswith("[circular]"), run.tasks) for run in runs] == [
        (False, ("med_mim_held_out_odir",)), (True, ("med_mim_held_out_rad",)),
    ]
    report = build_report(runs)
    assert report.splits.set_index("model").loc[runs[1].label, "circular"] == 100.0
    # compare: each kind both files hold, plain first; a circular run against a plain one is refused
    assert main(["compare", str(results_file), str(results_file), "--resamples", "50"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("A: ") and out.count("\nA: ") == 1 and "mc_circular_acc" in out
    plain = write_run(tmp_path / "plain", {ODIR: [mc_doc(True), mc_doc(False)]})
    assert main(["compare", str(circular), str(plain)]) == 2
    assert "they share no documents; compare circular runs with circular runs" in capsys.readouterr().err
