"""Live-drawn items above the cached shape layer: the selection (with vertex handles and edit
previews) and the current tool's preview. They draw a handful of shapes, every frame."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from annotations.geometry import Box, Geometry, Polygon
from app import style
from app.canvas.render_shapes import RenderShape, geometry_path
from app.editing import box_corners

MAX_HANDLES = 4000
"""Vertex handles are drawn only when the selection has at most this many vertices."""


class SelectionOverlayItem(QGraphicsItem):
    """Draws selected shapes highlighted, their vertex/corner handles, and edit previews."""

    def __init__(self) -> None:
        super().__init__()
        self._rect = QRectF()
        self.shapes: list[RenderShape] = []
        self.previews: dict[int, Geometry] = {}
        """Annotation id -> geometry being edited (drawn instead of the stored shape)."""
        self.offset = QPointF(0, 0)
        """Translation (image px) applied to every selected shape while it is dragged."""
        self.active_vertex: tuple[int, int, int, int] | None = None
        """(annotation id, part, ring, index) of the selected vertex, drawn filled."""
        self.hover_point: QPointF | None = None
        """Where a vertex would be inserted (pointer near an edge)."""
        self.hover_shape: RenderShape | None = None
        """The unselected shape under the pointer (select tool), drawn highlighted."""

    def set_scene_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt name
        return self._rect

    def set_shapes(self, shapes: list[RenderShape]) -> None:
        self.shapes = shapes
        self.hover_shape = None  # may be stale (edited, deleted, other image)
        self.previews.clear()
        self.offset = QPointF(0, 0)
        self.active_vertex = None
        self.update()

    def set_hover_shape(self, shape: RenderShape | None) -> None:
        """Highlight ``shape`` (the one under the pointer), or nothing."""
        if shape is not self.hover_shape:
            self.hover_shape = shape
            self.update()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        hover = self.hover_shape
        if hover is not None and all(s.annotation_id != hover.annotation_id for s in self.shapes):
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(style.halo_pen(hover.color, style.HOVER_OUTLINE_WIDTH_PX + style.HALO_EXTRA_PX))
            hover.draw_outline(painter)
            painter.setPen(style.outline_pen(hover.color, style.HOVER_OUTLINE_WIDTH_PX))
            painter.setBrush(style.fill_brush(hover.color, style.HOVER_FILL_ALPHA))
            hover.draw_outline(painter)
        if not self.shapes:
            return
        scale = abs(painter.worldTransform().m11()) or 1.0
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.save()
        painter.translate(self.offset)
        handle_points: list[tuple[RenderShape, list[tuple[tuple[int, int, int], QPointF]]]] = []
        vertex_total = 0
        for shape in self.shapes:
            pen = style.outline_pen(shape.color, style.SELECTED_OUTLINE_WIDTH_PX)
            brush = style.fill_brush(shape.color, style.SELECTED_FILL_ALPHA)
            preview = self.previews.get(shape.annotation_id)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.setPen(style.halo_pen(shape.color, style.SELECTED_OUTLINE_WIDTH_PX + style.HALO_EXTRA_PX))
            if preview is not None:
                painter.drawPath(geometry_path(preview))
            else:
                shape.draw_outline(painter)
            painter.setPen(pen)
            if preview is not None:
                painter.setBrush(brush)
                painter.drawPath(geometry_path(preview))
                geometry = preview
            else:
                if shape.mask_image is not None:
                    assert shape.mask_rect is not None  # set together with mask_image (render_shapes)
                    painter.setBrush(Qt.BrushStyle.NoBrush)
                    shape.draw(painter)
                    painter.drawImage(shape.mask_rect, shape.mask_image)
                else:
                    painter.setBrush(brush)
                    shape.draw(painter)
                geometry = shape.geometry
            points = _handle_points(geometry)
            vertex_total += len(points)
            handle_points.append((shape, points))
        if vertex_total <= MAX_HANDLES:
            side = style.HANDLE_SIZE_PX / scale
            for shape, points in handle_points:
                # A dark rim reads on light photos, the white face on dark ones.
                painter.setPen(QPen(QColor(0, 0, 0, 200), 1.2 / scale))
                for ref, point in points:
                    active = self.active_vertex is not None and self.active_vertex == (shape.annotation_id, *ref)
                    painter.setBrush(QBrush(style.qcolor(shape.color) if active else QColor("#ffffff")))
                    s = side * (1.4 if active else 1.0)
                    painter.drawRect(QRectF(point.x() - s / 2, point.y() - s / 2, s, s))
        painter.restore()
        if self.hover_point is not None:
            r = style.HANDLE_SIZE_PX / scale * 0.6
            painter.setPen(QPen(QColor("#000000"), 1.0 / scale))
            painter.setBrush(QBrush(style.PREVIEW_COLOR))
            painter.drawEllipse(self.hover_point, r, r)


def _handle_points(geometry: Geometry) -> list[tuple[tuple[int, int, int], QPointF]]:
    if isinstance(geometry, Box):
        return [((0, 0, k), QPointF(x, y)) for k, (x, y) in enumerate(box_corners(geometry).tolist())]
    if isinstance(geometry, Polygon):
        out: list[tuple[tuple[int, int, int], QPointF]] = []
        for p, part in enumerate(geometry.parts):
            for r, ring in enumerate((part.exterior, *part.holes)):
                out.extend(((p, r, k), QPointF(x, y)) for k, (x, y) in enumerate(ring.tolist()))
        return out
    return []


class ToolPreviewItem(QGraphicsItem):
    """Delegates painting to the current tool (``Tool.paint``)."""

    def __init__(self, painter_callback: Callable[[QPainter, float], None]) -> None:
        super().__init__()
        self._rect = QRectF()
        self._callback = painter_callback

    def set_scene_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt name
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        scale = abs(painter.worldTransform().m11()) or 1.0
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        self._callback(painter, 1.0 / scale)
