"""The image layer: draws the visible part of the image from the right pyramid level.

Only the exposed rectangle is sampled, from the coarsest level that still has at least one
level pixel per screen pixel, so a frame costs about one screen of pixels whatever the image
size. Magnified pixels are drawn sharp (nearest neighbour) so annotators see real pixel edges.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF
from PySide6.QtGui import QImage, QPainter
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.qt_numpy import qimage_from_array
from app.image_loading import Pyramid


class ImageLayerItem(QGraphicsItem):
    """Shows a :class:`Pyramid` at scene rectangle [0, W] x [0, H] (image pixel coordinates)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._pyramid: Pyramid | None = None
        self._rect = QRectF()
        self._qimages: dict[int, tuple[object, QImage]] = {}

    @property
    def pyramid(self) -> Pyramid | None:
        return self._pyramid

    def set_pyramid(self, pyramid: Pyramid | None, size_hw: tuple[int, int]) -> None:
        """Show ``pyramid`` (None: nothing, e.g. while decoding) over an image of ``size_hw``."""
        self.prepareGeometryChange()
        self._pyramid = pyramid
        self._qimages.clear()
        self._rect = QRectF(0, 0, size_hw[1], size_hw[0])
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt name
        return self._rect

    def _level_image(self, level: int) -> QImage:
        found = self._qimages.get(level)
        if found is None:
            assert self._pyramid is not None
            array = self._pyramid.level(level)
            found = self._qimages[level] = (array, qimage_from_array(array))
        return found[1]

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._pyramid is None:
            return
        exposed = option.exposedRect.intersected(self._rect)
        if exposed.isEmpty():
            return
        # Screen pixels per level-0 pixel (a preview pyramid's level 0 is smaller than the image).
        scale = (abs(painter.worldTransform().m11()) or 1.0) * self._rect.width() / self._pyramid.size_hw[1]
        level = self._pyramid.level_for_scale(scale)
        image = self._level_image(level)
        fx = image.width() / self._rect.width()
        fy = image.height() / self._rect.height()
        # Align the source rectangle to whole level pixels so adjacent paints do not seam.
        left = math.floor(exposed.left() * fx)
        top = math.floor(exposed.top() * fy)
        right = min(image.width(), math.ceil(exposed.right() * fx))
        bottom = min(image.height(), math.ceil(exposed.bottom() * fy))
        if right <= left or bottom <= top:
            return
        source = QRectF(left, top, right - left, bottom - top)
        target = QRectF(left / fx, top / fy, (right - left) / fx, (bottom - top) / fy)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, scale * (1 << level) < 0.999)
        painter.drawImage(target, image, source)
