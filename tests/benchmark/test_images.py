"""Images reach models as 8-bit RGB with the right orientation and contrast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medmim_tasks.benchmark.images import load_image, to_rgb


def save(image: Image.Image, path: Path, **kwargs: object) -> Path:
    image.save(path, **kwargs)
    return path


def test_16_bit_png_is_stretched_by_its_real_range_not_clipped(tmp_path: Path) -> None:
    # a 12-bit mammogram: values 200..4000 in a 16-bit PNG
    values = np.linspace(200, 4000, 64 * 32).reshape(32, 64).astype(np.uint16)
    path = save(Image.fromarray(values), tmp_path / "mammo.png")
    assert Image.open(path).mode.startswith("I")
    image = load_image(path)
    pixels = np.asarray(image)
    assert image.mode == "RGB" and image.size == (64, 32)
    assert pixels.min() == 0 and pixels.max() == 255
    assert (pixels[..., 0] == 255).mean() < 0.01  # a plain convert("RGB") makes almost all of it white
    assert np.all(np.diff(pixels[..., 0].ravel().astype(int)) >= 0)  # order kept
    plain = np.asarray(Image.open(path).convert("RGB"))
    assert (plain == 255).mean() > 0.9


@pytest.mark.parametrize(("value", "gray"), [(0, 0), (1234, 5), (32768, 128), (65535, 255)])
def test_constant_16_bit_image_is_the_gray_its_value_stands_for(tmp_path: Path, value: int, gray: int) -> None:
    """All one value: round(value * 255 / 65535), not black whatever the value (issue 18, item 12)."""
    path = save(Image.fromarray(np.full((8, 8), value, dtype=np.uint16)), tmp_path / "flat.png")
    assert np.unique(np.asarray(load_image(path))).tolist() == [gray]


def test_constant_32_bit_and_float_images() -> None:
    ints = Image.fromarray(np.full((3, 3), 70000, dtype=np.int32))  # beyond 16 bits: white
    assert np.unique(np.asarray(to_rgb(ints))).tolist() == [255]
    assert np.unique(np.asarray(to_rgb(Image.fromarray(np.full((3, 3), -5, dtype=np.int32))))).tolist() == [0]
    floats = Image.fromarray(np.full((3, 3), 0.5, dtype=np.float32))  # floats on the 0-1 scale
    assert np.unique(np.asarray(to_rgb(floats))).tolist() == [128]


def test_8_bit_grayscale_keeps_its_values(tmp_path: Path) -> None:
    gray = np.arange(256, dtype=np.uint8).reshape(16, 16)
    path = save(Image.fromarray(gray), tmp_path / "gray.png")
    assert np.array_equal(np.asarray(load_image(path))[..., 1], gray)


def test_float_and_32_bit_images_are_stretched() -> None:
    floats = Image.fromarray(np.array([[0.5, 1.5], [2.5, 3.5]], dtype=np.float32))
    assert np.asarray(to_rgb(floats))[..., 0].tolist() == [[0, 85], [170, 255]]
    ints = Image.fromarray(np.array([[-10, 0], [10, 20]], dtype=np.int32))
    assert np.asarray(to_rgb(ints))[..., 0].tolist() == [[0, 85], [170, 255]]


def test_exif_orientation_is_applied(tmp_path: Path) -> None:
    image = Image.new("RGB", (40, 20), (10, 20, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise when shown
    path = save(image, tmp_path / "rotated.jpg", exif=exif.tobytes())
    assert Image.open(path).size == (40, 20)
    assert load_image(path).size == (20, 40)


@pytest.mark.parametrize("mode", ["P", "LA", "RGBA", "CMYK", "1", "L", "PA", "YCbCr", "I;16"])
def test_every_mode_ends_up_rgb(mode: str) -> None:
    image = Image.new("RGB", (6, 4), (200, 100, 50)).convert(mode) if mode not in {"PA", "I;16"} else Image.new(mode, (6, 4))
    assert to_rgb(image).mode == "RGB"


def test_palette_with_transparency(tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 1)
    image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
    path = save(image, tmp_path / "p.png", transparency=0)
    rgb = load_image(path)
    assert rgb.mode == "RGB" and rgb.getpixel((0, 0)) == (255, 0, 0)


def test_decoded_image_is_independent_of_the_file(tmp_path: Path) -> None:
    path = save(Image.new("RGB", (5, 5), (1, 2, 3)), tmp_path / "a.png")
    image = load_image(path)
    path.unlink()
    assert image.getpixel((2, 2)) == (1, 2, 3)


def test_truncated_image_names_the_file_and_the_fix(tmp_path: Path) -> None:
    """A cut-off file fails with its path and what to do, not a bare `Truncated File Read` (issue 18, item 10)."""
    from medmim_tasks.benchmark.images import ImageDecodeError

    whole = save(Image.fromarray(np.random.default_rng(0).integers(0, 65535, (64, 64), dtype=np.uint16)), tmp_path / "w.png")
    cut = tmp_path / "cut.png"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.raises(ImageDecodeError) as raised:
        load_image(cut)
    text = str(raised.value)
    assert str(cut) in text and "medmim check --decode" in text
    assert isinstance(raised.value, OSError)
    (tmp_path / "junk.jpg").write_bytes(b"not an image")
    with pytest.raises(ImageDecodeError, match="junk.jpg"):
        load_image(tmp_path / "junk.jpg")
    with pytest.raises(ValueError, match="max_image_side"):  # a bad setting is not reported as a bad file
        load_image(whole, 0)


def test_truncated_image_fails_even_where_lmms_eval_lets_pillow_load_truncated_files(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """lmms-eval sets ImageFile.LOAD_TRUNCATED_IMAGES = True at import: a cut-off file must still fail, not decode gray."""
    from PIL import ImageFile

    from medmim_tasks.benchmark.images import ImageDecodeError

    rng = np.random.default_rng(1)
    whole_png = save(Image.fromarray(rng.integers(0, 65535, (64, 64), dtype=np.uint16)), tmp_path / "w.png")
    whole_jpg = save(Image.fromarray(rng.integers(0, 255, (64, 64, 3), dtype=np.uint8)), tmp_path / "w.jpg")
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    for whole in (whole_png, whole_jpg):
        cut = tmp_path / f"cut{whole.suffix}"
        cut.write_bytes(whole.read_bytes()[: whole.stat().st_size * 2 // 3])
        with pytest.raises(ImageDecodeError, match=cut.name):
            load_image(cut)
        assert ImageFile.LOAD_TRUNCATED_IMAGES is True  # put back for lmms-eval's other tasks
        assert load_image(whole).size == (64, 64)


def test_doc_to_visual_names_the_document_of_a_bad_image(tmp_path: Path) -> None:
    from medmim_tasks.benchmark.images import ImageDecodeError
    from medmim_tasks.task.hooks import doc_to_visual

    good = save(Image.new("RGB", (4, 4)), tmp_path / "good.png")
    (tmp_path / "bad.png").write_bytes(good.read_bytes()[:40])
    doc = {"doc_key": "med_mim_held_out_rad:17", "image_paths": [str(good), str(tmp_path / "bad.png")]}
    with pytest.raises(ImageDecodeError) as raised:
        doc_to_visual(doc)
    text = str(raised.value)
    assert "med_mim_held_out_rad:17" in text and str(tmp_path / "bad.png") in text


def _file_of_every_format(tmp_path: Path) -> list[Path]:
    """One small file per source format and mode a benchmark image (or a user's) can have."""
    rgb = Image.fromarray(np.arange(24 * 16 * 3, dtype=np.uint8).reshape(16, 24, 3))
    gray = rgb.convert("L")
    exif = Image.Exif()
    exif[0x0112] = 6
    palette = rgb.convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    files = [
        save(rgb, tmp_path / "rgb.jpg"),
        save(rgb, tmp_path / "rotated.jpg", exif=exif.tobytes()),
        save(gray, tmp_path / "gray.jpg"),
        save(rgb.convert("CMYK"), tmp_path / "cmyk.jpg"),
        save(rgb, tmp_path / "rgb.png"),
        save(gray, tmp_path / "gray.png"),
        save(Image.fromarray((np.arange(24 * 16, dtype=np.uint16) * 100).reshape(16, 24)), tmp_path / "mammo16.png"),
        save(palette, tmp_path / "palette.png"),
        save(palette, tmp_path / "palette_transparent.png", transparency=0),
        save(rgb.convert("RGBA"), tmp_path / "rgba.png"),
        save(gray.convert("LA"), tmp_path / "la.png"),
        save(gray.convert("1"), tmp_path / "bilevel.png"),
        save(rgb, tmp_path / "rgb.tif"),
        save(rgb, tmp_path / "rgb.bmp"),
        save(palette, tmp_path / "palette.gif"),
        save(rgb, tmp_path / "rgb.webp"),
    ]
    return files


@pytest.mark.parametrize("max_image_side", [None, 1000, 8])
def test_every_format_arrives_as_a_plain_rgb_pil_image(tmp_path: Path, max_image_side: int | None) -> None:
    # LLaVA-NeXT wrappers (llava_onevision, longva, ...) take a visual as an image only if
    # `type(visual) is PIL.Image.Image`: a JpegImageFile would be dropped without a word.
    for path in _file_of_every_format(tmp_path):
        image = load_image(path, max_image_side)
        assert type(image) is Image.Image, f"{path.name}: {type(image).__name__}"
        assert image.mode == "RGB", path.name
        assert max(image.size) <= (max_image_side or 24), path.name


def test_plain_image_keeps_the_pixels_of_the_decoded_file(tmp_path: Path) -> None:
    path = _file_of_every_format(tmp_path)[0]
    assert type(Image.open(path)) is not Image.Image  # the decoder's subclass, as before the fix
    assert np.array_equal(np.asarray(load_image(path)), np.asarray(Image.open(path).convert("RGB")))


def test_doc_to_visual_hands_over_plain_images(tmp_path: Path) -> None:
    from medmim_tasks.task.hooks import doc_to_visual

    paths = [str(path) for path in _file_of_every_format(tmp_path)]
    images = doc_to_visual({"image_paths": paths})
    assert [type(image) for image in images] == [Image.Image] * len(paths)
