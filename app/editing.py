"""Geometry edits made by the canvas tools, as pure functions on annotations.geometry values.

No Qt: every function takes and returns geometry values (continuous pixel coordinates, image
size as ``size_hw = (height, width)``), so the tools' logic is testable without a window.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import shapely
from shapely import geometry as sg

from annotations.errors import GeometryError
from annotations.geometry import (
    Box,
    Geometry,
    Mask,
    Polygon,
    PolygonPart,
    clip_to_image,
    from_shapely,
    mask_to_polygon,
    repair_polygon,
    rle,
    to_box,
    to_mask,
    to_shapely,
    validate_polygon,
)

SUBPIXEL_BITS = 4  # OpenCV drawing with 1/16 pixel precision


@dataclass(frozen=True)
class VertexRef:
    """A vertex of a polygon: ``part`` index, ``ring`` (0 = exterior, k = hole k-1), ``index``."""

    part: int
    ring: int
    index: int


def rings_of(polygon: Polygon) -> list[tuple[int, int, np.ndarray]]:
    """Every ring as ``(part, ring, points (N, 2))``, exteriors first within each part."""
    out: list[tuple[int, int, np.ndarray]] = []
    for p, part in enumerate(polygon.parts):
        out.append((p, 0, part.exterior))
        for h, hole in enumerate(part.holes):
            out.append((p, h + 1, hole))
    return out


def _with_ring(polygon: Polygon, part_index: int, ring_index: int, ring: np.ndarray | None) -> Polygon:
    """The polygon with one ring replaced (``None`` removes a hole or, for ring 0, the part)."""
    parts = list(polygon.parts)
    part = parts[part_index]
    if ring_index == 0:
        if ring is None:
            del parts[part_index]
            if not parts:
                raise GeometryError("cannot remove the only part of a polygon")
        else:
            parts[part_index] = PolygonPart(ring, part.holes)
    else:
        holes = list(part.holes)
        if ring is None:
            del holes[ring_index - 1]
        else:
            holes[ring_index - 1] = ring
        parts[part_index] = PolygonPart(part.exterior, tuple(holes))
    return Polygon(tuple(parts))


def ring(polygon: Polygon, part: int, ring_index: int) -> np.ndarray:
    """The (N, 2) points of one ring."""
    p = polygon.parts[part]
    return p.exterior if ring_index == 0 else p.holes[ring_index - 1]


def nearest_vertex(polygon: Polygon, x: float, y: float, tolerance: float) -> VertexRef | None:
    """The vertex closest to (x, y) within ``tolerance`` pixels, or None."""
    best: tuple[float, VertexRef] | None = None
    for p, r, points in rings_of(polygon):
        d2 = (points[:, 0] - x) ** 2 + (points[:, 1] - y) ** 2
        i = int(np.argmin(d2))
        if d2[i] <= tolerance * tolerance and (best is None or d2[i] < best[0]):
            best = (float(d2[i]), VertexRef(p, r, i))
    return best[1] if best else None


def nearest_edge(polygon: Polygon, x: float, y: float, tolerance: float) -> tuple[VertexRef, float, float] | None:
    """The edge closest to (x, y) within ``tolerance``: ``(ref of its first vertex, px, py)``
    where (px, py) is the closest point on the edge; None when no edge is that close."""
    best: tuple[float, VertexRef, float, float] | None = None
    for p, r, points in rings_of(polygon):
        a = points
        b = np.roll(points, -1, axis=0)
        ab = b - a
        length2 = np.maximum((ab**2).sum(axis=1), 1e-12)
        t = np.clip(((x - a[:, 0]) * ab[:, 0] + (y - a[:, 1]) * ab[:, 1]) / length2, 0.0, 1.0)
        px = a[:, 0] + t * ab[:, 0]
        py = a[:, 1] + t * ab[:, 1]
        d2 = (px - x) ** 2 + (py - y) ** 2
        i = int(np.argmin(d2))
        if d2[i] <= tolerance * tolerance and (best is None or d2[i] < best[0]):
            best = (float(d2[i]), VertexRef(p, r, i), float(px[i]), float(py[i]))
    return (best[1], best[2], best[3]) if best else None


def move_vertex(polygon: Polygon, ref: VertexRef, x: float, y: float) -> Polygon:
    """The polygon with vertex ``ref`` moved to (x, y)."""
    points = ring(polygon, ref.part, ref.ring).copy()
    points[ref.index] = (x, y)
    return _with_ring(polygon, ref.part, ref.ring, points)


def insert_vertex(polygon: Polygon, after: VertexRef, x: float, y: float) -> tuple[Polygon, VertexRef]:
    """Insert (x, y) on the edge that starts at ``after``; returns the polygon and the new
    vertex's ref."""
    points = ring(polygon, after.part, after.ring)
    new_points = np.insert(points, after.index + 1, (x, y), axis=0)
    return _with_ring(polygon, after.part, after.ring, new_points), VertexRef(after.part, after.ring, after.index + 1)


