"""Fast conversions between numpy arrays and Qt value types (QPolygonF, QPainterPath, QImage)."""

from __future__ import annotations

import numpy as np
import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage, QPainterPath, QPolygonF


def qpolygonf(points_xy: np.ndarray) -> QPolygonF:
    """A QPolygonF from an (N, 2) float array of (x, y), filled through its memory buffer
    (about 1 microsecond, independent of N, instead of one QPointF per vertex)."""
    points = np.ascontiguousarray(points_xy, dtype=np.float64).reshape(-1, 2)
    polygon = QPolygonF()
    polygon.resize(len(points))
    if len(points):
        # the shiboken6 stubs declare only VoidPtr(int) and no buffer protocol; at run time it takes
        # (pointer, size_bytes, writable) and exposes a writable buffer
        buffer = shiboken6.VoidPtr(polygon.data(), points.nbytes, True)  # type: ignore[call-arg, arg-type]  # see above
        np.frombuffer(buffer, dtype=np.float64)[:] = points.reshape(-1)  # type: ignore[call-overload]  # see above
    return polygon


def rings_path(rings_xy: list[np.ndarray]) -> QPainterPath:
    """A closed QPainterPath of several rings with odd-even fill (holes stay empty)."""
    path = QPainterPath()
    path.setFillRule(Qt.FillRule.OddEvenFill)
    for ring in rings_xy:
        if len(ring) >= 2:
            path.addPolygon(qpolygonf(ring))
            path.closeSubpath()
    return path


def qimage_from_array(pixels: np.ndarray) -> QImage:
    """Wrap a C-contiguous uint8 array as a QImage without copying.

    (H, W) -> Grayscale8; (H, W, 4) B,G,R,A -> RGB32 (alpha ignored) unless ``premultiplied``
    colour data is wanted (use :func:`qimage_argb`). The caller keeps ``pixels`` alive as long
    as the QImage is used.
    """
    if not pixels.flags.c_contiguous:
        raise ValueError("pixels must be C-contiguous")
    height, width = pixels.shape[:2]
    if pixels.ndim == 2:
        return QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_Grayscale8)
    return QImage(pixels.data, width, height, pixels.strides[0], QImage.Format.Format_RGB32)


def qimage_argb(pixels_bgra: np.ndarray) -> QImage:
    """A premultiplied ARGB32 QImage (own copy) from an (H, W, 4) uint8 B,G,R,A array whose
    colour channels are already multiplied by alpha."""
    pixels_bgra = np.ascontiguousarray(pixels_bgra)
    height, width = pixels_bgra.shape[:2]
    image = QImage(pixels_bgra.data, width, height, pixels_bgra.strides[0], QImage.Format.Format_ARGB32_Premultiplied)
    return image.copy()
