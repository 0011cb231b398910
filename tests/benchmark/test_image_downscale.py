"""The fast image path and `max_image_side`: off = the plain pixels, on = smaller, same picture.

Also the task-building fast path (`ImageLocator.resolve_str`), which must give the strings the
Path route gives. Speed itself is measured by `utils/bench_overhead.py`, never here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageOps
from PIL.JpegImagePlugin import JpegImageFile

from medmim_tasks.benchmark.image_paths import ImageLocator
from medmim_tasks.benchmark.images import (
    REDUCING_GAP,
    RESAMPLING,
    checked_max_image_side,
    fitted_size,
    load_image,
)
from medmim_tasks.benchmark.items import load_split
from medmim_tasks.benchmark.sources import SOURCE_DATASETS_BY_NAME
from medmim_tasks.benchmark.splits import SPLITS
from medmim_tasks.task.documents import build_docs
from medmim_tasks.task.hooks import doc_to_visual

REPO_ROOT = Path(__file__).resolve().parents[2]


def plain_rgb(path: Path) -> np.ndarray:
    """The reference decode, written the slow, obvious way (64-bit integer stretch, convert)."""
    image = Image.open(path)
    image.load()
    image = ImageOps.exif_transpose(image)
    if image.mode in {"I;16", "I;16L", "I;16B", "I;16N", "I"}:
        pixels = np.asarray(image).astype(np.int64)
        low, high = int(pixels.min()), int(pixels.max())
        span = high - low
        if span == 0:  # one value: the gray it stands for on the 16-bit scale
            scaled = np.full(pixels.shape, (min(max(low, 0), 65535) * 255 + 32767) // 65535, np.int64)
        else:
            scaled = ((pixels - low) * 255 + span // 2) // span
        image = Image.fromarray(scaled.astype(np.uint8))
    if image.mode == "P" and "transparency" in image.info:
        image = image.convert("RGBA")
    return np.asarray(image.convert("RGB"))


def mammogram(path: Path, size: tuple[int, int] = (300, 400), seed: int = 0) -> Path:
    """A 16-bit PNG with 12-bit values: a smooth blob plus noise, values 200..4000."""
    width, height = size
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width]
    blob = np.exp(-(((x - width / 2) / (0.3 * width)) ** 2 + ((y - height / 3) / (0.3 * height)) ** 2))
    values = 200 + 3700 * blob + rng.normal(0, 40, size=(height, width))
    Image.fromarray(np.clip(values, 200, 4000).astype(np.uint16)).save(path)
    return path


def picture(path: Path, size: tuple[int, int], mode: str, seed: int = 0, **save: object) -> Path:
    rng = np.random.default_rng(seed)
    width, height = size
    rgb = rng.integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    Image.fromarray(rgb).convert(mode).save(path, **save)
    return path


@pytest.fixture
def images(tmp_path: Path) -> dict[str, Path]:
    palette = Image.new("P", (30, 20), 1)
    palette.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    palette.save(tmp_path / "palette.png", transparency=0)
    exif = Image.Exif()
    exif[0x0112] = 6  # shown rotated 90 degrees clockwise
    return {
        "mammogram": mammogram(tmp_path / "mammo.png"),
        "flat16": _saved(Image.fromarray(np.full((9, 7), 1234, np.uint16)), tmp_path / "flat.png"),
        "gray_png": picture(tmp_path / "gray.png", (64, 48), "L"),
        "rgb_png": picture(tmp_path / "rgb.png", (50, 70), "RGB"),
        "rgba_png": picture(tmp_path / "rgba.png", (40, 30), "RGBA"),
        "fundus_jpg": picture(tmp_path / "fundus.jpg", (400, 300), "RGB", quality=90),
        "gray_jpg": picture(tmp_path / "gray.jpg", (128, 128), "L"),
        "cmyk_jpg": picture(tmp_path / "cmyk.jpg", (60, 40), "CMYK"),
        "rotated_jpg": picture(tmp_path / "rotated.jpg", (400, 200), "RGB", exif=exif.tobytes()),
        "palette": tmp_path / "palette.png",
    }


def _saved(image: Image.Image, path: Path) -> Path:
    image.save(path)
    return path


# ---------------------------------------------------------------- off (the default)


@pytest.mark.parametrize(
    "name", ["mammogram", "flat16", "gray_png", "rgb_png", "rgba_png", "fundus_jpg", "gray_jpg", "cmyk_jpg", "rotated_jpg", "palette"]
)
def test_off_gives_the_plain_pixels(images: dict[str, Path], name: str) -> None:
    expected = plain_rgb(images[name])
    for image in (load_image(images[name]), load_image(images[name], None)):
        assert image.mode == "RGB"
        assert np.array_equal(np.asarray(image), expected)


def test_16_bit_lookup_matches_the_integer_formula_for_any_range(tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    for trial in range(40):
        low = int(rng.integers(0, 65000))
        high = int(rng.integers(low + 1, 65536))
        values = rng.integers(low, high + 1, size=(13, 17), dtype=np.uint16)
        values[0, 0], values[-1, -1] = low, high
        path = _saved(Image.fromarray(values), tmp_path / f"{trial}.png")
        assert np.array_equal(np.asarray(load_image(path)), plain_rgb(path)), (low, high)


def test_big_endian_16_bit_is_stretched_too() -> None:
    from medmim_tasks.benchmark.images import to_rgb

    values = np.array([[100, 200], [300, 400]], dtype=">u2")
    image = Image.frombytes("I;16B", (2, 2), values.tobytes())
    assert np.asarray(to_rgb(image))[..., 0].tolist() == [[0, 85], [170, 255]]


def test_16_bit_png_is_decoded_into_numpy_without_a_copy(images: dict[str, Path]) -> None:
    # the stretch reads the decoder's own array (a 24 MB copy less per mammogram)
    from medmim_tasks.benchmark.images import _DECODED_INTO, _load_16_bit_into_numpy, _pixels

    image = Image.open(images["mammogram"])
    _load_16_bit_into_numpy(image)
    assert hasattr(image, _DECODED_INTO), "Pillow no longer decodes into a preset image memory"
    pixels = _pixels(image)
    assert pixels is getattr(image, _DECODED_INTO)[1]
    assert np.array_equal(pixels, np.asarray(image))


def test_rotated_16_bit_png_is_stretched_after_the_rotation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    values = np.linspace(200, 4000, 40 * 30).reshape(30, 40).astype(np.uint16)
    path = tmp_path / "rotated16.png"
    Image.fromarray(values).save(path, exif=exif.tobytes())
    image = load_image(path)
    assert image.size == (30, 40)
    assert np.array_equal(np.asarray(image), plain_rgb(path))


def test_the_yaml_default_is_off_in_every_model_block() -> None:
    import yaml

    text = (REPO_ROOT / "yaml_tasks" / "_default_template_yaml").read_text().replace("!function", "")
    blocks = yaml.safe_load(text)["lmms_eval_specific_kwargs"]
    assert blocks and all(block["max_image_side"] is None for block in blocks.values())


# ---------------------------------------------------------------- on


@pytest.mark.parametrize("limit", [1, 37, 100, 256, 399])
@pytest.mark.parametrize("name", ["mammogram", "gray_png", "rgb_png", "rgba_png", "fundus_jpg", "gray_jpg", "cmyk_jpg", "palette"])
def test_on_fits_the_longest_side_and_keeps_the_aspect(images: dict[str, Path], name: str, limit: int) -> None:
    full = load_image(images[name])
    small = load_image(images[name], limit)
    assert small.mode == "RGB"
    width, height = full.size
    if max(width, height) <= limit:
        assert np.array_equal(np.asarray(small), np.asarray(full))
        return
    assert max(small.size) == limit
    assert small.size == fitted_size(full.size, limit)
    # the aspect ratio is kept up to the rounding of the short side
    short = min(small.size)
    assert abs(short - min(width, height) * limit / max(width, height)) <= 0.5 + 1e-9


def test_fitted_size() -> None:
    assert fitted_size((4000, 3000), 1024) == (1024, 768)
    assert fitted_size((3000, 4000), 1024) == (768, 1024)
    assert fitted_size((1000, 1), 10) == (10, 1)
    assert fitted_size((300, 200), 300) == (300, 200)
    assert fitted_size((300, 200), 1000) == (300, 200)


def test_16_bit_stretch_is_right_after_downscaling(images: dict[str, Path]) -> None:
    path = images["mammogram"]
    small = load_image(path, 100)
    # stretch first (over the full picture's range), then the same resampling as any RGB image
    full = Image.fromarray(plain_rgb(path))
    expected = full.resize(fitted_size(full.size, 100), RESAMPLING, reducing_gap=REDUCING_GAP)
    assert np.array_equal(np.asarray(small), np.asarray(expected))
    pixels = np.asarray(small)[..., 0]
    assert (pixels == 255).mean() < 0.05  # not the white of a clipped convert("RGB")
    assert pixels.max() - pixels.min() > 150  # the contrast of the 12-bit range survives
    assert np.array_equal(np.asarray(small)[..., 0], np.asarray(small)[..., 2])  # gray stays gray


def test_grayscale_shrinks_like_its_rgb_copy(images: dict[str, Path]) -> None:
    # grayscale is resampled before the band is copied: the same pixels as resampling the RGB copy
    full = Image.fromarray(plain_rgb(images["gray_png"]))
    expected = full.resize(fitted_size(full.size, 20), RESAMPLING, reducing_gap=REDUCING_GAP)
    assert np.array_equal(np.asarray(load_image(images["gray_png"], 20)), np.asarray(expected))


def test_jpeg_is_shrunk_while_decoding(images: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    requested: list[tuple[int, int]] = []
    original = JpegImageFile.draft

    def recording_draft(self: JpegImageFile, mode: str | None, size: tuple[int, int] | None) -> object:
        requested.append(size)  # type: ignore[arg-type]
        return original(self, mode, size)

    monkeypatch.setattr(JpegImageFile, "draft", recording_draft)
    small = load_image(images["fundus_jpg"], 90)  # 400 x 300: decoded at 1/4 (100 x 75), then 90 x 68
    assert requested == [(90, 68)]
    assert small.size == (90, 68)
    load_image(images["fundus_jpg"])
    load_image(images["fundus_jpg"], 400)
    assert requested == [(90, 68)]  # off, or nothing to shrink: full decode


def test_exif_rotation_and_downscaling(images: dict[str, Path]) -> None:
    assert load_image(images["rotated_jpg"]).size == (200, 400)
    assert load_image(images["rotated_jpg"], 200).size == (100, 200)
    assert load_image(images["rotated_jpg"], 150).size == (75, 150)


@pytest.mark.parametrize("value", [0, -5, 1.5, "1024", True, [512]])
def test_bad_settings_are_refused_with_the_fix(images: dict[str, Path], value: object) -> None:
    with pytest.raises(ValueError, match="max_image_side must be a whole number of pixels.*null"):
        load_image(images["gray_png"], value)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="max_image_side"):
        checked_max_image_side(value)


def test_doc_to_visual_passes_the_task_setting(images: dict[str, Path]) -> None:
    doc = {"image_paths": [str(images["mammogram"]), str(images["fundus_jpg"])]}
    assert [image.size for image in doc_to_visual(doc, {"max_image_side": None})] == [(300, 400), (400, 300)]
    assert [image.size for image in doc_to_visual(doc, {"max_image_side": 64})] == [(48, 64), (64, 48)]
    assert [image.size for image in doc_to_visual(doc, None)] == [(300, 400), (400, 300)]


# ---------------------------------------------------------------- task building fast path


@pytest.mark.parametrize(
    "relative",
    ["a/b.png", "c.png", "./a/b.png", "a//b.png", "a/./b.png", "a/b.png/", "a/../c.png", "missing.png", ".", "a/.", ".hidden/x.png"],
)
@pytest.mark.parametrize("root_form", ["absolute", "trailing_slash", "relative", "dot"])
def test_resolve_str_is_str_of_resolve(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, relative: str, root_form: str) -> None:
    root = tmp_path / "ODIR"
    for name in ["a/b.png", "c.png", ".hidden/x.png"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).touch()
    monkeypatch.chdir(root if root_form == "dot" else tmp_path)
    value = {"absolute": str(root), "trailing_slash": f"{root}/", "relative": "ODIR", "dot": "."}[root_form]
    locator = ImageLocator({"MEDMIM_ODIR_ROOT": value})
    odir = SOURCE_DATASETS_BY_NAME["ODIR"]
    found = locator.resolve(odir, relative)
    assert locator.resolve_str(odir, relative) == (None if found is None else str(found))


def test_absolute_reference_takes_the_path_route(tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.png"
    outside.touch()
    locator = ImageLocator({"MEDMIM_ODIR_ROOT": str(tmp_path / "ODIR")})
    odir = SOURCE_DATASETS_BY_NAME["ODIR"]
    assert locator.resolve_str(odir, str(outside)) == str(locator.resolve(odir, str(outside))) == str(outside)


def test_mimic_cxr_jpg_fallback_through_resolve_str(tmp_path: Path) -> None:
    ms_cxr_t = SOURCE_DATASETS_BY_NAME["MS-CXR-T"]
    relative = "p10/p10000032/s50414267/02aa804e.png"
    jpg = tmp_path / "files" / "p10/p10000032/s50414267/02aa804e.jpg"
    jpg.parent.mkdir(parents=True)
    jpg.touch()
    locator = ImageLocator({"MEDMIM_MS_CXR_T_ROOT": str(tmp_path)})
    assert locator.resolve_str(ms_cxr_t, relative) == str(jpg)


def test_build_docs_paths_are_the_path_route_strings(medmim_env: dict[str, str]) -> None:
    locator = ImageLocator(medmim_env)
    for split in SPLITS:
        items = load_split(split, medmim_env)
        docs = build_docs(split.task, medmim_env)
        assert len(docs) == len(items)
        for doc in docs:  # in representative order; `index` is the item's place in the file
            item = items[doc["index"]]
            assert doc["image_paths"] == [str(locator.resolve(item.dataset, relative)) for relative in item.images]


def test_parse_options_is_the_option_line_regex(benchmark_dir: Path) -> None:
    from medmim_tasks.benchmark.items import OPTION_LINE, parse_options, read_split_file

    tricky = [
        "A: x\nB: y",
        "xA: b\nC: d",
        "A:\nB:  \t\nC: e \t",
        "A: a\r\nB: b \r",
        "a\nA: B: c\n",
        "\nG:z",
        "H: no\nA: yes",
        "A:: two colons",
        "",
        "A",
        "A:",
        " A: indented",
        "B:\tTabbed\t \n",
    ]
    questions = tricky + [
        raw["conversation"][0]["content"]
        for split in SPLITS
        for raw in read_split_file(split, {"MEDMIM_BENCHMARK_DIR": str(benchmark_dir)})
    ]
    for question in questions:
        assert parse_options(question) == tuple(OPTION_LINE.findall(question)), question


def test_each_missing_reference_is_still_counted(medmim_env: dict[str, str], tmp_path: Path) -> None:
    # RAD reuses images across items: each reference to a missing file counts, as before the
    # one-stat-per-distinct-image cache
    from medmim_tasks.benchmark.image_paths import MissingImagesError

    rad = next(split for split in SPLITS if split.task == "med_mim_held_out_rad")
    items = load_split(rad, medmim_env)
    references = [relative for item in items for relative in item.images]
    assert len(set(references)) < len(references)
    (tmp_path / "VQA-RAD").mkdir()
    environ = {**medmim_env, "MEDMIM_VQA_RAD_ROOT": str(tmp_path / "VQA-RAD")}
    with pytest.raises(MissingImagesError, match=f"{len(references)} of {len(references)} image references are missing"):
        build_docs(rad.task, environ)


def test_lmms_eval_hands_the_yaml_setting_to_doc_to_visual(medmim_env: dict[str, str]) -> None:
    # the YAML key reaches load_image through lmms-eval's own doc_to_visual call (as in a run)
    from lmms_eval.tasks import TaskManager

    from medmim_tasks.task.task_path import tasks_path

    manager = TaskManager(include_path=str(tasks_path()), include_defaults=False, model_name="qwen2_5_vl")
    task = manager.load_task_or_group(["med_mim_held_out_odir"])["med_mim_held_out_odir"]
    doc = task.test_docs()[0]
    assert task.lmms_eval_specific_kwargs["max_image_side"] is None
    full = task.doc_to_visual(doc)
    task.lmms_eval_specific_kwargs["max_image_side"] = 16  # what `max_image_side: 16` in the YAML gives
    small = task.doc_to_visual(doc)
    assert [max(image.size) for image in small] == [min(16, max(image.size)) for image in full]
    assert max(max(image.size) for image in full) > 16


def test_max_image_side_from_the_environment_wins_over_the_yaml() -> None:
    from medmim_tasks.benchmark.images import max_image_side_setting

    assert max_image_side_setting({"max_image_side": 512}, {}) == 512
    assert max_image_side_setting({"max_image_side": None}, {}) is None
    assert max_image_side_setting(None, {}) is None
    assert max_image_side_setting({"max_image_side": 512}, {"MEDMIM_MAX_IMAGE_SIDE": "1024"}) == 1024
    assert max_image_side_setting({"max_image_side": 512}, {"MEDMIM_MAX_IMAGE_SIDE": "off"}) is None
    for bad in ("0", "-3", "12.5", "big"):
        with pytest.raises(ValueError, match="MEDMIM_MAX_IMAGE_SIDE"):
            max_image_side_setting(None, {"MEDMIM_MAX_IMAGE_SIDE": bad})
