"""`medmim compare`: paired tests on hand-made runs, reference tables, and dummy "A" vs "B" end to end."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from run_samples import ODIR, ODIR_MC_SOURCE, TEMPORAL, mc_doc, open_doc, write_run
from scipy.stats import binomtest
from test_report import dummy_run, scored_golds

from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.cli.main import main
from medmim_tasks.results.compare import (
    ComparisonError,
    check_reference,
    compare_runs,
    load_reference,
)
from medmim_tasks.results.runs import load_run


def odir_doc(correct: bool, gold: str = "A") -> dict:
    return mc_doc(correct, source=ODIR_MC_SOURCE, dataset="ODIR", gold=gold)


@pytest.fixture
def two_runs(tmp_path: Path):
    """A beats B on 10 of 14 ODIR items (B wins none); on Temporal both are alike; A's open answers are better."""
    a_docs = {
        ODIR: [odir_doc(True)] * 12 + [odir_doc(False)] * 2,
        TEMPORAL: [mc_doc(True), mc_doc(False), *[open_doc(0.8, f"o{i}") for i in range(30)]],
    }
    b_docs = {
        ODIR: [odir_doc(True)] * 2 + [odir_doc(False)] * 12,
        TEMPORAL: [mc_doc(True), mc_doc(False), *[open_doc(0.2, f"o{i}") for i in range(30)]],
    }
    run_a = load_run(write_run(tmp_path / "a", a_docs, model_args="response=A"))
    run_b = load_run(write_run(tmp_path / "b", b_docs, model_args="response=B"))
    return run_a, run_b


def test_mcnemar_and_bootstrap_per_split_with_verdicts(two_runs) -> None:
    run_a, run_b = two_runs
    comparison = compare_runs(run_a, run_b, resamples=2000, seed=1)
    rows = comparison.rows.set_index(["split", "metric"])
    odir = rows.loc[("Held-out: ODIR", "mc_acc")]
    assert odir["n_paired"] == 14
    assert odir["difference"] == pytest.approx(10 / 14)
    assert odir["p_value"] == pytest.approx(2 / 2**10)  # 10 discordant pairs, all won by A
    assert odir["verdict"] == "A better"
    assert "10 vs 0 discordant" in odir["test"]
    temporal = rows.loc[("Held-in: Temporal", "mc_acc")]
    assert temporal["p_value"] == 1.0 and temporal["verdict"] == "no significant difference"
    f1 = rows.loc[("Held-in: Temporal", "open_token_f1")]
    assert f1["n_paired"] == 30 and f1["difference"] == pytest.approx(0.6)
    assert f1["verdict"] == "A better" and f1["p_value"] == pytest.approx(1 / 2001)
    pooled = rows.loc[("All splits (pooled)", "mc_acc")]
    assert pooled["n_paired"] == 16
    text = " ".join(comparison.sentences)
    assert "Held-out: ODIR: dummy (response=A) has higher accuracy than dummy (response=B) by 71.4 points" in text
    assert "Held-in: Temporal: no significant difference in accuracy" in text


def test_the_bootstrap_is_deterministic(two_runs) -> None:
    run_a, run_b = two_runs
    first = compare_runs(run_a, run_b, resamples=500, seed=3).rows
    pd.testing.assert_frame_equal(first, compare_runs(run_a, run_b, resamples=500, seed=3).rows)


def test_only_documents_both_runs_answered_are_paired(tmp_path: Path) -> None:
    run_a = load_run(write_run(tmp_path / "a", {ODIR: [odir_doc(True)] * 5}))
    run_b = load_run(write_run(tmp_path / "b", {ODIR: [odir_doc(False)] * 3}, model_args="response=B"))
    comparison = compare_runs(run_a, run_b, resamples=100)
    assert list(comparison.rows["n_paired"]) == [3]
    assert comparison.notes == ("Held-out: ODIR: 2 documents only in A and 0 only in B are left out (paired on the documents both answered).",)


def test_runs_with_different_gold_answers_are_refused(tmp_path: Path) -> None:
    run_a = load_run(write_run(tmp_path / "a", {ODIR: [odir_doc(True, gold="A")]}))
    run_b = load_run(write_run(tmp_path / "b", {ODIR: [odir_doc(True, gold="C")]}, model_args="response=B"))
    with pytest.raises(ComparisonError, match="different gold answer.*different benchmark files"):
        compare_runs(run_a, run_b)


def test_runs_of_one_label_are_called_a_and_b(tmp_path: Path) -> None:
    run_a = load_run(write_run(tmp_path / "a", {ODIR: [odir_doc(True)]}, date="20260101_000001"))
    run_b = load_run(write_run(tmp_path / "b", {ODIR: [odir_doc(True)]}, date="20260101_000002"))
    comparison = compare_runs(run_a, run_b, resamples=10)
    assert comparison.label_a == "A (dummy (response=A), 20260101_000001)"


