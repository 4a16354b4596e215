"""Helpers for GUI tests: a project of real microscopy images with shapes of every kind, and
real mouse events on the canvas in image coordinates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtWidgets import QApplication

from annotations.geometry import Box, Polygon, PolygonPart, rle
from annotations.model import Annotation, Category, Image
from annotations.store import Project

DSB = "dsb2018_nuclei40/stage1_train"
COLOR_IMAGE = "0d3640c1f1b80f24e94cc9a5f3e1d9e8db7bf6af7d4aba920265f46cadc25e37"
"""A 320 x 256 colour (H&E-like) image."""
GRAY_IMAGES = (
    "094afe36759e7daffe12188ab5987581d405b06720f1d5acf3f2614f404df380",
    "0bf4b144167694b6846d584cf52c458f34f28fcae75328a2a096c8214e01c0d0",
)
CATEGORIES = (
    Category(1, "nucleus", "#e6194b"),
    Category(2, "debris", "#3cb44b"),
    Category(3, "cluster", "#4363d8"),
    Category(4, "artefact", "#f58231"),
)


def dsb_image(shared_data: Path, image_id: str) -> Path:
    return shared_data / DSB / image_id / "images" / f"{image_id}.png"


def nucleus_masks(shared_data: Path, image_id: str, count: int) -> list[np.ndarray]:
    """The first ``count`` real nucleus masks (bool (H, W)) of a DSB image."""
    folder = shared_data / DSB / image_id / "masks"
    return [np.asarray(PILImage.open(f)) > 0 for f in sorted(folder.glob("*.png"))[:count]]


def build_project(folder: Path, shared_data: Path) -> Path:
    """A project with the colour image first (box, polygon with a hole, two-part polygon, two
    real nucleus masks, a crowd mask) and two gray images (empty). Returns the file path."""
    path = folder / "gui.segproj"
    project = Project.create(path, CATEGORIES)
    try:
        files = [dsb_image(shared_data, COLOR_IMAGE), *(dsb_image(shared_data, i) for i in GRAY_IMAGES)]
        images = project.add_images(
            [Image(0, str(f), *PILImage.open(f).size) for f in files]
        )
        color = images[0]
        masks = nucleus_masks(shared_data, COLOR_IMAGE, 3)
        hole = np.array([[215, 40], [245, 40], [245, 70], [215, 70]], float)
        project.add_annotations(
            [
                Annotation(0, color.id, 1, Box(12, 150, 70, 200)),
                Annotation(0, color.id, 2, Polygon.from_points([[200, 20], [290, 25], [280, 95], [205, 90]], [hole])),
                Annotation(
                    0, color.id, 4,
                    Polygon((PolygonPart(np.array([[90, 200], [130, 200], [110, 240]], float)),
                             PolygonPart(np.array([[140, 205], [175, 205], [160, 240]], float)))),
                ),
                Annotation(0, color.id, 1, rle.encode(masks[0])),
                Annotation(0, color.id, 3, rle.encode(masks[1] | masks[2]), iscrowd=True),
            ]
        )
    finally:
        project.close()
    return path


def view_point(window, x: float, y: float) -> QPoint:
    """Viewport position of image point (x, y)."""
    return window.canvas.mapFromScene(QPointF(x, y))


def click(qtbot, window, x: float, y: float, button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    qtbot.mouseClick(window.canvas.viewport(), button, modifier, view_point(window, x, y))


def drag(
    qtbot, window, points: list[tuple[float, float]], button=Qt.MouseButton.LeftButton, modifier=Qt.KeyboardModifier.NoModifier
) -> None:
    """Press at the first point, move through the others, release at the last."""
    viewport = window.canvas.viewport()
    qtbot.mousePress(viewport, button, modifier, view_point(window, *points[0]))
    for x, y in points[1:]:
        qtbot.mouseMove(viewport, view_point(window, x, y))
    qtbot.mouseRelease(viewport, button, modifier, view_point(window, *points[-1]))


def key(qtbot, window, key_or_text, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    """A key press on the canvas (window shortcuts see it as a user would)."""
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, key_or_text, modifier)


def settle() -> None:
    for _ in range(3):
        QApplication.processEvents()
