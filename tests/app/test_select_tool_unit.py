"""The select tool driven by ToolEvent sequences on a stand-in workspace (no window, no mouse):
a real session and project, the real shape layer and selection overlay (tests/app/tool_fakes.py
ShapesCanvas). Image 100 x 80 (width x height); a box (10, 10)-(30, 30) of class 1 and a
square polygon (50, 10)-(90, 50) of class 2."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from annotations.geometry import Box, Polygon
from annotations.model import AddAnnotation, Annotation
from annotations.store import Project
from app.tools.base import ToolEvent
from app.tools.select import SelectTool
from tests.app.tool_fakes import FakeWorkspace

LEFT, RIGHT, NONE = Qt.MouseButton.LeftButton, Qt.MouseButton.RightButton, Qt.MouseButton.NoButton
SHIFT = Qt.KeyboardModifier.ShiftModifier


def press(x: float, y: float, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> ToolEvent:
    return ToolEvent(x, y, LEFT, LEFT, modifiers)


def move(x: float, y: float) -> ToolEvent:
    return ToolEvent(x, y, NONE, LEFT)


def hover(x: float, y: float) -> ToolEvent:
    return ToolEvent(x, y, NONE, NONE)


def release(x: float, y: float, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> ToolEvent:
    return ToolEvent(x, y, LEFT, NONE, modifiers)


def drag(tool: SelectTool, start: tuple[float, float], end: tuple[float, float]) -> None:
    tool.mouse_press(press(*start))
    tool.mouse_move(move((start[0] + end[0]) / 2, (start[1] + end[1]) / 2))
    tool.mouse_move(move(*end))
    tool.mouse_release(release(*end))


def key(code: Qt.Key, modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> QKeyEvent:
    return QKeyEvent(QEvent.Type.KeyPress, code, modifiers)


@pytest.fixture
def setup(qtbot, new_project: Project) -> tuple[FakeWorkspace, SelectTool, int, int]:
    image_id = new_project.images()[0].id
    box = new_project.execute_change(AddAnnotation(Annotation(0, image_id, 1, Box(10, 10, 30, 30)))).annotation.id
    square = Polygon.from_points([[50, 10], [90, 10], [90, 50], [50, 50]])
    polygon = new_project.execute_change(AddAnnotation(Annotation(0, image_id, 2, square))).annotation.id
    workspace = FakeWorkspace(new_project, image_id, shapes=True)
    tool = SelectTool()
    tool.activate(workspace)
    return workspace, tool, box, polygon


def geometry(workspace: FakeWorkspace, annotation_id: int):
    return workspace.session.annotations[annotation_id].geometry


def vertices(workspace: FakeWorkspace, annotation_id: int) -> set[tuple[float, float]]:
    return {(float(x), float(y)) for x, y in geometry(workspace, annotation_id).all_points()}


def test_click_selects_shift_click_adds_and_a_click_on_nothing_clears(setup) -> None:
    workspace, tool, box, polygon = setup
    tool.mouse_press(press(20, 20))
    tool.mouse_release(release(20, 20))
    assert workspace.session.selection == (box,)
    tool.mouse_press(press(70, 30, SHIFT))
    tool.mouse_release(release(70, 30, SHIFT))
    assert workspace.session.selection == (box, polygon)
    tool.mouse_press(press(70, 30, SHIFT))  # Shift+click on a selected shape takes it out
    tool.mouse_release(release(70, 30, SHIFT))
    assert workspace.session.selection == (box,)
    tool.mouse_press(press(40, 70))
    tool.mouse_release(release(40, 70))
    assert workspace.session.selection == ()


def test_dragging_a_shape_moves_it_in_one_undoable_step(setup) -> None:
    workspace, tool, box, _polygon = setup
    drag(tool, (20, 20), (25, 22))
    assert geometry(workspace, box).xyxy == (15, 12, 35, 32)
    assert workspace.project.undo_label() == "Move shapes"
    assert tool.window.canvas.selection_overlay.offset.isNull()  # the live offset is dropped
    workspace.session.undo()
    assert geometry(workspace, box).xyxy == (10, 10, 30, 30)


def test_a_drag_past_the_image_edge_stops_at_the_edge(setup) -> None:
    workspace, tool, box, _polygon = setup
    drag(tool, (20, 20), (-40, 20))
    assert geometry(workspace, box).xyxy == (0, 10, 20, 30)


def test_rubber_band_selects_the_shapes_inside_it(setup) -> None:
    workspace, tool, box, polygon = setup
    drag(tool, (5, 5), (40, 40))
    assert workspace.session.selection == (box,)
    drag(tool, (5, 5), (95, 60))
    assert set(workspace.session.selection) == {box, polygon}
    assert workspace.project.undo_label() == "Add polygon"  # still the fixture's: selecting is no edit


def test_dragging_a_box_corner_resizes_the_box(setup) -> None:
    workspace, tool, box, _polygon = setup
    workspace.session.set_selection((box,))
    drag(tool, (30, 30), (40, 35))
    assert geometry(workspace, box).xyxy == (10, 10, 40, 35)
    assert workspace.project.undo_label() == "Resize box"


def test_dragging_a_vertex_reshapes_and_pressing_an_edge_inserts_one(setup) -> None:
    workspace, tool, _box, polygon = setup
    workspace.session.set_selection((polygon,))
    drag(tool, (90, 50), (95, 60))
    assert vertices(workspace, polygon) == {(50, 10), (90, 10), (95, 60), (50, 50)}
    assert workspace.project.undo_label() == "Move vertex"
    drag(tool, (70, 10), (70, 4))  # the middle of the top edge
    assert vertices(workspace, polygon) == {(50, 10), (70, 4), (90, 10), (95, 60), (50, 50)}
    assert workspace.project.undo_label() == "Insert vertex"


def test_right_click_on_a_vertex_offers_its_deletion_and_on_a_shape_selects_it(setup) -> None:
    workspace, tool, box, polygon = setup
    workspace.session.set_selection((polygon,))
    assert tool.mouse_press(ToolEvent(50, 10, RIGHT, RIGHT))
    menu_for, delete_vertex = workspace.menu_for
    assert menu_for == polygon and delete_vertex is not None
    delete_vertex()
    assert vertices(workspace, polygon) == {(90, 10), (90, 50), (50, 50)}
    assert workspace.project.undo_label() == "Delete vertex"
    assert tool.mouse_press(ToolEvent(20, 20, RIGHT, RIGHT))
    assert workspace.menu_for == (box, None) and workspace.session.selection == (box,)
    assert not tool.mouse_press(ToolEvent(40, 70, RIGHT, RIGHT))  # nothing there: no menu


def test_a_clicked_vertex_is_deleted_with_delete_and_a_triangle_keeps_its_vertices(setup) -> None:
    workspace, tool, _box, polygon = setup
    workspace.session.set_selection((polygon,))
    tool.mouse_press(press(50, 50))
    tool.mouse_release(release(50, 50))
    assert tool.active_vertex is not None and tool.claims_key(key(Qt.Key.Key_Delete))
    assert tool.key_press(key(Qt.Key.Key_Delete))
    assert len(geometry(workspace, polygon).all_points()) == 3
    tool.mouse_press(press(90, 10))
    tool.mouse_release(release(90, 10))
    tool.key_press(key(Qt.Key.Key_Delete))  # a triangle cannot lose a vertex: refused with a message
    assert len(geometry(workspace, polygon).all_points()) == 3 and workspace.messages


def test_arrows_nudge_the_selection_and_escape_deselects(setup) -> None:
    workspace, tool, box, _polygon = setup
    workspace.session.set_selection((box,))
    assert tool.key_press(key(Qt.Key.Key_Right))
    assert geometry(workspace, box).xyxy == (11, 10, 31, 30)
    assert tool.key_press(key(Qt.Key.Key_Down, SHIFT))
    assert geometry(workspace, box).xyxy == (11, 20, 31, 40)
    assert workspace.project.undo_label() == "Nudge shapes"
    assert tool.key_press(key(Qt.Key.Key_Escape))
    assert workspace.session.selection == ()


def test_hover_marks_edges_and_selected_shapes(setup) -> None:
    workspace, tool, box, polygon = setup
    workspace.session.set_selection((polygon,))
    overlay = workspace.canvas.selection_overlay
    tool.mouse_move(hover(70, 10))  # on the selected polygon's top edge: a vertex would go here
    assert overlay.hover_point is not None and workspace.canvas.cursor == Qt.CursorShape.CrossCursor
    tool.mouse_move(hover(70, 30))  # inside the selected polygon: it can be dragged
    assert overlay.hover_point is None and workspace.canvas.cursor == Qt.CursorShape.SizeAllCursor
    tool.mouse_move(hover(20, 20))  # over the unselected box: highlighted
    assert overlay.hover_shape is not None and overlay.hover_shape.annotation_id == box
    assert np.isclose(overlay.hover_shape.bounds, (10, 10, 30, 30)).all()
