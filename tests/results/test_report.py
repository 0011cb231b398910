"""`medmim report`: numbers from hand-made runs, the same numbers in every output, and an end-to-end
run of lmms-eval's dummy model whose accuracies must equal the share of gold "A"/"B" answers."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from run_samples import ODIR, ODIR_MC_SOURCE, TEMPORAL, mc_doc, open_doc, write_run

from medmim_tasks.benchmark.splits import SPLITS, Split
from medmim_tasks.cli.main import main
from medmim_tasks.results.chart import accuracy_chart_png
from medmim_tasks.results.html import render_html
from medmim_tasks.results.report import build_report
from medmim_tasks.results.report_text import fmt, fmt_interval, leaderboard_markdown, markdown_report
from medmim_tasks.results.runs import load_run, load_runs
from medmim_tasks.results.statistics import macro_mean_estimate, proportion_estimate

# the first 250 documents of each split, in representative order (both kinds in every split); over
# them gold "A" outnumbers gold "B" 400 to 323 (test_compare's known difference, p = 0.005)
DUMMY_LIMIT = 250
GOLD = re.compile(r"^\s*([A-G]):")


def six_split_docs(correct_per_split: dict[str, tuple[int, int]]) -> dict[str, list[dict]]:
    """Per task: `right` correct and `wrong` wrong MC documents (one patient per pair) and two open ones."""
    docs = {}
    for split in SPLITS:
        right, wrong = correct_per_split[split.task]
        items = [mc_doc(i < right, cluster=f"{split.task}-p{i // 2}") for i in range(right + wrong)]
        docs[split.task] = [*items, open_doc(0.25), open_doc(0.75)]
    return docs


COUNTS = {
    "med_mim_held_in_temporal": (3, 7),
    "med_mim_held_in_reasoning": (5, 5),
    "med_mim_held_in_comparison": (1, 3),
    "med_mim_held_in_coreference": (8, 2),
    "med_mim_held_out_odir": (6, 14),
    "med_mim_held_out_rad": (2, 2),
}


def test_leaderboard_holds_split_accuracies_means_and_intervals(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", six_split_docs(COUNTS)))
    report = build_report([run])
    row = report.leaderboard.iloc[0]
    estimates = {}
    for split in SPLITS:
        docs = run.docs[(run.docs["task"] == split.task) & (run.docs["kind"] == "multiple_choice")]
        estimates[split.task] = proportion_estimate(docs["mc_acc"].to_numpy(), docs["cluster"].tolist())
    right, total = COUNTS["med_mim_held_in_temporal"][0], sum(COUNTS["med_mim_held_in_temporal"])
    assert row["temporal"] == round(100 * right / total, 1) == 30.0
    assert row["temporal_ci_low"] == round(100 * estimates["med_mim_held_in_temporal"].low, 1)
    assert row["temporal_ci_high"] == round(100 * estimates["med_mim_held_in_temporal"].high, 1)
    held_in = macro_mean_estimate([estimates[s.task] for s in SPLITS if s.group == "med_mim_held_in"])
    assert row["held_in"] == round(100 * (0.3 + 0.5 + 0.25 + 0.8) / 4, 1) == round(100 * held_in.value, 1)
    assert row["held_in_ci_low"] == round(100 * held_in.low, 1)
    assert row["held_out"] == round(100 * (0.3 + 0.5) / 2, 1)
    assert row["overall"] == round(100 * (0.3 + 0.5 + 0.25 + 0.8 + 0.3 + 0.5) / 6, 1)
    assert row["overall_micro"] == round(100 * 25 / 58, 1)
    assert row["parsed"] == 100.0 and row["chance"] == 25.0
    assert row["open_token_f1"] == 50.0
    assert row["n_mc"] == 58 and row["n_open"] == 12
    assert report.notes == ()


def test_means_that_need_a_missing_split_stay_blank_and_notes_say_why(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", {TEMPORAL: [mc_doc(True), mc_doc(False)], ODIR: [open_doc(0.5)]}, limit=2))
    report = build_report([run])
    row = report.leaderboard.iloc[0]
    assert row["temporal"] == 50.0
    assert pd.isna(row["odir"]) and pd.isna(row["held_in"]) and pd.isna(row["overall"]) and pd.isna(row["overall_micro"])
    notes = " ".join(report.notes)
    assert "--limit 2" in notes and "not full-benchmark numbers" in notes
    assert "no results for Reasoning, Comparison, Coreference, RAD" in notes
    assert "no multiple-choice documents in ODIR" in notes


def test_breakdowns_by_dataset_subtype_images_and_options(tmp_path: Path) -> None:
    docs = {
        TEMPORAL: [mc_doc(True, n_images=3, n_options=3), mc_doc(False, n_images=2, n_options=4), open_doc(1.0)],
        ODIR: [mc_doc(True, "q1", source=ODIR_MC_SOURCE, dataset="ODIR"), mc_doc(True, "q2", source=ODIR_MC_SOURCE, dataset="ODIR")],
    }
    report = build_report([load_run(write_run(tmp_path / "run", docs))])
    table = report.breakdowns.set_index(["breakdown", "group"])
    assert table.loc[("source dataset", "EMBED"), "accuracy"] == 50.0
    assert table.loc[("source dataset", "EMBED"), "n_open"] == 1
    assert table.loc[("source dataset", "ODIR"), "accuracy"] == 100.0
    assert table.loc[("source sub-type", "EMBED type B"), "n_mc"] == 2
    assert table.loc[("images", "3"), "accuracy"] == 100.0
    assert table.loc[("images", "2"), "n_mc"] == 3 and table.loc[("images", "2"), "n_open"] == 1
    options = report.breakdowns[report.breakdowns["breakdown"] == "options"]
    assert list(options["group"]) == ["3", "4"]  # multiple-choice items only, in numeric order
    assert list(options["accuracy"]) == [100.0, 66.7]


def test_metrics_outside_zero_to_one_are_not_shown_as_percentages(tmp_path: Path) -> None:
    docs = {TEMPORAL: [open_doc(0.5, open_bleu=35.0), open_doc(0.5, open_bleu=45.0), mc_doc(True)]}
    report = build_report([load_run(write_run(tmp_path / "run", docs))])
    assert report.leaderboard.iloc[0]["open_bleu"] == 40.0
    assert report.leaderboard.iloc[0]["open_token_f1"] == 50.0
    assert "open_bleu |" in leaderboard_markdown(report) and "open_token_f1 % |" in leaderboard_markdown(report)


def test_every_output_shows_the_same_numbers(tmp_path: Path) -> None:
    better = load_run(write_run(tmp_path / "a", six_split_docs(COUNTS), model_args="response=A"))
    worse_counts = {task: (max(right - 1, 0), wrong + 1) for task, (right, wrong) in COUNTS.items()}
    worse = load_run(write_run(tmp_path / "b", six_split_docs(worse_counts), model_args="response=B"))
    report = build_report([worse, better])
    assert list(report.leaderboard["model"]) == ["dummy (response=A)", "dummy (response=B)"]  # best overall first
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "-o", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert leaderboard_markdown(report) in (tmp_path / "out" / "leaderboard.md").read_text()
    page = (tmp_path / "out" / "report.html").read_text()
    with (tmp_path / "out" / "leaderboard.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    for row in rows:
        for key in ("temporal", "odir", "held_in", "overall", "overall_micro"):
            cell = fmt_interval(float(row[key]), float(row[f"{key}_ci_low"]), float(row[f"{key}_ci_high"]))
            assert cell in markdown and cell in page
    splits = pd.read_csv(tmp_path / "out" / "splits.csv")
    for _, split_row in splits.iterrows():
        assert f"| {split_row['model']} | {split_row['split']} | {split_row['n_mc']} | {fmt(split_row['accuracy'])} |" in markdown
    assert "data:image/png;base64," in page and "<img" in page
    assert (tmp_path / "out" / "accuracy.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "![Accuracy per split](accuracy.png)" in markdown


def test_chart_and_page_are_deterministic(tmp_path: Path) -> None:
    report = build_report([load_run(write_run(tmp_path / "a", six_split_docs(COUNTS)))])
    chart = accuracy_chart_png(report)
    assert chart == accuracy_chart_png(report)
    assert render_html(report, chart) == render_html(report, chart)
    assert markdown_report(report).count("### By ") == 4


def test_report_command_explains_a_folder_without_runs(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["report", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "no lmms-eval results file" in capsys.readouterr().err


# ----------------------------------------------------------------------------- end to end


def dummy_run(base: Path, response: str, env: dict[str, str], limit: int = DUMMY_LIMIT) -> Path:
    """One lmms-eval run of the dummy model answering `response` on all six splits (made once per session)."""
    folder = base / f"dummy-{response}-limit{limit}"
    if list(folder.rglob("*_results.json")):
        return folder
    folder.mkdir(parents=True, exist_ok=True)
    run_env = {**env, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(base / "hf"), "PYTHONUNBUFFERED": "1"}
    command = [
        sys.executable, "-m", "lmms_eval", "--model", "dummy", "--model_args", f"response={response}",
        "--tasks", "med_mim", "--limit", str(limit), "--log_samples", "--output_path", str(folder),
    ]  # fmt: skip
    done = subprocess.run(command, env=run_env, capture_output=True, text=True, timeout=600, check=False)
    if not list(folder.rglob("*_results.json")):
        raise AssertionError(f"lmms-eval wrote no results (exit {done.returncode}):\n{(done.stdout + done.stderr)[-4000:]}")
    return folder


def scored_golds(benchmark_dir: Path, folder: Path, split: Split) -> list[str]:
    """Gold letters of the multiple-choice items a run scored in a split, read from the raw JSON at the
    file indices its samples name (document keys `<task>:<index>`), independently of the package's parser."""
    (results_file,) = folder.rglob("*_results.json")
    stamp = results_file.name.removesuffix("_results.json")
    samples = results_file.parent / f"{stamp}_samples_{split.task}.jsonl"
    records = [json.loads(line) for line in samples.read_text(encoding="utf-8").splitlines() if line.strip()]
    indices = [int((r.get("mc_acc") or r["open_token_f1"])["doc_key"].rsplit(":", 1)[1]) for r in records]
    raw = json.loads((benchmark_dir / split.file_name).read_text(encoding="utf-8"))
    return [m.group(1) for i in indices if (m := GOLD.match(raw[i]["conversation"][-1]["content"]))]


