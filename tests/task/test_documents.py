"""Documents of a task: unique keys, images resolved per dataset, missing images caught early."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from medmim_tasks.benchmark.image_paths import MissingImagesError
from medmim_tasks.benchmark.sources import SOURCE_DATASETS_BY_NAME, dataset_for_source, image_root
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.task.documents import build_docs


def test_dataset_comes_from_source_prefix() -> None:
    assert dataset_for_source("VQA_ODIR_instruction_multichoice_20250124").name == "ODIR"
    assert dataset_for_source("VQA_RAD_instruction_GPT4o_20250123").name == "VQA-RAD"
    assert dataset_for_source("MS_CXR_T_vqa_edema").name == "MS-CXR-T"
    assert dataset_for_source("EMBED_conv_typeA").name == "EMBED"
    assert dataset_for_source("LUMIERE_multichoice_typeB").name == "LUMIERE"
    assert dataset_for_source("VQA_RAD") is None  # a prefix needs its underscore
    assert dataset_for_source("ODIR_x") is None


def test_image_roots_shared_and_per_dataset(tmp_path: Path) -> None:
    odir = SOURCE_DATASETS_BY_NAME["ODIR"]
    assert image_root(odir, {"MEDMIM_IMAGE_ROOT": str(tmp_path)}) == tmp_path / "ODIR"
    own = tmp_path / "elsewhere"
    assert image_root(odir, {"MEDMIM_IMAGE_ROOT": str(tmp_path), "MEDMIM_ODIR_ROOT": str(own)}) == own
    assert image_root(odir, {}) == Path("~/.cache/medmim/images/ODIR").expanduser()


def test_docs_of_every_task(medmim_env: dict[str, str], synthetic_image_root: Path) -> None:
    keys = set()
    for split in SPLITS:
        docs = build_docs(split.task)
        # documents come in representative order (task.ordering); each keeps its file index as its key
        assert sorted(doc["index"] for doc in docs) == list(range(len(docs)))
        assert {doc["kind"] for doc in docs[:20]} == {"multiple_choice", "open_ended"}
        for doc in docs:
            assert doc["doc_key"] == f"{split.task}:{doc['index']}"
            assert doc["n_images"] == len(doc["image_paths"]) == len(doc["image_refs"])
            folder = SOURCE_DATASETS_BY_NAME[doc["dataset"]].folder
            assert doc["image_paths"] == [str(synthetic_image_root / folder / ref) for ref in doc["image_refs"]]
            assert doc["n_options"] == len(doc["options"])
            assert (doc["gold_letter"] is None) == (doc["kind"] == "open_ended")
        keys.update(doc["doc_key"] for doc in docs)
    assert len(keys) == 4190  # all items of the six splits, none merged by their non-unique ids


def test_per_dataset_root_override(medmim_env: dict[str, str], synthetic_image_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    moved = tmp_path / "my-vqa-rad"
    shutil.copytree(synthetic_image_root / "VQA-RAD", moved)
    monkeypatch.setenv("MEDMIM_VQA_RAD_ROOT", str(moved))
    docs = build_docs("med_mim_held_out_rad")
    assert all(path.startswith(str(moved)) for doc in docs for path in doc["image_paths"])


def test_missing_images_fail_before_any_model_runs(medmim_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "no-images"
    empty.mkdir()
    monkeypatch.setenv("MEDMIM_IMAGE_ROOT", str(empty))
    with pytest.raises(MissingImagesError) as error:
        build_docs("med_mim_held_in_comparison")
    text = str(error.value)
    assert "task med_mim_held_in_comparison: 688 of 688 image references are missing" in text
    assert str(empty / "MS-CXR-T" / "p17/p17950066/s59393382/2f2da075-115e38d3-86ffe905-11aa8a04-1a1c3bd5.png") in text
    assert "MEDMIM_MS_CXR_T_ROOT" in text and "MEDMIM_LUMIERE_ROOT" in text and "MEDMIM_IMAGE_ROOT" in text


def test_one_missing_image_is_reported(medmim_env: dict[str, str], synthetic_image_root: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    copy = tmp_path / "ODIR"
    shutil.copytree(synthetic_image_root / "ODIR", copy)
    (copy / "Training Images" / "0_left.jpg").unlink()
    monkeypatch.setenv("MEDMIM_ODIR_ROOT", str(copy))
    with pytest.raises(MissingImagesError, match=r"1 of 1200 image references are missing") as error:
        build_docs("med_mim_held_out_odir")
    assert str(copy / "Training Images" / "0_left.jpg") in str(error.value)


def test_resolve_all_lists_big_folders_and_falls_back_per_file(tmp_path: Path) -> None:
    from medmim_tasks.benchmark.image_paths import LISTING_THRESHOLD, ImageLocator

    odir = SOURCE_DATASETS_BY_NAME["ODIR"]
    folder = tmp_path / "ODIR" / "Training Images"
    folder.mkdir(parents=True)
    names = [f"{n}_left.jpg" for n in range(LISTING_THRESHOLD + 4)]
    for name in names[:-2]:
        (folder / name).write_bytes(b"x")
    (folder / names[-1]).mkdir()  # a folder with an image's name is no image
    refs = [f"Training Images/{name}" for name in names] + ["Training Images/0_left.jpg"]
    resolved = ImageLocator({"MEDMIM_IMAGE_ROOT": str(tmp_path)}).resolve_all(odir, refs)
    assert set(resolved) == set(refs)
    assert all(resolved[f"Training Images/{name}"] == str(folder / name) for name in names[:-2])
    assert resolved[f"Training Images/{names[-2]}"] is None and resolved[f"Training Images/{names[-1]}"] is None
    locator = ImageLocator({"MEDMIM_IMAGE_ROOT": str(tmp_path)})
    assert resolved == {ref: locator.resolve_str(odir, ref) for ref in refs}  # same answer as one stat each


def test_resolve_all_keeps_mimic_jpg_fallback_in_big_folders(tmp_path: Path) -> None:
    from medmim_tasks.benchmark.image_paths import LISTING_THRESHOLD, ImageLocator

    cxr = SOURCE_DATASETS_BY_NAME["MS-CXR-T"]
    refs = [f"p10/p10000032/s50414267/{n:04d}.png" for n in range(LISTING_THRESHOLD + 1)]
    for ref in refs:
        jpg = tmp_path / "files" / Path(ref).with_suffix(".jpg")
        jpg.parent.mkdir(parents=True, exist_ok=True)
        jpg.write_bytes(b"x")
    resolved = ImageLocator({"MEDMIM_MS_CXR_T_ROOT": str(tmp_path)}).resolve_all(cxr, refs)
    assert all(resolved[ref] == str(tmp_path / "files" / Path(ref).with_suffix(".jpg")) for ref in refs)
