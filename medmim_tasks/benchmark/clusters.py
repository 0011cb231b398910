"""Cluster ids: items that share a patient (or an image) are not independent samples."""

from __future__ import annotations

import re
from collections.abc import Sequence

from medmim_tasks.benchmark.items import Item

_PATIENT_PATTERNS: dict[str, re.Pattern[str]] = {
    # cohort_N/<patient>/<study>/<series>/<sop>.png
    "EMBED": re.compile(r"^(?:[^/]*/)?(cohort_[^/]+/[^/]+)/"),
    # <seq>_LUMIERE_images_.../Patient-NNN/slice_N/week_NNN.png
    "LUMIERE": re.compile(r"(Patient-\d+)"),
    # pNN/pNNNNNNNN/sNNNNNNNN/<dicom_id>.png
    "MS-CXR-T": re.compile(r"(?:^|/)(p\d{8})/"),
    # Training Images/<n>_left.jpg
    "ODIR": re.compile(r"(?:^|/)(\d+)_(?:left|right)\.[A-Za-z]+$"),
    # synpicNNNNN.jpg
    "VQA-RAD": re.compile(r"(synpic\d+)"),
}


def patient_of(dataset_name: str, image_path: str) -> str:
    """The patient (or, for VQA-RAD, the image case) an image path belongs to."""
    match = _PATIENT_PATTERNS[dataset_name].search(image_path)
    return f"{dataset_name}:{match.group(1) if match else image_path}"


def cluster_ids(items: Sequence[Item]) -> list[str]:
    """One cluster id per item: connected components of items that share any patient.

    Items of one patient, or items that reuse an image, land in one cluster, so
    lmms-eval's clustered standard errors do not treat them as independent.
    """
    parent: dict[str, str] = {}

    def find(node: str) -> str:
        parent.setdefault(node, node)
        while parent[node] != node:
            parent[node] = parent[parent[node]]
            node = parent[node]
        return node

    item_patients = [[patient_of(item.dataset.name, path) for path in item.images] for item in items]
    for patients in item_patients:
        first = find(patients[0])
        for other in patients[1:]:
            root = find(other)
            if root != first:
                low, high = (first, root) if first < root else (root, first)
                parent[high] = low
                first = low
    return [find(patients[0]) for patients in item_patients]
