"""Keyboard shortcuts, pressed as key events on the canvas, do what the help dialog says."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence

from annotations.geometry import Box, Mask, Polygon
from annotations.model import ImageStatus
from app.actions import ACTIONS, TOOL_SHORTCUTS
from tests.app.gui_helpers import key

CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def ids_of(window, kind) -> list[int]:
    return [a.id for a in window.session.ordered_annotations() if isinstance(a.geometry, kind)]


@pytest.mark.parametrize(("name", "shortcut"), [(n, s) for n, s, _d in TOOL_SHORTCUTS])
def test_tool_shortcuts(qtbot, window, name: str, shortcut: str) -> None:
    key(qtbot, window, "v" if name != "select" else "r")
    key(qtbot, window, shortcut.lower())
    assert window.tool.name == name


def test_digits_choose_the_class_and_reclass_the_selection(qtbot, window) -> None:
    key(qtbot, window, "2")
    assert window.session.current_category_id == 2
    box_id = ids_of(window, Box)[0]
    window.session.set_selection((box_id,))
    key(qtbot, window, "4")
    assert window.session.current_category_id == 4
    assert window.session.annotations[box_id].category_id == 4
    key(qtbot, window, "9")  # no ninth class: nothing happens
    assert window.session.current_category_id == 4


def test_image_navigation_and_mark_done(qtbot, window) -> None:
    images = window.session.images
    assert window.current_image().id == images[0].id
    key(qtbot, window, "d")
    assert window.current_image().id == images[1].id
    key(qtbot, window, "a")
    assert window.current_image().id == images[0].id
    key(qtbot, window, Qt.Key.Key_Return, CTRL)
    assert window.project.get_image(images[0].id).status is ImageStatus.DONE
    assert window.actions_by_key["mark_done"].isChecked()
    key(qtbot, window, "d")
    key(qtbot, window, Qt.Key.Key_Return, CTRL)  # image 2 done too
    key(qtbot, window, "D", SHIFT)  # next unfinished: image 3
    assert window.current_image().id == images[2].id
    key(qtbot, window, "D", SHIFT)  # wraps around past the done ones: no other unfinished
    assert window.current_image().id == images[2].id
    key(qtbot, window, "a")
    key(qtbot, window, Qt.Key.Key_Return, CTRL)  # toggles back to in progress
    assert window.project.get_image(images[1].id).status is ImageStatus.IN_PROGRESS
    key(qtbot, window, "A", SHIFT)
    assert window.current_image().id == images[2].id


def test_copy_paste_across_images_delete_and_select_all(qtbot, window) -> None:
    images = window.session.images
    key(qtbot, window, "a", CTRL)
    assert len(window.session.selection) == 5
    key(qtbot, window, "c", CTRL)
    key(qtbot, window, "d")
    assert window.current_image().id == images[1].id and not window.session.annotations
    key(qtbot, window, "v", CTRL)
    pasted = window.session.ordered_annotations()
    # Boxes and polygons are clipped to the smaller image; masks are cropped.
    assert len(pasted) >= 3
    assert set(window.session.selection) == {a.id for a in pasted}
    assert {type(a.geometry) for a in pasted} <= {Box, Polygon, Mask}
    assert all(a.image_id == images[1].id for a in pasted)
    key(qtbot, window, Qt.Key.Key_Delete)
    assert not window.session.annotations
    key(qtbot, window, "z", CTRL)
    assert len(window.session.annotations) == len(pasted)


def test_zoom_fit_and_hide_shortcuts(qtbot, window) -> None:
    key(qtbot, window, "1", CTRL)
    assert window.canvas.scale_factor() == pytest.approx(1.0)
    key(qtbot, window, "+", CTRL)
    assert window.canvas.scale_factor() == pytest.approx(1.25)
    key(qtbot, window, "-", CTRL)
    assert window.canvas.scale_factor() == pytest.approx(1.0)
    key(qtbot, window, "f")
    assert window.canvas.scale_factor() == pytest.approx(window.canvas.fit_scale())
    key(qtbot, window, "h", CTRL)
    assert window.session.all_hidden and not window.canvas.selection_overlay.isVisible()
    key(qtbot, window, "h", CTRL)
    assert not window.session.all_hidden


def test_brush_size_keys(qtbot, window) -> None:
    window.brush_spin.setValue(20)
    key(qtbot, window, "]")
    assert window.brush_size == 25
    key(qtbot, window, "[")
    key(qtbot, window, "[")
    assert window.brush_size == 16


def test_convert_fill_holes_and_z_order_shortcuts(qtbot, window) -> None:
    holed = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Polygon) and a.geometry.has_holes)
    window.session.set_selection((holed.id,))
    key(qtbot, window, "f", CTRL | SHIFT)
    assert not window.session.annotations[holed.id].geometry.has_holes
    key(qtbot, window, "m", CTRL)
    assert isinstance(window.session.annotations[holed.id].geometry, Mask)
    key(qtbot, window, "m", CTRL | SHIFT)
    assert isinstance(window.session.annotations[holed.id].geometry, Polygon)
    key(qtbot, window, "]", CTRL)
    assert window.session.ordered_annotations()[-1].id == holed.id
    key(qtbot, window, "[", CTRL)
    assert window.session.ordered_annotations()[0].id == holed.id


def test_help_dialog_lists_every_shortcut(qtbot, window) -> None:
    key(qtbot, window, Qt.Key.Key_F1)
    dialog = window._help_dialog
    assert dialog is not None and dialog.isVisible()
    rows = dialog.texts()
    keys_column = " | ".join(r[1] for r in rows)
    for spec in ACTIONS:
        for shortcut in spec.shortcuts:
            assert QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText) in keys_column, spec.key
    for name, shortcut, _description in TOOL_SHORTCUTS:
        assert any(r[1] == shortcut and name in r[2] for r in rows)
    assert any("Space" in r[1] for r in rows) and any("Backspace" in r[1] for r in rows)
    dialog.close()


def test_space_drag_and_middle_button_pan(qtbot, window) -> None:
    from PySide6.QtCore import QPoint

    key(qtbot, window, "1", CTRL)
    canvas = window.canvas
    canvas.zoom_by(4.0)  # 4 screen pixels per image pixel: the image is larger than the view
    viewport = canvas.viewport()
    scale = canvas.scale_factor()
    count = len(window.session.annotations)
    tool_before = window.tool.name

    def pan(button: Qt.MouseButton, delta: QPoint) -> None:
        start = viewport.rect().center()
        qtbot.mousePress(viewport, button, pos=start)
        qtbot.mouseMove(viewport, start + delta / 2)
        qtbot.mouseMove(viewport, start + delta)
        qtbot.mouseRelease(viewport, button, pos=start + delta)

    before = canvas.visible_image_rect().center()
    qtbot.keyPress(canvas, Qt.Key.Key_Space)
    pan(Qt.MouseButton.LeftButton, QPoint(-40, -60))
    qtbot.keyRelease(canvas, Qt.Key.Key_Space)
    moved = canvas.visible_image_rect().center()
    assert moved.x() == pytest.approx(before.x() + 40 / scale, abs=0.5)
    assert moved.y() == pytest.approx(before.y() + 60 / scale, abs=0.5)
    assert window.tool.name == tool_before and len(window.session.annotations) == count

    pan(Qt.MouseButton.MiddleButton, QPoint(80, 0))
    assert canvas.visible_image_rect().center().x() == pytest.approx(moved.x() - 80 / scale, abs=0.5)
    assert len(window.session.annotations) == count


def test_undo_shows_the_image_of_the_edit(qtbot, window) -> None:
    images = window.session.images
    box_id = ids_of(window, Box)[0]
    window.session.set_selection((box_id,))
    key(qtbot, window, Qt.Key.Key_Delete)
    assert box_id not in window.session.annotations
    key(qtbot, window, "d")
    assert window.current_image().id == images[1].id
    key(qtbot, window, "z", CTRL)
    assert window.current_image().id == images[0].id  # undo went back to where the edit was
    assert box_id in window.session.annotations
    assert window.canvas_shape(box_id) is not None
    key(qtbot, window, "d")
    key(qtbot, window, "y", CTRL)
    assert window.current_image().id == images[0].id and box_id not in window.session.annotations
    assert window.canvas_shape(box_id) is None


def test_wheel_zooms_at_the_pointer(qtbot, window) -> None:
    from PySide6.QtCore import QPoint, QPointF
    from PySide6.QtGui import QWheelEvent
    from PySide6.QtWidgets import QApplication

    from tests.app.gui_helpers import view_point

    canvas = window.canvas
    before = canvas.scale_factor()
    anchor = view_point(window, 250, 60)
    for _ in range(2):
        event = QWheelEvent(
            QPointF(anchor), QPointF(canvas.viewport().mapToGlobal(anchor)), QPoint(0, 0), QPoint(0, 120),
            Qt.MouseButton.NoButton, Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False,
        )
        QApplication.sendEvent(canvas.viewport(), event)
    assert canvas.scale_factor() == pytest.approx(before * 1.25**2)
    # The image point under the pointer stayed under it (within a screen pixel).
    under = canvas.image_pos(QPointF(anchor))
    assert under.x() == pytest.approx(250, abs=1.0 / canvas.scale_factor() + 0.01)
    assert under.y() == pytest.approx(60, abs=1.0 / canvas.scale_factor() + 0.01)
