"""The rough edges found by hand (issue 14), each driven by real mouse and key events: the
brush paints into a shape only when intended, Esc deselects in brush mode, and a right-click
menu deletes vertices and edits shapes without Alt (desktops take Alt+click)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from annotations.geometry import Mask, Polygon
from tests.app.gui_helpers import click, drag, key


def _polygon(window):
    return next(a for a in window.session.annotations.values() if isinstance(a.geometry, Polygon) and a.geometry.has_holes)


def test_brush_never_paints_into_a_selected_shape_of_another_kind_or_class(qtbot, window) -> None:
    """Bug: with a polygon selected the brush grew it (26 -> 115 vertices) whatever its class."""
    polygon = _polygon(window)
    key(qtbot, window, "v")
    click(qtbot, window, 210, 30)
    assert window.session.selection == (polygon.id,)
    key(qtbot, window, "b")
    window.brush_spin.setValue(10)
    count = len(window.session.annotations)
    drag(qtbot, window, [(230, 60), (260, 60)])  # a stroke over the selected polygon
    assert window.session.annotations[polygon.id].geometry == polygon.geometry
    assert len(window.session.annotations) == count + 1
    new = max(window.session.annotations.values(), key=lambda a: a.id)
    assert isinstance(new.geometry, Mask) and new.category_id == window.session.current_category_id


def test_brush_adds_to_the_selected_mask_of_the_current_class_only(qtbot, window) -> None:
    key(qtbot, window, "2")
    key(qtbot, window, "b")
    window.brush_spin.setValue(10)
    drag(qtbot, window, [(30, 110), (60, 110)])
    mask = max(window.session.annotations.values(), key=lambda a: a.id)
    assert window.session.selection == (mask.id,)
    drag(qtbot, window, [(45, 100), (45, 130)])  # same class, selected: paints into it
    assert max(window.session.annotations) == mask.id
    key(qtbot, window, "3")  # a digit re-classes the selection: select nothing first
    key(qtbot, window, Qt.Key.Key_Escape)
    assert window.session.selection == ()  # Esc deselects in brush mode


def test_escape_in_brush_mode_deselects(qtbot, window) -> None:
    polygon = _polygon(window)
    key(qtbot, window, "v")
    click(qtbot, window, 210, 30)
    assert window.session.selection == (polygon.id,)
    key(qtbot, window, "b")
    key(qtbot, window, Qt.Key.Key_Escape)
    assert window.session.selection == ()


def _menu_action(window, name: str):
    menu = window.context_menu
    assert menu is not None and menu.isVisible()
    found = [a for a in menu.findChildren(type(menu.menuAction())) if a.objectName() == name]
    assert found, f"no {name} in the menu"
    return found[0]


def test_right_click_a_vertex_deletes_it_without_alt(qtbot, window) -> None:
    polygon = _polygon(window)
    vertices = len(polygon.geometry.parts[0].exterior)
    key(qtbot, window, "v")
    click(qtbot, window, 210, 30)
    click(qtbot, window, 290, 25, Qt.MouseButton.RightButton)
    _menu_action(window, "menu_delete_vertex").trigger()
    window.context_menu.close()
    after = window.session.annotations[polygon.id].geometry
    assert len(after.parts[0].exterior) == vertices - 1
    assert window.project.undo_label() == "Delete vertex"


def test_right_click_a_shape_changes_its_class_and_order(qtbot, window) -> None:
    polygon = _polygon(window)
    key(qtbot, window, "v")
    click(qtbot, window, 240, 85, Qt.MouseButton.RightButton)  # not selected yet: selected by the click
    assert window.session.selection == (polygon.id,)
    names = [a.objectName() for a in window.context_menu.findChildren(type(window.context_menu.menuAction()))]
    assert "menu_delete_vertex" not in names  # inside the shape, on no vertex
    _menu_action(window, "menu_class_3").trigger()
    window.context_menu.close()
    assert window.session.annotations[polygon.id].category_id == 3
    click(qtbot, window, 240, 85, Qt.MouseButton.RightButton)
    _menu_action(window, "menu_bring_front").trigger()
    top = max(a.z_order for a in window.session.annotations.values())
    assert window.session.annotations[polygon.id].z_order == top
    click(qtbot, window, 240, 85, Qt.MouseButton.RightButton)
    _menu_action(window, "menu_delete_shape").trigger()
    assert polygon.id not in window.session.annotations
    QApplication.processEvents()


def test_images_list_marks_several_images_done_in_one_undo_step(qtbot, window) -> None:
    """Issue 11: a multi-selection in the images list with "Mark done" / "Mark not done"."""
    from PySide6.QtCore import QItemSelectionModel

    from annotations.model import ImageStatus

    panel = window.images_panel
    images = window.session.images
    view = panel.list
    first = view.visualRect(panel.model.index(0)).center()
    third = view.visualRect(panel.model.index(2)).center()
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, first)
    qtbot.mouseClick(view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.ShiftModifier, third)
    assert panel.selected_image_ids() == [i.id for i in images]
    assert window.current_image().id == images[0].id  # shift+click extends, does not open
    qtbot.mouseClick(panel.done_button, Qt.MouseButton.LeftButton)
    assert all(window.project.get_image(i.id).status is ImageStatus.DONE for i in images)
    assert "3 images done" in panel.summary.text() or "3 done" in panel.summary.text()
    key(qtbot, window, "z", Qt.KeyboardModifier.ControlModifier)  # one step back for all three
    assert [window.project.get_image(i.id).status for i in images] == [ImageStatus.NEW] * 3
    key(qtbot, window, "y", Qt.KeyboardModifier.ControlModifier)
    view.selectionModel().select(panel.model.index(0), QItemSelectionModel.SelectionFlag.ClearAndSelect)
    view.selectionModel().select(panel.model.index(1), QItemSelectionModel.SelectionFlag.Select)
    qtbot.mouseClick(panel.not_done_button, Qt.MouseButton.LeftButton)
    statuses = [window.project.get_image(i.id).status for i in images]
    assert statuses == [ImageStatus.IN_PROGRESS, ImageStatus.NEW, ImageStatus.DONE]  # shapes -> in progress
