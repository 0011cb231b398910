"""`medmim report` and `medmim compare` read lm-eval runs too (issue 17), and say which framework made each.

lm-eval names its files `results_<date>.json` and `samples_<task>_<date>.jsonl`; the contents are
those of an lmms-eval run of the Med-MIM tasks (the same per-document records), so the hand-made
lmms-eval runs of test_runs.py are renamed into lm-eval's layout here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
from run_samples import ODIR, TEMPORAL, mc_doc, open_doc, write_run

from medmim_tasks.cli.main import main
from medmim_tasks.results.lm_eval_runs import LM_EVAL, LMMS_EVAL, framework_of, lm_eval_samples_file
from medmim_tasks.results.report import build_report
from medmim_tasks.results.report_text import leaderboard_display
from medmim_tasks.results.run_files import RunFormatError, find_results_files, samples_problems
from medmim_tasks.results.runs import load_runs

DATE = "20260101_120000"
LM_EVAL_DATE = "2026-01-01T12-00-00.000001"


def as_lm_eval_run(lmms_results: Path, folder: Path) -> Path:
    """Copy an lmms-eval run into `folder` under lm-eval's file names; return its results file."""
    folder.mkdir(parents=True)
    results = folder / f"results_{LM_EVAL_DATE}.json"
    shutil.copy(lmms_results, results)
    for samples in lmms_results.parent.glob(f"{DATE}_samples_*.jsonl"):
        task = samples.name.removeprefix(f"{DATE}_samples_").removesuffix(".jsonl")
        shutil.copy(samples, folder / f"samples_{task}_{LM_EVAL_DATE}.jsonl")
    return results


def two_frameworks(tmp_path: Path, model_b: str = "dummy") -> tuple[Path, Path]:
    docs = {TEMPORAL: [mc_doc(True, "a"), mc_doc(False, "b"), open_doc(0.5)], ODIR: [mc_doc(True, "c"), mc_doc(True, "d")]}
    lmms = write_run(tmp_path / "lmms", docs, date=DATE)
    other = write_run(tmp_path / "source-b", docs, date=DATE, model=model_b)
    return lmms, as_lm_eval_run(other, tmp_path / "lm")


def test_an_lm_eval_run_reads_as_the_same_run_and_says_its_framework(tmp_path: Path) -> None:
    lmms, lm = two_frameworks(tmp_path)
    assert lm_eval_samples_file(lm, ODIR).is_file()
    assert (framework_of(lmms), framework_of(lm)) == (LMMS_EVAL, LM_EVAL)
    assert find_results_files([tmp_path / "lm"]) == [lm]
    assert find_results_files([lm]) == [lm]
    run_lmms, run_lm = load_runs([lmms, lm])
    assert (run_lmms.framework, run_lm.framework) == (LMMS_EVAL, LM_EVAL)
    assert run_lm.date == LM_EVAL_DATE
    pd.testing.assert_frame_equal(run_lm.docs, run_lmms.docs)
    assert samples_problems(lm) == []


def test_a_cut_lm_eval_samples_file_is_found(tmp_path: Path) -> None:
    _, lm = two_frameworks(tmp_path)
    samples = lm_eval_samples_file(lm, TEMPORAL)
    samples.write_text(samples.read_text().splitlines()[0] + "\n")
    assert any("1 of 3 documents" in problem for problem in samples_problems(lm))
    with pytest.raises(RunFormatError, match="1 documents, but"):
        load_runs([lm])


def test_report_has_a_framework_column(tmp_path: Path) -> None:
    lmms, lm = two_frameworks(tmp_path, model_b="other")
    report = build_report(load_runs([lmms, lm]))
    frameworks = dict(zip(report.leaderboard["model"], report.leaderboard["framework"]))
    assert frameworks == {"dummy (response=A)": LMMS_EVAL, "other (response=A)": LM_EVAL}
    shown = leaderboard_display(report)
    assert list(shown.columns[:2]) == ["Model", "Framework"]


def test_compare_names_each_runs_framework(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    lmms, lm = two_frameworks(tmp_path, model_b="other")
    assert main(["compare", str(lmms), str(lm)]) == 0
    out = capsys.readouterr().out
    assert "[lmms-eval]" in out.splitlines()[0] and "[lm-eval]" in out.splitlines()[1]
