"""What the canvas shows when pixels are unavailable or not 8-bit: the frame of a missing or
undecodable image (so its shapes are seen in context) and the file's own value of a 16-bit pixel
in the status bar (the stretched display value only when the source was too big to keep)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage
from PySide6.QtCore import QPoint
from PySide6.QtWidgets import QApplication

from annotations.geometry import Box
from annotations.model import Annotation, Category, Image
from annotations.store import Project
from app import image_loading, style
from app.image_loading import decode_image
from tests.app.gui_helpers import view_point

OUT = Path(__file__).resolve().parents[2] / "screenshots"


@pytest.fixture
def fallback_window(qtbot, tmp_path: Path):
    """A window on three images: missing.png (file absent, a box on it), broken.png (garbage
    bytes) and sixteen.png (16-bit gray, values 1000 + 7 * column)."""
    from app.main_window import MainWindow

    (tmp_path / "broken.png").write_bytes(b"this is not a png at all" * 10)
    ramp = (1000 + 7 * np.tile(np.arange(160, dtype=np.uint16), (120, 1))).astype(np.uint16)
    PILImage.fromarray(ramp).save(tmp_path / "sixteen.png")
    project = Project.create(tmp_path / "fallback.segproj", [Category(1, "cell", "#e6194b")])
    images = project.add_images(
        [Image(0, "missing.png", 400, 300), Image(0, "broken.png", 200, 150), Image(0, "sixteen.png", 160, 120)]
    )
    project.add_annotations([Annotation(0, images[0].id, 1, Box(40, 40, 140, 120))])
    win = MainWindow(project, owns_project=True)
    qtbot.addWidget(win)
    win.resize(1200, 800)
    win.show()
    qtbot.waitExposed(win)
    win.canvas.shape_layer.synchronous = True
    win.images = images  # type: ignore[attr-defined]
    yield win
    if win.isVisible():
        win.close()


def _canvas_pixel(window, x: float, y: float):
    """The colour drawn on screen at image point (x, y)."""
    for _ in range(3):
        QApplication.processEvents()
    window.canvas.flush_rendering()
    grabbed = window.canvas.viewport().grab().toImage()
    point = view_point(window, x, y)
    ratio = grabbed.devicePixelRatio()
    return grabbed.pixelColor(int(point.x() * ratio), int(point.y() * ratio))


def test_a_missing_image_shows_its_frame_with_a_caption(qtbot, fallback_window) -> None:
    window = fallback_window
    window.open_image(window.images[0].id)
    window.binding.wait_until_loaded(5)
    window.canvas.fit()
    assert window.binding.failed_image_id == window.images[0].id
    assert window.canvas.image_layer.placeholder == "file not found: missing.png"
    background = style.CANVAS_BACKGROUND
    inside = _canvas_pixel(window, 380, 20)  # inside the frame, away from the box and caption
    viewport = window.canvas.viewport().rect()
    corner = window.canvas.mapToScene(viewport.bottomRight() - viewport.topLeft() - QPoint(3, 3))
    assert corner.x() > 400 or corner.y() > 300  # the view's corner lies beyond the frame
    outside = _canvas_pixel(window, corner.x(), corner.y())
    assert outside.rgb() == background.rgb()
    assert inside.rgb() != background.rgb(), "the image's frame is not drawn"
    OUT.mkdir(exist_ok=True)
    shot = OUT / "missing_image_frame.png"
    assert window.grab().save(str(shot), "PNG")

    window.open_image(window.images[1].id)
    window.binding.wait_until_loaded(5)
    assert window.canvas.image_layer.placeholder == "cannot decode: broken.png"
    window.open_image(window.images[2].id)
    assert window.binding.wait_until_loaded(5)
    assert window.canvas.image_layer.placeholder is None


def test_status_bar_shows_the_16bit_source_value(qtbot, fallback_window) -> None:
    window = fallback_window
    window.open_image(window.images[2].id)
    assert window.binding.wait_until_loaded(5)
    window.canvas.fit()
    qtbot.mouseMove(window.canvas.viewport(), view_point(window, 100.5, 50.5))
    assert window.status_cursor.text() == f"x 100, y 50 · {1000 + 7 * 100}"


def test_16bit_source_values_and_the_size_limit(tmp_path: Path, monkeypatch) -> None:
    gray = (1000 + 7 * np.tile(np.arange(60, dtype=np.uint16), (40, 1))).astype(np.uint16)
    PILImage.fromarray(gray).save(tmp_path / "g.png")
    rgb16 = np.zeros((20, 30, 3), np.uint16)
    rgb16[..., 2] = 60000  # B,G,R on disk for OpenCV: red
    rgb16[..., 1] = 123
    import cv2

    cv2.imwrite(str(tmp_path / "c.png"), rgb16)
    assert decode_image(tmp_path / "g.png").value_text(3, 10) == "1070"
    assert decode_image(tmp_path / "c.png").value_text(5, 5) == "RGB 60000,123,0"
    floats = np.full((8, 8), 0.25, np.float32)
    cv2.imwrite(str(tmp_path / "f.tiff"), floats)
    assert decode_image(tmp_path / "f.tiff").value_text(1, 1) == "0.25"

    monkeypatch.setattr(image_loading, "SOURCE_KEEP_MAX_BYTES", 100)  # the source is too big to keep
    display = decode_image(tmp_path / "g.png")
    assert display.source is None
    assert display.value_text(3, 10) == f"display value {int(display.pixels[3, 10])}"

    eight = tmp_path / "e.png"
    PILImage.fromarray(np.full((5, 5), 77, np.uint8)).save(eight)
    display = decode_image(eight)
    assert display.source is None and display.value_text(2, 2) == "77"  # 8-bit: the display value is the file's
