"""Brush and eraser. The brush paints into a shape only when that is explicitly intended: one
selected mask of the current class (as CVAT's brush edits the mask it was opened on); anything
else — nothing selected, a polygon or box, a shape of another class, several shapes — starts a
new mask of the current class. Esc ends the stroke, then deselects. The eraser removes pixels
from the selected shape, or from the shape under the pointer. One stroke = one undo step. The
size (diameter, image pixels) is ``window.brush_size``; ``[`` and ``]`` change it."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QPainter, QPainterPath, QPen

from annotations.geometry import Mask
from annotations.model import DeleteAnnotation, UpdateAnnotation
from app import editing, style
from app.tools.base import Tool, ToolEvent


class BrushTool(Tool):
    cursor = Qt.CursorShape.BlankCursor

    def __init__(self, *, erase: bool = False) -> None:
        super().__init__()
        self.erase = erase
        self.title = "Eraser" if erase else "Brush"
        self.hint = (
            "Drag to erase from the selected shape (or the one under the pointer) · [ ] size"
            if erase
            else "Drag to paint a new mask of the current class (or into the selected mask of that class)"
            " · Esc deselects · [ ] size"
        )
        self.points: list[tuple[float, float]] = []
        self._target: int | None = None
        self._cursor: tuple[float, float] | None = None

    def reset(self) -> None:
        self.points = []
        self._target = None
        self.update_preview()

    @property
    def radius(self) -> float:
        """Brush radius in image pixels."""
        assert self.window is not None
        return max(0.5, self.window.brush_size / 2.0)

    def mouse_press(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or self.window is None or self.window.current_image() is None:
            return False
        session = self.window.session
        self._target = session.selection[-1] if len(session.selection) == 1 else None
        if not self.erase and self._target is not None and not self._paints_into(self._target):
            self._target = None
        if self._target is None and self.erase:
            shape = self.window.canvas.shape_layer.shape_at(event.x, event.y)
            if shape is not None and shape.annotation_id not in session.hidden:
                self._target = shape.annotation_id
        if self._target is None and self.erase:
            self.window.show_message("Eraser: select a shape (or start on one)")
            return True
        self.points = [(event.x, event.y)]
        self.update_preview()
        return True

    def _paints_into(self, annotation_id: int) -> bool:
        """True when the brush adds to shape ``annotation_id``: a mask of the current class."""
        assert self.window is not None
        session = self.window.session
        annotation = session.annotations.get(annotation_id)
        return (
            annotation is not None
            and isinstance(annotation.geometry, Mask)
            and annotation.category_id == session.current_category_id
        )

    def key_press(self, event: QKeyEvent) -> bool:
        """Esc abandons the stroke in progress, else clears the selection (so the next stroke
        starts a new shape)."""
        if event.key() != Qt.Key.Key_Escape or self.window is None:
            return False
        if self.points:
            self.reset()
        else:
            self.window.session.set_selection(())
        return True

    def mouse_move(self, event: ToolEvent) -> bool:
        if self.window is None:
            return False
        self._cursor = (event.x, event.y)
        if self.points and event.buttons & Qt.MouseButton.LeftButton:
            lx, ly = self.points[-1]
            if (lx - event.x) ** 2 + (ly - event.y) ** 2 >= (0.25 * self.radius) ** 2:
                self.points.append((event.x, event.y))
        self.update_preview()
        return bool(self.points)

    def mouse_release(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or not self.points or self.window is None:
            return False
        points = np.asarray(self.points + [(event.x, event.y)], dtype=np.float64)
        target, self._target = self._target, None
        self.points = []
        self.update_preview()
        image = self.window.current_image()
        if image is None:
            return True
        session = self.window.session
        current = session.annotations.get(target) if target is not None else None
        geometry = editing.apply_stroke(
            current.geometry if current else None, points, self.radius, image.size_hw, erase=self.erase
        )
        if current is None:
            if geometry is not None:
                self.window.create_annotation(geometry, "Paint mask")
        elif geometry is None:
            self.window.apply_edit(DeleteAnnotation(current.id))
        elif geometry != current.geometry:
            self.window.apply_edit(UpdateAnnotation(current.id, {"geometry": geometry}, "Erase" if self.erase else "Paint"))
            session.set_selection((current.id,))
        return True

    def paint(self, painter: QPainter, pixel_size: float) -> None:
        if self.window is None:
            return
        radius = self.radius
        color = QColor("#ffffff") if self.erase else style.qcolor(self.window.current_category_color())
        if self.points:
            path = QPainterPath(QPointF(*self.points[0]))
            for x, y in self.points[1:]:
                path.lineTo(x, y)
            stroke = QColor(color)
            stroke.setAlpha(110)
            pen = QPen(stroke, 2 * radius)
            pen.setCapStyle(Qt.PenCapStyle.RoundCap)
            pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
            painter.setPen(pen)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            if len(self.points) == 1:
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(QBrush(stroke))
                painter.drawEllipse(QPointF(*self.points[0]), radius, radius)
            else:
                painter.drawPath(path)
        if self._cursor is not None:
            outline = QPen(QColor("#000000"), 2.5)
            outline.setCosmetic(True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(outline)
            painter.drawEllipse(QPointF(*self._cursor), radius, radius)
            inner = QPen(color, 1.2)
            inner.setCosmetic(True)
            if self.erase:
                inner.setStyle(Qt.PenStyle.DashLine)
            painter.setPen(inner)
            painter.drawEllipse(QPointF(*self._cursor), radius, radius)
