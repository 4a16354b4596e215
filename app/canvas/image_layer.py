"""The image layer: draws the visible part of the image from the right pyramid level.

Only the exposed rectangle is sampled, from the coarsest level that still has at least one
level pixel per screen pixel, so a frame costs about one screen of pixels whatever the image
size. Magnified pixels are drawn sharp (nearest neighbour) so annotators see real pixel edges.
"""

from __future__ import annotations

import math

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app.canvas.qt_numpy import qimage_from_array
from app.image_loading import Pyramid

PLACEHOLDER_FILL = QColor("#4a4d52")
PLACEHOLDER_HATCH = QColor("#5c6066")
PLACEHOLDER_BORDER = QColor("#9aa0a6")
PLACEHOLDER_TEXT = QColor("#e8eaed")
PLACEHOLDER_FONT_PX = 15
"""The caption of a missing image is drawn at this many screen pixels, shrunk to fit the frame."""


class ImageLayerItem(QGraphicsItem):
    """Shows a :class:`Pyramid` at scene rectangle [0, W] x [0, H] (image pixel coordinates)."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._pyramid: Pyramid | None = None
        self._rect = QRectF()
        self._qimages: dict[int, tuple[object, QImage]] = {}
        self._placeholder: str | None = None

    @property
    def pyramid(self) -> Pyramid | None:
        return self._pyramid

    @property
    def placeholder(self) -> str | None:
        """The caption shown in place of pixels that cannot be shown (None: none shown)."""
        return self._placeholder

    def set_placeholder(self, caption: str | None) -> None:
        """Draw the image's frame (hatched grey fill, border, centred ``caption``) instead of its
        pixels, so shapes of a missing or undecodable file are seen in context; None removes it.
        Showing a pyramid removes it too."""
        self._placeholder = caption
        self.update()

    def set_pyramid(self, pyramid: Pyramid | None, size_hw: tuple[int, int]) -> None:
        """Show ``pyramid`` (None: nothing, e.g. while decoding) over an image of ``size_hw``."""
        self.prepareGeometryChange()
        self._pyramid = pyramid
        self._placeholder = None
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

    def _paint_placeholder(self, painter: QPainter, caption: str) -> None:
        """The frame of an image whose pixels are unavailable, caption in screen-sized text."""
        painter.save()
        painter.fillRect(self._rect, PLACEHOLDER_FILL)
        painter.fillRect(self._rect, QBrush(PLACEHOLDER_HATCH, Qt.BrushStyle.BDiagPattern))
        pen = QPen(PLACEHOLDER_BORDER, 2.0)
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(self._rect)
        device = painter.worldTransform().mapRect(self._rect)
        painter.setWorldTransform(QTransform())  # text in screen pixels, whatever the zoom
        font = QFont(painter.font())
        font.setPixelSize(PLACEHOLDER_FONT_PX)
        width = QFontMetricsF(font).horizontalAdvance(caption)
        available = device.width() * 0.9
        if width > available > 0:
            font.setPixelSize(max(6, int(PLACEHOLDER_FONT_PX * available / width)))
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        box = QRectF(0, 0, metrics.horizontalAdvance(caption) + 16, metrics.height() + 8)
        box.moveCenter(device.center())
        painter.fillRect(box, QColor(0, 0, 0, 150))
        painter.setPen(PLACEHOLDER_TEXT)
        painter.drawText(box, int(Qt.AlignmentFlag.AlignCenter), caption)
        painter.restore()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._pyramid is None:
            if self._placeholder is not None and not self._rect.isEmpty():
                self._paint_placeholder(painter, self._placeholder)
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