def _reference(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "paper.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_reference_rows_are_flagged_outside_the_runs_interval(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", {ODIR: [odir_doc(True)] * 30 + [odir_doc(False)] * 70}))
    reference = load_reference(_reference(tmp_path, "model,split,value\nM,ODIR,31.5\nM,Held-out: ODIR,45\n"))
    table = check_reference(run, reference)
    assert list(table["run"]) == [30.0, 30.0]
    assert list(table["status"]) == ["ok", "DIFFERS"]
    assert table["allowed"].iloc[0] == "21.9–39.6"  # the Wilson interval of 30/100
    tolerant = check_reference(run, reference, tolerance=20)
    assert list(tolerant["status"]) == ["ok", "ok"]
    assert list(tolerant["difference"]) == [1.5, 15.0]


def test_reference_split_names_and_values_are_checked(tmp_path: Path) -> None:
    table = load_reference(
        _reference(tmp_path, "model,split,value\nM,med_mim_held_in_temporal,1\nM,Held-in,2\nM,overall (micro),3\nM,rad,4\n")
    )
    assert list(table["column"]) == ["temporal", "held_in", "overall_micro", "rad"]
    with pytest.raises(ComparisonError, match="line 2: unknown split 'Temporality'"):
        load_reference(_reference(tmp_path, "model,split,value\nM,Temporality,1\n"))
    with pytest.raises(ComparisonError, match="line 3: value '0.45x' is not a percentage"):
        load_reference(_reference(tmp_path, "model,split,value\nM,ODIR,40\nM,RAD,0.45x\n"))
    with pytest.raises(ComparisonError, match="missing column\\(s\\) value"):
        load_reference(_reference(tmp_path, "model,split\nM,ODIR\n"))


def test_a_reference_with_several_models_needs_a_choice(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path / "run", {ODIR: [odir_doc(True)] * 3}))
    reference = load_reference(_reference(tmp_path, "model,split,value\nM1,ODIR,100\nM2,ODIR,30\n"))
    with pytest.raises(ComparisonError, match="several models \\(M1, M2\\); choose one with --model"):
        check_reference(run, reference)
    assert list(check_reference(run, reference, model="M2")["status"]) == ["DIFFERS"]


def test_compare_command_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write_run(tmp_path / "run", {ODIR: [odir_doc(True)] * 30 + [odir_doc(False)] * 70})
    good = _reference(tmp_path, "model,split,value\nM,ODIR,30.0\n")
    assert main(["compare", str(tmp_path / "run"), "--reference", str(good)]) == 0
    assert "reproduced" in capsys.readouterr().out
    (tmp_path / "bad.csv").write_text("model,split,value\nM,ODIR,60\n")
    assert main(["compare", str(tmp_path / "run"), "--reference", str(tmp_path / "bad.csv")]) == 1
    assert "not reproduced" in capsys.readouterr().out
    assert main(["compare", str(tmp_path / "run")]) == 2
    assert "either a second run" in capsys.readouterr().err


@pytest.mark.slow
def test_dummy_a_against_dummy_b_finds_the_known_difference(
    medmim_env: dict[str, str], benchmark_dir: Path, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    base = tmp_path_factory.getbasetemp() / "medmim-dummy-runs"
    folder_a, folder_b = dummy_run(base, "A", medmim_env), dummy_run(base, "B", medmim_env)
    out = tmp_path / "comparison.csv"
    assert main(["compare", str(folder_a), str(folder_b), "--csv", str(out), "--resamples", "200"]) == 0
    rows = pd.read_csv(out)
    mc = rows[rows["metric"] == "mc_acc"].set_index("split")
    total_a = total_b = 0
    for split in SPLITS:
        golds = scored_golds(benchmark_dir, folder_a, split)  # the same documents in both runs (same order)
        gold_a, gold_b = golds.count("A"), golds.count("B")
        total_a, total_b = total_a + gold_a, total_b + gold_b
        row = mc.loc[split.alias]
        assert row["n_paired"] == len(golds)
        assert row["difference"] == pytest.approx((gold_a - gold_b) / len(golds))
        assert f"({gold_a} vs {gold_b} discordant)" in row["test"]  # "A" is right exactly when gold is A
        assert row["p_value"] == pytest.approx(binomtest(gold_a, gold_a + gold_b, 0.5).pvalue if gold_a + gold_b else 1.0)
    pooled = mc.loc["All splits (pooled)"]
    assert pooled["p_value"] == pytest.approx(binomtest(total_a, total_a + total_b, 0.5).pvalue)
    assert pooled["n_paired"] == mc.drop(index="All splits (pooled)")["n_paired"].sum()
    assert pooled["difference"] == pytest.approx((total_a - total_b) / pooled["n_paired"])
    # these items have clearly more gold "A" than "B" answers: the verdict must name A
    assert total_a > total_b and pooled["p_value"] < 0.05 and pooled["verdict"] == "A better"


def test_reference_table_that_is_not_utf8_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 18, item 10: a Latin-1 CSV from a spreadsheet gets the file and the fix, no traceback."""
    write_run(tmp_path / "run", {TEMPORAL: [mc_doc(True), mc_doc(False)]})
    table = tmp_path / "paper.csv"
    table.write_bytes("model,split,value\nQwen2.5-VL-7B Ä,Temporal,41.2\n".encode("latin-1"))
    assert main(["compare", str(tmp_path / "run"), "--reference", str(table)]) == 2
    err = capsys.readouterr().err
    assert f"{table}: not UTF-8 text" in err and "UTF-8" in err
