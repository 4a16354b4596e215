"""Property tests (hypothesis) of the geometry layer: IoU, RLE, polygon <-> mask round trips."""

from __future__ import annotations

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from annotations.geometry import (
    Box,
    Mask,
    Polygon,
    box_iou,
    boxes_iou_matrix,
    iou,
    mask_iou,
    mask_to_polygon,
    masks_iou_matrix,
    polygon_iou,
    polygon_to_mask,
    rle,
    to_box,
    to_mask,
    to_shapely,
)

# pycocotools' decode trips numpy 2's __array__(copy=...) deprecation on every call.
pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation doesn't accept a copy keyword")

SIZE_HW = (160, 200)
SCALE = int(os.environ.get("SEGSTUDIO_PROPERTY_SCALE", "1"))  # e.g. 20 for a deep local run
PROPERTY_SETTINGS = settings(max_examples=60 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# ------------------------------------------------------------------------------ strategies
@st.composite
def boxes(draw: st.DrawFn, size_hw: tuple[int, int] = SIZE_HW) -> Box:
    """Boxes with positive area inside the image; integer corners half of the time."""
    h, w = size_hw
    integer = draw(st.booleans())
    coord = st.integers(0, w - 2) if integer else st.floats(0, w - 2, allow_nan=False)
    x1 = draw(coord)
    y1 = draw(st.integers(0, h - 2) if integer else st.floats(0, h - 2, allow_nan=False))
    bw = draw(st.integers(1, w - int(x1) - 1) if integer else st.floats(0.5, w - x1 - 0.5))
    bh = draw(st.integers(1, h - int(y1) - 1) if integer else st.floats(0.5, h - y1 - 0.5))
    return Box(float(x1), float(y1), float(x1 + bw), float(y1 + bh))


def _star_ring(draw: st.DrawFn, cx: float, cy: float, radius: float, n: int, rng_seed: int) -> np.ndarray:
    rng = np.random.default_rng(rng_seed)
    angles = (np.arange(n) + rng.uniform(-0.3, 0.3, n)) * 2 * np.pi / n
    radii = rng.uniform(0.6, 1.0, n) * radius
    points = np.stack([cx + radii * np.cos(angles), cy + radii * np.sin(angles)], axis=1)
    return np.round(points) if draw(st.booleans()) else points


@st.composite
def polygons(draw: st.DrawFn, size_hw: tuple[int, int] = SIZE_HW, min_radius: float = 8.0) -> Polygon:
    """Simple star-shaped polygons (3..12 vertices) inside the image, float or integer vertices."""
    h, w = size_hw
    radius = draw(st.floats(min_radius, min(h, w) / 2 - 1))
    cx = draw(st.floats(radius, w - radius))
    cy = draw(st.floats(radius, h - radius))
    ring = _star_ring(draw, cx, cy, radius, draw(st.integers(3, 12)), draw(st.integers(0, 2**32 - 1)))
    polygon = Polygon.from_points(ring)
    assume(to_shapely(polygon).is_valid and polygon.area > 1.0)
    return polygon


@st.composite
def polygons_with_hole(draw: st.DrawFn) -> Polygon:
    """A star-shaped outer ring with a star-shaped hole around the same centre."""
    h, w = SIZE_HW
    radius = draw(st.floats(65, min(h, w) / 2 - 1))
    cx = draw(st.floats(radius, w - radius))
    cy = draw(st.floats(radius, h - radius))
    outer = _star_ring(draw, cx, cy, radius, draw(st.integers(5, 12)), draw(st.integers(0, 2**32 - 1)))
    inner_radius = draw(st.floats(15, radius * 0.35))
    inner = _star_ring(draw, cx, cy, inner_radius, draw(st.integers(4, 10)), draw(st.integers(0, 2**32 - 1)))
    polygon = Polygon.from_points(outer, [inner])
    assume(to_shapely(polygon).is_valid)
    return polygon


@st.composite
def masks(draw: st.DrawFn, size_hw: tuple[int, int] = SIZE_HW) -> Mask:
    """Random blobs (unions of discs) at image size, sometimes empty or full."""
    h, w = size_hw
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    mode = draw(st.sampled_from(["blobs", "blobs", "noise", "empty", "full"]))
    if mode == "empty":
        return rle.empty(size_hw)
    if mode == "full":
        return rle.encode(np.ones(size_hw, dtype=np.uint8))
    if mode == "noise":
        return rle.encode(rng.random(size_hw) < rng.uniform(0.05, 0.95))
    yy, xx = np.mgrid[0:h, 0:w]
    dense = np.zeros(size_hw, dtype=bool)
    for _ in range(int(rng.integers(1, 5))):
        cy, cx, r = rng.uniform(0, h), rng.uniform(0, w), rng.uniform(3, 40)
        dense |= (yy - cy) ** 2 + (xx - cx) ** 2 <= r * r
    return rle.encode(dense)


any_geometry = st.one_of(boxes(), polygons(), masks())


# ------------------------------------------------------------------------------ IoU
@PROPERTY_SETTINGS
@given(any_geometry, any_geometry)
def test_iou_is_symmetric_and_in_unit_interval_for_every_kind_pair(a, b) -> None:
    forward = iou(a, b, SIZE_HW)
    backward = iou(b, a, SIZE_HW)
    assert 0.0 <= forward <= 1.0
    assert forward == pytest.approx(backward, abs=1e-12)


@PROPERTY_SETTINGS
@given(any_geometry)
def test_iou_is_one_on_identity(a) -> None:
    if isinstance(a, Mask) and rle.area(a) == 0:
        assert iou(a, a) == 0.0  # two empty masks have no union: defined as 0 (as pycocotools)
    else:
        assert iou(a, a, SIZE_HW) == pytest.approx(1.0, abs=1e-12)


@PROPERTY_SETTINGS
@given(st.one_of(boxes(), polygons()))
def test_iou_is_one_between_a_shape_and_its_mask(a) -> None:
    """Mixed kinds: a box or polygon against its own rasterization (mask pairs go through RLE)."""
    mask = to_mask(a, SIZE_HW)
    assume(rle.area(mask) > 0)
    assert iou(a, mask) == pytest.approx(1.0, abs=1e-12)
    assert iou(mask, a) == pytest.approx(1.0, abs=1e-12)


@PROPERTY_SETTINGS
@given(boxes())
def test_box_and_its_polygon_have_iou_one(box: Box) -> None:
    as_polygon = Polygon.from_points([[box.x1, box.y1], [box.x2, box.y1], [box.x2, box.y2], [box.x1, box.y2]])
    assert iou(box, as_polygon) == pytest.approx(1.0, abs=1e-9)
    assert iou(as_polygon, box) == pytest.approx(1.0, abs=1e-9)
    assert to_box(as_polygon) == box


@PROPERTY_SETTINGS
@given(st.lists(boxes(), min_size=1, max_size=5), st.lists(boxes(), min_size=1, max_size=5))
def test_boxes_iou_matrix_matches_pairwise_and_its_transpose(a: list[Box], b: list[Box]) -> None:
    matrix = boxes_iou_matrix(np.array([x.xyxy for x in a]), np.array([x.xyxy for x in b]))
    expected = np.array([[box_iou(x, y) for y in b] for x in a])
    np.testing.assert_allclose(matrix, expected, atol=1e-12)
    np.testing.assert_allclose(
        boxes_iou_matrix(np.array([x.xyxy for x in b]), np.array([x.xyxy for x in a])), matrix.T, atol=1e-12
    )


@PROPERTY_SETTINGS
@given(st.lists(masks(), min_size=1, max_size=4), st.lists(masks(), min_size=1, max_size=4))
def test_masks_iou_matrix_matches_dense_computation(a: list[Mask], b: list[Mask]) -> None:
    matrix = masks_iou_matrix(a, b)
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            dx, dy = rle.decode(x), rle.decode(y)
            union = np.logical_or(dx, dy).sum()
            dense = np.logical_and(dx, dy).sum() / union if union else 0.0
            assert matrix[i, j] == pytest.approx(dense, abs=1e-12)
            assert mask_iou(x, y) == pytest.approx(dense, abs=1e-12)


@PROPERTY_SETTINGS
@given(polygons(), polygons())
def test_polygon_iou_agrees_with_rasterized_iou(a: Polygon, b: Polygon) -> None:
    """Exact (shapely) and raster IoU differ only by pixelization along the outlines."""
    exact = polygon_iou(a, b)
    raster = mask_iou(polygon_to_mask(a, SIZE_HW), polygon_to_mask(b, SIZE_HW))
    perimeter = to_shapely(a).length + to_shapely(b).length
    union = to_shapely(a).union(to_shapely(b)).area
    assert abs(exact - raster) <= 2.0 * perimeter / union + 1e-9


# ------------------------------------------------------------------------------ RLE
@PROPERTY_SETTINGS
@given(st.integers(1, 40), st.integers(1, 40), st.integers(0, 2**32 - 1), st.floats(0.0, 1.0))
def test_rle_encode_decode_is_exact(h: int, w: int, seed: int, density: float) -> None:
    dense = np.random.default_rng(seed).random((h, w)) < density
    mask = rle.encode(dense)
    assert mask.size == (h, w)
    np.testing.assert_array_equal(rle.decode(mask), dense)
    assert rle.area(mask) == int(dense.sum())
    assert rle.from_coco(mask.to_coco()) == mask  # str counts round trip
    if dense.any():
        rows, cols = np.nonzero(dense)
        assert rle.bbox(mask).xyxy == (cols.min(), rows.min(), cols.max() + 1, rows.max() + 1)


@PROPERTY_SETTINGS
@given(masks(), masks())
def test_rle_set_operations_match_dense(a: Mask, b: Mask) -> None:
    da, db = rle.decode(a), rle.decode(b)
    np.testing.assert_array_equal(rle.decode(rle.union([a, b])), da | db)
    np.testing.assert_array_equal(rle.decode(rle.intersection([a, b])), da & db)
    np.testing.assert_array_equal(rle.decode(rle.difference(a, b)), da & ~db)


def test_rle_from_uncompressed_coco_counts() -> None:
    dense = np.zeros((4, 3), dtype=bool)
    dense[1:3, 1] = True  # column-major runs: 5 zeros, 2 ones, 5 zeros
    mask = rle.from_coco({"size": [4, 3], "counts": [5, 2, 5]})
    np.testing.assert_array_equal(rle.decode(mask), dense)


# ------------------------------------------------------------------------------ polygon <-> mask
THICK = 15.0
"""Area / perimeter (pixels) of the shapes for the round-trip bound: a disc of radius 30 px
(an object about 60 px across). Thinner shapes lose more to pixelization: measured worst case
over 4,000 random star polygons is IoU 0.981 at this bound and 0.974 at area/perimeter 12."""


@settings(max_examples=80 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(polygons(min_radius=35.0))
def test_polygon_to_mask_to_polygon_keeps_iou(polygon: Polygon) -> None:
    assume(polygon.area / to_shapely(polygon).length >= THICK)
    mask = polygon_to_mask(polygon, SIZE_HW)
    back = mask_to_polygon(mask)
    assert polygon_iou(polygon, back) >= 0.98
    # The traced outline is the exact pixel outline of the mask: re-rasterizing gives it back.
    np.testing.assert_array_equal(rle.decode(polygon_to_mask(back, SIZE_HW)), rle.decode(mask))
    assert back.area == rle.area(mask)


@settings(max_examples=40 * SCALE, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(polygons_with_hole())
def test_holes_survive_the_round_trip(polygon: Polygon) -> None:
    assume(polygon.area / to_shapely(polygon).length >= THICK)  # outer and hole outlines
    mask = polygon_to_mask(polygon, SIZE_HW)
    dense = rle.decode(mask)
    hole = polygon.parts[0].holes[0]
    centre = np.round(hole.mean(axis=0)).astype(int)
    assert not dense[centre[1], centre[0]]  # the hole is subtracted from the mask
    back = mask_to_polygon(mask)
    assert len(back.parts) == 1 and len(back.parts[0].holes) == 1
    assert polygon_iou(polygon, back) >= 0.98
    np.testing.assert_array_equal(rle.decode(polygon_to_mask(back, SIZE_HW)), dense)
