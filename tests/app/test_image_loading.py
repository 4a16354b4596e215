"""Decoding for display: 16-bit, grayscale, RGBA, float, EXIF orientation; the pyramid; large
images decoded in the background while the window stays usable."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image as PILImage
from PIL import ImageOps

from annotations.geometry import Box
from annotations.model import AddAnnotation, Annotation, Category, Image
from annotations.store import Project
from app.image_loading import ImageLoadError, Pyramid, decode_image, decode_preview, thumbnail, to_uint8


def test_16bit_grayscale_is_stretched_to_8bit(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    data = (rng.normal(3000, 200, size=(120, 160)).clip(0, 65535)).astype(np.uint16)  # a dim 12-bit signal
    path = tmp_path / "dim16.png"
    PILImage.fromarray(data).save(path)
    display = decode_image(path)
    assert display.source_dtype == "uint16" and display.is_gray
    assert display.pixels.dtype == np.uint8 and display.pixels.shape == (120, 160)
    assert display.pixels.min() == 0 and display.pixels.max() == 255
    # Monotone: brighter input stays brighter.
    order = np.argsort(data.ravel())
    assert np.all(np.diff(display.pixels.ravel()[order].astype(int)) >= 0)


def test_16bit_colour_and_float_images(tmp_path: Path) -> None:
    rgb16 = np.zeros((40, 50, 3), np.uint16)
    rgb16[..., 2] = 60000  # BGR order for OpenCV: red
    rgb16[:20] = 1000
    path = tmp_path / "rgb16.png"
    cv2.imwrite(str(path), rgb16)
    display = decode_image(path)
    assert display.pixels.shape == (40, 50, 4) and display.source_dtype == "uint16"
    b, g, r, a = display.pixels[30, 10]
    assert r == 255 and g == 0 and b == 0 and a == 255
    assert to_uint8(np.array([[np.nan, 0.5], [1.0, 2.0]], np.float32)).dtype == np.uint8


def test_rgba_and_palette_images_show_their_colours(tmp_path: Path) -> None:
    rgba = np.zeros((10, 12, 4), np.uint8)
    rgba[..., 0] = 255  # red, fully transparent: alpha is ignored for display
    path = tmp_path / "rgba.png"
    PILImage.fromarray(rgba, "RGBA").save(path)
    pixel = decode_image(path).pixels[5, 5]
    assert tuple(int(v) for v in pixel) == (0, 0, 255, 255)
    palette = PILImage.new("P", (8, 8))
    palette.putpalette([0, 0, 0, 0, 255, 0] + [0] * 762)
    palette.putpixel((3, 3), 1)
    ppath = tmp_path / "palette.png"
    palette.save(ppath)
    decoded = decode_image(ppath).pixels
    assert decoded.ndim in (2, 3)
    if decoded.ndim == 3:
        assert tuple(int(v) for v in decoded[3, 3][:3]) == (0, 255, 0)


@pytest.mark.parametrize("orientation", [1, 3, 6, 8])
def test_exif_orientation_is_applied(tmp_path: Path, orientation: int) -> None:
    base = np.zeros((60, 100, 3), np.uint8)
    base[5:25, 5:25] = (255, 0, 0)  # a red block near the stored top-left corner
    exif = PILImage.Exif()
    exif[0x0112] = orientation
    path = tmp_path / f"o{orientation}.jpg"
    PILImage.fromarray(base).save(path, exif=exif, quality=95)
    expected = np.asarray(ImageOps.exif_transpose(PILImage.open(path)).convert("RGB"))
    display = decode_image(path)
    assert display.orientation == orientation
    assert display.size_hw == expected.shape[:2]
    red = display.pixels[..., 2].astype(int)
    assert np.abs(red - expected[..., 0].astype(int)).max() < 40
    preview = decode_preview(path)
    assert preview is not None and preview.size_hw == ((expected.shape[0] + 7) // 8, (expected.shape[1] + 7) // 8)
    small = thumbnail(path, 32)
    assert max(small.shape[:2]) <= 32
    assert (small.shape[0] > small.shape[1]) == (expected.shape[0] > expected.shape[1])


def test_unreadable_file_names_itself(tmp_path: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageLoadError, match="broken.png"):
        decode_image(bad)
    with pytest.raises(ImageLoadError, match="missing.png"):
        decode_image(tmp_path / "missing.png")


def test_pyramid_levels() -> None:
    pixels = np.zeros((3000, 5000, 4), np.uint8)
    pyramid = Pyramid(pixels)
    assert pyramid.level_count == 5  # 5000 -> 2500 -> 1250 -> 625 -> 313
    assert pyramid.level_for_scale(1.0) == 0 and pyramid.level_for_scale(4.0) == 0
    assert pyramid.level_for_scale(0.5) == 1 and pyramid.level_for_scale(0.3) == 1
    assert pyramid.level_for_scale(0.01) == 4
    assert not pyramid.is_built(2)
    assert pyramid.level(2).shape == (750, 1250, 4)
    assert pyramid.is_built(1) and pyramid.is_built(2)


def test_large_image_decodes_in_the_background(qtbot, tmp_path: Path) -> None:
    """A 4,800 x 3,200 image (above the synchronous limit) opens at once: shapes are shown and
    editable while its pixels decode in a worker thread."""
    from app.main_window import MainWindow

    rng = np.random.default_rng(1)
    pixels = cv2.resize(rng.integers(0, 255, (64, 96, 3), dtype=np.uint8), (4800, 3200), interpolation=cv2.INTER_LINEAR)
    path = tmp_path / "large.jpg"
    cv2.imwrite(str(path), pixels, [cv2.IMWRITE_JPEG_QUALITY, 85])
    project = Project.create(tmp_path / "large.segproj", [Category(1, "object", "#e6194b")])
    image = project.add_images([Image(0, str(path), 4800, 3200)])[0]
    project.add_annotations([Annotation(0, image.id, 1, Box(100, 100, 900, 700))])
    window = MainWindow(project, owns_project=True)
    qtbot.addWidget(window)
    window.show()
    window.open_image(image.id)  # (already current; opened again: returns before decoding)
    assert window.binding.loaded_image_id is None  # still decoding
    assert len(window.canvas_shape(1).bounds) == 4  # shapes are there already
    window.execute(AddAnnotation(Annotation(0, image.id, 1, Box(1000, 1000, 1200, 1100))))  # and editable
    qtbot.waitUntil(lambda: window.binding.loaded_image_id == image.id, timeout=30000)
    assert window.binding.preview_shown  # a 1/8 JPEG preview was on screen before the full decode
    assert window.binding.pyramid is not None and window.binding.pyramid.level_count == 5
    assert window.binding.display.size_hw == (3200, 4800)
    window.close()


def test_undecodable_image_still_shows_shapes(qtbot, tmp_path: Path) -> None:
    from app.main_window import MainWindow

    bad = tmp_path / "bad.png"
    bad.write_bytes(b"garbage")
    project = Project.create(tmp_path / "bad.segproj", [Category(1, "object", "#e6194b")])
    image = project.add_images([Image(0, str(bad), 200, 100)])[0]
    project.add_annotations([Annotation(0, image.id, 1, Box(10, 10, 50, 50))])
    window = MainWindow(project, owns_project=True)
    qtbot.addWidget(window)
    window.show()
    assert window.current_image() is not None  # the first image opens in the first event-loop turn, or now
    assert "bad.png" in window.statusBar().currentMessage()
    assert "cannot decode" in window.status_image.text()
    assert window.canvas_shape(1) is not None
    window.close()


def test_exif_rotated_photo_is_shown_upright_in_the_window(qtbot, tmp_path: Path) -> None:
    """The project records the size as displayed (cli new: EXIF applied); the canvas shows the
    decoded pixels at exactly that size, so shapes line up with what the annotator sees."""
    from annotations.store.image_files import read_image_info
    from app.main_window import MainWindow

    stored = np.zeros((60, 100, 3), np.uint8)
    stored[:10, :10] = (255, 255, 255)  # white block at the stored top-left
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    path = tmp_path / "rotated.jpg"
    PILImage.fromarray(stored).save(path, exif=exif, quality=95)
    info = read_image_info(path)
    assert (info.width, info.height) == (60, 100)
    project = Project.create(tmp_path / "exif.segproj", [Category(1, "object", "#e6194b")])
    project.add_images([Image(0, str(path), info.width, info.height)])
    window = MainWindow(project, owns_project=True)
    qtbot.addWidget(window)
    window.show()
    assert window.current_image() is not None
    assert window.binding.display.size_hw == (100, 60)
    assert window.binding.display.pixels[2, 55, 0] > 200  # the block is now top-right
    assert "Warning" not in window.statusBar().currentMessage()
    window.close()
