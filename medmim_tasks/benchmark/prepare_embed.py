"""Write the EMBED PNGs the benchmark names from the EMBED DICOM files (with pydicom).

EMBED is distributed as DICOM; the benchmark names PNGs as
`cohort_N/<patient>/<study UID>/<series UID>/<SOP UID>.png`. For every such reference (and only
those) we find the DICOM file whose StudyInstanceUID, SeriesInstanceUID and SOPInstanceUID match,
apply the modality LUT (rescale), then the VOI LUT or else the window (first view), scale the
result over the transform's full output range, invert MONOCHROME1 so that dense tissue is bright,
and write a grayscale PNG atomically.

Finding the files, cheapest first: `<dicom root>/<reference>.dcm` (the same tree as the
reference), then any file in the tree named `<SOP UID>` or `<SOP UID>.dcm`, then the header of
every other file. Every candidate's three UIDs are read from its header before it is used.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
from PIL import Image
from tqdm import tqdm

from medmim_tasks.atomic_write import atomic_file
from medmim_tasks.benchmark.items import contained_reference, load_split
from medmim_tasks.benchmark.sources import SOURCE_DATASETS_BY_NAME
from medmim_tasks.benchmark.splits import SPLITS

EMBED = SOURCE_DATASETS_BY_NAME["EMBED"]
UID_TAGS = ("StudyInstanceUID", "SeriesInstanceUID", "SOPInstanceUID")
MONOCHROME = ("MONOCHROME1", "MONOCHROME2")
BIT_DEPTHS = (8, 16)
DICOM_SUFFIX = ".dcm"
MAX_LISTED = 10


class DicomConversionError(ValueError):
    """A DICOM file cannot become a benchmark PNG (the message names the file and the reason)."""


@dataclass(frozen=True)
class EmbedReference:
    """One EMBED image named by the benchmark, and the UIDs its DICOM file must carry."""

    relative: str
    study_uid: str
    series_uid: str
    sop_uid: str

    @property
    def uids(self) -> tuple[str, str, str]:
        return (self.study_uid, self.series_uid, self.sop_uid)


def parse_reference(relative: str) -> EmbedReference:
    """`cohort_N/<patient>/<study>/<series>/<sop>.png` -> its UIDs; a clear error for any other shape."""
    parts = relative.split("/")
    if (
        len(parts) != 5
        or not parts[4].endswith(".png")
        or not parts[0].startswith("cohort_")
        or any(part in ("", ".", "..") for part in parts)
    ):
        raise ValueError(
            f"EMBED image reference {relative!r} is not cohort_N/<patient>/<study UID>/<series UID>/<SOP UID>.png"
        )
    return EmbedReference(relative, parts[2], parts[3], parts[4][: -len(".png")])


def embed_references(environ: Mapping[str, str] | None = None) -> list[EmbedReference]:
    """Every distinct EMBED image of the six splits, sorted by path (all six benchmark files are needed)."""
    relatives = {
        relative
        for split in SPLITS
        for item in load_split(split, environ)  # type: ignore[arg-type]
        if item.dataset is EMBED
        for relative in item.images
    }
    return [parse_reference(relative) for relative in sorted(relatives)]


def read_uids(path: Path) -> tuple[str, str, str] | None:
    """(study, series, SOP) UIDs from a file's header, or None when it is not a DICOM file."""
    import pydicom
    from pydicom.errors import InvalidDicomError

    try:
        header = pydicom.dcmread(path, stop_before_pixels=True, specific_tags=list(UID_TAGS))
    except (InvalidDicomError, OSError, EOFError, ValueError, KeyError, TypeError):
        return None
    return tuple(str(header.get(tag, "")) for tag in UID_TAGS)  # type: ignore[return-value]


