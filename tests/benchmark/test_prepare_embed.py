"""`medmim data prepare embed`: benchmark PNGs from synthetic DICOM files written with pydicom."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian

from medmim_tasks.benchmark.images import load_image
from medmim_tasks.benchmark.prepare_embed import (
    EmbedReference,
    embed_references,
    parse_reference,
    prepare_embed,
)
from medmim_tasks.cli.main import main

MAMMOGRAPHY_FOR_PRESENTATION = "1.2.840.10008.5.1.4.1.1.1.2"
RAMP = np.tile(np.arange(0, 4096, 16, dtype=np.uint16), (8, 1))  # 8 x 256, every 12-bit level step


def write_dicom(
    path: Path,
    ref: EmbedReference,
    pixels: np.ndarray = RAMP,
    photometric: str = "MONOCHROME2",
    window: tuple[float, float] | None = None,
    voi_lut: tuple[list[int], list[int]] | None = None,
    rescale: tuple[float, float] | None = None,
    series_uid: str | None = None,
) -> Path:
    """A minimal uncompressed 12-bit mammogram (For Presentation) carrying the reference's UIDs."""
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = MAMMOGRAPHY_FOR_PRESENTATION
    meta.MediaStorageSOPInstanceUID = ref.sop_uid
    meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = MAMMOGRAPHY_FOR_PRESENTATION
    ds.SOPInstanceUID = ref.sop_uid
    ds.StudyInstanceUID = ref.study_uid
    ds.SeriesInstanceUID = series_uid or ref.series_uid
    ds.Modality = "MG"
    ds.Rows, ds.Columns = pixels.shape[-2:]
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = photometric
    ds.BitsAllocated = 16
    ds.BitsStored = 12
    ds.HighBit = 11
    ds.PixelRepresentation = 0
    if pixels.ndim == 3:
        ds.NumberOfFrames = pixels.shape[0]
    if window is not None:
        ds.WindowCenter, ds.WindowWidth = window
    if voi_lut is not None:
        item = Dataset()
        item.add_new("LUTDescriptor", "US", voi_lut[0])
        item.add_new("LUTData", "OW", np.asarray(voi_lut[1], dtype="<u2").tobytes())
        ds.VOILUTSequence = [item]
    if rescale is not None:
        ds.RescaleSlope, ds.RescaleIntercept = rescale
    ds.PixelData = pixels.astype("<u2").tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)
    return path


def ref(n: int) -> EmbedReference:
    return parse_reference(f"cohort_1/{1000 + n}/1.2.3.{n}/1.2.3.{n}.1/1.2.3.{n}.1.{n}.png")


def linear_window(values: np.ndarray, center: float, width: float) -> np.ndarray:
    """The DICOM LINEAR window (PS3.3 C.11.2.1.2.1) as a display fraction in [0, 1]."""
    return np.clip((values - (center - 0.5)) / (width - 1) + 0.5, 0.0, 1.0)


def prepared_pixels(tmp_path: Path, reference: EmbedReference, bit_depth: int = 8, **dicom: object) -> np.ndarray:
    write_dicom(tmp_path / "dicom" / "x.dcm", reference, **dicom)  # type: ignore[arg-type]
    report = prepare_embed(tmp_path / "dicom", tmp_path / "png", [reference], bit_depth=bit_depth, stream=io.StringIO())
    assert report.written == [reference], report.summary()
    return np.asarray(Image.open(tmp_path / "png" / reference.relative))


def test_parse_reference_reads_the_uids():
    parsed = parse_reference("cohort_2/77/1.2.840.1/1.2.840.1.2/1.2.826.0.1.3.png")
    assert parsed.uids == ("1.2.840.1", "1.2.840.1.2", "1.2.826.0.1.3")
    with pytest.raises(ValueError, match="not cohort_N/<patient>"):
        parse_reference("cohort_2/77/1.2.840.1/1.2.826.0.1.3.png")


def test_window_is_applied(tmp_path):
    pixels = prepared_pixels(tmp_path, ref(1), window=(2048, 1024))
    expected = np.rint(255 * linear_window(RAMP.astype(np.float64), 2048, 1024)).astype(np.uint8)
    assert pixels.dtype == np.uint8
    np.testing.assert_array_equal(pixels, expected)
    assert pixels[0, 0] == 0 and pixels[0, -1] == 255  # clipped below and above the window


