"""The interactive mask tool (a canvas Tool): drag a box or click points, the engine answers with
a mask that refines with every click; Enter accepts it.

Gestures: left-drag = box; left click = positive point (object); right click or Shift+click =
negative point (background); Backspace = remove the last click; Escape = start over;
C = next SAM candidate (Shift+C: previous; Tab belongs to Qt's focus chain); Enter = accept as
a polygon simplified to the tolerance (Shift+Enter: as a pixel mask; the panel's checkbox flips
the default).

While the tool is active a toolbar shows the method/model choice (Auto, SAM 2.1 tiny/small,
GrabCut), the polygon tolerance, and the busy/answer line; activating the tool (or opening an
image with it) starts the image's SAM embedding; the next image's is prefetched once the
annotator has been idle for a few seconds.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QComboBox, QDoubleSpinBox, QLabel, QToolBar, QWidget

from app.assist.segmenter import METHOD_TITLES, SAM_MODEL_TITLES, InteractiveSegmenter
from app.tools.base import Tool, ToolEvent
from engine.protocol import SegmentMethod

if TYPE_CHECKING:
    from app.workspace import Workspace

DRAG_THRESHOLD_SCREEN_PX = 4.0


def method_choices() -> list[tuple[str, SegmentMethod, str]]:
    """(title, method, SAM model) for the method box: Auto, each SAM model, GrabCut."""
    choices = [("Auto (SAM if its weights are present)", SegmentMethod.AUTO, "")]
    choices += [(title, SegmentMethod.SAM, name) for name, title in SAM_MODEL_TITLES.items()]
    choices.append((METHOD_TITLES[SegmentMethod.GRABCUT] + " (no weights)", SegmentMethod.GRABCUT, ""))
    return choices


class SegmenterToolbar(QToolBar):
    """Method/model choice, polygon tolerance and the busy/answer line of the interactive tool."""

    def __init__(self, segmenter: InteractiveSegmenter, parent: QWidget | None = None) -> None:
        super().__init__("Interactive mask", parent)
        self.setObjectName("toolbar-interactive-mask")
        self.segmenter = segmenter
        self.method_box = QComboBox()
        self.method_box.setToolTip("Who answers a box or click: SAM needs its weights (Model > weights), GrabCut none")
        self.choices = method_choices()
        for title, _method, _model in self.choices:
            self.method_box.addItem(title)
        model = segmenter.sam_model if segmenter.method is SegmentMethod.SAM else ""
        self.method_box.setCurrentIndex(max(self.index_of(segmenter.method, model), 0))
        self.method_box.currentIndexChanged.connect(self._on_method)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setRange(0.0, 10.0)
        self.tolerance.setSingleStep(0.25)
        self.tolerance.setSuffix(" px")
        self.tolerance.setValue(segmenter.tolerance_px)
        self.tolerance.setToolTip("Polygon tolerance: an accepted polygon stays this close to the mask's outline")
        self.tolerance.valueChanged.connect(segmenter.set_tolerance)
        self.status = QLabel(segmenter.status)
        self.status.setMinimumWidth(260)
        segmenter.statusChanged.connect(self.status.setText)
        self.addWidget(QLabel(" Segment with "))
        self.addWidget(self.method_box)
        self.addWidget(QLabel("  Polygon tolerance "))
        self.addWidget(self.tolerance)
        self.addSeparator()
        self.addWidget(self.status)

    def index_of(self, method: SegmentMethod, sam_model: str = "") -> int:
        """The method box's row for (method, SAM model), -1 if none."""
        for index, (_title, choice, model) in enumerate(self.choices):
            if choice is method and (method is not SegmentMethod.SAM or model == (sam_model or "sam2.1_hiera_tiny")):
                return index
        return -1

    def _on_method(self, index: int) -> None:
        _title, method, model = self.choices[index]
        self.segmenter.set_method(method, model)
        self.segmenter.prepare(self.segmenter.next_image_id())


class InteractiveMaskTool(Tool):
    """Box / click prompts → engine mask → annotation."""

    title = "Interactive mask"
    cursor = Qt.CursorShape.CrossCursor
    hint = ("Drag a box or click the object · right/Shift+click: background · Backspace: undo click · "
            "C: next candidate · Enter: accept as polygon (Shift+Enter: mask) · Esc: start over")

    def __init__(self, segmenter: InteractiveSegmenter, *, accept_as_polygon: bool = True) -> None:
        super().__init__()
        self.segmenter = segmenter
        self.accept_as_polygon = accept_as_polygon
        self._press: tuple[float, float] | None = None
        self._dragging = False
        self._pixel_size = 1.0
        self.toolbar: SegmenterToolbar | None = None

    # ------------------------------------------------------------------ lifecycle
    def activate(self, window: Workspace) -> None:
        """Show the toolbar and start the current image's embedding (next image prefetched)."""
        super().activate(window)
        if self.toolbar is None:
            qt_window = self.segmenter.context.window.main_widget
            self.toolbar = SegmenterToolbar(self.segmenter, qt_window)
            qt_window.addToolBarBreak(Qt.ToolBarArea.TopToolBarArea)  # its own row: the main toolbar is full
            qt_window.addToolBar(Qt.ToolBarArea.TopToolBarArea, self.toolbar)
        if self.toolbar is not None:
            self.toolbar.show()
        self.segmenter.active = True
        self.segmenter.prepare(self.segmenter.next_image_id())

    def deactivate(self) -> None:
        self.segmenter.active = False
        if self.toolbar is not None:
            self.toolbar.hide()
        super().deactivate()

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
    CYCLE_KEY = Qt.Key.Key_C

    def claims_key(self, event: QKeyEvent) -> bool:
        if event.key() == self.CYCLE_KEY:
            return len(self.segmenter.candidates) > 1
        return event.key() in self._KEYS and self.segmenter.prompt is not None

    def key_press(self, event: QKeyEvent) -> bool:
        key = event.key()
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            if self.segmenter.mask is None:
                return self.segmenter.prompt is not None  # still waiting: swallow, do nothing
            shift = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            self.segmenter.accept(as_polygon=self.accept_as_polygon != shift)
            return True
        if key == self.CYCLE_KEY and len(self.segmenter.candidates) > 1:
            back = bool(event.modifiers() & Qt.KeyboardModifier.ShiftModifier)
            return self.segmenter.cycle_candidate(-1 if back else 1)
        if key == Qt.Key.Key_Escape and self.segmenter.prompt is not None:
            self.segmenter.clear()
            return True
        if key == Qt.Key.Key_Backspace and self.segmenter.prompt is not None:
            self.segmenter.undo_point()
            return True
        return False
