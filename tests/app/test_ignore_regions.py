"""Ignore regions (issue 11) are drawn hatched over their fill, so they never look like a
labelled object of their class."""

from __future__ import annotations

import numpy as np
from PySide6.QtGui import QColor, QImage, QPainter

from annotations.geometry import Box
from annotations.model import NO_CATEGORY, Annotation, AnnotationRole
from app.canvas.render_shapes import build_render_shape


def _render(annotation: Annotation) -> np.ndarray:
    image = QImage(60, 60, QImage.Format.Format_ARGB32)
    image.fill(QColor("#000000"))
    painter = QPainter(image)
    painter.setBrush(QColor(200, 0, 0, 120))
    build_render_shape(annotation, "#c80000").draw(painter)
    painter.end()
    pointer = image.constBits()
    return np.frombuffer(pointer, np.uint8, count=image.sizeInBytes()).reshape(60, 60, 4).copy()


def test_an_ignore_region_is_hatched_and_an_object_is_not(qtbot) -> None:
    box = Box(10, 10, 50, 50)
    plain = _render(Annotation(1, 1, 1, box))
    ignore = _render(Annotation(2, 1, NO_CATEGORY, box, role=AnnotationRole.IGNORE))
    inside_plain, inside_ignore = plain[15:45, 15:45, :3], ignore[15:45, 15:45, :3]
    assert len(np.unique(inside_plain.reshape(-1, 3), axis=0)) == 1  # one flat fill
    assert len(np.unique(inside_ignore.reshape(-1, 3), axis=0)) > 1  # fill + hatch lines
    assert build_render_shape(Annotation(2, 1, NO_CATEGORY, box, role=AnnotationRole.IGNORE), "#808080").ignore


def test_the_shapes_list_names_an_ignore_region(window) -> None:
    from annotations.geometry import Polygon
    from annotations.model import AddAnnotation

    image = window.current_image()
    region = Polygon.from_points([[120, 20], [190, 20], [190, 90], [120, 90]])
    done = window.execute(AddAnnotation(Annotation(0, image.id, NO_CATEGORY, region, role=AnnotationRole.IGNORE)))
    model = window.annotations_panel.table.model()
    texts = [(model.index(row, 0).data(), model.index(row, 1).data()) for row in range(model.rowCount())]
    assert (f"polygon #{done.annotation.id} ignore", "— (void)") in texts
    assert window.binding.render[done.annotation.id].ignore
