"""The five source datasets behind Med-MIM's images, and where their images live."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class SourceDataset:
    """A source dataset: how items name it, where its images are, and how to get them."""

    name: str
    source_prefix: str
    folder: str
    root_variable: str
    obtain: str
    access: str
    layout: str


SOURCE_DATASETS: tuple[SourceDataset, ...] = (
    SourceDataset(
        name="EMBED",
        source_prefix="EMBED_",
        folder="EMBED",
        root_variable="MEDMIM_EMBED_ROOT",
        obtain="https://registry.opendata.aws/emory-breast-imaging-dataset-embed/ (EMBED Open Data)",
        access="approved access required (EMBED data use agreement)",
        layout="cohort_N/<patient>/<study UID>/<series UID>/<SOP UID>.png (PNG mammograms made from the DICOM files)",
    ),
    SourceDataset(
        name="LUMIERE",
        source_prefix="LUMIERE_",
        folder="LUMIERE",
        root_variable="MEDMIM_LUMIERE_ROOT",
        obtain="https://doi.org/10.6084/m9.figshare.c.5904905 (LUMIERE glioblastoma MRI)",
        access="public download",
        layout="<seq>_LUMIERE_images_tumor1200px_256x256/Patient-NNN/slice_N/week_NNN.png "
        "(2-D PNG slices prepared by the benchmark's authors)",
    ),
    SourceDataset(
        name="MS-CXR-T",
        source_prefix="MS_CXR_T_",
        folder="MS-CXR-T",
        root_variable="MEDMIM_MS_CXR_T_ROOT",
        obtain="https://physionet.org/content/ms-cxr-t/ (images from MIMIC-CXR on PhysioNet)",
        access="approved access required (PhysioNet credentialed access)",
        layout="pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.png (MIMIC-CXR layout)",
    ),
    SourceDataset(
        name="ODIR",
        source_prefix="VQA_ODIR_",
        folder="ODIR",
        root_variable="MEDMIM_ODIR_ROOT",
        obtain="https://odir2019.grand-challenge.org/ (ODIR-5K fundus photographs)",
        access="public download",
        layout="Training Images/<n>_left.jpg",
    ),
    SourceDataset(
        name="VQA-RAD",
        source_prefix="VQA_RAD_",
        folder="VQA-RAD",
        root_variable="MEDMIM_VQA_RAD_ROOT",
        obtain="https://osf.io/89kps/ (VQA-RAD)",
        access="public download",
        layout="synpicNNNNN.jpg",
    ),
)

SOURCE_DATASETS_BY_NAME: dict[str, SourceDataset] = {d.name: d for d in SOURCE_DATASETS}

IMAGE_ROOT_VARIABLE = "MEDMIM_IMAGE_ROOT"
DEFAULT_IMAGE_ROOT = "~/.cache/medmim/images"


def dataset_for_source(source: str) -> SourceDataset | None:
    """The source dataset named by an item's `source` field (never by its `id`), or None."""
    for dataset in SOURCE_DATASETS:
        if source.startswith(dataset.source_prefix):
            return dataset
    return None


def image_root(dataset: SourceDataset, environ: os._Environ[str] | dict[str, str] | None = None) -> Path:
    """Folder that holds a dataset's images, from its own variable or MEDMIM_IMAGE_ROOT/<folder>."""
    env = os.environ if environ is None else environ
    own = env.get(dataset.root_variable)
    if own:
        return Path(own).expanduser()
    shared = env.get(IMAGE_ROOT_VARIABLE) or DEFAULT_IMAGE_ROOT
    return Path(shared).expanduser() / dataset.folder


def root_hint(dataset: SourceDataset) -> str:
    """One line telling a user which variable points at a dataset's images."""
    return (
        f"set {dataset.root_variable}=/path/to/{dataset.folder} or "
        f"{IMAGE_ROOT_VARIABLE}=/path/holding/{dataset.folder}/ ({dataset.layout})"
    )
