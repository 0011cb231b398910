"""The multi-image sanity set: generated items a model answers iff it sees every image, in order.

A deterministic stand-in for the benchmark that needs no download and no access approval:
items in the Med-MIM format (2-3 images, multiple choice and open-ended) about plain pictures
drawn with Pillow. Each question type asks about something only the set of images, in their
order, decides: which image holds the circle, in which image the marked lesion is largest, how
many images there are, whether the second image is brighter than the first.

Question types are balanced (the same number of items each, interleaved in document order) and
within a type every gold position, option letter and answer is equally frequent (see
`ITEMS_PER_TYPE`), so chance is known exactly: a model that guesses, always answers "A", or
always names the image it saw first scores chance on the "which image" questions.

The items (`med_mim_sanity.json`, the Med-MIM JSON format) and images are written to
MEDMIM_SANITY_DIR (default ~/.cache/medmim/sanity) the first time the task is built, and
rewritten whenever the folder is incomplete or was written by another generator version.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from PIL import Image, ImageDraw

from medmim_tasks.atomic_write import atomic_file
from medmim_tasks.benchmark.image_paths import MissingImagesError
from medmim_tasks.benchmark.items import (
    IMAGE_PLACEHOLDER,
    MULTIPLE_CHOICE,
    OPEN_ENDED,
    parse_items,
)
from medmim_tasks.benchmark.sources import SANITY_DATASET
from medmim_tasks.settings import setting
from medmim_tasks.task.documents import item_doc

SANITY_TASK = "med_mim_sanity"
SANITY_DIR_VARIABLE = SANITY_DATASET.root_variable  # MEDMIM_SANITY_DIR
ITEMS_FILE = "med_mim_sanity.json"
MARKER_FILE = "sanity_set.json"
GENERATOR_VERSION = 1

# A multiple of 24 balances every cell: image count (2, 3) x gold position (1-3) or option
# letter (A-D) or answer (yes/no) x its letter (A/B).
ITEMS_PER_TYPE = 24
IMAGE_SIDE = 224

# What a question type probes.
WHICH_IMAGE = "which image"  # the answer is a position: fails when images are dropped or reordered
IMAGE_COUNT = "image count"  # fails when images are dropped
IMAGE_ORDER = "image order"  # a comparison of image 2 with image 1: fails when dropped or reordered

RGB = tuple[int, int, int]


@dataclass(frozen=True)
class Shape:
    """One filled (or, for "ring", outlined) figure of a picture; centre and radius in pixels."""

    kind: str  # "circle", "square", "triangle", "ellipse" or "ring"
    centre: tuple[int, int]
    radius: tuple[int, int]  # (horizontal, vertical); equal for all but "ellipse"
    colour: RGB
    width: int = 0  # ring line width


@dataclass(frozen=True)
class Picture:
    """One generated image: a uniform background and figures drawn in order."""

    relative: str  # path under the images folder, as the item names it
    background: RGB
    shapes: tuple[Shape, ...]


@dataclass(frozen=True)
class QuestionType:
    """A kind of sanity question: its name (the item's source is MEDMIM_SANITY_<name>)."""

    name: str
    kind: str  # MULTIPLE_CHOICE or OPEN_ENDED
    probe: str  # WHICH_IMAGE, IMAGE_COUNT or IMAGE_ORDER
    subject: str  # what the images show: "circle", "lesion", "brightness" or "count"
    question: str


CIRCLE_QUESTION = "One of the images shows a circle, the others show a square. Which image shows the circle?"
LESION_QUESTION = "Each image shows a lesion marked by a red ring. In which image is the marked lesion largest?"
COUNT_QUESTION = "How many images are shown?"
BRIGHTER_QUESTION = "Is the second image brighter than the first?"

QUESTION_TYPES: tuple[QuestionType, ...] = (
    QuestionType("circle_position", MULTIPLE_CHOICE, WHICH_IMAGE, "circle", CIRCLE_QUESTION),
    QuestionType("lesion_size", MULTIPLE_CHOICE, WHICH_IMAGE, "lesion", LESION_QUESTION),
    QuestionType("second_brighter", MULTIPLE_CHOICE, IMAGE_ORDER, "brightness", BRIGHTER_QUESTION),
    QuestionType("image_count", MULTIPLE_CHOICE, IMAGE_COUNT, "count", COUNT_QUESTION),
    QuestionType("open_circle_position", OPEN_ENDED, WHICH_IMAGE, "circle", CIRCLE_QUESTION),
    QuestionType("open_image_count", OPEN_ENDED, IMAGE_COUNT, "count", COUNT_QUESTION),
)
QUESTION_TYPES_BY_NAME: dict[str, QuestionType] = {qtype.name: qtype for qtype in QUESTION_TYPES}

LETTERS = "ABCD"
COUNT_OPTIONS = (1, 2, 3, 4)
COUNT_WORDS = {1: "One image.", 2: "Two images.", 3: "Three images.", 4: "Four images."}
WHITE: RGB = (230, 230, 230)
RING_RED: RGB = (230, 40, 40)


@dataclass(frozen=True)
class SanityItem:
    """One generated item: the Med-MIM JSON record, its question type and what its images show."""

    raw: dict[str, Any]
    question_type: QuestionType
    pictures: tuple[Picture, ...]


# ---------------------------------------------------------------- where the set lives


def sanity_dir(environ: Mapping[str, str] | None = None) -> Path:
    """Folder of the generated set: MEDMIM_SANITY_DIR or ~/.cache/medmim/sanity."""
    return setting(SANITY_DIR_VARIABLE, environ)


def images_dir(root: Path) -> Path:
    return root / SANITY_DATASET.folder


def question_type_of(source: str) -> QuestionType:
    """The question type named by a sanity item's `source` (MEDMIM_SANITY_<type>)."""
    prefix = SANITY_DATASET.source_prefix
    name = source[len(prefix) :] if source.startswith(prefix) else None
    if name not in QUESTION_TYPES_BY_NAME:
        known = ", ".join(prefix + qtype.name for qtype in QUESTION_TYPES)
        raise ValueError(f"source {source!r} names no sanity question type; known sources: {known}")
    return QUESTION_TYPES_BY_NAME[name]


# ---------------------------------------------------------------- the items


def _rng(item_id: str) -> random.Random:
    digest = hashlib.sha256(f"medmim-sanity:{GENERATOR_VERSION}:{item_id}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "little"))


def _background(rng: random.Random) -> RGB:
    level = rng.randint(15, 45)
    return (level, level, level)


def _free_centre(rng: random.Random, radius: int) -> tuple[int, int]:
    margin = radius + 6
    return rng.randint(margin, IMAGE_SIDE - margin), rng.randint(margin, IMAGE_SIDE - margin)


def _circle_pictures(rng: random.Random, paths: list[str], target: int) -> list[Picture]:
    """One image with a white disc, the others with a white square of the same area."""
    pictures = []
    for position, path in enumerate(paths):
        radius = rng.randint(22, 34)
        if position == target:
            shape = Shape("circle", _free_centre(rng, radius), (radius, radius), WHITE)
        else:
            half = round(radius * math.sqrt(math.pi) / 2)
            shape = Shape("square", _free_centre(rng, half), (half, half), WHITE)
        pictures.append(Picture(path, _background(rng), (shape,)))
    return pictures


def _lesion_pictures(rng: random.Random, paths: list[str], target: int) -> list[Picture]:
    """An organ with one bright lesion ringed in red; the target's lesion is about twice as wide."""
    small = rng.sample(range(10, 19), len(paths))
    pictures = []
    for position, path in enumerate(paths):
        radius = rng.randint(30, 36) if position == target else small[position]
        organ = Shape("ellipse", (112, 112), (rng.randint(82, 95), rng.randint(68, 82)), (100, 100, 100))
        centre = (112 + rng.randint(-18, 18), 112 + rng.randint(-14, 14))
        lesion = Shape("circle", centre, (radius, radius), (215, 215, 215))
        ring = Shape("ring", centre, (radius + 8, radius + 8), RING_RED, width=3)
        pictures.append(Picture(path, _background(rng), (organ, lesion, ring)))
    return pictures


def _brightness_pictures(rng: random.Random, paths: list[str], second_brighter: bool) -> list[Picture]:
    """Uniform fields; images 1 and 2 differ by 60-90 grey levels, image 3 (if any) is random."""
    dark = rng.randint(30, 130)
    light = dark + rng.randint(60, 90)
    levels = [dark, light] if second_brighter else [light, dark]
    levels += [rng.randint(30, 220) for _ in paths[2:]]
    pictures = []
    for path, level in zip(paths, levels):
        organ = Shape("ellipse", (112, 112), (80, 66), (level + 20,) * 3)
        pictures.append(Picture(path, (level, level, level), (organ,)))
    return pictures


def _count_pictures(rng: random.Random, paths: list[str]) -> list[Picture]:
    """Any content: one random figure per image."""
    pictures = []
    for path in paths:
        radius = rng.randint(20, 40)
        colour = (rng.randint(120, 255), rng.randint(120, 255), rng.randint(120, 255))
        kind = rng.choice(("circle", "square", "triangle"))
        pictures.append(Picture(path, _background(rng), (Shape(kind, _free_centre(rng, radius), (radius, radius), colour),)))
    return pictures


def _mc_user_turn(n_images: int, question: str, options: list[str]) -> str:
    lines = "".join(f"{letter}: {text}\n" for letter, text in zip(LETTERS, options))
    return IMAGE_PLACEHOLDER * n_images + question + "\n" + lines


def _position_options(n_images: int) -> list[str]:
    return [f"Image {n}" for n in range(1, n_images + 1)]


def _rotated_counts(gold_count: int, gold_letter: int) -> list[int]:
    """1-4 in cyclic order, rotated so that `gold_count` stands at letter index `gold_letter`."""
    start = COUNT_OPTIONS.index(gold_count) - gold_letter
    return [COUNT_OPTIONS[(start + offset) % len(COUNT_OPTIONS)] for offset in range(len(COUNT_OPTIONS))]


def make_item(qtype: QuestionType, number: int) -> SanityItem:
    """Item `number` of a question type (the balance rules below need ITEMS_PER_TYPE % 24 == 0)."""
    n_images = 2 + number % 2  # alternate 2 and 3 images
    cycle = number // 2  # index among the items with this many images
    item_id = f"sanity-{qtype.name}-{number:03d}"
    paths = [f"{qtype.name}/{item_id}_{n}.png" for n in range(1, n_images + 1)]
    rng = _rng(item_id)
    options: list[str] | None = None
    if qtype.probe == WHICH_IMAGE:
        target = cycle % n_images  # every position equally often
        draw = _circle_pictures if qtype.subject == "circle" else _lesion_pictures
        pictures = draw(rng, paths, target)
        if qtype.kind == MULTIPLE_CHOICE:
            options = _position_options(n_images)
            gold = f"{LETTERS[target]}: {options[target]}"
        else:
            gold = f"Image {target + 1}."
    elif qtype.probe == IMAGE_ORDER:
        second_brighter = cycle % 2 == 0
        yes_letter = (cycle // 2) % 2  # Yes/No order alternates: gold letter A and B equally often
        options = ["Yes", "No"] if yes_letter == 0 else ["No", "Yes"]
        gold_text = "Yes" if second_brighter else "No"
        gold = f"{LETTERS[options.index(gold_text)]}: {gold_text}"
        pictures = _brightness_pictures(rng, paths, second_brighter)
    elif qtype.probe == IMAGE_COUNT:
        pictures = _count_pictures(rng, paths)
        if qtype.kind == MULTIPLE_CHOICE:
            gold_letter = cycle % len(LETTERS)
            counts = _rotated_counts(n_images, gold_letter)
            options = [str(count) for count in counts]
            gold = f"{LETTERS[gold_letter]}: {n_images}"
        else:
            gold = COUNT_WORDS[n_images]
    else:  # pragma: no cover - QUESTION_TYPES only holds the probes above
        raise ValueError(f"unknown probe {qtype.probe!r}")
    user = _mc_user_turn(n_images, qtype.question, options) if options else IMAGE_PLACEHOLDER * n_images + qtype.question
    raw = {
        "id": item_id,
        "images": paths,
        "conversation": [{"role": "user", "content": user}, {"role": "assistant", "content": gold}],
        "source": SANITY_DATASET.source_prefix + qtype.name,
    }
    return SanityItem(raw, qtype, tuple(pictures))


def sanity_items(items_per_type: int = ITEMS_PER_TYPE) -> list[SanityItem]:
    """Every item, question types interleaved (a `--limit` of 6k sees k items of each type)."""
    if items_per_type <= 0 or items_per_type % 24:
        raise ValueError(f"items_per_type must be a positive multiple of 24 (balance), got {items_per_type}")
    return [make_item(qtype, number) for number in range(items_per_type) for qtype in QUESTION_TYPES]


def chance_candidates(doc: Mapping[str, Any]) -> list[str]:
    """The replies a uniform guesser chooses among: the option letters, or the type's open answers."""
    if doc["kind"] == MULTIPLE_CHOICE:
        return [option["letter"] for option in doc["options"]]
    qtype = question_type_of(doc["source"])
    if qtype.probe == WHICH_IMAGE:
        return [f"Image {n}." for n in range(1, int(doc["n_images"]) + 1)]
    if qtype.probe == IMAGE_COUNT:
        return [COUNT_WORDS[count] for count in COUNT_OPTIONS]
    raise ValueError(f"no open-ended answers defined for sanity question type {qtype.name}")


# ---------------------------------------------------------------- pictures on disk


def render(picture: Picture) -> Image.Image:
    """Draw a picture (no anti-aliasing: every pixel is a figure's or the background's colour)."""
    image = Image.new("RGB", (IMAGE_SIDE, IMAGE_SIDE), picture.background)
    draw = ImageDraw.Draw(image)
    for shape in picture.shapes:
        (x, y), (rx, ry) = shape.centre, shape.radius
        box = (x - rx, y - ry, x + rx, y + ry)
        if shape.kind in ("circle", "ellipse"):
            draw.ellipse(box, fill=shape.colour)
        elif shape.kind == "square":
            draw.rectangle(box, fill=shape.colour)
        elif shape.kind == "triangle":
            draw.polygon([(x, y - ry), (x + rx, y + ry), (x - rx, y + ry)], fill=shape.colour)
        elif shape.kind == "ring":
            draw.ellipse(box, outline=shape.colour, width=shape.width)
        else:
            raise ValueError(f"{picture.relative}: unknown shape kind {shape.kind!r}")
    return image


def _save_png(picture: Picture, handle: BinaryIO) -> None:
    render(picture).save(handle, format="PNG")


def _write_atomically(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write through `atomic_file` (in a folder made if missing): concurrent builders never see half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as handle:
        write(handle)


def _items_json(items: list[SanityItem]) -> str:
    return json.dumps([item.raw for item in items], indent=1) + "\n"


def _marker(items: list[SanityItem], items_text: str) -> dict[str, Any]:
    return {
        "generator_version": GENERATOR_VERSION,
        "items": len(items),
        "images": sum(len(item.pictures) for item in items),
        "items_sha256": hashlib.sha256(items_text.encode()).hexdigest(),
    }


def ensure_sanity_set(root: Path | None = None, items_per_type: int = ITEMS_PER_TYPE) -> Path:
    """Write the items file and every image into `root` unless they are already there; returns it."""
    root = sanity_dir() if root is None else Path(root)
    items = sanity_items(items_per_type)
    items_text = _items_json(items)
    marker = _marker(items, items_text)
    marker_path = root / MARKER_FILE
    pictures = [picture for item in items for picture in item.pictures]
    image_root = images_dir(root)
    try:
        complete = json.loads(marker_path.read_text()) == marker and (root / ITEMS_FILE).is_file()
    except (OSError, ValueError):
        complete = False
    complete = complete and all((image_root / picture.relative).is_file() for picture in pictures)
    if complete:
        return root
    for picture in pictures:
        _write_atomically(image_root / picture.relative, functools.partial(_save_png, picture))
    _write_atomically(root / ITEMS_FILE, lambda handle: handle.write(items_text.encode("utf-8")))
    _write_atomically(marker_path, lambda handle: handle.write((json.dumps(marker, indent=1) + "\n").encode("utf-8")))
    return root


def build_sanity_docs(environ: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """The sanity task's documents, in the same format as the real splits' (`item_doc`)."""
    root = ensure_sanity_set(sanity_dir(environ))
    items_path = root / ITEMS_FILE
    try:
        raw_items = json.loads(items_path.read_text())
    except (OSError, ValueError) as error:
        raise ValueError(f"{items_path}: cannot read the sanity items ({error}); delete {root} to regenerate it") from error
    items = parse_items(raw_items, str(items_path), datasets=(SANITY_DATASET,))
    image_root = images_dir(root)
    docs = []
    missing = []
    for item in items:
        question_type_of(item.source)  # every source names a known type
        paths = [image_root / relative for relative in item.images]
        missing += [path for path in paths if not path.is_file()]
        docs.append(item_doc(SANITY_TASK, item, [str(path) for path in paths], f"SANITY:{item.id}"))
    if missing:
        shown = "\n  ".join(str(path) for path in missing[:5])
        raise MissingImagesError(
            f"task {SANITY_TASK}: {len(missing)} generated images are missing, e.g.\n  {shown}\n"
            f"Fix: delete {root} (or point {SANITY_DIR_VARIABLE} at an empty folder) to regenerate the set."
        )
    for doc in docs:  # as the real splits' documents carry them (every item is evaluated here)
        doc["items_total"] = len(items)
        doc["items_evaluated"] = len(docs)
    return docs