def delete_vertex(polygon: Polygon, ref: VertexRef) -> Polygon:
    """Remove a vertex. A hole left with < 3 vertices disappears; an exterior left with < 3
    vertices removes its part. Raises :class:`GeometryError` when that would leave nothing."""
    points = ring(polygon, ref.part, ref.ring)
    remaining = np.delete(points, ref.index, axis=0)
    if len(remaining) >= 3:
        return _with_ring(polygon, ref.part, ref.ring, remaining)
    if ref.ring == 0 and len(polygon.parts) == 1:
        raise GeometryError("a polygon needs at least 3 vertices (delete the shape instead)")
    return _with_ring(polygon, ref.part, ref.ring, None)


BOX_CORNERS = ((0, 1), (2, 1), (2, 3), (0, 3))
"""Corner k of a box as indices into (x1, y1, x2, y2): top-left, top-right, bottom-right,
bottom-left."""


def box_corners(box: Box) -> np.ndarray:
    """The 4 corners (4, 2) in the order of :data:`BOX_CORNERS`."""
    v = box.xyxy
    return np.array([(v[i], v[j]) for i, j in BOX_CORNERS], dtype=np.float64)


def move_box_corner(box: Box, corner: int, x: float, y: float) -> Box:
    """The box with ``corner`` (0-3, see :data:`BOX_CORNERS`) dragged to (x, y); the opposite
    corner stays put; corners are re-ordered when the drag crosses over."""
    opposite = box_corners(box)[(corner + 2) % 4]
    return Box.from_corners(float(opposite[0]), float(opposite[1]), x, y)


def clamp_translation(bounds: Box, dx: float, dy: float, size_hw: tuple[int, int]) -> tuple[float, float]:
    """Limit a move so a shape with bounding box ``bounds`` stays inside the image."""
    height, width = size_hw
    dx = min(max(dx, -bounds.x1), width - bounds.x2)
    dy = min(max(dy, -bounds.y1), height - bounds.y2)
    return dx, dy


def shift_mask(mask: Mask, dx: int, dy: int) -> Mask:
    """The mask moved by whole pixels; what leaves the image is cut off."""
    dense = rle.decode(mask)
    height, width = dense.shape
    out = np.zeros_like(dense)
    src_x0, src_x1 = max(0, -dx), min(width, width - dx)
    src_y0, src_y1 = max(0, -dy), min(height, height - dy)
    if src_x1 > src_x0 and src_y1 > src_y0:
        out[src_y0 + dy : src_y1 + dy, src_x0 + dx : src_x1 + dx] = dense[src_y0:src_y1, src_x0:src_x1]
    return rle.encode(out)


def translate(geometry: Geometry, dx: float, dy: float, size_hw: tuple[int, int]) -> Geometry:
    """Move a shape by (dx, dy) pixels, clamped so it stays inside the image. Masks move by
    whole pixels."""
    dx, dy = clamp_translation(to_box(geometry), dx, dy, size_hw)
    if isinstance(geometry, Mask):
        return shift_mask(geometry, int(round(dx)), int(round(dy)))
    return geometry.translated(dx, dy)


