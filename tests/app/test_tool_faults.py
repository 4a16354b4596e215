"""Canvas tool edits on the real window when the store cannot write (disk full): the edit is
refused with a clear status bar message, nothing is half-applied, and no exception escapes
into the Qt event handlers (tools edit through ``window.apply_edit``, like the menu edits)."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from annotations.errors import StoreFaultError
from annotations.geometry import Mask
from app.tools.base import ToolEvent
from app.tools.brush import BrushTool
from app.tools.select import SelectTool

LEFT = Qt.MouseButton.LeftButton


@pytest.fixture
def full_disk(window, monkeypatch):
    """Every write of the window's project fails the way a full disk makes SQLite fail."""
    project = window.project

    def refuse(command):
        raise StoreFaultError(f"{project.path}: the disk is full (database or disk is full)")

    monkeypatch.setattr(project, "execute_change", refuse)
    return window


def test_brush_stroke_on_a_full_disk_is_refused_with_a_message(full_disk) -> None:
    window = full_disk
    before = dict(window.session.annotations)
    window.session.set_selection(())
    tool = BrushTool()
    tool.activate(window)
    tool.mouse_press(ToolEvent(20, 20, LEFT, LEFT))
    tool.mouse_move(ToolEvent(60, 20, Qt.MouseButton.NoButton, LEFT))
    assert tool.mouse_release(ToolEvent(60, 20, LEFT, Qt.MouseButton.NoButton))  # no exception
    message = window.statusBar().currentMessage()
    assert message.startswith("Not done:") and "disk is full" in message
    assert window.session.annotations == before


def test_brush_on_its_own_mask_and_select_nudge_are_refused_with_a_message(full_disk) -> None:
    window = full_disk
    mask_id = next(a.id for a in window.session.annotations.values() if isinstance(a.geometry, Mask))
    before = window.session.annotations[mask_id].geometry
    window.session.set_selection((mask_id,))
    brush = BrushTool()
    brush.activate(window)
    brush.mouse_press(ToolEvent(5, 5, LEFT, LEFT))  # paints into the selected mask: an UpdateAnnotation
    brush.mouse_release(ToolEvent(30, 5, LEFT, Qt.MouseButton.NoButton))
    assert "disk is full" in window.statusBar().currentMessage()
    window.statusBar().clearMessage()

    select = SelectTool()
    select.activate(window)
    window.session.set_selection((mask_id,))
    right = QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Right, Qt.KeyboardModifier.NoModifier)
    assert select.key_press(right)  # a nudge: one UpdateAnnotation, refused
    assert "disk is full" in window.statusBar().currentMessage()
    assert window.session.annotations[mask_id].geometry == before
