"""Shared checks for the model-family matrix (issue 10): what a wrapper hands its model, per document.

`assert_delivery` checks one document's delivery: the images (count, pixels against their files
by a downscaled fingerprint, order, exact PIL type where a wrapper needs it) and the prompt text
(one image token per image, no literal `<image>` where the model's token differs, every "Image n:"
label right before its own image or no label at all).

`family_benchmark` (a pytest fixture) writes a small benchmark: the six real split files cut down
to a few chosen items each (multiple choice and open, ODIR JPEGs, 16-bit EMBED mammograms,
three-image items), the synthetic image tree for them, and the environment pointing at both.
The files live in pytest's temp dir only; nothing of the real benchmark is copied into the repo.
"""

from __future__ import annotations

import base64
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from synthetic_images import write_tree_for_benchmark

from medmim_tasks.benchmark.images import load_image
from medmim_tasks.benchmark.items import MULTIPLE_CHOICE, OPEN_ENDED, read_split_file
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.task.documents import build_docs

FINGERPRINT_SIDE = 8
# Mean absolute difference (0-255) allowed between a delivered image's fingerprint and its file's:
# room for JPEG re-encoding by API wrappers and for resizing, far below the gap between two files.
FINGERPRINT_TOLERANCE = 6.0
DEFAULT_LABEL_FORMAT = "Image {n}:"
GENERIC_IMAGE_TOKEN = "<image>"

ImageLike = Image.Image | np.ndarray


def fingerprint(image: ImageLike) -> np.ndarray:
    """An 8x8 grayscale mean (float, 0-255) of an image or an HxW(xC) uint8 array."""
    if isinstance(image, np.ndarray):
        array = image
        if array.ndim == 3 and array.shape[0] in (1, 3) and array.shape[-1] not in (1, 3):
            array = np.moveaxis(array, 0, -1)  # CHW -> HWC
        image = Image.fromarray(np.ascontiguousarray(array.squeeze()).astype(np.uint8))
    gray = image.convert("RGB").convert("L")
    return np.asarray(gray.resize((FINGERPRINT_SIDE, FINGERPRINT_SIDE), Image.Resampling.BOX), dtype=np.float64)


def file_fingerprint(path: str | Path) -> np.ndarray:
    """The fingerprint of a file after the same decode doc_to_visual does."""
    return fingerprint(load_image(path))


def decode_data_url(url: str) -> Image.Image:
    """The image inside a `data:image/...;base64,` URL or a bare base64 string (API wrappers)."""
    payload = url.split(",", 1)[1] if url.startswith("data:") else url
    return Image.open(io.BytesIO(base64.b64decode(payload)))


def _label_pattern(label_format: str) -> re.Pattern[str]:
    head, _, tail = label_format.partition("{n}")
    return re.compile(re.escape(head) + r"(\d+)" + re.escape(tail))


def assert_images_match(doc: Mapping[str, Any], images: Sequence[ImageLike], tolerance: float = FINGERPRINT_TOLERANCE, require_pil: bool = False) -> None:
    """Exactly the document's images, each closest to its own file, in the document's order."""
    key = doc["doc_key"]
    assert len(images) == int(doc["n_images"]), f"{key}: {len(images)} images delivered for an item with {doc['n_images']}"
    expected = [file_fingerprint(path) for path in doc["image_paths"]]
    for number, image in enumerate(images, start=1):
        if require_pil:
            assert type(image) is Image.Image, f"{key}: image {number} is a {type(image).__module__}.{type(image).__name__}, the wrapper needs exactly PIL.Image.Image"
            assert image.mode == "RGB", f"{key}: image {number} has mode {image.mode}, expected RGB"
        got = fingerprint(image)
        distances = [float(np.abs(got - other).mean()) for other in expected]
        own = distances[number - 1]
        assert own <= tolerance, f"{key}: image {number} differs from {doc['image_paths'][number - 1]} by {own:.1f} (tolerance {tolerance})"
        assert own <= min(distances), f"{key}: image {number} looks more like another image of the item (distances {distances}): order broken"


