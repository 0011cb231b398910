"""`medmim check`: counts per split and dataset, checksums, found path forms, decoding, fixes, exit status."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

from PIL import Image

from medmim_tasks.benchmark.check import check_data
from medmim_tasks.benchmark.check_text import format_report
from medmim_tasks.benchmark.image_paths import MIMIC_CXR_JPG_FORM, PUBLISHED_FORM
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.cli.main import main

ROOT_VARIABLES = ("MEDMIM_EMBED_ROOT", "MEDMIM_LUMIERE_ROOT", "MEDMIM_MS_CXR_T_ROOT", "MEDMIM_ODIR_ROOT", "MEDMIM_VQA_RAD_ROOT")
DISTINCT_IMAGES = {"EMBED": 3632, "LUMIERE": 1797, "MS-CXR-T": 422, "ODIR": 1200, "VQA-RAD": 285}


def _env(benchmark: Path, image_root: Path | None, **roots: str) -> dict[str, str]:
    env = {"MEDMIM_BENCHMARK_DIR": str(benchmark)}
    if image_root is not None:
        env["MEDMIM_IMAGE_ROOT"] = str(image_root)
    env.update(roots)
    return env


def _dataset(report, name):
    return next(dataset for dataset in report.datasets if dataset.name == name)


def _copy_of(folder: Path, target: Path, keep: int | None = None) -> list[str]:
    """Copy (the first `keep`, by name) files of a flat image folder; returns the copied names."""
    target.mkdir(parents=True)
    names = sorted(os.listdir(folder))[:keep]
    for name in names:
        shutil.copyfile(folder / name, target / name)
    return names


def test_complete_data_is_ready(benchmark_dir, synthetic_image_root):
    report = check_data(_env(benchmark_dir, synthetic_image_root))
    assert report.ok and report.problems == []
    assert {dataset.name: dataset.images for dataset in report.datasets} == DISTINCT_IMAGES
    assert sum(dataset.images for dataset in report.datasets) == 7336
    assert all(dataset.present == dataset.images and dataset.missing == 0 for dataset in report.datasets)
    assert all(split.sha256_ok and split.present and split.error is None for split in report.splits)
    assert [split.items for split in report.splits] == [933, 484, 344, 1463, 600, 366]
    assert sum(counts.image_refs for split in report.splits for counts in split.datasets.values()) == 9463
    assert {name: counts.items for name, counts in report.splits[0].datasets.items()} == {"EMBED": 302, "LUMIERE": 631}
    assert _dataset(report, "EMBED").found_forms == {PUBLISHED_FORM: 3632}
    assert _dataset(report, "EMBED").root_from == "MEDMIM_IMAGE_ROOT/EMBED"
    assert not report.decoded and _dataset(report, "EMBED").formats == {}
    assert "All benchmark files and images present" in format_report(report)


def test_missing_images_are_counted_with_their_fix(benchmark_dir, synthetic_image_root, tmp_path):
    kept = _copy_of(synthetic_image_root / "VQA-RAD", tmp_path / "rad", keep=100)
    report = check_data(_env(benchmark_dir, synthetic_image_root, MEDMIM_VQA_RAD_ROOT=str(tmp_path / "rad")))
    rad = _dataset(report, "VQA-RAD")
    assert (rad.images, rad.present, rad.missing) == (285, len(kept), 285 - len(kept))
    assert rad.root_from == "MEDMIM_VQA_RAD_ROOT" and rad.root_exists
    assert len(rad.missing_examples) == 5 and all(Path(path).name not in kept for path in rad.missing_examples)
    rad_split = report.splits[-1].datasets["VQA-RAD"]
    assert (rad_split.items, rad_split.image_refs, rad_split.present, rad_split.missing) == (366, 961, 100, 185)
    assert not report.ok
    [problem] = report.problems
    assert problem.subject == "VQA-RAD"
    assert problem.message.startswith("185 of 285 images missing")
    fix = "\n".join(problem.fix)
    assert "MEDMIM_VQA_RAD_ROOT" in fix and "osf.io/89kps" in fix and "public download" in fix


def test_absent_roots_name_each_dataset_its_source_and_access_terms(benchmark_dir, tmp_path):
    report = check_data(_env(benchmark_dir, None))  # no image variable at all: the default root
    assert {problem.subject for problem in report.problems} == set(DISTINCT_IMAGES)
    embed = _dataset(report, "EMBED")
    assert embed.root_from.startswith("default ~/.cache/medmim/images/EMBED")
    fixes = {problem.subject: "\n".join(problem.fix) for problem in report.problems}
    assert "approved access" in fixes["EMBED"] and "medmim data prepare embed --dicom-root" in fixes["EMBED"]
    assert "approved access" in fixes["MS-CXR-T"] and "MIMIC-CXR-JPG" in fixes["MS-CXR-T"]
    assert "2-D PNG slices prepared by the Med-MIM authors" in fixes["LUMIERE"]
    assert "public download" in fixes["ODIR"] and "Training Images/" in fixes["ODIR"]
    text = format_report(report)
    assert "NOT READY" in text and "does not exist" in text


def test_found_form_is_reported_for_mimic_cxr_jpg(benchmark_dir, synthetic_image_root, tmp_path):
    jpg_root = tmp_path / "mimic-cxr-jpg"
    for png in (synthetic_image_root / "MS-CXR-T").rglob("*.png"):
        target = jpg_root / "files" / png.relative_to(synthetic_image_root / "MS-CXR-T").with_suffix(".jpg")
        target.parent.mkdir(parents=True, exist_ok=True)
        Image.open(png).save(target, format="JPEG")
    report = check_data(_env(benchmark_dir, synthetic_image_root, MEDMIM_MS_CXR_T_ROOT=str(jpg_root)), decode=True)
    cxr = _dataset(report, "MS-CXR-T")
    assert cxr.found_forms == {MIMIC_CXR_JPG_FORM: 422}
    assert cxr.formats == {"JPEG": 422}
    assert report.ok
    assert f"found as: {MIMIC_CXR_JPG_FORM} 422" in format_report(report)


def test_decode_reports_formats_modes_sizes_and_unreadable_files(benchmark_dir, synthetic_image_root, tmp_path):
    names = _copy_of(synthetic_image_root / "VQA-RAD", tmp_path / "rad")
    broken = tmp_path / "rad" / names[0]
    broken.write_bytes(broken.read_bytes()[:200])  # a truncated JPEG
    progress = io.StringIO()
    report = check_data(
        _env(benchmark_dir, synthetic_image_root, MEDMIM_VQA_RAD_ROOT=str(tmp_path / "rad")),
        decode=True, jobs=2, stream=progress, show_bar=True,
    )
    assert "decoding images" in progress.getvalue() and "7336/7336" in progress.getvalue()
    embed = _dataset(report, "EMBED")
    assert embed.formats == {"PNG": 3632} and embed.modes == {"I;16": 3632}
    assert embed.width_range == [48, 48] and embed.height_range == [64, 64]
    assert _dataset(report, "ODIR").modes == {"RGB": 1200}
    rad = _dataset(report, "VQA-RAD")
    assert (rad.present, rad.unreadable, rad.missing) == (285, 1, 0)
    assert rad.unreadable_examples[0]["path"] == str(broken)
    assert report.splits[-1].datasets["VQA-RAD"].unreadable == 1
    [problem] = report.problems
    assert "1 of 285 present images cannot be decoded" in problem.message
    assert "Decoded images" in format_report(report)


def _benchmark_copy(benchmark_dir: Path, target: Path) -> Path:
    target.mkdir()
    for split in SPLITS:
        shutil.copyfile(benchmark_dir / split.file_name, target / split.file_name)
    return target


def test_checksum_mismatch_missing_and_invalid_files(benchmark_dir, synthetic_image_root, tmp_path):
    bench = _benchmark_copy(benchmark_dir, tmp_path / "bench")
    rad = bench / SPLITS[-1].file_name
    rad.write_text(json.dumps(json.loads(rad.read_text()), indent=1))  # same items, other bytes
    (bench / SPLITS[0].file_name).unlink()
    (bench / SPLITS[1].file_name).write_text("[{")
    report = check_data(_env(bench, synthetic_image_root))
    by_task = {split.task: split for split in report.splits}
    assert by_task["med_mim_held_out_rad"].sha256_ok is False and by_task["med_mim_held_out_rad"].items == 366
    assert not by_task["med_mim_held_in_temporal"].present
    assert by_task["med_mim_held_in_reasoning"].error is not None and by_task["med_mim_held_in_reasoning"].items is None
    messages = {problem.subject: problem for problem in report.problems if problem.subject.startswith("med_mim")}
    assert set(messages) == {"med_mim_held_out_rad", "med_mim_held_in_temporal", "med_mim_held_in_reasoning"}
    assert "differs from the pinned upstream file" in messages["med_mim_held_out_rad"].message
    assert all("medmim data fetch" in problem.fix[0] for problem in messages.values())
    assert "MISMATCH" in format_report(report)
    # images of the readable splits are still checked
    assert _dataset(report, "VQA-RAD").present == 285


def test_cli_table_json_and_exit_status(benchmark_dir, synthetic_image_root, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(synthetic_image_root))
    for name in ROOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(["check"]) == 0
    assert "Source datasets" in capsys.readouterr().out

    monkeypatch.setenv("MEDMIM_ODIR_ROOT", str(tmp_path / "no-odir"))
    assert main(["check", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data["ok"] is False and data["decoded"] is False
    odir = next(dataset for dataset in data["datasets"] if dataset["name"] == "ODIR")
    assert (odir["present"], odir["missing"], odir["root_exists"]) == (0, 1200, False)
    assert [problem["subject"] for problem in data["problems"]] == ["ODIR"]
    assert data["splits"][4]["datasets"]["ODIR"] == {
        "items": 600, "image_refs": 1200, "images": 1200, "present": 0, "missing": 1200, "unreadable": 0,
    }


def test_cli_decode_runs(benchmark_dir, synthetic_image_root, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(synthetic_image_root))
    for name in ROOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(["check", "--decode", "--jobs", "1"]) == 0
    assert "present and decodable" in capsys.readouterr().out


def test_check_lists_items_whose_gold_text_stands_under_two_letters(benchmark_dir, synthetic_image_root, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(synthetic_image_root))
    for name in ROOT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    assert main(["check"]) == 0
    out = capsys.readouterr().out
    line = next(line for line in out.splitlines() if "med_mim_held_out_odir: " in line and "multiple-choice items" in line)
    assert line.startswith("  med_mim_held_out_odir: 102 of 300 multiple-choice items; index (gold=twin): 2 (")
    assert out.rstrip().splitlines()[-1].startswith("All benchmark files and images present")
    assert main(["check", "--json"]) == 0
    twins = json.loads(capsys.readouterr().out)["gold_twins"]
    assert len(twins["med_mim_held_out_odir"]) == 102 and all(not found for task, found in twins.items() if "odir" not in task)
    first = twins["med_mim_held_out_odir"][0]
    assert first["index"] == 2 and sorted([first["gold_letter"], *first["twin_letters"]]) == ["B", "C"]
