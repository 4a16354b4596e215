"""Drawable forms of annotations: Qt polygons/paths/images prepared once per shape, plus hit tests.

A :class:`RenderShape` is built when an annotation is loaded or changed and then drawn many
times (into cached tiles, or live when selected) without touching the geometry again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QImage, QPainter, QPainterPath, QPolygonF

from annotations.errors import GeometryError
from annotations.geometry import Box, Geometry, GeometryKind, Mask, Polygon, mask_to_polygon, rle
from annotations.model import Annotation, AnnotationRole
from app import style
from app.canvas.qt_numpy import qimage_argb, qpolygonf, rings_path


@dataclass
class RenderShape:
    """One annotation ready to draw. ``bounds`` is (x1, y1, x2, y2) in image pixels."""

    annotation_id: int
    category_id: int
    color: str
    geometry: Geometry
    bounds: tuple[float, float, float, float]
    polygon: QPolygonF | None = None
    path: QPainterPath | None = None
    mask_image: QImage | None = None
    mask_rect: QRectF | None = None
    mask_crop: np.ndarray | None = field(default=None, repr=False)
    ignore: bool = False
    """An ignore region (left out of training and metrics): drawn hatched over its fill."""

    @property
    def kind(self) -> GeometryKind:
        return self.geometry.kind

    def draw(self, painter: QPainter) -> None:
        """Draw with the painter's current pen and brush (masks use their own colours)."""
        if self.polygon is not None:
            painter.drawPolygon(self.polygon)
        elif self.mask_image is not None:
            assert self.mask_rect is not None
            painter.drawImage(self.mask_rect, self.mask_image)
            if self.path is not None:
                brush = painter.brush()
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawPath(self.path)
                painter.setBrush(brush)
        elif self.path is not None:
            painter.drawPath(self.path)
        if self.ignore:
            self._draw_hatch(painter)

    def _draw_hatch(self, painter: QPainter) -> None:
        """Diagonal hatching inside the outline (a mask's pixels are clipped to its outline)."""
        painter.save()
        hatch = QBrush(style.qcolor(self.color).lighter(160), Qt.BrushStyle.BDiagPattern)
        hatch.setTransform(painter.worldTransform().inverted()[0])  # the same line spacing at every zoom
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(hatch)
        painter.drawPath(self.outline())
        painter.restore()

    def draw_outline(self, painter: QPainter) -> None:
        """Stroke the outline with the painter's current pen and brush, without mask pixels
        (callers set ``Qt.NoBrush``): the contrasting halo drawn under every outline."""
        if self.polygon is not None:
            painter.drawPolygon(self.polygon)
        elif self.path is not None:
            painter.drawPath(self.path)

    def outline(self) -> QPainterPath:
        """The outline as a path (for highlighting)."""
        if self.path is not None:
            return self.path
        path = QPainterPath()
        if self.polygon is not None:
            path.addPolygon(self.polygon)
            path.closeSubpath()
        return path

    def contains(self, x: float, y: float, tolerance: float = 0.0) -> bool:
        """Whether image point (x, y) is inside the shape (or within ``tolerance`` pixels of
        its bounding box edge for very thin shapes)."""
        x1, y1, x2, y2 = self.bounds
        if x < x1 - tolerance or x > x2 + tolerance or y < y1 - tolerance or y > y2 + tolerance:
            return False
        point = QPointF(x, y)
        if self.kind is GeometryKind.BOX:
            return True
        if self.mask_crop is not None:
            col, row = int(np.floor(x - x1)), int(np.floor(y - y1))
            h, w = self.mask_crop.shape
            return 0 <= row < h and 0 <= col < w and bool(self.mask_crop[row, col])
        if self.polygon is not None:
            return self.polygon.containsPoint(point, Qt.FillRule.OddEvenFill)
        if self.path is not None:
            return self.path.contains(point)
        return False


def _mask_render(mask: Mask, color: str) -> tuple[QImage | None, QRectF | None, np.ndarray | None, QPainterPath | None, tuple]:
    dense = rle.decode(mask)
    rows = np.flatnonzero(dense.any(axis=1))
    if rows.size == 0:
        return None, None, None, None, (0.0, 0.0, 0.0, 0.0)
    cols = np.flatnonzero(dense.any(axis=0))
    top, bottom, left, right = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = np.ascontiguousarray(dense[top:bottom, left:right])
    c = style.qcolor(color)
    alpha = style.MASK_ALPHA
    bgra = np.zeros(crop.shape + (4,), np.uint8)
    premul = [int(round(v * alpha / 255)) for v in (c.blue(), c.green(), c.red())]
    bgra[crop] = (*premul, alpha)
    image = qimage_argb(bgra)
    try:
        outline = mask_to_polygon(mask)
        path = rings_path([r for part in outline.parts for r in (part.exterior, *part.holes)])
    except GeometryError:
        path = None
    bounds = (float(left), float(top), float(right), float(bottom))
    return image, QRectF(left, top, right - left, bottom - top), crop, path, bounds


def build_render_shape(annotation: Annotation, color: str) -> RenderShape:
    """Prepare ``annotation`` for drawing in ``color`` (``#rrggbb``)."""
    geometry = annotation.geometry
    shape = RenderShape(annotation.id, annotation.category_id, color, geometry, (0.0, 0.0, 0.0, 0.0),
                        ignore=annotation.role is AnnotationRole.IGNORE)
    if isinstance(geometry, Box):
        shape.bounds = geometry.xyxy
        shape.polygon = QPolygonF(QRectF(geometry.x1, geometry.y1, geometry.width, geometry.height))
    elif isinstance(geometry, Polygon):
        points = geometry.all_points()
        shape.bounds = (
            float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max())
        )
        if len(geometry.parts) == 1 and not geometry.parts[0].holes:
            shape.polygon = qpolygonf(geometry.parts[0].exterior)
        else:
            shape.path = rings_path([r for part in geometry.parts for r in (part.exterior, *part.holes)])
    else:
        image, rect, crop, path, bounds = _mask_render(geometry, color)
        shape.mask_image, shape.mask_rect, shape.mask_crop, shape.path, shape.bounds = image, rect, crop, path, bounds
    return shape


def geometry_path(geometry: Geometry) -> QPainterPath:
    """An outline path of any geometry (used for live previews while editing)."""
    if isinstance(geometry, Box):
        path = QPainterPath()
        path.addRect(QRectF(geometry.x1, geometry.y1, geometry.width, geometry.height))
        return path
    if isinstance(geometry, Polygon):
        return rings_path([r for part in geometry.parts for r in (part.exterior, *part.holes)])
    try:
        outline = mask_to_polygon(geometry)
    except GeometryError:
        return QPainterPath()
    return rings_path([r for part in outline.parts for r in (part.exterior, *part.holes)])
