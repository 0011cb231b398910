"""Output folders that cannot be written are reported up front, naming the folder and the option (issue 18, item 10)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from medmim_tasks.cli.main import main
from medmim_tasks.runners.output_folder import OutputFolderError, writable_folder


def _under_a_file(tmp_path: Path) -> Path:
    (tmp_path / "a-file").write_text("not a folder")
    return tmp_path / "a-file" / "out"


def _read_only(tmp_path: Path) -> Path:
    if os.geteuid() == 0:
        pytest.skip("root writes into read-only folders; the under-a-file case covers root")
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    return folder / "out"


UNWRITABLE = [_under_a_file, _read_only]


@pytest.mark.parametrize("unwritable", UNWRITABLE)
def test_writable_folder_names_the_folder_and_the_option(tmp_path: Path, unwritable) -> None:
    folder = unwritable(tmp_path)
    with pytest.raises(OutputFolderError) as raised:
        writable_folder(folder, "--output")
    assert str(folder) in str(raised.value) and "--output DIR" in str(raised.value)


def test_writable_folder_leaves_nothing_behind(tmp_path: Path) -> None:
    assert writable_folder(tmp_path / "new" / "deeper", "--output") == tmp_path / "new" / "deeper"
    assert list(tmp_path.iterdir()) == []  # not created, no probe file left
    (tmp_path / "there").mkdir()
    writable_folder(tmp_path / "there", "--output")
    assert list((tmp_path / "there").iterdir()) == []


@pytest.mark.parametrize("unwritable", UNWRITABLE)
def test_report_stops_before_reading_runs(tmp_path: Path, unwritable, capsys) -> None:
    folder = unwritable(tmp_path)
    assert main(["report", str(tmp_path / "no-such-run"), "-o", str(folder)]) == 2
    err = capsys.readouterr().err
    assert f"cannot write to the output folder {folder}" in err and "-o/--output DIR" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("unwritable", UNWRITABLE)
def test_demo_stops_before_building_anything(tmp_path: Path, unwritable, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MEDMIM_SANITY_DIR", str(tmp_path / "sanity"))
    folder = unwritable(tmp_path)
    assert main(["demo", "--output", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write to the output folder {folder}" in err and "--output DIR" in err
    assert not (tmp_path / "sanity").exists()


@pytest.mark.parametrize("unwritable", UNWRITABLE)
def test_prepare_embed_stops_before_reading_dicoms(benchmark_dir: Path, tmp_path: Path, unwritable, capsys, monkeypatch) -> None:
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    (tmp_path / "dicom").mkdir()
    folder = unwritable(tmp_path)
    assert main(["data", "prepare", "embed", "--dicom-root", str(tmp_path / "dicom"), "--out", str(folder)]) == 1
    err = capsys.readouterr().err
    assert f"cannot write to the output folder {folder}" in err and "--out" in err
