"""Missing images during evaluation: the default error, MEDMIM_ON_MISSING=skip, and MIMIC-CXR-JPG paths."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest
from PIL import Image

from medmim_tasks.benchmark.image_paths import (
    MIMIC_CXR_JPG_FILES_FORM,
    MIMIC_CXR_JPG_FORM,
    PUBLISHED_FORM,
    ImageLocator,
    MissingImagesError,
)
from medmim_tasks.benchmark.items import load_split
from medmim_tasks.benchmark.sources import SOURCE_DATASETS_BY_NAME
from medmim_tasks.benchmark.splits import split_for_task
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.ordering import representative_order

RAD_TASK = "med_mim_held_out_rad"
COMPARISON_TASK = "med_mim_held_in_comparison"  # the split with the MS-CXR-T items
MS_CXR_T = SOURCE_DATASETS_BY_NAME["MS-CXR-T"]


def _partial_vqa_rad_root(synthetic_image_root: Path, target: Path, keep_every: int) -> set[str]:
    """Links to every `keep_every`-th VQA-RAD stand-in image (sorted by name); returns the kept names."""
    target.mkdir()
    names = sorted(os.listdir(synthetic_image_root / "VQA-RAD"))
    kept = set(names[::keep_every])
    for name in kept:
        (target / name).symlink_to(synthetic_image_root / "VQA-RAD" / name)
    return kept


def test_missing_image_stops_the_task_by_default(medmim_env, synthetic_image_root, tmp_path, monkeypatch):
    _partial_vqa_rad_root(synthetic_image_root, tmp_path / "rad", keep_every=2)
    monkeypatch.setenv("MEDMIM_VQA_RAD_ROOT", str(tmp_path / "rad"))
    with pytest.raises(MissingImagesError) as raised:
        build_docs(RAD_TASK)
    message = str(raised.value)
    assert f"task {RAD_TASK}:" in message
    assert "of 961 image references are missing" in message
    assert "MEDMIM_VQA_RAD_ROOT" in message
    assert str(tmp_path / "rad") in message


def test_explicit_error_policy_is_the_default(medmim_env, synthetic_image_root, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMIM_VQA_RAD_ROOT", str(tmp_path / "absent"))
    monkeypatch.setenv("MEDMIM_ON_MISSING", "error")
    with pytest.raises(MissingImagesError, match="961 of 961 image references are missing"):
        build_docs(RAD_TASK)


def test_skip_evaluates_only_complete_items_and_states_the_counts(
    medmim_env, synthetic_image_root, tmp_path, monkeypatch, caplog
):
    kept = _partial_vqa_rad_root(synthetic_image_root, tmp_path / "rad", keep_every=2)
    monkeypatch.setenv("MEDMIM_VQA_RAD_ROOT", str(tmp_path / "rad"))
    monkeypatch.setenv("MEDMIM_ON_MISSING", "skip")
    items = load_split(split_for_task(RAD_TASK))
    complete = [item.index for item in items if all(Path(ref).name in kept for ref in item.images)]
    assert 0 < len(complete) < len(items)

    with caplog.at_level(logging.WARNING, logger="medmim_tasks.task.documents"):
        docs = build_docs(RAD_TASK)

    assert sorted(doc["index"] for doc in docs) == complete
    in_file_order = sorted(docs, key=lambda doc: doc["index"])
    assert docs == representative_order(in_file_order)  # the representative order of the documents built
    assert {doc["items_total"] for doc in docs} == {len(items)}
    assert {doc["items_evaluated"] for doc in docs} == {len(complete)}
    assert all(os.path.isfile(path) for doc in docs for path in doc["image_paths"])
    assert all(len(doc["image_paths"]) == doc["n_images"] for doc in docs)
    warning = caplog.text
    assert f"evaluating {len(complete)} of {len(items)} items" in warning
    assert "MEDMIM_ON_MISSING=skip" in warning


def test_complete_data_reports_every_item_as_evaluated(medmim_env, monkeypatch):
    monkeypatch.setenv("MEDMIM_ON_MISSING", "skip")
    docs = build_docs(RAD_TASK)
    assert len(docs) == 366
    assert {(doc["items_total"], doc["items_evaluated"]) for doc in docs} == {(366, 366)}


def test_skip_with_no_complete_item_is_an_error(medmim_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MEDMIM_VQA_RAD_ROOT", str(tmp_path / "absent"))
    monkeypatch.setenv("MEDMIM_ON_MISSING", "skip")
    with pytest.raises(MissingImagesError, match="leaves no complete item"):
        build_docs(RAD_TASK)


def test_unknown_policy_is_an_error_naming_the_variable(medmim_env, monkeypatch):
    monkeypatch.setenv("MEDMIM_ON_MISSING", "ignore")
    with pytest.raises(ValueError, match="MEDMIM_ON_MISSING='ignore'.*error.*skip"):
        build_docs(RAD_TASK)


def _ms_cxr_t_references(benchmark_dir: Path) -> set[str]:
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    return {
        ref
        for item in load_split(split_for_task(COMPARISON_TASK), environ)
        if item.dataset is MS_CXR_T
        for ref in item.images
    }


def _write_jpg(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (8, 8), 128).save(path, format="JPEG")


def test_ms_cxr_t_found_in_mimic_cxr_jpg_layout(medmim_env, benchmark_dir, tmp_path, monkeypatch):
    references = _ms_cxr_t_references(benchmark_dir)
    assert references and all(ref.endswith(".png") for ref in references)
    jpg_root = tmp_path / "mimic-cxr-jpg"
    for ref in references:
        _write_jpg(jpg_root / "files" / Path(ref).with_suffix(".jpg"))
    monkeypatch.setenv("MEDMIM_MS_CXR_T_ROOT", str(jpg_root))

    docs = build_docs(COMPARISON_TASK)
    cxr_paths = [path for doc in docs if doc["dataset"] == "MS-CXR-T" for path in doc["image_paths"]]
    assert cxr_paths
    assert all(path.startswith(str(jpg_root / "files")) and path.endswith(".jpg") for path in cxr_paths)

    locator = ImageLocator({"MEDMIM_MS_CXR_T_ROOT": str(jpg_root)})
    ref = min(references)
    assert locator.resolve_form(MS_CXR_T, ref) == (MIMIC_CXR_JPG_FORM, jpg_root / "files" / Path(ref).with_suffix(".jpg"))


def test_ms_cxr_t_root_may_point_at_the_files_folder(tmp_path):
    ref = "p10/p10000001/s50000001/aaaa-bbbb.png"
    _write_jpg(tmp_path / "files" / "p10/p10000001/s50000001/aaaa-bbbb.jpg")
    locator = ImageLocator({"MEDMIM_MS_CXR_T_ROOT": str(tmp_path / "files")})
    assert locator.resolve_form(MS_CXR_T, ref) == (
        MIMIC_CXR_JPG_FILES_FORM,
        tmp_path / "files" / "p10/p10000001/s50000001/aaaa-bbbb.jpg",
    )


def test_published_png_wins_over_jpg(tmp_path):
    ref = "p10/p10000001/s50000001/aaaa-bbbb.png"
    _write_jpg(tmp_path / "files" / "p10/p10000001/s50000001/aaaa-bbbb.jpg")
    png = tmp_path / ref
    png.parent.mkdir(parents=True)
    Image.new("L", (8, 8), 0).save(png)
    locator = ImageLocator({"MEDMIM_MS_CXR_T_ROOT": str(tmp_path)})
    assert locator.resolve_form(MS_CXR_T, ref) == (PUBLISHED_FORM, png)


def test_jpg_forms_apply_to_ms_cxr_t_only(tmp_path):
    vqa_rad = SOURCE_DATASETS_BY_NAME["VQA-RAD"]
    _write_jpg(tmp_path / "files" / "synpic1.jpg")
    locator = ImageLocator({"MEDMIM_VQA_RAD_ROOT": str(tmp_path)})
    assert locator.resolve_form(vqa_rad, "synpic1.png") is None


@pytest.mark.slow
def test_lmms_eval_run_with_skip_scores_only_complete_items(medmim_env, synthetic_image_root, tmp_path):
    """lmms-eval 0.7.3 drops `doc` from logged samples; its results count the documents (n-samples)."""
    from lmms_eval_runner import offline_env, run_lmms_eval

    kept = _partial_vqa_rad_root(synthetic_image_root, tmp_path / "rad", keep_every=2)
    complete = [
        item.index for item in load_split(split_for_task(RAD_TASK)) if all(Path(ref).name in kept for ref in item.images)
    ]
    env = offline_env(medmim_env, tmp_path)
    env.update(MEDMIM_VQA_RAD_ROOT=str(tmp_path / "rad"), MEDMIM_ON_MISSING="skip")
    results, samples = run_lmms_eval(
        ["--model", "dummy", "--model_args", "response=A", "--tasks", RAD_TASK], env, tmp_path / "run"
    )
    assert results["n-samples"][RAD_TASK]["original"] == len(complete)
    assert len(samples[RAD_TASK]) == len(complete)
    logged_keys = {(sample.get("mc_acc") or sample["open_token_f1"])["doc_key"] for sample in samples[RAD_TASK]}
    assert logged_keys == {f"{RAD_TASK}:{index}" for index in complete}
    # the results file itself states the run as partial
    assert 0 < len(complete) < 366
    assert results["results"][RAD_TASK]["coverage,none"] == pytest.approx(len(complete) / 366)