def assert_prompt(doc: Mapping[str, Any], prompt_text: str, image_token: str, label_format: str = DEFAULT_LABEL_FORMAT) -> None:
    """One image token per image, no stray `<image>`, and each label right before its own image (or none)."""
    key = doc["doc_key"]
    assert isinstance(prompt_text, str), f"{key}: the prompt is a {type(prompt_text).__name__}, not text"
    n_images = int(doc["n_images"])
    count = prompt_text.count(image_token)
    assert count == n_images, f"{key}: {count} x {image_token!r} in the prompt for {n_images} images:\n{prompt_text}"
    if image_token != GENERIC_IMAGE_TOKEN:
        assert GENERIC_IMAGE_TOKEN not in prompt_text, f"{key}: literal {GENERIC_IMAGE_TOKEN} left in a prompt whose image token is {image_token!r}:\n{prompt_text}"
    labels = list(_label_pattern(label_format).finditer(prompt_text))
    if not labels:
        return
    numbers = [int(match.group(1)) for match in labels]
    assert numbers == list(range(1, n_images + 1)), f"{key}: labels {numbers} for {n_images} images (each once, in order, or none):\n{prompt_text}"
    for match in labels:
        number = int(match.group(1))
        rest = prompt_text[match.end() :]
        assert rest.lstrip().startswith(image_token), f"{key}: label {match.group(0)!r} is not followed by an image:\n{prompt_text}"
        tokens_before = prompt_text[: match.end()].count(image_token)
        assert tokens_before == number - 1, f"{key}: label {match.group(0)!r} sits before image {tokens_before + 1}:\n{prompt_text}"


def assert_delivery(
    doc: Mapping[str, Any],
    images: Sequence[ImageLike],
    prompt_text: str | None,
    image_token: str,
    label_format: str = DEFAULT_LABEL_FORMAT,
    require_pil: bool = False,
    tolerance: float = FINGERPRINT_TOLERANCE,
) -> None:
    """Everything issue 10 asks of one document's delivery; prompt_text None skips the text checks."""
    assert_images_match(doc, images, tolerance, require_pil)
    if prompt_text is not None:
        assert_prompt(doc, prompt_text, image_token, label_format)


def openai_prompt_text(messages: Iterable[Mapping[str, Any]], marker: str = GENERIC_IMAGE_TOKEN) -> tuple[str, list[Image.Image]]:
    """An OpenAI-format request's user text with `marker` where each image_url part stands, and the images."""
    pieces: list[str] = []
    images: list[Image.Image] = []
    for message in messages:
        content = message.get("content")
        if isinstance(content, str):
            pieces.append(content)
            continue
        for part in content or []:
            if part.get("type") == "text":
                pieces.append(part["text"])
            elif part.get("type") == "image_url":
                url = part["image_url"]["url"] if isinstance(part["image_url"], dict) else part["image_url"]
                images.append(decode_data_url(url))
                pieces.append(marker)
    return "\n".join(pieces), images


# ---------------------------------------------------------------- the matrix's small document set


@dataclass(frozen=True)
class FamilyBenchmark:
    """A cut-down benchmark on synthetic images: where it is, its environment and its documents."""

    benchmark_dir: Path
    image_root: Path
    environ: dict[str, str]
    docs: dict[str, list[dict[str, Any]]]  # task -> documents, in build_docs order (representative, not file order)

    def all_docs(self) -> list[dict[str, Any]]:
        return [doc for docs in self.docs.values() for doc in docs]

    def doc(self, doc_key: str) -> dict[str, Any]:
        return next(doc for doc in self.all_docs() if doc["doc_key"] == doc_key)


def chosen_indices(raw_items: Sequence[Mapping[str, Any]], kinds: Mapping[int, str]) -> list[int]:
    """Per split: the first multiple-choice item, the first open item, the first three-image item."""
    chosen: list[int] = []
    for wanted in (MULTIPLE_CHOICE, OPEN_ENDED):
        index = next((i for i in range(len(raw_items)) if kinds[i] == wanted), None)
        if index is not None and index not in chosen:
            chosen.append(index)
    three = next((i for i, raw in enumerate(raw_items) if len(raw["images"]) == 3), None)
    if three is not None and three not in chosen:
        chosen.append(three)
    return sorted(chosen)


