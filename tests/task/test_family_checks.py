"""The matrix's checker catches each way a delivery can go wrong (and passes a right one)."""

from __future__ import annotations

import base64
import io

import pytest
from family_checks import (
    FamilyBenchmark,
    assert_delivery,
    openai_prompt_text,
)
from PIL import Image

from medmim_tasks.benchmark.images import load_image
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, OPEN_ENDED


def three_image_doc(bench: FamilyBenchmark) -> dict:
    return next(doc for doc in bench.all_docs() if doc["n_images"] == 3)


def images_of(doc: dict) -> list[Image.Image]:
    return [load_image(path) for path in doc["image_paths"]]


def test_doc_set_covers_every_task_kind_and_format(family_benchmark: FamilyBenchmark) -> None:
    docs = family_benchmark.all_docs()
    assert all(family_benchmark.docs[task] for task in family_benchmark.docs) and len(family_benchmark.docs) == 6
    assert {doc["kind"] for doc in docs} == {MULTIPLE_CHOICE, OPEN_ENDED}
    assert {doc["dataset"] for doc in docs} >= {"EMBED", "ODIR", "VQA-RAD", "MS-CXR-T"}
    assert any(doc["n_images"] == 3 and doc["task"] in {"med_mim_held_in_temporal", "med_mim_held_in_coreference", "med_mim_held_out_rad"} for doc in docs)
    odir = [doc for doc in docs if doc["dataset"] == "ODIR"]
    assert odir and all(Image.open(path).format == "JPEG" for doc in odir for path in doc["image_paths"])
    embed = next(doc for doc in docs if doc["dataset"] == "EMBED")
    assert Image.open(embed["image_paths"][0]).mode.startswith("I;16")


def test_right_delivery_passes(family_benchmark: FamilyBenchmark) -> None:
    doc = three_image_doc(family_benchmark)
    text = "Image 1: <image>\nImage 2: <image>\nImage 3:<image>\nWhat changed?"
    assert_delivery(doc, images_of(doc), text, "<image>", require_pil=True)
    assert_delivery(doc, images_of(doc), "<image><image><image>What changed?", "<image>")  # no labels at all
    qwen = "<|vision_start|><|image_pad|><|vision_end|>" * 3 + "What changed?"
    assert_delivery(doc, images_of(doc), qwen, "<|image_pad|>")


def test_wrong_images_fail(family_benchmark: FamilyBenchmark) -> None:
    doc = three_image_doc(family_benchmark)
    images = images_of(doc)
    with pytest.raises(AssertionError, match="2 images delivered"):
        assert_delivery(doc, images[:2], None, "<image>")
    with pytest.raises(AssertionError, match="order broken|differs"):
        assert_delivery(doc, [images[1], images[0], images[2]], None, "<image>")
    other = next(d for d in family_benchmark.all_docs() if d["doc_key"] != doc["doc_key"] and d["dataset"] != doc["dataset"])
    with pytest.raises(AssertionError, match="differs"):
        assert_delivery(doc, [load_image(other["image_paths"][0]), *images[1:]], None, "<image>")


def test_jpeg_file_object_fails_where_exact_pil_type_is_required(family_benchmark: FamilyBenchmark) -> None:
    doc = next(doc for doc in family_benchmark.all_docs() if doc["dataset"] == "ODIR")
    opened = [Image.open(path) for path in doc["image_paths"]]
    assert_delivery(doc, opened, None, "<image>")
    with pytest.raises(AssertionError, match="exactly PIL.Image.Image"):
        assert_delivery(doc, opened, None, "<image>", require_pil=True)


@pytest.mark.parametrize(
    ("text", "token", "message"),
    [
        ("<image>\n<image>\n<image>\nImage 1: Image 2: Image 3: What changed?", "<image>", "not followed by an image"),
        ("Image 2: <image> Image 1: <image> Image 3: <image>", "<image>", r"labels \[2, 1, 3\]"),
        ("Image 1: <image> Image 2: <image> <image>", "<image>", "labels"),
        ("<image><image>What changed?", "<image>", "2 x"),
        ("<image><image><image><image>What changed?", "<image>", "4 x"),
        ("<image>" + "<|image_pad|>" * 3, "<|image_pad|>", "literal <image>"),
    ],
)
def test_prompt_faults_fail(family_benchmark: FamilyBenchmark, text: str, token: str, message: str) -> None:
    doc = three_image_doc(family_benchmark)
    with pytest.raises(AssertionError, match=message):
        assert_delivery(doc, images_of(doc), text, token)


def test_openai_request_is_read_back_with_its_images(family_benchmark: FamilyBenchmark) -> None:
    doc = three_image_doc(family_benchmark)
    parts: list[dict] = []
    for number, image in enumerate(images_of(doc), start=1):
        buffer = io.BytesIO()
        image.save(buffer, format="JPEG", quality=85)
        parts.append({"type": "text", "text": f"Image {number}:"})
        parts.append({"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode()}})
    parts.append({"type": "text", "text": "What changed?"})
    text, images = openai_prompt_text([{"role": "user", "content": parts}])
    assert_delivery(doc, images, text, "<image>")