def gold_share(benchmark_dir: Path, folder: Path, split: Split, letter: str) -> float:
    """Share of the run's scored multiple-choice items whose gold answer is `letter`."""
    golds = scored_golds(benchmark_dir, folder, split)
    return golds.count(letter) / len(golds)


@pytest.mark.slow
def test_dummy_runs_score_the_share_of_gold_answers(
    medmim_env: dict[str, str], benchmark_dir: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    base = tmp_path_factory.getbasetemp() / "medmim-dummy-runs"
    folders = {letter: dummy_run(base, letter, medmim_env) for letter in ("A", "B")}
    assert main(["report", str(folders["A"]), str(folders["B"]), "-o", str(tmp_path / "report")]) == 0
    board = pd.read_csv(tmp_path / "report" / "leaderboard.csv").set_index("model")
    for letter in ("A", "B"):
        row = board.loc[f"dummy (response={letter})"]
        for split in SPLITS:
            key = split.alias.split(": ")[1].lower()
            expected = gold_share(benchmark_dir, folders[letter], split, letter)
            assert row[key] == round(100 * expected, 1), (letter, split.task)
        assert row["parsed"] == 100.0
    # the clustered standard errors behind the intervals are lmms-eval's own (it gives none for one cluster)
    compared = 0
    for run in load_runs([folders["A"]]):
        for task in run.tasks:
            docs = run.docs[(run.docs["task"] == task) & (run.docs["kind"] == "multiple_choice")]
            estimate = proportion_estimate(docs["mc_acc"].to_numpy(), docs["cluster"].tolist())
            reported = run.results["results"][task]["mc_acc_stderr_clustered,none"]
            if reported != "N/A":
                assert estimate.stderr == pytest.approx(reported, rel=1e-9)
                compared += 1
    assert compared >= 4
    assert os.path.getsize(tmp_path / "report" / "report.html") > 10_000


def test_report_names_a_results_or_samples_file_that_is_not_utf8(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 18, item 10: no raw UnicodeDecodeError."""
    results = write_run(tmp_path / "run", {TEMPORAL: [mc_doc(True), mc_doc(False)]})
    samples = next((tmp_path / "run").glob("*_samples_*.jsonl"))
    good_samples = samples.read_bytes()
    samples.write_bytes(good_samples.replace(b"\n", b"\n\xff\xfe", 1))
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"{samples}: not UTF-8 text" in err and "rerun" in err and "Traceback" not in err
    samples.write_bytes(good_samples)
    results.write_bytes(b"\xff" + results.read_bytes())
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "out")]) == 2
    assert f"{results}: not UTF-8 text" in capsys.readouterr().err


def test_report_on_a_run_with_no_documents(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A run whose only split has 0 documents (e.g. every image missing under MEDMIM_ON_MISSING=skip)."""
    write_run(tmp_path / "run", {TEMPORAL: []})
    code = main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "out")])
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert "no documents" in captured.err and str(tmp_path / "run") in captured.err
    assert "Traceback" not in captured.err