def write_family_benchmark(real_dir: Path, target: Path) -> FamilyBenchmark:
    """Write the cut-down split files and their synthetic images under `target`."""
    from medmim_tasks.benchmark.items import load_split

    real_environ = {"MEDMIM_BENCHMARK_DIR": str(real_dir)}
    benchmark = target / "benchmark"
    benchmark.mkdir(parents=True, exist_ok=True)
    for split in SPLITS:
        raw = read_split_file(split, real_environ)
        kinds = {item.index: item.kind for item in load_split(split, real_environ)}  # type: ignore[arg-type]
        picked = chosen_indices(raw, kinds)
        (benchmark / split.file_name).write_text(json.dumps([raw[i] for i in picked]))
    image_root = target / "images"
    write_tree_for_benchmark(image_root, benchmark)
    # cut-down split files differ from the pinned upstream ones: allowed, and recorded per document
    # MEDMIM_PREFETCH_BYTES=0: the recorder learns which document is served from the images opened just
    # before each model call, so images are opened on demand here (prefetching: tests/task/test_prefetch*.py)
    environ = {"MEDMIM_BENCHMARK_DIR": str(benchmark), "MEDMIM_IMAGE_ROOT": str(image_root), "MEDMIM_ALLOW_MODIFIED_BENCHMARK": "1", "MEDMIM_PREFETCH_BYTES": "0"}
    docs = {split.task: build_docs(split.task, environ) for split in SPLITS}
    return FamilyBenchmark(benchmark, image_root, environ, docs)