def test_monochrome1_is_inverted(tmp_path):
    pixels = prepared_pixels(tmp_path, ref(2), photometric="MONOCHROME1", window=(2048, 1024))
    expected = np.rint(255 * (1 - linear_window(RAMP.astype(np.float64), 2048, 1024))).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)
    assert pixels[0, 0] == 255 and pixels[0, -1] == 0


def test_voi_lut_wins_over_the_window(tmp_path):
    table = [min(4095, 2 * level) for level in range(4096)]  # gain 2, saturating: output range 0-4095
    pixels = prepared_pixels(tmp_path, ref(3), window=(100, 10), voi_lut=([4096, 0, 12], table))
    expected = np.rint(255 * np.minimum(4095, 2 * RAMP.astype(np.float64)) / 4095).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)


def test_rescale_comes_before_the_window(tmp_path):
    pixels = prepared_pixels(tmp_path, ref(4), window=(4000, 3000), rescale=(2.0, -100.0))
    expected = np.rint(255 * linear_window(2.0 * RAMP - 100.0, 4000, 3000)).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)


def test_without_voi_the_real_value_range_is_used(tmp_path):
    narrow = (1000 + RAMP // 4).astype(np.uint16)  # 1000..2020
    pixels = prepared_pixels(tmp_path, ref(5), pixels=narrow)
    expected = np.rint(255 * (narrow - 1000.0) / (narrow.max() - 1000.0)).astype(np.uint8)
    np.testing.assert_array_equal(pixels, expected)


def test_sixteen_bit_output(tmp_path):
    pixels = prepared_pixels(tmp_path, ref(6), bit_depth=16, window=(2048, 1024))
    assert Image.open(tmp_path / "png" / ref(6).relative).mode == "I;16"
    expected = np.rint(65535 * linear_window(RAMP.astype(np.float64), 2048, 1024)).astype(np.uint16)
    np.testing.assert_array_equal(pixels, expected)
    assert load_image(tmp_path / "png" / ref(6).relative).mode == "RGB"


def test_files_are_matched_by_their_uids_and_only_named_images_are_written(tmp_path):
    dicom, out = tmp_path / "dicom", tmp_path / "png"
    same_tree, by_sop_name, by_header, wrong_series, unreferenced = ref(11), ref(12), ref(13), ref(14), ref(15)
    write_dicom(dicom / (same_tree.relative[: -len(".png")] + ".dcm"), same_tree, window=(2048, 1024))
    write_dicom(dicom / "elsewhere" / f"{by_sop_name.sop_uid}.dcm", by_sop_name, window=(2048, 1024))
    write_dicom(dicom / "a" / "b" / "IMG00001", by_header, window=(2048, 1024))
    write_dicom(dicom / f"{wrong_series.sop_uid}.dcm", wrong_series, series_uid="9.9.9", window=(2048, 1024))
    write_dicom(dicom / "extra.dcm", unreferenced, window=(2048, 1024))
    (dicom / "notes.txt").write_text("not a DICOM file")

    wanted = [same_tree, by_sop_name, by_header, wrong_series]
    report = prepare_embed(dicom, out, wanted, stream=io.StringIO())
    assert sorted(r.relative for r in report.written) == sorted(r.relative for r in (same_tree, by_sop_name, by_header))
    assert report.not_found == [wrong_series]
    assert len(report.uid_mismatches) == 1 and "9.9.9" in report.uid_mismatches[0]
    assert not report.complete
    written = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    assert written == sorted(r.relative for r in report.written)  # nothing else, no temporary files
    summary = report.summary()
    assert "written now:      3" in summary and "no DICOM found:   1" in summary and wrong_series.relative in summary

    again = prepare_embed(dicom, out, wanted, stream=io.StringIO())
    assert len(again.already_present) == 3 and again.written == []
    rewritten = prepare_embed(dicom, out, wanted, overwrite=True, stream=io.StringIO())
    assert len(rewritten.written) == 3


def test_unconvertible_files_are_reported_with_their_path(tmp_path):
    dicom, out = tmp_path / "dicom", tmp_path / "png"
    multi_frame = write_dicom(dicom / "dbt.dcm", ref(21), pixels=np.stack([RAMP, RAMP]))
    color = write_dicom(dicom / "color.dcm", ref(22), photometric="PALETTE COLOR")
    report = prepare_embed(dicom, out, [ref(21), ref(22)], stream=io.StringIO())
    reasons = {r.relative: reason for r, reason in report.failed}
    assert str(multi_frame) in reasons[ref(21).relative] and "2 frames" in reasons[ref(21).relative]
    assert str(color) in reasons[ref(22).relative] and "MONOCHROME" in reasons[ref(22).relative]
    assert report.written == [] and not any(out.rglob("*.png"))


def test_missing_dicom_root_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="--dicom-root"):
        prepare_embed(tmp_path / "absent", tmp_path / "png", [ref(1)], stream=io.StringIO())


