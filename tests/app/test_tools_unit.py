"""Canvas tools driven by ToolEvent sequences on a stand-in workspace (no window, no mouse): the
tool protocol is the unit under test."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QKeyEvent

from annotations.geometry import Box, Mask, Polygon, rle
from annotations.model import AddAnnotation, Annotation, ImageStatus
from annotations.store import Project
from app.tools.base import ToolEvent
from app.tools.brush import BrushTool
from app.tools.draw import BoxTool
from tests.app.tool_fakes import FakeWorkspace

LEFT = Qt.MouseButton.LeftButton


def press(x: float, y: float) -> ToolEvent:
    return ToolEvent(x, y, LEFT, LEFT)


def move(x: float, y: float) -> ToolEvent:
    return ToolEvent(x, y, Qt.MouseButton.NoButton, LEFT)


def release(x: float, y: float) -> ToolEvent:
    return ToolEvent(x, y, LEFT, Qt.MouseButton.NoButton)


def stroke(tool, points) -> None:
    tool.mouse_press(press(*points[0]))
    for point in points[1:]:
        tool.mouse_move(move(*point))
    tool.mouse_release(release(*points[-1]))


@pytest.fixture
def workspace(qtbot, new_project: Project) -> FakeWorkspace:
    return FakeWorkspace(new_project, new_project.images()[0].id)


def test_box_tool_adds_a_clamped_box_and_marks_the_image_in_progress(workspace: FakeWorkspace) -> None:
    tool = BoxTool()
    tool.activate(workspace)
    stroke(tool, [(10, 10), (50, 30), (150, 60)])  # past the right edge (image 100 x 80)
    (annotation,) = workspace.session.annotations.values()
    assert isinstance(annotation.geometry, Box) and annotation.geometry.xyxy == (10, 10, 100, 60)
    assert workspace.session.selection == (annotation.id,)
    assert workspace.project.get_image(annotation.image_id).status is ImageStatus.IN_PROGRESS


def test_brush_paints_a_new_mask_beside_a_selected_polygon(workspace: FakeWorkspace) -> None:
    image = workspace.session.image
    polygon = Polygon.from_points([[5, 5], [40, 5], [40, 40], [5, 40]])
    done = workspace.execute(AddAnnotation(Annotation(0, image.id, 2, polygon)))
    workspace.session.set_selection((done.annotation.id,))
    workspace.session.set_current_category(1)
    tool = BrushTool()
    tool.activate(workspace)
    stroke(tool, [(20, 20), (60, 20)])
    assert workspace.session.annotations[done.annotation.id].geometry == polygon  # untouched
    new = max(workspace.session.annotations.values(), key=lambda a: a.id)
    assert isinstance(new.geometry, Mask) and new.category_id == 1
    painted = rle.decode(new.geometry)
    assert painted[20, 20:60].all() and not painted[30, 20]


def test_brush_adds_to_its_selected_mask_and_escape_deselects(workspace: FakeWorkspace) -> None:
    workspace.session.set_current_category(1)
    tool = BrushTool()
    tool.activate(workspace)
    stroke(tool, [(20, 20), (40, 20)])
    first = max(workspace.session.annotations)
    before = rle.area(workspace.session.annotations[first].geometry)
    stroke(tool, [(30, 10), (30, 50)])
    assert max(workspace.session.annotations) == first
    assert rle.area(workspace.session.annotations[first].geometry) > before
    assert tool.key_press(QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Escape, Qt.KeyboardModifier.NoModifier))
    assert workspace.session.selection == ()
    stroke(tool, [(70, 60), (80, 60)])
    assert len(workspace.session.annotations) == 2
    assert np.count_nonzero(rle.decode(workspace.session.annotations[max(workspace.session.annotations)].geometry)) > 0