def _with_coverage(docs: dict[str, list[dict]], evaluated_of: dict[str, int]) -> dict[str, list[dict]]:
    """Documents that carry items_evaluated/items_total as the tasks write them (items_total given per task)."""
    for task, task_docs in docs.items():
        for doc in task_docs:
            doc.update(items_evaluated=len(task_docs), items_total=evaluated_of.get(task, len(task_docs)))
    return docs


def test_a_run_over_part_of_a_split_is_flagged_in_every_output(tmp_path: Path) -> None:
    docs = _with_coverage(six_split_docs(COUNTS), {ODIR: 600})  # MEDMIM_ON_MISSING=skip kept 22 of 600 ODIR items
    write_run(tmp_path / "partial", docs)
    assert main(["report", str(tmp_path / "partial"), "-o", str(tmp_path / "out")]) == 0
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "partial coverage: ODIR 22 of 600 items (3.7%)" in markdown
    assert "Coverage %" in (tmp_path / "out" / "leaderboard.md").read_text()
    splits = pd.read_csv(tmp_path / "out" / "splits.csv").set_index("task")
    assert (splits.loc[ODIR, "items_evaluated"], splits.loc[ODIR, "items_total"], splits.loc[ODIR, "coverage"]) == (22, 600, 3.7)
    assert splits.loc[TEMPORAL, "coverage"] == 100.0
    leaderboard = pd.read_csv(tmp_path / "out" / "leaderboard.csv")
    assert leaderboard.loc[0, "coverage"] < 100.0 and leaderboard.loc[0, "items_total"] > leaderboard.loc[0, "items_evaluated"]


def test_a_complete_run_has_full_coverage_and_no_note(tmp_path: Path) -> None:
    report = build_report([load_run(write_run(tmp_path / "full", _with_coverage(six_split_docs(COUNTS), {})))])
    assert set(report.splits["coverage"]) == {100.0}
    assert not any("coverage" in note for note in report.notes)
    assert "Coverage %" not in leaderboard_markdown(report)
