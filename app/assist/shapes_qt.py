"""Geometry → Qt drawing helpers for the assist overlays (scene coordinates = image pixels)."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QImage, QPainterPath, QPolygonF

from annotations.geometry import Box, Geometry, Mask, Polygon, mask_to_polygon, rle, to_box


def _ring_polygon(ring_xy: np.ndarray) -> QPolygonF:
    return QPolygonF([QPointF(float(x), float(y)) for x, y in np.asarray(ring_xy, dtype=float).reshape(-1, 2)])


def polygon_path(polygon: Polygon) -> QPainterPath:
    """A closed path of every ring of ``polygon`` (holes stay empty: odd-even fill)."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.OddEvenFill)
    for part in polygon.parts:
        for ring in (part.exterior, *part.holes):
            if len(ring) >= 2:
                path.addPolygon(_ring_polygon(ring))
                path.closeSubpath()
    return path


def geometry_path(geometry: Geometry) -> QPainterPath:
    """The outline of a box, polygon or mask (a mask's outline follows its pixel contours)."""
    if isinstance(geometry, Box):
        path = QPainterPath()
        path.addRect(QRectF(geometry.x1, geometry.y1, geometry.x2 - geometry.x1, geometry.y2 - geometry.y1))
        return path
    if isinstance(geometry, Polygon):
        return polygon_path(geometry)
    if isinstance(geometry, Mask):
        if rle.area(geometry) == 0:
            return QPainterPath()
        return polygon_path(mask_to_polygon(geometry))
    raise TypeError(f"unknown geometry {type(geometry).__name__}")


def bounding_rect(geometry: Geometry) -> QRectF:
    """The geometry's bounding box as a QRectF (image pixels)."""
    box = to_box(geometry)
    return QRectF(box.x1, box.y1, box.x2 - box.x1, box.y2 - box.y1)


def mask_crop_image(mask: Mask, color: QColor, alpha: int = 110) -> tuple[QImage, int, int]:
    """The mask's pixels inside its bounding box as a translucent ARGB image, and the crop's
    top-left (x, y) in image pixels. An empty mask gives a 1x1 transparent image at (0, 0)."""
    pixels = rle.decode(mask)  # (h, w) uint8
    rows = np.flatnonzero(pixels.any(axis=1))
    cols = np.flatnonzero(pixels.any(axis=0))
    if rows.size == 0:
        image = QImage(1, 1, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        return image, 0, 0
    y0, y1, x0, x1 = int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1
    crop = pixels[y0:y1, x0:x1].astype(bool)
    height, width = y1 - y0, x1 - x0  # crop.shape
    bgra = np.zeros((height, width, 4), dtype=np.uint8)
    a = alpha / 255.0  # premultiplied colour
    bgra[crop] = (int(color.blue() * a), int(color.green() * a), int(color.red() * a), alpha)
    bgra = np.ascontiguousarray(bgra)
    image = QImage(bgra.data, width, height, bgra.strides[0], QImage.Format.Format_ARGB32_Premultiplied).copy()
    return image, x0, y0


def iou_color(iou_value: float) -> QColor:
    """Red (IoU 0.5 or less) through yellow to green (IoU 1) for matched pairs."""
    t = max(0.0, min(1.0, (iou_value - 0.5) / 0.5))
    if t < 0.5:
        return QColor(220, int(60 + 2 * t * 160), 40)
    return QColor(int(220 - (t - 0.5) * 2 * 180), 200, 40)
