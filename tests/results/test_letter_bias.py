"""Letter bias in reports: predicted vs gold letters, the best constant letter, and the leaderboard flag."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
from run_samples import ODIR, ODIR_MC_SOURCE, TEMPORAL, mc_doc, open_doc, write_run

from medmim_tasks.benchmark.items import load_split
from medmim_tasks.benchmark.splits import SPLITS_BY_TASK
from medmim_tasks.cli.main import main
from medmim_tasks.results.letter_bias import (
    NEAR_BASELINE,
    NEAR_BASELINE_TITLE,
    ConstantLetter,
    best_constant_letter,
    letter_shares,
    within_one_stderr,
)
from medmim_tasks.results.report import build_report
from medmim_tasks.results.report_text import leaderboard_display, markdown_report
from medmim_tasks.results.runs import load_run
from medmim_tasks.results.statistics import Estimate

TEMPORAL_GOLD = ["A"] * 6 + ["B"] * 3 + ["C"]  # always "A" scores 60%


def answering(letter: str | None, golds: list[str], n_options: int = 4) -> list[dict[str, object]]:
    """Multiple-choice documents (one patient each) answered with `letter` (None: no letter read)."""
    docs = []
    for index, gold in enumerate(golds):
        doc = mc_doc(letter == gold, cluster=f"p{index}", gold=gold, n_options=n_options, parsed=letter or "Z")
        if letter is None:
            doc.update(parsed=None, reply="no idea")
            doc["scores"] = {**doc["scores"], "mc_parsed": 0.0}
        docs.append(doc)
    return docs


def test_best_constant_letter_is_the_most_frequent_gold_letter_first_on_a_tie() -> None:
    assert best_constant_letter(["C", "A", "C", "A", "B"]) == ConstantLetter("A", 0.4, 5)
    assert best_constant_letter(["G", "B", "G"]) == ConstantLetter("G", 2 / 3, 3)
    with pytest.raises(ValueError, match="gold letters must be A-G"):
        best_constant_letter([])
    with pytest.raises(ValueError, match="gold letters must be A-G"):
        best_constant_letter(["A", None])  # type: ignore[list-item]


def test_letter_shares_count_unread_replies_as_none() -> None:
    assert letter_shares(["B", None, "A", "B", math.nan]) == {"A": 0.2, "B": 0.4, "none": 0.4}
    assert letter_shares([]) == {}


def test_within_one_standard_error() -> None:
    baseline = ConstantLetter("A", 0.44, 293)
    assert within_one_stderr(Estimate(0.47, 293, 0.03, 0.4, 0.5), baseline)
    assert not within_one_stderr(Estimate(0.48, 293, 0.03, 0.4, 0.5), baseline)
    assert not within_one_stderr(Estimate(0.44, 1, math.nan, math.nan, math.nan), baseline)  # no SE: no flag


def test_report_shows_letters_baseline_and_flags_a_model_near_it(tmp_path: Path) -> None:
    odir_gold = ["A", "B", "C", "D"] * 3
    always_a = load_run(write_run(tmp_path / "a", {TEMPORAL: [*answering("A", TEMPORAL_GOLD), open_doc(0.5)]}, model_args="response=A"))
    mixed = answering("B", TEMPORAL_GOLD[:5]) + answering(None, TEMPORAL_GOLD[5:])
    odir = [{**doc, "source": ODIR_MC_SOURCE, "dataset": "ODIR"} for doc in answering("D", odir_gold)]
    other = load_run(write_run(tmp_path / "b", {TEMPORAL: mixed, ODIR: odir}, model_args="response=B"))
    report = build_report([always_a, other])
    rows = report.letter_bias.set_index(["model", "task"])

    a = rows.loc[("dummy (response=A)", TEMPORAL)]
    assert (a["n_mc"], a["accuracy"], a["baseline_letter"], a["baseline_accuracy"], a["chance"]) == (10, 60.0, "A", 60.0, 25.0)
    assert (a["predicted_A"], a["gold_A"], a["gold_B"], a["gold_C"]) == (100.0, 60.0, 30.0, 10.0)
    assert bool(a["within_one_se"])
    assert math.isnan(a["predicted_B"])  # never answered
    b = rows.loc[("dummy (response=B)", TEMPORAL)]
    # 5 replies "B" (none right: gold A), 5 with no letter read
    assert (b["accuracy"], b["predicted_B"], b["predicted_none"], b["baseline_accuracy"]) == (0.0, 50.0, 50.0, 60.0)
    assert not bool(b["within_one_se"])
    odir_row = rows.loc[("dummy (response=B)", ODIR)]
    assert (odir_row["accuracy"], odir_row["baseline_letter"], odir_row["baseline_accuracy"]) == (25.0, "A", 25.0)
    assert bool(odir_row["within_one_se"])  # always "D" on uniform gold letters: exactly the baseline

    board = report.leaderboard.set_index("model")
    assert board.loc["dummy (response=A)", NEAR_BASELINE] == "Temporal (always A 60.0%)"
    assert board.loc["dummy (response=B)", NEAR_BASELINE] == "ODIR (always A 25.0%)"
    assert NEAR_BASELINE_TITLE in leaderboard_display(report).columns

    markdown = markdown_report(report)
    assert "## Letter bias" in markdown
    assert "| dummy (response=A) | Temporal | 10 | 60.0 ± 16.3 | always A: 60.0 | 25.0 | yes | A 100.0 | A 60.0 B 30.0 C 10.0 |" in markdown
    assert "| dummy (response=B) | Temporal | 10 | 0.0 ± 0.0 | always A: 60.0 | 25.0 |  | B 50.0 none 50.0 | A 60.0 B 30.0 C 10.0 |" in markdown


def test_every_output_file_holds_the_letter_bias(tmp_path: Path) -> None:
    write_run(tmp_path / "run", {TEMPORAL: answering("A", TEMPORAL_GOLD)})
    assert main(["report", str(tmp_path / "run"), "-o", str(tmp_path / "out")]) == 0
    table = pd.read_csv(tmp_path / "out" / "letter_bias.csv")
    assert list(table.columns[:3]) == ["model", "split", "task"]
    assert list(table.columns[-4:]) == ["predicted_A", "gold_A", "gold_B", "gold_C"]
    assert table.loc[0, "baseline_accuracy"] == 60.0
    assert "Temporal (always A 60.0%)" in (tmp_path / "out" / "leaderboard.md").read_text()
    page = (tmp_path / "out" / "report.html").read_text()
    assert "<h2>Letter bias</h2>" in page and "always A: 60.0" in page


def test_no_flag_column_when_no_model_is_near_its_baseline(tmp_path: Path) -> None:
    golds = ["A"] * 10 + ["B"] * 10
    right = [mc_doc(True, cluster=f"p{i}", gold=g) for i, g in enumerate(golds)]
    report = build_report([load_run(write_run(tmp_path / "run", {TEMPORAL: right}))])
    assert report.leaderboard.loc[0, NEAR_BASELINE] == ""
    assert NEAR_BASELINE_TITLE not in leaderboard_display(report).columns


# (task, best constant letter, its accuracy %, uniform chance %) over every multiple-choice item
REAL_BASELINES = [
    ("med_mim_held_in_temporal", "B", 40.0, 38.7),
    ("med_mim_held_in_reasoning", "G", 16.7, 14.3),
    ("med_mim_held_in_comparison", "A", 32.7, 32.5),
    ("med_mim_held_in_coreference", "B", 41.4, 41.8),
    ("med_mim_held_out_odir", "A", 25.0, 25.2),
    ("med_mim_held_out_rad", "A", 44.0, 33.3),
]


@pytest.mark.parametrize(("task", "letter", "accuracy", "chance"), REAL_BASELINES)
def test_constant_letter_baselines_of_the_real_splits(
    benchmark_dir: Path, monkeypatch: pytest.MonkeyPatch, task: str, letter: str, accuracy: float, chance: float
) -> None:
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    mc = [item for item in load_split(SPLITS_BY_TASK[task]) if item.gold_letter is not None]
    baseline = best_constant_letter([item.gold_letter for item in mc])  # type: ignore[misc]
    assert (baseline.letter, round(100 * baseline.accuracy, 1)) == (letter, accuracy)
    assert round(100 * sum(1 / len(item.options) for item in mc) / len(mc), 1) == chance