def display_values(dataset: Any) -> np.ndarray:
    """A mammogram's pixels as display values in [0, 1] (0 black), from a pydicom dataset.

    Modality LUT first, then the VOI LUT (preferred) or the window, each with its first view;
    values are scaled over the transform's own output range (the LUT's entries, the window's
    output range), so the picture is not stretched to its content. Without any VOI transform the
    real value range is used. MONOCHROME1 is inverted.
    """
    from pydicom.pixels import apply_modality_lut, apply_voi, apply_windowing

    photometric = str(dataset.get("PhotometricInterpretation", ""))
    if photometric not in MONOCHROME:
        raise DicomConversionError(f"photometric interpretation {photometric!r}; expected MONOCHROME1 or MONOCHROME2")
    frames = int(dataset.get("NumberOfFrames", 1) or 1)
    if frames != 1:
        raise DicomConversionError(f"{frames} frames (a tomosynthesis volume?); the benchmark's images are 2-D")
    values = apply_modality_lut(dataset.pixel_array, dataset)
    if values.ndim != 2:
        raise DicomConversionError(f"pixel array of shape {values.shape}; expected one 2-D grayscale image")

    lut = dataset.get("VOILUTSequence")
    if lut and lut[0].get("LUTDescriptor") is not None and lut[0].get("LUTData") is not None:
        entries, first_mapped = int(lut[0].LUTDescriptor[0]) or 2**16, int(lut[0].LUTDescriptor[1])
        if values.dtype.kind == "f" and np.all(np.equal(np.mod(values, 1), 0)):
            values = values.astype(np.int64)
        shown = apply_voi(values, dataset).astype(np.float64)
        table = apply_voi(np.arange(first_mapped, first_mapped + entries, dtype=np.int64), dataset)
        low, high = float(table.min()), float(table.max())
    elif dataset.get("WindowCenter") is not None and dataset.get("WindowWidth") is not None:
        shown = apply_windowing(values.astype(np.float64), dataset)
        with np.errstate(over="ignore"):
            ends = apply_windowing(np.array([-1e12, 1e12], dtype=np.float64), dataset)
        low, high = float(ends.min()), float(ends.max())
    else:
        shown = values.astype(np.float64)
        low, high = float(shown.min()), float(shown.max())

    if high > low:
        scaled = np.clip((shown - low) / (high - low), 0.0, 1.0)
    else:
        scaled = np.zeros(shown.shape, dtype=np.float64)
    return 1.0 - scaled if photometric == "MONOCHROME1" else scaled


def to_png_pixels(display: np.ndarray, bit_depth: int = 8) -> np.ndarray:
    """Display values in [0, 1] as uint8 (8-bit) or uint16 (16-bit) pixels."""
    if bit_depth not in BIT_DEPTHS:
        raise ValueError(f"bit depth {bit_depth}; use one of {BIT_DEPTHS}")
    top = 2**bit_depth - 1
    return np.rint(display * top).astype(np.uint8 if bit_depth == 8 else np.uint16)


