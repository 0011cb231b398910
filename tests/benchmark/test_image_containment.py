"""Image references may not leave their dataset's image root (issue 18, item 1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from medmim_tasks.benchmark.check import check_data
from medmim_tasks.benchmark.items import BenchmarkFormatError, parse_items
from medmim_tasks.benchmark.splits import split_for_task
from medmim_tasks.task.documents import build_docs

RAD_TASK = "med_mim_held_out_rad"
RAD = split_for_task(RAD_TASK)


def rad_item(images: list[str], item_id: str = "VQA_RAD1-1") -> dict:
    return {
        "id": item_id,
        "images": images,
        "conversation": [
            {"role": "user", "content": "<image>" * len(images) + "Describe the images."},
            {"role": "assistant", "content": "Both are normal."},
        ],
        "source": "VQA_RAD_instruction_open_20250124",
    }


@pytest.fixture
def rad_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """A one-item RAD benchmark file (allowed as modified) and a VQA-RAD root with one image."""
    root = tmp_path / "images" / "VQA-RAD"
    root.mkdir(parents=True)
    Image.new("RGB", (8, 8), (10, 20, 30)).save(root / "synpic1.jpg")
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    Image.new("RGB", (8, 8), (200, 0, 0)).save(outside / "x.png")
    env = {
        "MEDMIM_BENCHMARK_DIR": str(tmp_path / "bench"),
        "MEDMIM_IMAGE_ROOT": str(tmp_path / "images"),
        "MEDMIM_ALLOW_MODIFIED_BENCHMARK": "1",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    (tmp_path / "bench").mkdir()
    return env


def write_rad(env: dict[str, str], items: list[dict]) -> Path:
    path = Path(env["MEDMIM_BENCHMARK_DIR"]) / RAD.file_name
    path.write_text(json.dumps(items))
    return path


@pytest.mark.parametrize(
    "escaping",
    ["../../elsewhere/x.png", "a/../../../elsewhere/x.png", "/etc/passwd", "./../elsewhere/x.png", ".."],
)
def test_reference_leaving_the_root_stops_the_build(rad_env: dict[str, str], escaping: str) -> None:
    path = write_rad(rad_env, [rad_item(["synpic1.jpg"]), rad_item(["synpic1.jpg", escaping], "VQA_RAD9-9")])
    with pytest.raises(BenchmarkFormatError) as raised:
        build_docs(RAD_TASK)
    text = str(raised.value)
    assert str(path) in text
    assert "item 1 (id 'VQA_RAD9-9')" in text
    assert repr(escaping) in text
    assert "leaves its dataset's image folder" in text


def test_parse_items_rejects_every_escaping_form() -> None:
    for escaping in ("../x.png", "/abs/x.png", "a/b/../../../x.png", "..", "a/../.."):
        with pytest.raises(BenchmarkFormatError, match="leaves its dataset's image folder"):
            parse_items([rad_item([escaping])], "f.json")


def test_dot_dot_that_stays_inside_is_normalised(rad_env: dict[str, str]) -> None:
    write_rad(rad_env, [rad_item(["sub/../synpic1.jpg"])])
    [doc] = build_docs(RAD_TASK)
    root = Path(rad_env["MEDMIM_IMAGE_ROOT"]) / "VQA-RAD"
    assert doc["image_paths"] == [str(root / "synpic1.jpg")]  # no `..` reaches the file system
    assert doc["image_refs"] == ["synpic1.jpg"]


def test_plain_references_are_unchanged(rad_env: dict[str, str]) -> None:
    [item] = parse_items([rad_item(["./synpic1.jpg", "dir.v2/x..y.jpg"])], "f.json")
    assert item.images == ("./synpic1.jpg", "dir.v2/x..y.jpg")  # `..` inside a name is no parent step


def test_symlinks_inside_the_root_are_followed(rad_env: dict[str, str], tmp_path: Path) -> None:
    """The roots are the user's: a linked dataset folder or sub-folder is used wherever it points."""
    elsewhere = tmp_path / "elsewhere"
    root = Path(rad_env["MEDMIM_IMAGE_ROOT"]) / "VQA-RAD"
    (root / "linked").symlink_to(elsewhere, target_is_directory=True)
    write_rad(rad_env, [rad_item(["linked/x.png"])])
    [doc] = build_docs(RAD_TASK)
    assert doc["image_paths"] == [str(root / "linked" / "x.png")]


def test_check_reports_an_escaping_reference_as_a_problem(rad_env: dict[str, str]) -> None:
    path = write_rad(rad_env, [rad_item(["../../elsewhere/x.png"])])
    report = check_data(rad_env)
    rad = next(split for split in report.splits if split.task == RAD_TASK)
    assert rad.error is not None and "leaves its dataset's image folder" in rad.error
    assert sum(counts.present for counts in rad.datasets.values()) == 0  # not counted as present
    assert any(problem.subject == RAD_TASK and str(path) in problem.message for problem in report.problems)
