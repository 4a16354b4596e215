"""The interactive mask tool (a canvas Tool): drag a box or click points, the engine answers with
a mask that refines with every click; Enter accepts it.

Gestures: left-drag = box; left click = positive point (object); right click or Shift+click =
negative point (background); Backspace = remove the last click; Escape = start over;
Enter = accept as a polygon (Shift+Enter: as a pixel mask; the panel's checkbox flips the
default).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QKeyEvent

from app.assist.segmenter import InteractiveSegmenter
from app.tools.base import Tool, ToolEvent

DRAG_THRESHOLD_SCREEN_PX = 4.0


class InteractiveMaskTool(Tool):
    """Box / click prompts → engine mask → annotation."""

    title = "Interactive mask"
    cursor = Qt.CursorShape.CrossCursor
    hint = ("Drag a box or click the object · right/Shift+click: background · Backspace: undo click · "
            "Enter: accept as polygon (Shift+Enter: mask) · Esc: start over")

    def __init__(self, segmenter: InteractiveSegmenter, *, accept_as_polygon: bool = True) -> None:
        super().__init__()
        self.segmenter = segmenter
        self.accept_as_polygon = accept_as_polygon
        self._press: tuple[float, float] | None = None
        self._dragging = False
        self._pixel_size = 1.0

    # ------------------------------------------------------------------ lifecycle
    def reset(self) -> None:
        self._press = None
        self._dragging = False
        self.segmenter.overlay.set_drag(None)
        self.segmenter.clear()

    # ------------------------------------------------------------------ mouse
    def mouse_press(self, event: ToolEvent) -> bool:
        negative = event.button == Qt.MouseButton.RightButton or (
            event.button == Qt.MouseButton.LeftButton and event.has(Qt.KeyboardModifier.ShiftModifier))
        if negative:
            self.segmenter.add_point(event.x, event.y, positive=False)
            return True
        if event.button == Qt.MouseButton.LeftButton:
            self._press = (event.x, event.y)
            self._dragging = False
            self._pixel_size = event.pixel_size
            return True
        return False

    def mouse_move(self, event: ToolEvent) -> bool:
        if self._press is None:
            return False
        x0, y0 = self._press
        if not self._dragging:
            moved = max(abs(event.x - x0), abs(event.y - y0)) / max(event.pixel_size, 1e-9)
            self._dragging = moved >= DRAG_THRESHOLD_SCREEN_PX
        if self._dragging:
            self.segmenter.overlay.set_drag(QRectF(min(x0, event.x), min(y0, event.y), abs(event.x - x0), abs(event.y - y0)))
        return True

    def mouse_release(self, event: ToolEvent) -> bool:
        if self._press is None or event.button != Qt.MouseButton.LeftButton:
            return False
        x0, y0 = self._press
        self._press = None
        self.segmenter.overlay.set_drag(None)
        if self._dragging:
            self._dragging = False
            if abs(event.x - x0) >= 1.0 and abs(event.y - y0) >= 1.0:
                self.segmenter.set_box(x0, y0, event.x, event.y)
        else:
            self.segmenter.add_point(x0, y0, positive=True)
        return True

    # ------------------------------------------------------------------ keys
    _KEYS = (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Escape, Qt.Key.Key_Backspace)

    def claims_key(self, event: QKeyEvent) -> bool:
        return event.key() in self._KEYS and self.segmenter.prompt is not None

    def key_press(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.segmenter.mask is None:
                return self.segmenter.prompt is not None  # still waiting: swallow, do nothing
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.segmenter.accept(as_polygon=self.accept_as_polygon != shift)
            return True
        if key == Qt.Key.Key_Escape and self.segmenter.prompt is not None:
            self.segmenter.clear()
            return True
        if key == Qt.Key.Key_Backspace and self.segmenter.prompt is not None:
            self.segmenter.undo_point()
            return True
        return False