@pytest.fixture(scope="session")
def family_benchmark(benchmark_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> FamilyBenchmark:
    """The matrix's documents: every task, both kinds, ODIR JPEGs, 16-bit EMBED, three-image items."""
    return write_family_benchmark(benchmark_dir, tmp_path_factory.mktemp("family-benchmark"))


@pytest.fixture
def family_env(family_benchmark: FamilyBenchmark, monkeypatch: pytest.MonkeyPatch) -> FamilyBenchmark:
    """family_benchmark with this process's environment pointing at it (other Med-MIM variables unset)."""
    for name in ("MEDMIM_EMBED_ROOT", "MEDMIM_LUMIERE_ROOT", "MEDMIM_MS_CXR_T_ROOT", "MEDMIM_ODIR_ROOT", "MEDMIM_VQA_RAD_ROOT", "MEDMIM_ON_MISSING", "MEDMIM_PROMPT_VARIANT", "MEDMIM_MAX_IMAGE_SIDE", "MEDMIM_JUDGE_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in family_benchmark.environ.items():
        monkeypatch.setenv(name, value)
    return family_benchmark


# ---------------------------------------------------------------- running a wrapper and recording what it delivers

TASKS = tuple(split.task for split in SPLITS)


@dataclass
class Delivery:
    """What one model call received: the images, the prompt text, and the document whose images
    doc_to_visual opened last before the call (the document lmms-eval was serving)."""

    doc: dict[str, Any]
    images: list[Any]
    text: str | None


@dataclass
class DeliveryRecorder:
    """Records which document's images were opened (by patching medmim_tasks.task.hooks.load_image)
    and what each model call received (`record`, called by a test's recording stand-in or proxy)."""

    bench: FamilyBenchmark
    opened: list[str] = field(default_factory=list)
    deliveries: list[Delivery] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> DeliveryRecorder:
        from medmim_tasks.task import hooks as lmms_hooks

        original = lmms_hooks.load_image

        def recording_load_image(path: str | Path, max_image_side: int | None = None) -> Image.Image:
            self.opened.append(str(path))
            return original(path, max_image_side)

        monkeypatch.setattr(lmms_hooks, "load_image", recording_load_image)
        return self

    def current_doc(self, text: str | None = None) -> dict[str, Any]:
        """The document whose image paths were the last ones opened; where several documents share
        those images (a multiple-choice and an open item on the same pair), the one whose question
        is in `text`, else the first not yet served."""
        candidates = [doc for doc in self.bench.all_docs() if self.opened[-len(doc["image_paths"]) :] == list(doc["image_paths"])]
        if not candidates:
            raise AssertionError(f"the last images opened ({self.opened[-3:]}) are no document's")
        if len(candidates) > 1 and text is not None:
            candidates = [doc for doc in candidates if doc["question"].strip()[:60] in text] or candidates
        served = {delivery.doc["doc_key"] for delivery in self.deliveries}
        return next((doc for doc in candidates if doc["doc_key"] not in served), candidates[0])

    def record(self, images: Sequence[Any], text: str | None) -> None:
        self.deliveries.append(Delivery(self.current_doc(text), list(images), text))

    def record_by_content(self, images: Sequence[Any], text: str) -> None:
        """For calls made away from the document's own turn (threads, servers): the document is
        the one whose question is in `text`; among several, the unserved one whose files look
        most like `images` (assert_delivery still checks every image against that document)."""
        candidates = [doc for doc in self.bench.all_docs() if doc["question"].strip()[:60] in text]
        assert candidates, f"no document's question is in the request:\n{text}"
        served = {delivery.doc["doc_key"] for delivery in self.deliveries}
        candidates = [doc for doc in candidates if doc["doc_key"] not in served] or candidates

        def distance(doc: dict[str, Any]) -> float:
            if len(doc["image_paths"]) != len(images):
                return float("inf")
            return sum(float(np.abs(fingerprint(image) - file_fingerprint(path)).mean()) for image, path in zip(images, doc["image_paths"]))

        self.deliveries.append(Delivery(min(candidates, key=distance), list(images), text))

    def assert_every_doc_delivered(self, image_token: str, label_format: str = DEFAULT_LABEL_FORMAT, require_pil: bool = False, tolerance: float = FINGERPRINT_TOLERANCE) -> None:
        """Each document served exactly once, each call checked with assert_delivery."""
        keys = [delivery.doc["doc_key"] for delivery in self.deliveries]
        expected = sorted(doc["doc_key"] for doc in self.bench.all_docs())
        assert sorted(keys) == expected, f"documents served {sorted(keys)}, expected each of {expected} once"
        for delivery in self.deliveries:
            assert_delivery(delivery.doc, delivery.images, delivery.text, image_token, label_format, require_pil, tolerance)


class RecordingProcessor:
    """Wraps a wrapper's real processor: records the images and text of every call, then delegates."""

    def __init__(self, inner: Any, recorder: DeliveryRecorder) -> None:
        self._inner = inner
        self._recorder = recorder

    def __call__(self, *args: Any, images: Any = None, text: Any = None, **kwargs: Any) -> Any:
        assert not args, "the matrix's wrappers call their processor with keywords"
        prompt = text if isinstance(text, str) else text[0]
        self._recorder.record(list(images or []), prompt)
        return self._inner(images=images, text=text, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def run_in_process(lm: Any, model_name: str, tasks: Sequence[str] = TASKS, gen_kwargs: str | None = "max_new_tokens=4") -> dict[str, Any]:
    """lmms-eval's own evaluation (simple_evaluate) of the Med-MIM tasks with a constructed wrapper,
    its YAML block chosen by `model_name`; returns the results after checking every task scored.
    `gen_kwargs` (lmms-eval's --gen_kwargs) keeps tiny random models from generating 256 tokens."""
    from lmms_eval.evaluator import simple_evaluate
    from lmms_eval.tasks import TaskManager

    from medmim_tasks.task.task_path import tasks_path

    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False, model_name=model_name)
    results = simple_evaluate(model=lm, tasks=list(tasks), task_manager=manager, log_samples=True, bootstrap_iters=0, verbosity="WARNING", gen_kwargs=gen_kwargs)
    assert results is not None, "simple_evaluate returned nothing"
    for task in tasks:
        assert task in results["results"], f"{task} missing from the results"
        assert results["n-samples"][task]["effective"] >= 1, f"{task} scored no document"
    return results
