"""The pure geometry edits behind the tools (no window needed)."""

from __future__ import annotations

import numpy as np
import pytest

from annotations.errors import GeometryError
from annotations.geometry import Box, Mask, Polygon, polygon_to_mask, rle
from app import editing
from app.editing import VertexRef

SQUARE = Polygon.from_points([[0, 0], [10, 0], [10, 10], [0, 10]], [[[3, 3], [6, 3], [6, 6], [3, 6]]])


def test_vertex_find_move_insert_delete() -> None:
    assert editing.nearest_vertex(SQUARE, 9.6, 0.3, 1.0) == VertexRef(0, 0, 1)
    assert editing.nearest_vertex(SQUARE, 5.9, 6.2, 0.5) == VertexRef(0, 1, 2)
    assert editing.nearest_vertex(SQUARE, 5, 5, 0.5) is None
    ref, x, y = editing.nearest_edge(SQUARE, 5.0, 0.4, 1.0)
    assert ref == VertexRef(0, 0, 0) and (x, y) == (5.0, 0.0)
    moved = editing.move_vertex(SQUARE, VertexRef(0, 0, 2), 12, 12)
    assert moved.parts[0].exterior[2].tolist() == [12, 12]
    inserted, new_ref = editing.insert_vertex(SQUARE, ref, x, y)
    assert new_ref == VertexRef(0, 0, 1) and len(inserted.parts[0].exterior) == 5
    assert inserted.parts[0].exterior[1].tolist() == [5, 0]
    fewer = editing.delete_vertex(inserted, new_ref)
    assert fewer == SQUARE
    # A hole with 3 vertices left disappears when one more is deleted.
    three = editing.delete_vertex(SQUARE, VertexRef(0, 1, 0))
    assert len(three.parts[0].holes[0]) == 3
    assert not editing.delete_vertex(three, VertexRef(0, 1, 0)).has_holes
    triangle = Polygon.from_points([[0, 0], [4, 0], [0, 4]])
    with pytest.raises(GeometryError):
        editing.delete_vertex(triangle, VertexRef(0, 0, 0))


def test_box_corners_and_translation_clamped_to_the_image() -> None:
    box = Box(10, 10, 20, 30)
    assert editing.move_box_corner(box, 2, 25, 35) == Box(10, 10, 25, 35)
    assert editing.move_box_corner(box, 2, 5, 5) == Box(5, 5, 10, 10)  # dragged across the opposite corner
    assert editing.translate(box, -50, 100, (40, 100)) == Box(0, 20, 10, 40)
    mask = rle.encode(np.pad(np.ones((2, 2), bool), ((1, 7), (1, 7))))
    shifted = editing.translate(mask, 3.4, -0.6, (10, 10))
    dense = rle.decode(shifted)
    assert dense[0:2, 4:6].all() and dense.sum() == 4


def test_subtract_a_hole_and_fill_holes() -> None:
    outer = Polygon.from_points([[0, 0], [20, 0], [20, 20], [0, 20]])
    cutter = Polygon.from_points([[5, 5], [10, 5], [10, 10], [5, 10]])
    holed = editing.subtract(outer, cutter, (30, 30))
    assert isinstance(holed, Polygon) and holed.has_holes and holed.area == pytest.approx(400 - 25)
    assert editing.fill_holes(holed).area == pytest.approx(400)
    boxed = editing.subtract(Box(0, 0, 20, 20), cutter, (30, 30))
    assert isinstance(boxed, Polygon) and boxed.area == pytest.approx(375)
    mask = polygon_to_mask(outer, (30, 30))
    mask_holed = editing.subtract(mask, cutter, (30, 30))
    assert isinstance(mask_holed, Mask) and rle.area(mask_holed) == 400 - 25
    assert editing.has_holes(mask_holed) and not editing.has_holes(mask)
    assert rle.area(editing.fill_holes(mask_holed)) == 400
    with pytest.raises(GeometryError):
        editing.subtract(cutter, outer, (30, 30))


def test_conversions() -> None:
    polygon = editing.to_polygon(Box(2, 3, 8, 9))
    assert polygon.area == pytest.approx(36)
    mask = polygon_to_mask(SQUARE, (20, 20))
    traced = editing.to_polygon(mask)
    assert traced.has_holes and traced.area == pytest.approx(rle.area(mask))


def test_brush_strokes_on_masks_and_polygons() -> None:
    stroke = editing.rasterize_stroke(np.array([[10.5, 10.5], [30.5, 10.5]]), 3, (40, 50))
    assert stroke[10, 10:31].all() and not stroke[10 + 4, 20] and not stroke[10, 35]
    assert stroke[8:13, 20].all()
    painted = editing.apply_stroke(None, np.array([[10.5, 10.5], [30.5, 10.5]]), 3, (40, 50), erase=False)
    assert isinstance(painted, Mask) and np.array_equal(rle.decode(painted), stroke)
    erased = editing.apply_stroke(painted, np.array([[20.5, 0.5], [20.5, 30.5]]), 2, (40, 50), erase=True)
    assert not rle.decode(erased)[10, 20] and rle.decode(erased)[10, 12]
    assert editing.apply_stroke(painted, np.array([[0, 10], [50, 10]]), 10, (40, 50), erase=True) is None
    square = Polygon.from_points([[0, 0], [10, 0], [10, 10], [0, 10]])
    grown = editing.apply_stroke(square, np.array([[10, 5], [15, 5]]), 2, (40, 50), erase=False)
    assert isinstance(grown, Polygon) and grown.area > 100 + 5 * 4 * 0.9
    # A stroke running off the image edge paints the part inside.
    edge = editing.rasterize_stroke(np.array([[-5.0, 2.5], [5.0, 2.5]]), 2, (10, 10))
    assert edge[2, 0:5].all()


def test_fit_to_image_for_paste() -> None:
    big = rle.encode(np.ones((30, 30), bool))
    fitted = editing.fit_to_image(big, (10, 20))
    assert fitted.size == (10, 20) and rle.area(fitted) == 200
    assert editing.fit_to_image(Box(5, 5, 50, 50), (10, 10)) == Box(5, 5, 10, 10)
    assert editing.fit_to_image(Box(50, 50, 60, 60), (10, 10)) is None
    assert editing.polygon_from_points(np.array([[0, 0], [10, 10], [10, 0], [0, 10]]), (20, 20)).area == pytest.approx(50)