def polygon_from_points(points_xy: np.ndarray, size_hw: tuple[int, int]) -> Polygon:
    """A drawn outline as a valid polygon clipped to the image: self-intersections are
    repaired (shapely ``make_valid``). Raises :class:`GeometryError` for fewer than 3 distinct
    vertices, zero area, or an outline entirely outside the image."""
    polygon = Polygon.from_points(np.asarray(points_xy, dtype=np.float64))
    polygon = repair_polygon(polygon)
    clipped = clip_to_image(polygon, size_hw)
    assert isinstance(clipped, Polygon)
    return clipped


def subtract(geometry: Geometry, cutter: Polygon, size_hw: tuple[int, int]) -> Geometry:
    """``geometry`` minus the area of ``cutter`` (a hole drawn inside a polygon becomes a hole
    ring; one crossing the outline cuts it). Boxes become polygons; masks lose the pixels.
    Raises :class:`GeometryError` when nothing is left."""
    if isinstance(geometry, Mask):
        left = rle.difference(geometry, to_mask(cutter, size_hw))
        if rle.area(left) == 0:
            raise GeometryError("nothing of the mask would be left")
        return left
    polygon = box_to_polygon(geometry) if isinstance(geometry, Box) else geometry
    result = to_shapely(polygon).difference(to_shapely(cutter))
    if not result.is_valid:
        result = shapely.make_valid(result)
    return from_shapely(result)


def covers(cutter: Polygon, geometry: Geometry, size_hw: tuple[int, int]) -> bool:
    """Whether ``cutter`` covers all of ``geometry`` (subtracting it would leave nothing).
    Masks are compared pixel by pixel (``size_hw`` = (height, width)); boxes and polygons exactly."""
    if isinstance(geometry, Mask):
        return rle.area(rle.difference(geometry, to_mask(cutter, size_hw))) == 0
    polygon = box_to_polygon(geometry) if isinstance(geometry, Box) else geometry
    cutter_shape = to_shapely(cutter)
    if not cutter_shape.is_valid:
        cutter_shape = shapely.make_valid(cutter_shape)
    return bool(to_shapely(polygon).difference(cutter_shape).area <= 1e-9)


def box_to_polygon(box: Box) -> Polygon:
    """The box as a 4-vertex polygon (clockwise from the top-left corner)."""
    return Polygon.from_points(box_corners(box))


def to_polygon(geometry: Geometry, *, tolerance: float = 0.0) -> Polygon:
    """Any geometry as a polygon: boxes by their corners, masks traced with holes kept
    (``tolerance`` pixels of Douglas-Peucker simplification)."""
    if isinstance(geometry, Polygon):
        return geometry
    if isinstance(geometry, Box):
        return box_to_polygon(geometry)
    return mask_to_polygon(geometry, tolerance=tolerance)


def fill_holes(geometry: Geometry) -> Geometry:
    """Remove the holes of a polygon, or fill the enclosed background of a mask."""
    if isinstance(geometry, Polygon):
        return Polygon(tuple(PolygonPart(p.exterior) for p in geometry.parts))
    if isinstance(geometry, Mask):
        dense = rle.decode(geometry).astype(np.uint8)
        padded = np.pad(dense, 1)
        flood = padded.copy()
        ff_mask = np.zeros((padded.shape[0] + 2, padded.shape[1] + 2), np.uint8)
        cv2.floodFill(flood, ff_mask, (0, 0), 2)
        filled = (flood != 2)[1:-1, 1:-1]
        return rle.encode(filled)
    return geometry


def has_holes(geometry: Geometry) -> bool:
    """Whether a polygon has hole rings or a mask encloses background pixels."""
    if isinstance(geometry, Polygon):
        return geometry.has_holes
    if isinstance(geometry, Mask):
        return rle.area(fill_holes(geometry)) > rle.area(geometry)  # type: ignore[arg-type]
    return False


def _cv_point(x: float, y: float) -> tuple[int, int]:
    # Continuous coordinate x covers pixel column floor(x) whose centre is at index x - 0.5.
    return (int(round((x - 0.5) * (1 << SUBPIXEL_BITS))), int(round((y - 0.5) * (1 << SUBPIXEL_BITS))))


