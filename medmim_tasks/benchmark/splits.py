"""The six Med-MIM benchmark splits, their upstream files and their lmms-eval names."""

from __future__ import annotations

from dataclasses import dataclass

UPSTREAM_REPOSITORY = "https://github.com/Xikai97/Med-MIM"
UPSTREAM_COMMIT = "c1cdc259e97cf524e89c8729655c3cd15e8d9ec3"
UPSTREAM_FOLDER = "Benchmark_Dataset"


@dataclass(frozen=True)
class Split:
    """One benchmark split: the lmms-eval task name, the upstream file, its checksum and its size in bytes."""

    task: str
    file_name: str
    alias: str
    group: str
    sha256: str
    size: int


SPLITS: tuple[Split, ...] = (
    Split(
        "med_mim_held_in_temporal",
        "Med_MIM_benchmark_Held_in_Temporal.json",
        "Held-in: Temporal",
        "med_mim_held_in",
        "265b2538ee6169be9f51b1834b229cc2712b99e6cb00786940b411cbe5c2db0f",
        842062,
    ),
    Split(
        "med_mim_held_in_reasoning",
        "Med_MIM_benchmark_Held_in_Reasoning.json",
        "Held-in: Reasoning",
        "med_mim_held_in",
        "cb3369a051e4ee8d2a5818802161c063b34bc965225724167069d77dd555f4d5",
        538094,
    ),
    Split(
        "med_mim_held_in_comparison",
        "Med_MIM_benchmark_Held_in_Comparison.json",
        "Held-in: Comparison",
        "med_mim_held_in",
        "4ce9790ccacccbbafac72d4dab099a9d8bd0fd22ece3d03fc006d524e8f728eb",
        337704,
    ),
    Split(
        "med_mim_held_in_coreference",
        "Med_MIM_benchmark_Held_in_Coreference.json",
        "Held-in: Coreference",
        "med_mim_held_in",
        "4356ef0251f6c414828fee102eebdc4ec9d63442bf895f979d5f1722fb581756",
        1462090,
    ),
    Split(
        "med_mim_held_out_odir",
        "Med_MIM_benchmark_Held_out_ODIR.json",
        "Held-out: ODIR",
        "med_mim_held_out",
        "da253e35ad3e4b9bc296b08c582e430f29803975b66c9b52c48d7f7eae26b153",
        421543,
    ),
    Split(
        "med_mim_held_out_rad",
        "Med_MIM_benchmark_Held_out_RAD.json",
        "Held-out: RAD",
        "med_mim_held_out",
        "d3bd573b26a29052307391fd579b485fcda5f7efd51472f0cf9ee6342f719700",
        319015,
    ),
)

GROUPS: dict[str, str] = {
    "med_mim_held_in": "Med-MIM held-in",
    "med_mim_held_out": "Med-MIM held-out",
    "med_mim": "Med-MIM",
}

SPLITS_BY_TASK: dict[str, Split] = {split.task: split for split in SPLITS}


def split_for_task(task: str) -> Split:
    """The split behind an lmms-eval task name; a clear error for an unknown name."""
    try:
        return SPLITS_BY_TASK[task]
    except KeyError:
        known = ", ".join(SPLITS_BY_TASK)
        raise KeyError(f"unknown Med-MIM task {task!r}; known tasks: {known}") from None
