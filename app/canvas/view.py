"""CanvasView: zoom (wheel, fit, 1:1), pan (middle button, Space + drag), tool dispatch.

Scene coordinates are continuous image pixel coordinates. Layers, back to front: the image
pyramid (z 0), the tile-cached shape layer (z 10), overlays added by other code (z 20 by
default), the selection overlay (z 30) and the tool preview (z 40).
"""

from __future__ import annotations

import time

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QKeyEvent, QMouseEvent, QPainter, QTransform, QWheelEvent
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsView, QWidget

from app import style
from app.canvas.image_layer import ImageLayerItem
from app.canvas.overlays import SelectionOverlayItem, ToolPreviewItem
from app.canvas.shape_layer import ShapeLayerItem
from app.image_loading import Pyramid
from app.tools.base import Tool, ToolEvent

WHEEL_ZOOM_STEP = 1.25
MAX_SCALE = 64.0
IDLE_RENDER_BUDGET_S = 0.002
IDLE_CALM_BUDGET_S = 0.012
IDLE_INTERVAL_MS = 4
CALM_AFTER_S = 0.06
"""Idle tile rendering runs in slices, at most one per event-loop pass: 2 ms while the user pans
or zooms (input is served within a couple of ms), 12 ms once nothing happened for 60 ms."""
OVERLAY_Z = 20.0


