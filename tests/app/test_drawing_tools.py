"""Drawing and editing with real mouse and keyboard events on the canvas, undo/redo of all of
it, and the same shapes after closing and reopening the project."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from annotations.geometry import Box, Mask, Polygon, rle
from annotations.store import Project
from tests.app.gui_helpers import click, drag, key, view_point

TOL = 1.0  # image pixels: one viewport pixel is ~0.3 image pixels at the fitted zoom


def newest(window):
    return max(window.session.annotations.values(), key=lambda a: a.id)


def snapshot(project: Project, image_id: int) -> dict:
    return {a.id: (a.category_id, a.geometry, a.z_order, a.iscrowd) for a in project.annotations(image_id)}


def test_draw_box_with_the_box_tool(qtbot, window) -> None:
    key(qtbot, window, "r")
    assert window.tool.name == "box"
    drag(qtbot, window, [(20, 20), (60, 50), (100, 80)])
    box = newest(window).geometry
    assert isinstance(box, Box)
    assert box.xyxy == pytest.approx((20, 20, 100, 80), abs=TOL)
    assert newest(window).category_id == window.session.current_category_id
    assert window.session.selection == (newest(window).id,)
    # A click without a drag adds nothing.
    count = len(window.session.annotations)
    click(qtbot, window, 150, 150)
    assert len(window.session.annotations) == count


def test_box_corner_edit(qtbot, window) -> None:
    box_id = next(a.id for a in window.session.annotations.values() if isinstance(a.geometry, Box))
    key(qtbot, window, "v")
    click(qtbot, window, 40, 175)  # inside the box: select it
    assert window.session.selection == (box_id,)
    drag(qtbot, window, [(70, 200), (75, 205), (80, 215)])  # bottom-right corner
    assert window.session.annotations[box_id].geometry.xyxy == pytest.approx((12, 150, 80, 215), abs=TOL)


def test_polygon_with_a_hole_then_vertex_edits_and_undo_redo(qtbot, window, gui_project_path) -> None:
    image_id = window.current_image().id
    initial = snapshot(window.project, image_id)

    # --- a polygon: four clicks, Backspace drops a wrong one, Enter closes
    key(qtbot, window, "p")
    for x, y in [(20, 20), (120, 20), (120, 120), (160, 160)]:
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Backspace)  # removes (160, 160)
    click(qtbot, window, 20, 120)
    key(qtbot, window, Qt.Key.Key_Return)
    polygon_annotation = newest(window)
    polygon = polygon_annotation.geometry
    assert isinstance(polygon, Polygon)
    assert polygon.area == pytest.approx(100 * 100, rel=0.03)
    assert len(polygon.parts[0].exterior) == 4

    # --- a hole drawn inside it (closed by clicking the first vertex)
    key(qtbot, window, "h")
    for x, y in [(50, 50), (90, 50), (90, 90), (50, 90)]:
        click(qtbot, window, x, y)
    click(qtbot, window, 50, 50)
    holed = window.session.annotations[polygon_annotation.id].geometry
    assert isinstance(holed, Polygon) and holed.has_holes
    assert holed.area == pytest.approx(100 * 100 - 40 * 40, rel=0.04)

    # --- vertex drag: the top-right corner of the polygon
    key(qtbot, window, "v")
    click(qtbot, window, 30, 30)
    assert window.session.selection == (polygon_annotation.id,)
    drag(qtbot, window, [(120, 20), (125, 15), (130, 10)])
    moved = window.session.annotations[polygon_annotation.id].geometry
    assert any(np.allclose(p, (130, 10), atol=TOL) for p in moved.parts[0].exterior)
    assert len(moved.parts[0].exterior) == 4

    # --- insert a vertex by pressing on the left edge and dragging it outward
    drag(qtbot, window, [(20, 70), (15, 70), (8, 70)])
    inserted = window.session.annotations[polygon_annotation.id].geometry
    assert len(inserted.parts[0].exterior) == 5
    assert any(np.allclose(p, (8, 70), atol=TOL) for p in inserted.parts[0].exterior)

    # --- delete it again with Alt+click, and a hole vertex with click + Delete
    click(qtbot, window, 8, 70, modifier=Qt.KeyboardModifier.AltModifier)
    assert len(window.session.annotations[polygon_annotation.id].geometry.parts[0].exterior) == 4
    click(qtbot, window, 90, 90)  # a vertex of the hole
    key(qtbot, window, Qt.Key.Key_Delete)
    after_delete = window.session.annotations[polygon_annotation.id].geometry
    assert len(after_delete.parts[0].holes[0]) == 3
    assert polygon_annotation.id in window.session.annotations  # Delete removed the vertex, not the shape
    final = snapshot(window.project, image_id)

    # --- undo everything with Ctrl+Z, redo everything with Ctrl+Shift+Z
    steps = 0
    while window.project.undo_label() is not None:
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
        steps += 1
        assert steps < 50
    assert steps == 6  # add, cut hole, move vertex, insert vertex, 2 x delete vertex
    assert snapshot(window.project, image_id) == initial
    assert {a.id for a in window.session.annotations.values()} == set(initial)
    for _ in range(steps):
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    assert snapshot(window.project, image_id) == final
    assert window.session.annotations[polygon_annotation.id].geometry == after_delete

    # --- close and reopen: the same shapes, and the undo history survives the restart
    window.close()
    with Project.open(gui_project_path) as reopened:
        assert snapshot(reopened, image_id) == final
        assert reopened.undo_label() == "Delete vertex"
        assert reopened.undo() == "Delete vertex"
        assert len(reopened.get_annotation(polygon_annotation.id).geometry.parts[0].holes[0]) == 4


def test_paint_and_erase_a_mask(qtbot, window) -> None:
    image = window.current_image()
    key(qtbot, window, "3")  # class 3: 'cluster'
    assert window.session.current_category_id == 3
    key(qtbot, window, Qt.Key.Key_Escape)  # nothing selected: the brush starts a new mask
    window.session.set_selection(())
    key(qtbot, window, "b")
    window.brush_spin.setValue(10)
    drag(qtbot, window, [(30, 110), (50, 110), (70, 110), (90, 110)])
    mask_annotation = newest(window)
    mask = mask_annotation.geometry
    assert isinstance(mask, Mask) and mask.size == image.size_hw
    assert mask_annotation.category_id == 3
    dense = rle.decode(mask)
    assert dense[110, 30:90].all()  # the stroke's centre line
    assert not dense[110 + 8, 60] and not dense[110 - 8, 60]  # radius 5
    painted = rle.area(mask)
    expected = 60 * 10 + np.pi * 5**2  # a 60 px stroke of radius 5 with round caps
    assert 0.85 * expected < painted < 1.15 * expected

    # a second stroke adds to the same (selected) mask: one annotation, one more undo step
    drag(qtbot, window, [(60, 90), (60, 130)])
    assert newest(window).id == mask_annotation.id
    assert rle.area(window.session.annotations[mask_annotation.id].geometry) > painted

    # the eraser removes pixels from the selected mask
    key(qtbot, window, "e")
    before = rle.area(window.session.annotations[mask_annotation.id].geometry)
    drag(qtbot, window, [(45, 95), (45, 105), (45, 125)])
    erased = rle.decode(window.session.annotations[mask_annotation.id].geometry)
    assert not erased[110, 45]
    assert erased[110, 75]
    assert rle.area(window.session.annotations[mask_annotation.id].geometry) < before

    # undo the erase and both strokes; redo them
    for _ in range(3):
        key(qtbot, window, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert mask_annotation.id not in window.session.annotations
    for _ in range(3):
        key(qtbot, window, Qt.Key.Key_Y, Qt.KeyboardModifier.ControlModifier)
    assert np.array_equal(rle.decode(window.session.annotations[mask_annotation.id].geometry), erased)


def test_move_shapes_by_dragging_and_nudging(qtbot, window) -> None:
    box_id = next(a.id for a in window.session.annotations.values() if isinstance(a.geometry, Box))
    key(qtbot, window, "v")
    drag(qtbot, window, [(40, 170), (50, 165), (60, 160)])
    assert window.session.annotations[box_id].geometry.xyxy == pytest.approx((32, 140, 90, 190), abs=TOL)
    key(qtbot, window, Qt.Key.Key_Right)
    key(qtbot, window, Qt.Key.Key_Down, Qt.KeyboardModifier.ShiftModifier)
    assert window.session.annotations[box_id].geometry.xyxy == pytest.approx((33, 150, 91, 200), abs=TOL)


def test_brush_and_eraser_on_a_polygon_keep_it_a_polygon(qtbot, window) -> None:
    polygon_id = next(
        a.id for a in window.session.annotations.values() if isinstance(a.geometry, Polygon) and a.geometry.has_holes
    )
    before = window.session.annotations[polygon_id].geometry.area
    key(qtbot, window, "v")
    click(qtbot, window, 210, 30)
    assert window.session.selection == (polygon_id,)
    key(qtbot, window, "e")
    window.brush_spin.setValue(12)
    drag(qtbot, window, [(240, 10), (240, 110)])  # cut through the polygon top to bottom
    after = window.session.annotations[polygon_id].geometry
    assert isinstance(after, Polygon)
    assert after.area < before - 50
    assert len(after.parts) == 2  # the cut split it in two


def test_double_click_closes_a_polygon_and_escape_cancels(qtbot, window) -> None:
    key(qtbot, window, "p")
    count = len(window.session.annotations)
    for x, y in [(150, 120), (190, 120)]:
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Escape)
    assert window.tool.points == [] and len(window.session.annotations) == count
    click(qtbot, window, 150, 120)
    click(qtbot, window, 190, 120)
    # A real double-click arrives as press, release, double-click, release.
    click(qtbot, window, 170, 160)
    qtbot.mouseDClick(window.canvas.viewport(), Qt.MouseButton.LeftButton, pos=view_point(window, 170, 160))
    assert len(window.session.annotations) == count + 1
    assert newest(window).geometry.area == pytest.approx(40 * 40 / 2, rel=0.05)


@pytest.mark.parametrize("selected", [False, True])
def test_a_hole_covering_the_whole_shape_says_so(qtbot, window, selected: bool) -> None:
    box = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Box))  # (12, 150, 70, 200)
    before = snapshot(window.project, window.current_image().id)
    if selected:
        window.session.set_selection((box.id,))
    key(qtbot, window, "h")
    for x, y in [(6, 146), (76, 146), (76, 206), (6, 206)]:  # around the box, touching nothing else
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Return)
    message = window.statusBar().currentMessage()
    assert message == "Hole not cut: the hole covers the whole shape; nothing would be left"
    assert snapshot(window.project, window.current_image().id) == before
    # A hole over empty background still asks for a shape.
    window.session.set_selection(())
    for x, y in [(150, 120), (190, 120), (190, 140), (150, 140)]:
        click(qtbot, window, x, y)
    key(qtbot, window, Qt.Key.Key_Return)
    assert "draw it inside a shape" in window.statusBar().currentMessage()