def write_png_atomically(pixels: np.ndarray, target: Path) -> None:
    """Save a grayscale PNG through a temporary file in the target's folder, then rename it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(target, suffix=".part") as handle:
        Image.fromarray(pixels).save(handle, format="PNG")


def convert(dicom_path: Path, target: Path, bit_depth: int = 8) -> None:
    """One DICOM file -> one PNG; DicomConversionError names the file and what is wrong."""
    import pydicom

    try:
        dataset = pydicom.dcmread(dicom_path)
        pixels = to_png_pixels(display_values(dataset), bit_depth)
    except DicomConversionError as error:
        raise DicomConversionError(f"{dicom_path}: {error}") from error
    except Exception as error:  # pydicom's decoders raise many types (e.g. a missing JPEG 2000 plugin)
        raise DicomConversionError(f"{dicom_path}: cannot decode its pixels ({type(error).__name__}: {error})") from error
    write_png_atomically(pixels, target)


@dataclass
class PrepareReport:
    """What `prepare_embed` did for each reference."""

    out_root: Path
    written: list[EmbedReference] = field(default_factory=list)
    already_present: list[EmbedReference] = field(default_factory=list)
    not_found: list[EmbedReference] = field(default_factory=list)
    failed: list[tuple[EmbedReference, str]] = field(default_factory=list)
    uid_mismatches: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not self.not_found and not self.failed

    def summary(self) -> str:
        total = len(self.written) + len(self.already_present) + len(self.not_found) + len(self.failed)
        lines = [
            f"EMBED images named by the benchmark: {total} (in {self.out_root})",
            f"  written now:      {len(self.written)}",
            f"  already present:  {len(self.already_present)}",
            f"  no DICOM found:   {len(self.not_found)}",
            f"  failed:           {len(self.failed)}",
        ]
        if self.not_found:
            lines.append("No DICOM file with these study/series/SOP UIDs under the DICOM root, e.g.:")
            lines += [f"  {ref.relative}" for ref in self.not_found[:MAX_LISTED]]
            lines.append(
                "  Fix: point --dicom-root at the folder that holds the EMBED DICOM files (any layout; "
                f"files are matched by their UIDs). EMBED: {EMBED.obtain}; {EMBED.access}."
            )
        if self.uid_mismatches:
            lines.append("Files named like a wanted image whose header UIDs differ (not used), e.g.:")
            lines += [f"  {text}" for text in self.uid_mismatches[:MAX_LISTED]]
        if self.failed:
            lines.append("Conversion failed:")
            lines += [f"  {ref.relative}: {reason}" for ref, reason in self.failed[:MAX_LISTED]]
        return "\n".join(lines)


def _walk_files(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, _, names in os.walk(root):
        found.extend(Path(folder) / name for name in names)
    return found


def locate_dicom_files(
    dicom_root: Path, references: Iterable[EmbedReference], stream: IO[str] | None = None, show_bar: bool | None = None
) -> tuple[dict[str, Path], list[str]]:
    """SOP UID -> DICOM file whose three UIDs match, and notes on candidates whose UIDs differ."""
    stream = sys.stderr if stream is None else stream
    wanted = {ref.sop_uid: ref for ref in references}
    found: dict[str, Path] = {}
    mismatches: list[str] = []
    examined: set[Path] = set()

    def accept_if_matching(path: Path, expected: EmbedReference | None) -> None:
        examined.add(path)
        uids = read_uids(path)
        if uids is None:
            return
        ref = wanted.get(uids[2])
        if ref is not None and ref.sop_uid not in found and uids == ref.uids:
            found[ref.sop_uid] = path
        elif expected is not None and uids != expected.uids:
            mismatches.append(
                f"{path}: study/series/SOP {'/'.join(uids)} in its header, expected {'/'.join(expected.uids)}"
            )

    for ref in wanted.values():  # 1. the same tree as the reference
        direct = dicom_root / (ref.relative[: -len(".png")] + DICOM_SUFFIX)
        if direct.is_file():
            accept_if_matching(direct, ref)
    if len(found) == len(wanted):
        return found, mismatches

    files = _walk_files(dicom_root)
    for path in files:  # 2. files named by their SOP UID anywhere in the tree
        stem = path.name.removesuffix(DICOM_SUFFIX)
        if stem in wanted and stem not in found and path not in examined:
            accept_if_matching(path, wanted[stem])
    remaining = [path for path in files if path not in examined]
    if len(found) == len(wanted) or not remaining:
        return found, mismatches

    with tqdm(remaining, desc="reading DICOM headers", unit="file", file=stream,
              disable=(not show_bar) if show_bar is not None else None) as bar:
        for path in bar:  # 3. every other file, by its header
            accept_if_matching(path, None)
            if len(found) == len(wanted):
                break
    return found, mismatches


def prepare_embed(
    dicom_root: Path,
    out_root: Path,
    references: Iterable[EmbedReference],
    bit_depth: int = 8,
    overwrite: bool = False,
    stream: IO[str] | None = None,
    show_bar: bool | None = None,
) -> PrepareReport:
    """Write `out_root/<reference>` for every reference whose DICOM file is under `dicom_root`."""
    stream = sys.stderr if stream is None else stream
    if not dicom_root.is_dir():
        raise FileNotFoundError(f"--dicom-root {dicom_root} is not a folder")
    if bit_depth not in BIT_DEPTHS:
        raise ValueError(f"bit depth {bit_depth}; use one of {BIT_DEPTHS}")
    references = list(references)
    for ref in references:
        if contained_reference(ref.relative) != ref.relative:
            raise ValueError(
                f"EMBED image reference {ref.relative!r} would be written outside the output folder {out_root}; "
                "nothing was written. Use the unmodified benchmark files (`medmim data fetch`)."
            )
    report = PrepareReport(out_root)
    pending = []
    for ref in references:
        if not overwrite and (out_root / ref.relative).is_file():
            report.already_present.append(ref)
        else:
            pending.append(ref)
    if not pending:
        return report
    found, report.uid_mismatches = locate_dicom_files(dicom_root, pending, stream, show_bar)
    with tqdm(pending, desc="writing EMBED PNGs", unit="image", file=stream,
              disable=(not show_bar) if show_bar is not None else None) as bar:
        for ref in bar:
            source = found.get(ref.sop_uid)
            if source is None:
                report.not_found.append(ref)
                continue
            try:
                convert(source, out_root / ref.relative, bit_depth)
            except (DicomConversionError, OSError) as error:
                report.failed.append((ref, str(error)))
            else:
                report.written.append(ref)
    return report