def test_cli_writes_only_the_benchmark_images_it_has_dicoms_for(benchmark_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(benchmark_dir))
    monkeypatch.setenv("MEDMIM_EMBED_ROOT", str(tmp_path / "embed-png"))
    references = embed_references()
    assert len(references) == 3632
    chosen = references[:2]
    for reference in chosen:
        write_dicom(tmp_path / "dicom" / (reference.relative[: -len(".png")] + ".dcm"), reference, window=(2048, 1024))

    assert main(["data", "prepare", "embed", "--dicom-root", str(tmp_path / "dicom")]) == 1  # 3630 still missing
    out = capsys.readouterr().out
    assert "EMBED images named by the benchmark: 3632" in out
    assert "written now:      2" in out and "no DICOM found:   3630" in out
    assert "approved access" in out
    written = sorted(str(path.relative_to(tmp_path / "embed-png")) for path in (tmp_path / "embed-png").rglob("*.png"))
    assert written == sorted(reference.relative for reference in chosen)


def test_cli_without_benchmark_files_says_how_to_get_them(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(tmp_path / "no-benchmark"))
    (tmp_path / "dicom").mkdir()
    assert main(["data", "prepare", "embed", "--dicom-root", str(tmp_path / "dicom")]) == 1
    assert "medmim data fetch" in capsys.readouterr().err


@pytest.mark.parametrize("relative", ["cohort_1/../../../x.png", "cohort_1/p/./../x/y.png", "cohort_1//s/se/x.png"])
def test_parse_reference_refuses_dot_and_empty_parts(relative):
    with pytest.raises(ValueError, match="not cohort_N/<patient>") as raised:
        parse_reference(relative)
    assert repr(relative) in str(raised.value)


def test_no_output_path_leaves_the_output_root(tmp_path):
    """A reference that climbs out of --out is refused before anything is written (issue 18, item 2)."""
    escaping = EmbedReference("cohort_1/../../../x.png", "1.2.3", "1.2.3.1", "1.2.3.1.9")
    write_dicom(tmp_path / "dicom" / "1.2.3.1.9.dcm", escaping, window=(2048, 1024))
    out = tmp_path / "deep" / "er" / "out"
    with pytest.raises(ValueError) as raised:
        prepare_embed(tmp_path / "dicom", out, [ref(1), escaping], stream=io.StringIO())
    text = str(raised.value)
    assert repr(escaping.relative) in text and str(out) in text
    assert list(tmp_path.rglob("*.png")) == []


def test_cli_refuses_a_benchmark_reference_that_climbs_out(benchmark_dir, tmp_path, monkeypatch, capsys):
    import json

    from medmim_tasks.benchmark.splits import SPLITS

    bench = tmp_path / "bench"
    bench.mkdir()
    for split in SPLITS:
        (bench / split.file_name).symlink_to(benchmark_dir / split.file_name)
    temporal = SPLITS[0]
    items = json.loads((benchmark_dir / temporal.file_name).read_text(encoding="utf-8"))
    escaping = "cohort_1/../../../x.png"
    items[3]["images"][0] = escaping
    (bench / temporal.file_name).unlink()
    (bench / temporal.file_name).write_text(json.dumps(items))
    monkeypatch.setenv("MEDMIM_BENCHMARK_DIR", str(bench))
    (tmp_path / "dicom").mkdir()
    out = tmp_path / "a" / "b" / "c"
    assert main(["data", "prepare", "embed", "--dicom-root", str(tmp_path / "dicom"), "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert str(bench / temporal.file_name) in err and "item 3 (id " in err and repr(escaping) in err
    assert not out.exists() and list(tmp_path.rglob("*.png")) == []
