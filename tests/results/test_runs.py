"""Reading lmms-eval runs: hand-made results and sample files in lmms-eval's layout (no lmms-eval run)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from run_samples import EMBED_MC_SOURCE, EMBED_OPEN_SOURCE, ODIR, ODIR_MC_SOURCE, TEMPORAL, mc_doc, open_doc, write_run

from medmim_tasks.results.run_files import SWEEP_RUN_FILE, RunFormatError, find_results_files
from medmim_tasks.results.runs import load_run, load_runs, parse_source


@pytest.mark.parametrize(
    ("source", "dataset", "kind_word", "subtype"),
    [
        ("EMBED_multichoice_typeA_VQA_ImgLen2_PosNum1_randomAttempt10_2024_12_07_12_00_22", "EMBED", "multichoice", "EMBED type A"),
        ("EMBED_conv_typeC_VQA_ImgLenRandom_CCImgNum1_randomAttempt10_2024_12_10_22_03_19", "EMBED", "conv", "EMBED type C"),
        ("LUMIERE_multichoice_typeB_VQA_2024_12_30_16_20_23", "LUMIERE", "multichoice", "LUMIERE type B"),
        ("MS_CXR_T_conv_pleural_effusion", "MS-CXR-T", "conv", "MS-CXR-T pleural effusion"),
        ("MS_CXR_T_vqa_edema", "MS-CXR-T", "vqa", "MS-CXR-T edema"),
        ("VQA_ODIR_instruction_conversation_20250124", "ODIR", "conv", "ODIR"),
        ("VQA_ODIR_instruction_multichoice_20250124", "ODIR", "multichoice", "ODIR"),
        ("VQA_RAD_instruction_GPT4o_20250123", "VQA-RAD", "", "VQA-RAD GPT4o"),
    ],
)
def test_parse_source_names_dataset_kind_and_subtype_without_dates(source: str, dataset: str, kind_word: str, subtype: str) -> None:
    parts = parse_source(source)
    assert (parts.dataset, parts.kind_word, parts.subtype) == (dataset, kind_word, subtype)


def test_parse_source_gives_mc_and_open_questions_of_one_type_the_same_subtype() -> None:
    assert parse_source(EMBED_MC_SOURCE).subtype == parse_source(EMBED_OPEN_SOURCE).subtype == "EMBED type B"


def test_parse_source_rejects_an_unknown_dataset() -> None:
    with pytest.raises(RunFormatError, match="MIMIC_conv_x.*no known Med-MIM source dataset"):
        parse_source("MIMIC_conv_x")


def test_load_run_reads_one_row_per_document_with_record_and_metrics(tmp_path: Path) -> None:
    results_file = write_run(
        tmp_path,
        {
            TEMPORAL: [open_doc(0.5), mc_doc(True, "p1"), mc_doc(False, "p1", n_images=3)],
            ODIR: [mc_doc(True, "q", source=ODIR_MC_SOURCE, dataset="ODIR")],
        },
        limit=3,
    )
    run = load_run(results_file)
    assert run.label == "dummy (response=A)"
    assert run.tasks == (TEMPORAL, ODIR)
    assert run.limit == 3.0
    assert run.date == "20260101_120000"
    assert len(run.docs) == 4
    assert run.metrics == ["mc_acc", "mc_parsed", "mc_chance", "open_token_f1", "open_token_recall"]
    temporal = run.docs[run.docs["task"] == TEMPORAL]
    assert list(temporal["doc_key"]) == [f"{TEMPORAL}:0", f"{TEMPORAL}:1", f"{TEMPORAL}:2"]
    assert list(temporal["kind"]) == ["open_ended", "multiple_choice", "multiple_choice"]
    assert list(temporal["mc_acc"].fillna(-1)) == [-1, 1.0, 0.0]
    assert list(temporal["n_images"]) == [2, 2, 3]
    assert set(temporal["subtype"]) == {"EMBED type B"}
    assert list(run.docs[run.docs["task"] == ODIR]["split"]) == ["Held-out: ODIR"]


def test_metrics_are_read_generically_and_missing_optional_scores_stay_missing(tmp_path: Path) -> None:
    results_file = write_run(tmp_path, {TEMPORAL: [open_doc(0.2, open_bleu=0.1, open_judge=None), open_doc(0.4, open_bleu=0.3, open_judge=1.0)]})
    run = load_run(results_file)
    assert "open_bleu" in run.metrics and "open_judge" in run.metrics
    assert math.isnan(run.docs["open_judge"].iloc[0])
    assert run.docs["open_judge"].iloc[1] == 1.0


def test_find_results_files_searches_folders_recursively_and_accepts_files(tmp_path: Path) -> None:
    first = write_run(tmp_path / "sweep" / "a" / "org__model", {TEMPORAL: [mc_doc(True)]})
    second = write_run(tmp_path / "sweep" / "b", {TEMPORAL: [mc_doc(False)]}, date="20260102_000000")
    assert find_results_files([tmp_path / "sweep"]) == [first, second]
    assert find_results_files([second, tmp_path / "sweep"]) == [second, first]


def test_find_results_files_explains_an_empty_folder_and_a_wrong_file(tmp_path: Path) -> None:
    with pytest.raises(RunFormatError, match="no lmms-eval results file.*exits 0"):
        find_results_files([tmp_path])
    other = tmp_path / "notes.json"
    other.write_text("{}")
    with pytest.raises(RunFormatError, match="notes.json: not an lmms-eval results file"):
        find_results_files([other])
    with pytest.raises(RunFormatError, match="no such file or folder"):
        find_results_files([tmp_path / "missing"])


def test_labels_come_from_the_sweep_record_and_repeated_labels_get_the_date(tmp_path: Path) -> None:
    swept = write_run(tmp_path / "swept", {TEMPORAL: [mc_doc(True)]})
    (tmp_path / "swept" / SWEEP_RUN_FILE).write_text(json.dumps({"name": "my-model"}))
    write_run(tmp_path / "x", {TEMPORAL: [mc_doc(True)]}, date="20260101_000001")
    write_run(tmp_path / "y", {TEMPORAL: [mc_doc(True)]}, date="20260101_000002")
    labels = [run.label for run in load_runs([swept, tmp_path / "x", tmp_path / "y"])]
    assert labels == ["my-model", "dummy (response=A) [20260101_000001]", "dummy (response=A) [20260101_000002]"]


def test_a_run_without_sample_files_asks_for_log_samples(tmp_path: Path) -> None:
    results_file = write_run(tmp_path, {TEMPORAL: [mc_doc(True)]})
    (tmp_path / f"20260101_120000_samples_{TEMPORAL}.jsonl").unlink()
    with pytest.raises(RunFormatError, match="--log_samples"):
        load_run(results_file)


def test_samples_that_disagree_with_the_results_file_are_rejected(tmp_path: Path) -> None:
    results_file = write_run(tmp_path, {TEMPORAL: [mc_doc(True), mc_doc(False)]})
    payload = json.loads(results_file.read_text())
    payload["results"][TEMPORAL]["mc_acc,none"] = 0.75
    results_file.write_text(json.dumps(payload))
    with pytest.raises(RunFormatError, match="mc_acc averages 0.500000 .* reports 0.750000"):
        load_run(results_file)


def test_a_truncated_sample_file_is_rejected(tmp_path: Path) -> None:
    results_file = write_run(tmp_path, {TEMPORAL: [mc_doc(True), mc_doc(False)]})
    payload = json.loads(results_file.read_text())
    payload["n-samples"][TEMPORAL]["effective"] = 3
    results_file.write_text(json.dumps(payload))
    with pytest.raises(RunFormatError, match="2 documents, but .* says 3 were evaluated"):
        load_run(results_file)


def test_a_sample_line_without_the_record_names_file_and_line(tmp_path: Path) -> None:
    results_file = write_run(tmp_path, {TEMPORAL: [mc_doc(True)]})
    sample_file = tmp_path / f"20260101_120000_samples_{TEMPORAL}.jsonl"
    sample_file.write_text(json.dumps({"doc_id": 0, "mc_acc": {"score": 1.0}}) + "\n")
    with pytest.raises(RunFormatError, match=r"samples_med_mim_held_in_temporal.jsonl, line 1: no per-document record"):
        load_run(results_file)


def test_a_run_of_other_tasks_only_is_rejected(tmp_path: Path) -> None:
    results_file = tmp_path / "20260101_120000_results.json"
    results_file.write_text(json.dumps({"results": {"mmmu_val": {"acc,none": 0.3}}}))
    with pytest.raises(RunFormatError, match="no Med-MIM split among its tasks \\(mmmu_val\\)"):
        load_run(results_file)


def test_a_split_without_documents_is_read_as_empty(tmp_path: Path) -> None:
    run = load_run(write_run(tmp_path, {TEMPORAL: [], ODIR: [mc_doc(True)]}))
    assert run.tasks == (TEMPORAL, ODIR)
    assert list(run.docs["task"]) == [ODIR]