def rasterize_stroke(points_xy: np.ndarray, radius: float, size_hw: tuple[int, int]) -> np.ndarray:
    """A brush stroke through ``points_xy`` (N, 2) with ``radius`` pixels as a (H, W) bool
    array: the pixels whose centre lies closer than ``radius`` to the stroke's path (the path
    is first snapped to pixel centres, so the edge is exact to half a pixel). Work is limited
    to the stroke's bounding box."""
    height, width = size_hw
    out = np.zeros((height, width), bool)
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    radius = max(0.5, float(radius))
    margin = int(np.ceil(radius)) + 1
    x0 = max(0, int(np.floor(points[:, 0].min())) - margin)
    y0 = max(0, int(np.floor(points[:, 1].min())) - margin)
    x1 = min(width, int(np.ceil(points[:, 0].max())) + margin)
    y1 = min(height, int(np.ceil(points[:, 1].max())) + margin)
    if x1 <= x0 or y1 <= y0:
        return out
    # Pad so a path running outside the image still shapes the part inside.
    pad = margin
    canvas = np.full((y1 - y0 + 2 * pad, x1 - x0 + 2 * pad), 255, np.uint8)
    local = [_cv_point(float(x) - x0 + pad, float(y) - y0 + pad) for x, y in points]
    cv2.polylines(canvas, [np.array(local, np.int32).reshape(-1, 1, 2)], False, 0, 1, cv2.LINE_8, SUBPIXEL_BITS)
    for p in local[:1]:
        cv2.circle(canvas, p, 0, 0, -1, cv2.LINE_8, SUBPIXEL_BITS)
    distance = cv2.distanceTransform(canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    out[y0:y1, x0:x1] = (distance < radius)[pad : pad + y1 - y0, pad : pad + x1 - x0]
    return out


def stroke_shape(points_xy: np.ndarray, radius: float) -> sg.base.BaseGeometry:
    """The area a brush stroke covers, as a shapely polygon (round caps and joins)."""
    points = np.asarray(points_xy, dtype=np.float64).reshape(-1, 2)
    base = sg.Point(points[0]) if len(points) == 1 else sg.LineString(points)
    return base.buffer(max(0.5, float(radius)), quad_segs=8)


def apply_stroke(
    geometry: Geometry | None, points_xy: np.ndarray, radius: float, size_hw: tuple[int, int], *, erase: bool
) -> Geometry | None:
    """Paint (or erase) a stroke into a shape.

    Masks (and ``None``: a new mask) are painted pixel-wise; polygons and boxes stay vector
    shapes (union / difference with the stroke's outline). Returns the new geometry, or None
    when nothing is left (erase everything, or paint nothing).
    """
    if geometry is None or isinstance(geometry, Mask):
        stroke = rasterize_stroke(points_xy, radius, size_hw)
        dense = rle.decode(geometry) if geometry is not None else np.zeros(size_hw, bool)
        dense = dense & ~stroke if erase else dense | stroke
        return rle.encode(dense) if dense.any() else None
    polygon = box_to_polygon(geometry) if isinstance(geometry, Box) else geometry
    base = to_shapely(polygon)
    if not base.is_valid:
        base = shapely.make_valid(base)
    stroke = stroke_shape(points_xy, radius)
    result = base.difference(stroke) if erase else base.union(stroke)
    image = sg.box(0, 0, size_hw[1], size_hw[0])
    result = result.intersection(image)
    try:
        return from_shapely(result)
    except GeometryError:
        return None


def fit_to_image(geometry: Geometry, size_hw: tuple[int, int]) -> Geometry | None:
    """A shape copied from another image adapted to this one: boxes and polygons are clipped,
    masks cropped or padded (pixels keep their position). None when nothing lies inside."""
    if isinstance(geometry, Mask):
        if geometry.size == tuple(size_hw):
            return geometry
        dense = rle.decode(geometry)
        out = np.zeros(size_hw, bool)
        h = min(size_hw[0], dense.shape[0])
        w = min(size_hw[1], dense.shape[1])
        out[:h, :w] = dense[:h, :w]
        return rle.encode(out) if out.any() else None
    try:
        clipped = clip_to_image(geometry, size_hw)
        if isinstance(clipped, Polygon):
            validate_polygon(clipped)
        return clipped
    except GeometryError:
        return None
