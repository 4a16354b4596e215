"""Drawing tools: box (drag), polygon (click vertices or drag freehand; Enter, double-click or
a click on the first vertex closes; Backspace or Ctrl+Z removes the last vertex; Esc cancels) and hole
(a polygon drawn inside a shape is cut out of it)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QKeyEvent, QKeySequence, QPainter, QPainterPath, QPen

from annotations.errors import GeometryError
from annotations.geometry import Box, Polygon, to_box
from annotations.model import UpdateAnnotation
from app import editing, style
from app.canvas.qt_numpy import qpolygonf
from app.tools.base import Tool, ToolEvent

CLOSE_DISTANCE_PX = 8.0
FREEHAND_SPACING_PX = 5.0
MIN_BOX_SCREEN_PX = 3.0
WHOLE_SHAPE_COVERED = "the hole covers the whole shape; nothing would be left"


def _pen(color: QColor, width: float = 1.5, dash: bool = False) -> QPen:
    pen = QPen(color, width)
    pen.setCosmetic(True)
    if dash:
        pen.setStyle(Qt.PenStyle.DashLine)
    return pen


class BoxTool(Tool):
    title = "Box"
    cursor = Qt.CursorShape.CrossCursor
    hint = "Drag a box · Esc cancels"

    def __init__(self) -> None:
        super().__init__()
        self._start: tuple[float, float] | None = None
        self._end = (0.0, 0.0)

    def reset(self) -> None:
        self._start = None
        self.update_preview()

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        assert self.window is not None
        h, w = self.window.canvas.image_size_hw
        return min(max(x, 0.0), float(w)), min(max(y, 0.0), float(h))

    def mouse_press(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or self.window is None or self.window.current_image() is None:
            return False
        self._start = self._clamp(event.x, event.y)
        self._end = self._start
        return True

    def mouse_move(self, event: ToolEvent) -> bool:
        if self._start is None:
            return False
        self._end = self._clamp(event.x, event.y)
        self.update_preview()
        return True

    def mouse_release(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or self._start is None or self.window is None:
            return False
        self._end = self._clamp(event.x, event.y)
        (x0, y0), (x1, y1) = self._start, self._end
        self._start = None
        self.update_preview()
        min_size = MIN_BOX_SCREEN_PX * event.pixel_size
        if abs(x1 - x0) < min_size or abs(y1 - y0) < min_size:
            return True
        self.window.create_annotation(Box.from_corners(x0, y0, x1, y1), "Add box")
        return True

    def claims_key(self, event: QKeyEvent) -> bool:
        return event.key() == Qt.Key.Key_Escape and self._start is not None

    def key_press(self, event: QKeyEvent) -> bool:
        if event.key() == Qt.Key.Key_Escape and self._start is not None:
            self.reset()
            return True
        return False

    def paint(self, painter: QPainter, pixel_size: float) -> None:
        if self._start is None or self.window is None:
            return
        color = style.qcolor(self.window.current_category_color())
        painter.setPen(_pen(color, 2.0))
        painter.setBrush(QBrush(style.qcolor(self.window.current_category_color(), style.FILL_ALPHA)))
        (x0, y0), (x1, y1) = self._start, self._end
        painter.drawRect(QRectF(QPointF(min(x0, x1), min(y0, y1)), QPointF(max(x0, x1), max(y0, y1))))


class PolygonTool(Tool):
    """Click vertices (or hold the button and drag for a freehand outline)."""

    title = "Polygon"
    cursor = Qt.CursorShape.CrossCursor
    hint = (
        "Click vertices (or drag) · Enter / double-click / click the first vertex closes"
        " · Backspace or Ctrl+Z undoes a vertex · Esc cancels"
    )

    def __init__(self, *, hole: bool = False) -> None:
        super().__init__()
        self.hole = hole
        if hole:
            self.title = "Hole"
            self.hint = "Draw a polygon inside a shape to cut a hole · Enter / double-click closes · Esc cancels"
        self.points: list[tuple[float, float]] = []
        self._cursor: tuple[float, float] | None = None
        self._dragging = False
        self._near_first = False

    def reset(self) -> None:
        self.points = []
        self._dragging = False
        self.update_preview()

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        assert self.window is not None
        h, w = self.window.canvas.image_size_hw
        return min(max(x, 0.0), float(w)), min(max(y, 0.0), float(h))

    def _is_near_first(self, event: ToolEvent) -> bool:
        if len(self.points) < 3:
            return False
        fx, fy = self.points[0]
        return (fx - event.x) ** 2 + (fy - event.y) ** 2 <= (CLOSE_DISTANCE_PX * event.pixel_size) ** 2

    def mouse_press(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or self.window is None or self.window.current_image() is None:
            return False
        if self._is_near_first(event):
            self.finish()
            return True
        self.points.append(self._clamp(event.x, event.y))
        self._dragging = True
        self.update_preview()
        return True

    def mouse_move(self, event: ToolEvent) -> bool:
        if self.window is None:
            return False
        self._cursor = self._clamp(event.x, event.y)
        self._near_first = self._is_near_first(event)
        if self._dragging and self.points and event.buttons & Qt.MouseButton.LeftButton:
            lx, ly = self.points[-1]
            if (lx - event.x) ** 2 + (ly - event.y) ** 2 >= (FREEHAND_SPACING_PX * event.pixel_size) ** 2:
                self.points.append(self._cursor)
        if self.points:
            self.update_preview()
        return bool(self.points)

    def mouse_release(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton:
            return False
        self._dragging = False
        return bool(self.points)

    def mouse_double_click(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or not self.points:
            return False
        self.finish()
        return True

    def claims_key(self, event: QKeyEvent) -> bool:
        # Ctrl+Z while drawing removes the last vertex (labelme habit) instead of dropping the
        # outline and undoing the previous edit.
        return bool(self.points) and (
            event.key() in (Qt.Key.Key_Backspace, Qt.Key.Key_Escape, Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Delete)
            or event.matches(QKeySequence.StandardKey.Undo)
        )

    def key_press(self, event: QKeyEvent) -> bool:
        if not self.points:
            return False
        key = event.key()
        if key in (Qt.Key.Key_Backspace, Qt.Key.Key_Delete) or event.matches(QKeySequence.StandardKey.Undo):
            self.points.pop()
            self.update_preview()
            return True
        if key == Qt.Key.Key_Escape:
            self.reset()
            return True
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.finish()
            return True
        return False

    def finish(self) -> None:
        """Close the outline: add a polygon, or cut a hole (hole mode)."""
        assert self.window is not None
        points = np.asarray(self.points, dtype=np.float64).reshape(-1, 2)
        self.reset()
        if len(points):
            keep = np.any(np.diff(points, axis=0, prepend=points[-1:] + 1e9) != 0, axis=1)
            points = points[keep]
        image = self.window.current_image()
        if image is None:
            return
        try:
            polygon = editing.polygon_from_points(points, image.size_hw)
        except GeometryError as exc:
            self.window.show_message(f"Polygon not added: {exc}")
            return
        if not self.hole:
            self.window.create_annotation(polygon, "Add polygon")
            return
        self._cut_hole(polygon, points)

    def _cut_hole(self, hole: Polygon, points: np.ndarray) -> None:
        assert self.window is not None
        session = self.window.session
        image = session.image
        assert image is not None
        cx, cy = points.mean(axis=0)
        target = None
        for ann_id in reversed(session.selection):
            shape = self.window.canvas_shape(ann_id)
            if shape is not None and any(shape.contains(float(x), float(y)) for x, y in ((cx, cy), *points.tolist())):
                target = ann_id
                break
        if target is None:
            shape = self.window.canvas.shape_layer.shape_at(float(points[0][0]), float(points[0][1]))
            target = shape.annotation_id if shape is not None and shape.annotation_id not in session.hidden else None
        if target is None:
            if self._covered_shapes(hole, image.size_hw):
                self.window.show_message(f"Hole not cut: {WHOLE_SHAPE_COVERED}")
            else:
                self.window.show_message("Hole not cut: draw it inside a shape (select the shape first)")
            return
        annotation = session.annotations[target]
        try:
            geometry = editing.subtract(annotation.geometry, hole, image.size_hw)
        except GeometryError as exc:
            covered = editing.covers(hole, annotation.geometry, image.size_hw)
            self.window.show_message(f"Hole not cut: {WHOLE_SHAPE_COVERED if covered else exc}")
            return
        self.window.apply_edit(UpdateAnnotation(target, {"geometry": geometry}, "Cut hole"))
        session.set_selection((target,))

    def _covered_shapes(self, hole: Polygon, size_hw: tuple[int, int]) -> list[int]:
        """Ids of the visible shapes that ``hole`` covers entirely (bounding boxes first)."""
        assert self.window is not None
        session = self.window.session
        bounds = to_box(hole)
        found = []
        for annotation in session.annotations.values():
            if annotation.id in session.hidden:
                continue
            box = to_box(annotation.geometry)
            inside = box.x1 >= bounds.x1 and box.y1 >= bounds.y1 and box.x2 <= bounds.x2 and box.y2 <= bounds.y2
            if inside and editing.covers(hole, annotation.geometry, size_hw):
                found.append(annotation.id)
        return found

    def paint(self, painter: QPainter, pixel_size: float) -> None:
        if not self.points or self.window is None:
            return
        color = QColor("#ffffff") if self.hole else style.qcolor(self.window.current_category_color())
        path = QPainterPath()
        path.addPolygon(qpolygonf(np.asarray(self.points)))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(_pen(color, 2.0, dash=self.hole))
        painter.drawPath(path)
        if self._cursor is not None:
            painter.setPen(_pen(color, 1.0, dash=True))
            painter.drawLine(QPointF(*self.points[-1]), QPointF(*self._cursor))
        r = style.HANDLE_SIZE_PX * pixel_size / 2
        painter.setPen(_pen(QColor("#000000"), 1.0))
        painter.setBrush(QBrush(color))
        for x, y in self.points[-2000:]:
            painter.drawEllipse(QPointF(x, y), r, r)
        fx, fy = self.points[0]
        big = r * (2.0 if self._near_first else 1.4)
        painter.setBrush(QBrush(style.PREVIEW_COLOR))
        painter.drawEllipse(QPointF(fx, fy), big, big)

