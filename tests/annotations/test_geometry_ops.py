"""Geometry building blocks: validation, repair, clipping, conversions, errors."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from annotations.errors import GeometryError
from annotations.geometry import (
    Box,
    Mask,
    Polygon,
    PolygonPart,
    area,
    box_iou,
    clip_to_image,
    iou,
    mask_to_polygon,
    polygon_to_mask,
    repair_polygon,
    rle,
    to_box,
    to_mask,
    to_shapely,
    validate_polygon,
)

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

SQUARE = [[10, 10], [30, 10], [30, 30], [10, 30]]


# ------------------------------------------------------------------------------ shapes
def test_box_forms_and_errors() -> None:
    box = Box.from_xywh([1, 2, 3, 4])
    assert box.xyxy == (1, 2, 4, 6) and box.xywh == (1, 2, 3, 4) and box.area == 12
    assert Box.from_corners(5, 6, 1, 2) == Box(1, 2, 5, 6)
    assert box.translated(1, 1) == Box(2, 3, 5, 7)
    with pytest.raises(GeometryError, match="not ordered"):
        Box(5, 0, 1, 1)
    with pytest.raises(GeometryError, match="non-finite"):
        Box(0, 0, float("nan"), 1)


def test_polygon_rings_are_open_readonly_float_arrays() -> None:
    polygon = Polygon.from_points(SQUARE + [SQUARE[0]])  # a closing vertex is dropped
    ring = polygon.parts[0].exterior
    assert ring.shape == (4, 2) and ring.dtype == np.float64
    with pytest.raises(ValueError, match="read-only"):
        ring[0, 0] = 99
    assert polygon == Polygon.from_points(SQUARE) and hash(polygon) == hash(Polygon.from_points(SQUARE))
    with pytest.raises(GeometryError, match="odd length"):
        Polygon.from_coco([[1, 2, 3]])
    with pytest.raises(GeometryError, match="non-finite"):
        Polygon.from_points([[0, 0], [1, np.inf], [1, 1]])
    with pytest.raises(GeometryError, match="at least one part"):
        Polygon(())


def test_unchecked_constructors_build_equal_shapes() -> None:
    ring = np.asarray(SQUARE, dtype=np.float64)
    ring.setflags(write=False)
    assert Polygon.unchecked((PolygonPart.unchecked(ring),)) == Polygon.from_points(SQUARE)


def test_polygon_area_subtracts_holes_and_sums_parts() -> None:
    hole = [[15, 15], [20, 15], [20, 20], [15, 20]]
    with_hole = Polygon.from_points(SQUARE, [hole])
    assert with_hole.area == 400 - 25 and with_hole.has_holes
    two = Polygon((PolygonPart(np.array(SQUARE)), PolygonPart(np.array(SQUARE) + 100)))
    assert area(two) == 800 and two.vertex_count == 8
    assert to_box(two) == Box(10, 10, 130, 130)


def test_mask_validation() -> None:
    with pytest.raises(GeometryError, match="positive"):
        Mask((0, 5), b"")
    with pytest.raises(GeometryError, match=r"shape \(height, width\)"):
        rle.encode(np.zeros((2, 2, 2)))
    with pytest.raises(GeometryError, match="different sizes"):
        rle.union([rle.empty((4, 4)), rle.empty((4, 5))])
    with pytest.raises(GeometryError, match="sum to"):
        rle.from_coco({"size": [2, 2], "counts": [1, 1]})
    with pytest.raises(GeometryError, match="not a COCO RLE"):
        rle.from_coco({"counts": "abc"})


# ------------------------------------------------------------------------------ degenerate shapes and repair
@pytest.mark.parametrize(
    "points",
    [
        [[0, 0], [1, 1]],  # two vertices
        [[0, 0], [1, 1], [0, 0], [1, 1]],  # repeated vertices, two distinct
        [[0, 0], [1, 1], [2, 2], [3, 3]],  # collinear: zero area
        [[5, 5], [5, 5], [5, 5]],  # a point
    ],
)
def test_degenerate_polygons_raise(points: list[list[float]]) -> None:
    polygon = Polygon.from_points(points)
    with pytest.raises(GeometryError):
        validate_polygon(polygon)
    with pytest.raises(GeometryError):
        repair_polygon(polygon)


def test_degenerate_hole_raises() -> None:
    with pytest.raises(GeometryError, match="hole 0"):
        validate_polygon(Polygon.from_points(SQUARE, [[[15, 15], [16, 16]]]))


def test_repair_of_a_bow_tie_gives_two_valid_triangles() -> None:
    bow_tie = Polygon.from_points([[0, 0], [10, 10], [10, 0], [0, 10]])
    assert not to_shapely(bow_tie).is_valid
    repaired = repair_polygon(bow_tie)
    assert to_shapely(repaired).is_valid
    assert len(repaired.parts) == 2
    assert repaired.area == pytest.approx(50.0)  # two triangles of 25 each
    assert to_box(repaired) == Box(0, 0, 10, 10)


def test_repair_keeps_a_valid_polygon_unchanged() -> None:
    polygon = Polygon.from_points(SQUARE)
    assert repair_polygon(polygon) is polygon


def test_repair_of_a_hole_crossing_the_outline() -> None:
    polygon = Polygon.from_points(SQUARE, [[[25, 15], [40, 15], [40, 25], [25, 25]]])
    repaired = repair_polygon(polygon)
    assert to_shapely(repaired).is_valid
    expected = shapely.box(10, 10, 30, 30).difference(shapely.box(25, 15, 40, 25)).area
    assert repaired.area == pytest.approx(expected)


# ------------------------------------------------------------------------------ clipping
def test_clip_polygon_to_image() -> None:
    polygon = Polygon.from_points([[-10, -10], [50, -10], [50, 20], [-10, 20]])
    clipped = clip_to_image(polygon, (30, 40))
    points = clipped.all_points()
    assert points.min() >= 0 and points[:, 0].max() <= 40 and points[:, 1].max() <= 30
    assert clipped.area == pytest.approx(40 * 20)


def test_clip_keeps_inside_polygon_and_its_holes() -> None:
    polygon = Polygon.from_points(SQUARE, [[[15, 15], [20, 15], [20, 20], [15, 20]]])
    assert clip_to_image(polygon, (100, 100)) is polygon
    part = clip_to_image(polygon, (100, 25))  # width 25 cuts through the square, not the hole
    assert part.area == pytest.approx(15 * 20 - 25)
    assert part.has_holes
    notch = clip_to_image(polygon, (100, 18))  # through the hole: it becomes a notch
    assert notch.area == pytest.approx(8 * 20 - 3 * 5)
    assert not notch.has_holes


def test_clip_box_and_mask() -> None:
    assert clip_to_image(Box(-5, 5, 15, 50), (20, 10)) == Box(0, 5, 10, 20)
    mask = rle.empty((20, 10))
    assert clip_to_image(mask, (20, 10)) is mask
    with pytest.raises(GeometryError, match="differs from image size"):
        clip_to_image(mask, (10, 10))


def test_clip_outside_raises() -> None:
    with pytest.raises(GeometryError, match="outside the image"):
        clip_to_image(Box(50, 50, 60, 60), (20, 20))
    with pytest.raises(GeometryError, match="outside the image"):
        clip_to_image(Polygon.from_points([[50, 50], [60, 50], [60, 60]]), (20, 20))


# ------------------------------------------------------------------------------ conversions
def test_box_to_mask_and_back() -> None:
    box = Box(2, 3, 7, 9)
    mask = to_mask(box, (12, 10))
    assert rle.area(mask) == 30
    assert rle.bbox(mask) == box
    assert to_box(mask) == box
    assert iou(box, mask) == 1.0


def test_to_mask_refuses_a_mask_of_another_size() -> None:
    with pytest.raises(GeometryError, match="differs from image size"):
        to_mask(rle.empty((4, 4)), (5, 5))


def test_mask_to_polygon_keeps_separate_parts_and_holes() -> None:
    dense = np.zeros((40, 60), dtype=bool)
    dense[5:25, 5:25] = True
    dense[10:15, 10:15] = False  # a hole
    dense[30:35, 40:55] = True  # a second part
    polygon = mask_to_polygon(rle.encode(dense))
    assert len(polygon.parts) == 2
    assert sorted(len(p.holes) for p in polygon.parts) == [0, 1]
    assert polygon.area == dense.sum()
    np.testing.assert_array_equal(rle.decode(polygon_to_mask(polygon, (40, 60))), dense)
    # vertices lie on pixel corners
    assert np.array_equal(polygon.all_points(), np.round(polygon.all_points()))


def test_mask_to_polygon_drops_specks_and_refuses_empty() -> None:
    dense = np.zeros((10, 10), dtype=bool)
    with pytest.raises(GeometryError, match="empty"):
        mask_to_polygon(rle.encode(dense))
    dense[2, 2] = True
    with pytest.raises(GeometryError, match="no outline"):
        mask_to_polygon(rle.encode(dense), min_area=2.0)
    assert mask_to_polygon(rle.encode(dense)).area == 1.0


def test_mask_to_polygon_tolerance_simplifies() -> None:
    yy, xx = np.mgrid[0:100, 0:100]
    disc = (yy - 50) ** 2 + (xx - 50) ** 2 <= 40**2
    exact = mask_to_polygon(rle.encode(disc))
    simple = mask_to_polygon(rle.encode(disc), tolerance=1.0)
    assert simple.vertex_count < exact.vertex_count / 2
    assert iou(simple, exact) > 0.98


def test_iou_examples() -> None:
    assert box_iou(Box(0, 0, 10, 10), Box(5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou(Box(0, 0, 1, 1), Box(2, 2, 3, 3)) == 0.0
    square = Polygon.from_points(SQUARE)
    assert iou(square, Box(10, 10, 20, 30)) == pytest.approx(0.5)
    with pytest.raises(GeometryError, match="size"):
        iou(rle.empty((4, 4)), rle.empty((5, 5)))
