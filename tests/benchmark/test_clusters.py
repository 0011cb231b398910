"""Cluster ids group items of one patient (or sharing an image)."""

from __future__ import annotations

from pathlib import Path

from medmim_tasks.benchmark.clusters import cluster_ids, patient_of
from medmim_tasks.benchmark.items import load_split, parse_items
from medmim_tasks.benchmark.splits import SPLITS


def item(images: list[str], source: str) -> dict:
    return {
        "id": "x",
        "images": images,
        "conversation": [{"role": "user", "content": "<image>" * len(images) + "Q"}, {"role": "assistant", "content": "a"}],
        "source": source,
    }


def test_patient_ids_per_dataset() -> None:
    assert patient_of("EMBED", "cohort_1/14581551/1.2.3/4.5.6/7.8.9.png") == "EMBED:cohort_1/14581551"
    assert patient_of("LUMIERE", "ct1_LUMIERE_images_tumor1200px_256x256/Patient-069/slice_76/week_000.png") == "LUMIERE:Patient-069"
    assert patient_of("MS-CXR-T", "p17/p17950066/s59393382/2f2d.png") == "MS-CXR-T:p17950066"
    assert patient_of("ODIR", "Training Images/570_right.jpg") == "ODIR:570"
    assert patient_of("VQA-RAD", "synpic54610.jpg") == "VQA-RAD:synpic54610"


def test_items_sharing_any_image_case_share_a_cluster() -> None:
    items = parse_items(
        [
            item(["synpic1.jpg", "synpic2.jpg"], "VQA_RAD_x"),
            item(["synpic2.jpg", "synpic3.jpg"], "VQA_RAD_x"),
            item(["synpic4.jpg", "synpic5.jpg"], "VQA_RAD_x"),
            item(["synpic3.jpg"], "VQA_RAD_x"),
        ],
        "f.json",
    )
    clusters = cluster_ids(items)
    assert clusters[0] == clusters[1] == clusters[3] != clusters[2]


def test_real_splits_have_many_clusters_fewer_than_items(benchmark_dir: Path) -> None:
    env = {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)}
    sizes = {}
    for split in SPLITS:
        items = load_split(split, env)
        clusters = cluster_ids(items)
        sizes[split.task] = (len(set(clusters)), len(items))
        assert all(cluster.split(":")[0] == it.dataset.name for cluster, it in zip(clusters, items))
    assert sizes["med_mim_held_out_odir"] == (600, 600)  # every ODIR item is its own patient
    for task, (clusters, items) in sizes.items():
        if task != "med_mim_held_out_odir":
            assert 1 < clusters < items, task