class CanvasView(QGraphicsView):
    """The image canvas. ``cursorMoved(x, y)`` reports the pointer in image pixels;
    ``zoomChanged(scale)`` the screen pixels per image pixel."""

    cursorMoved = Signal(float, float)
    zoomChanged = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._scene = QGraphicsScene(self)
        self._scene.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setScene(self._scene)
        self.image_layer = ImageLayerItem()
        self.shape_layer = ShapeLayerItem()
        self.selection_overlay = SelectionOverlayItem()
        self.tool_preview = ToolPreviewItem(self._paint_tool)
        for z, item in ((0, self.image_layer), (10, self.shape_layer), (30, self.selection_overlay), (40, self.tool_preview)):
            item.setZValue(z)
            self._scene.addItem(item)
        self._overlays: list[QGraphicsItem] = []
        self.tool: Tool | None = None
        self._size_hw = (0, 0)
        self._pan_anchor: QPoint | None = None
        self._space_held = False
        self._fit_pending = True
        self.setBackgroundBrush(style.CANVAS_BACKGROUND)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.MinimalViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setMouseTracking(True)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setFrameShape(QGraphicsView.Shape.NoFrame)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._idle_timer = QTimer(self)
        self._idle_timer.setSingleShot(True)
        self._idle_timer.setInterval(IDLE_INTERVAL_MS)
        self._idle_timer.timeout.connect(self._render_idle)
        self.shape_layer.on_pending = self._idle_timer.start
        self._last_interaction = 0.0
        self.horizontalScrollBar().valueChanged.connect(self._on_view_moved)
        self.verticalScrollBar().valueChanged.connect(self._on_view_moved)

    # ------------------------------------------------------------------ image and scene
    @property
    def image_size_hw(self) -> tuple[int, int]:
        return self._size_hw

    def set_image(self, pyramid: Pyramid | None, size_hw: tuple[int, int], *, fit: bool = True) -> None:
        """Show an image of ``size_hw`` (its pixels may arrive later: ``pyramid`` None)."""
        new_size = tuple(size_hw) != self._size_hw
        self._size_hw = (int(size_hw[0]), int(size_hw[1]))
        rect = QRectF(0, 0, size_hw[1], size_hw[0])
        self.image_layer.set_pyramid(pyramid, size_hw)
        self.shape_layer.set_image_rect(rect)
        margin = 0.25 * max(size_hw[0], size_hw[1], 1)
        scene_rect = rect.adjusted(-margin, -margin, margin, margin)
        self._scene.setSceneRect(scene_rect)
        self.selection_overlay.set_scene_rect(scene_rect)
        self.tool_preview.set_scene_rect(scene_rect)
        if fit or new_size:
            self._fit_pending = True
            self._fit_now()

    def set_pyramid(self, pyramid: Pyramid | None) -> None:
        """Pixels for the image already shown (decoded in the background)."""
        self.image_layer.set_pyramid(pyramid, self._size_hw)

    def add_overlay(self, item: QGraphicsItem) -> None:
        """Add an item drawn above the shapes (scene coordinates = image pixel coordinates).
        Its z value is kept if set (> 0), else it goes to 20 (below selection and tool preview)."""
        if item.zValue() == 0:
            item.setZValue(OVERLAY_Z)
        self._overlays.append(item)
        self._scene.addItem(item)

    def remove_overlay(self, item: QGraphicsItem) -> None:
        """Remove an item added with :meth:`add_overlay` (no error if it is not there)."""
        if item in self._overlays:
            self._overlays.remove(item)
        if item.scene() is self._scene:
            self._scene.removeItem(item)

    def overlays(self) -> list[QGraphicsItem]:
        return list(self._overlays)

    # ------------------------------------------------------------------ zoom
    def scale_factor(self) -> float:
        """Screen pixels per image pixel."""
        return self.transform().m11()

    def fit_scale(self) -> float:
        h, w = self._size_hw
        if not h or not w:
            return 1.0
        view = self.viewport().rect()
        return max(1e-4, min((view.width() - 8) / w, (view.height() - 8) / h))

    def fit(self) -> None:
        """Show the whole image centred (and keep it fitted while the window is resized,
        until the user zooms or pans)."""
        self._fit_pending = True
        self._fit_now()

    def _fit_now(self) -> None:
        if not self._size_hw[0]:
            return
        self._set_scale(self.fit_scale())
        self.centerOn(self._size_hw[1] / 2, self._size_hw[0] / 2)

    def zoom_1to1(self) -> None:
        """One image pixel per screen pixel, around the view centre."""
        self._fit_pending = False
        self._zoom_at(1.0 / self.scale_factor(), self.viewport().rect().center())

    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        """Multiply the scale by ``factor`` keeping the image point under ``anchor`` (viewport
        coordinates; default: the centre) in place."""
        self._fit_pending = False
        self._zoom_at(factor, anchor if anchor is not None else self.viewport().rect().center())

    def _zoom_at(self, factor: float, anchor: QPoint) -> None:
        current = self.scale_factor()
        minimum = min(1.0, self.fit_scale() * 0.5)
        target = min(MAX_SCALE, max(minimum, current * factor))
        if abs(target - current) < 1e-12:
            return
        before = self.mapToScene(anchor)
        self._set_scale(target)
        after = self.mapToScene(anchor)
        delta = after - before
        self.translate_view(-delta.x() * target, -delta.y() * target)

    def translate_view(self, dx_screen: float, dy_screen: float) -> None:
        """Scroll the view by screen pixels (positive: content moves left/up)."""
        self._fit_pending = False
        h = self.horizontalScrollBar()
        v = self.verticalScrollBar()
        h.setValue(h.value() + int(round(dx_screen)))
        v.setValue(v.value() + int(round(dy_screen)))

    def _set_scale(self, scale: float) -> None:
        self.setTransform(QTransform.fromScale(scale, scale))
        self.zoomChanged.emit(scale)
        self._on_view_moved()

    def visible_image_rect(self) -> QRectF:
        """The part of the scene (image pixels) shown in the viewport."""
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def resizeEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().resizeEvent(event)
        if self._fit_pending:
            self._fit_now()

    # ------------------------------------------------------------------ rendering helpers
    def _on_view_moved(self, _value: int = 0) -> None:
        self._last_interaction = time.perf_counter()
        self._idle_timer.start()

    def _render_idle(self) -> None:
        calm = time.perf_counter() - self._last_interaction > CALM_AFTER_S
        budget = IDLE_CALM_BUDGET_S if calm else IDLE_RENDER_BUDGET_S
        rendered, more = self.shape_layer.render_missing(self.visible_image_rect(), self.scale_factor(), budget)
        if rendered:
            self.shape_layer.update()
        if more:
            self._idle_timer.start()

    def flush_rendering(self) -> None:
        """Render every visible tile now (before a screenshot)."""
        self.shape_layer.render_missing(self.visible_image_rect(), self.scale_factor(), 1e9, ring=0)
        self.shape_layer.update()

    def update_tool_preview(self) -> None:
        self.tool_preview.update()

    def _paint_tool(self, painter: QPainter, pixel_size: float) -> None:
        if self.tool is not None:
            self.tool.paint(painter, pixel_size)

    # ------------------------------------------------------------------ events
    def set_tool(self, tool: Tool | None) -> None:
        self.tool = tool
        self.viewport().setCursor(tool.cursor if tool is not None else Qt.CursorShape.ArrowCursor)
        self.tool_preview.update()

    def image_pos(self, position: QPointF) -> QPointF:
        """Viewport position -> image pixel coordinates (sub-pixel)."""
        inverted, _ok = self.viewportTransform().inverted()
        return inverted.map(position)

    def _tool_event(self, event: QMouseEvent) -> ToolEvent:
        p = self.image_pos(event.position())
        return ToolEvent(p.x(), p.y(), event.button(), event.buttons(), event.modifiers(), 1.0 / self.scale_factor())

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt name
        self._last_interaction = time.perf_counter()
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() == Qt.MouseButton.MiddleButton or (event.button() == Qt.MouseButton.LeftButton and self._space_held):
            self._pan_anchor = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if self.tool is not None and self.tool.mouse_press(self._tool_event(event)):
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt name
        self._last_interaction = time.perf_counter()
        p = self.image_pos(event.position())
        self.cursorMoved.emit(p.x(), p.y())
        if self._pan_anchor is not None:
            now = event.position().toPoint()
            delta = now - self._pan_anchor
            self._pan_anchor = now
            self.translate_view(-delta.x(), -delta.y())
            event.accept()
            return
        if self.tool is not None and self.tool.mouse_move(self._tool_event(event)):
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt name
        if self._pan_anchor is not None and event.button() in (Qt.MouseButton.MiddleButton, Qt.MouseButton.LeftButton):
            self._pan_anchor = None
            tool_cursor = self.tool.cursor if self.tool else Qt.CursorShape.ArrowCursor
            cursor = Qt.CursorShape.OpenHandCursor if self._space_held else tool_cursor
            self.viewport().setCursor(cursor)
            event.accept()
            return
        if self.tool is not None and self.tool.mouse_release(self._tool_event(event)):
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt name
        if self.tool is not None and self.tool.mouse_double_click(self._tool_event(event)):
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802 - Qt name
        self._last_interaction = time.perf_counter()
        steps = event.angleDelta().y() / 120.0
        if steps == 0:
            steps = event.angleDelta().x() / 120.0
        if steps:
            self.zoom_by(WHEEL_ZOOM_STEP**steps, event.position().toPoint())
        event.accept()

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent):
            if self.tool is not None and self.tool.claims_key(event):
                event.accept()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt name
        if event.key() == Qt.Key.Key_Space and not event.modifiers():
            if not event.isAutoRepeat():
                self._space_held = True
                self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        if self.tool is not None and self.tool.key_press(event):
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt name
        if event.key() == Qt.Key.Key_Space:
            if not event.isAutoRepeat():
                self._space_held = False
                self._pan_anchor = None
                self.viewport().setCursor(self.tool.cursor if self.tool else Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        if self.tool is not None and self.tool.key_release(event):
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:  # noqa: N802 - Qt name
        self._space_held = False
        super().focusOutEvent(event)
