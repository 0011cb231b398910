"""Names of the circular variants of the Med-MIM tasks and groups (docs/circular.md).

`med_mim_circular_<split>` asks every multiple-choice item of `med_mim_<split>` once per cyclic
shift of its option texts; the groups `med_mim_circular`, `med_mim_circular_held_in` and
`med_mim_circular_held_out` mirror the plain groups.
"""

from __future__ import annotations

from medmim_tasks.benchmark.splits import SPLITS, Split, split_for_task

PLAIN_PREFIX = "med_mim"
CIRCULAR_PREFIX = "med_mim_circular"


def is_circular(name: str) -> bool:
    """Whether a task or group name is a circular variant (`med_mim_circular`, `med_mim_circular_...`)."""
    return name == CIRCULAR_PREFIX or name.startswith(CIRCULAR_PREFIX + "_")


def circular_name(name: str) -> str:
    """The circular variant of a plain task or group name: med_mim_held_out_rad -> med_mim_circular_held_out_rad."""
    if is_circular(name) or not (name == PLAIN_PREFIX or name.startswith(PLAIN_PREFIX + "_")):
        raise ValueError(f"{name!r} is not a plain Med-MIM task or group name")
    return CIRCULAR_PREFIX + name[len(PLAIN_PREFIX) :]


def plain_name(name: str) -> str:
    """The plain task or group behind a name: the circular prefix becomes `med_mim`; other names stay."""
    return PLAIN_PREFIX + name[len(CIRCULAR_PREFIX) :] if is_circular(name) else name


def split_of_task(task: str) -> Split:
    """The split behind a plain or circular task name; a clear error for an unknown name."""
    return split_for_task(plain_name(task))


CIRCULAR_TASKS: tuple[str, ...] = tuple(circular_name(split.task) for split in SPLITS)
