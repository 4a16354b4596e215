"""Conversions between geometry kinds, clipping and repair.

The one polygon rasterizer is pycocotools' (``frPyObjects``), so exported masks, areas and COCO
evaluation agree. Mask -> polygon uses OpenCV contours with holes kept (``RETR_CCOMP``).
"""

from __future__ import annotations

import cv2
import numpy as np
import shapely
from pycocotools import mask as mask_utils
from shapely import geometry as sg

from annotations.errors import GeometryError
from annotations.geometry import rle
from annotations.geometry.shapes import Box, Geometry, Mask, Polygon, PolygonPart, ring_area

MIN_RING_AREA = 1e-9


def _rasterize_rings(rings: list[np.ndarray], size_hw: tuple[int, int]) -> Mask:
    height, width = size_hw
    flat = [ring.reshape(-1).tolist() for ring in rings if len(ring) >= 3]
    if not flat:
        return rle.empty(size_hw)
    rles = mask_utils.frPyObjects(flat, height, width)
    merged = mask_utils.merge(rles, intersect=False)
    return Mask((height, width), merged["counts"])


def polygon_to_mask(polygon: Polygon, size_hw: tuple[int, int]) -> Mask:
    """Rasterize with pycocotools: union of the exteriors minus the union of the holes.

    ``size_hw`` is the image (height, width). Without holes the result equals COCO's
    ``annToMask`` of the polygon's ``to_coco()`` segmentation pixel for pixel.
    """
    exteriors = _rasterize_rings([p.exterior for p in polygon.parts], size_hw)
    holes = [h for p in polygon.parts for h in p.holes]
    if not holes:
        return exteriors
    return rle.difference(exteriors, _rasterize_rings(holes, size_hw))


def box_to_mask(box: Box, size_hw: tuple[int, int]) -> Mask:
    """Rasterize a box with pycocotools (``frPyObjects`` on ``[x, y, w, h]``)."""
    height, width = size_hw
    # An (N, 4) float array: pycocotools' bbox path refuses a list of lists.
    encoded = mask_utils.frPyObjects(np.asarray([box.xywh], dtype=np.float64), height, width)[0]
    return Mask((height, width), encoded["counts"])


def to_mask(geometry: Geometry, size_hw: tuple[int, int]) -> Mask:
    """Any geometry as a mask of image size (height, width)."""
    if isinstance(geometry, Mask):
        if geometry.size != tuple(size_hw):
            raise GeometryError(f"mask size {geometry.size} differs from image size {tuple(size_hw)}")
        return geometry
    if isinstance(geometry, Polygon):
        return polygon_to_mask(geometry, size_hw)
    return box_to_mask(geometry, size_hw)


def mask_to_polygon(mask: Mask, *, tolerance: float = 0.0, min_area: float = 1.0) -> Polygon:
    """Trace the mask's outlines (OpenCV ``RETR_CCOMP``), holes kept.

    Vertices lie on pixel corners (contour pixel centres shifted by half a pixel outward is
    approximated by taking pixel-edge contours of a 2x upsampled mask). ``tolerance`` (pixels)
    simplifies with Douglas-Peucker; rings smaller than ``min_area`` square pixels are dropped.
    Raises :class:`GeometryError` for an empty mask.
    """
    dense = rle.decode(mask)
    rows = np.flatnonzero(dense.any(axis=1))
    cols = np.flatnonzero(dense.any(axis=0))
    if rows.size == 0:
        raise GeometryError("cannot trace an empty mask")
    top, left = int(rows[0]), int(cols[0])
    crop = dense[top : int(rows[-1]) + 1, left : int(cols[-1]) + 1].astype(np.uint8)
    # Upsample 2x by pixel replication and pad by one: an outline pixel centre at padded index u
    # is at (u - 0.5) / 2 in original pixels, a quarter pixel inside the true pixel edge, so
    # rounding puts every vertex on a pixel corner (outer rings and holes alike).
    big = np.pad(np.kron(crop, np.ones((2, 2), dtype=np.uint8)), 1)
    contours, hierarchy = cv2.findContours(big, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        raise GeometryError("cannot trace an empty mask")
    hierarchy = hierarchy[0]
    parts: list[PolygonPart] = []
    offset = np.array([left, top], dtype=np.float64)

    def ring_of(index: int) -> np.ndarray:
        pts = np.round((contours[index].reshape(-1, 2).astype(np.float64) - 0.5) / 2.0) + offset
        if tolerance > 0 and len(pts) > 3:
            simplified = cv2.approxPolyDP(pts.astype(np.float32), tolerance, True).reshape(-1, 2)
            pts = simplified.astype(np.float64)
        # Drop consecutive duplicates created by the rounding.
        keep = np.any(pts != np.roll(pts, 1, axis=0), axis=1)
        return pts[keep] if keep.any() else pts[:1]

    for index, (_next, _prev, first_child, parent) in enumerate(hierarchy):
        if parent != -1:
            continue
        exterior = ring_of(index)
        if len(exterior) < 3 or ring_area(exterior) < min_area:
            continue
        holes = []
        child = first_child
        while child != -1:
            hole = ring_of(child)
            if len(hole) >= 3 and ring_area(hole) >= min_area:
                holes.append(hole)
            child = hierarchy[child][0]
        parts.append(PolygonPart(exterior, tuple(holes)))
    if not parts:
        raise GeometryError(f"mask has no outline larger than {min_area} square pixels")
    return Polygon(tuple(parts))


def to_box(geometry: Geometry) -> Box:
    """The bounding box: vertex extent for polygons (as COCO), tight pixel box for masks."""
    if isinstance(geometry, Box):
        return geometry
    if isinstance(geometry, Polygon):
        points = np.concatenate([p.exterior for p in geometry.parts], axis=0)
        x1, y1 = points.min(axis=0)
        x2, y2 = points.max(axis=0)
        return Box(float(x1), float(y1), float(x2), float(y2))
    return rle.bbox(geometry)


def area(geometry: Geometry) -> float:
    """Area in square pixels: shoelace for polygons, pixel count for masks, w*h for boxes."""
    return float(geometry.area)


def to_shapely(polygon: Polygon) -> sg.MultiPolygon:
    """The polygon as a shapely MultiPolygon (may be invalid; see :func:`repair_polygon`)."""
    return sg.MultiPolygon(
        [sg.Polygon(p.exterior, list(p.holes)) for p in polygon.parts]
    )


def from_shapely(shape: sg.base.BaseGeometry) -> Polygon:
    """A Polygon from a shapely (Multi)Polygon or GeometryCollection; lines and points dropped.

    Raises :class:`GeometryError` when nothing with area remains.
    """
    polys = [g for g in shapely.get_parts(shape) if isinstance(g, sg.Polygon) and g.area > MIN_RING_AREA]
    if not polys:
        raise GeometryError("shape has no area left")
    parts = []
    for poly in polys:
        exterior = np.asarray(poly.exterior.coords)
        holes = tuple(np.asarray(r.coords) for r in poly.interiors)
        parts.append(PolygonPart(exterior, holes))
    return Polygon(tuple(parts))


def validate_polygon(polygon: Polygon) -> None:
    """Raise :class:`GeometryError` for a degenerate polygon: a ring with < 3 distinct vertices
    or an exterior that covers no area (collinear vertices). A self-intersecting exterior whose
    lobes cancel in the shoelace sum (a symmetric bow-tie) is not degenerate: it covers area
    and :func:`repair_polygon` splits it."""
    for index, part in enumerate(polygon.parts):
        distinct = len(np.unique(part.exterior, axis=0))
        if distinct < 3:
            raise GeometryError(f"polygon part {index} has {distinct} distinct vertices (needs >= 3)")
        if ring_area(part.exterior) <= MIN_RING_AREA and _covered_area(part.exterior) <= MIN_RING_AREA:
            raise GeometryError(f"polygon part {index} has zero area")
        for hole_index, hole in enumerate(part.holes):
            if len(np.unique(hole, axis=0)) < 3:
                raise GeometryError(f"hole {hole_index} of polygon part {index} has < 3 distinct vertices")


def _covered_area(ring_xy: np.ndarray) -> float:
    """Area covered by a possibly self-intersecting ring (after ``make_valid``), square pixels."""
    return float(shapely.make_valid(sg.Polygon(ring_xy)).area)


def to_valid_shapely(polygon: Polygon) -> sg.base.BaseGeometry:
    """The area a polygon covers as a valid shapely geometry: the union of its exteriors minus
    the union of its holes (the rasterizer's rule), each ring made valid with ``make_valid``
    first, so a bow-tie keeps both lobes and a hole crossing the outline is cut out."""
    shape = to_shapely(polygon)
    if shape.is_valid:
        return shape
    exteriors = shapely.union_all([shapely.make_valid(sg.Polygon(p.exterior)) for p in polygon.parts])
    holes = [shapely.make_valid(sg.Polygon(h)) for p in polygon.parts for h in p.holes if len(h) >= 3]
    if holes:
        exteriors = exteriors.difference(shapely.union_all(holes))
    return exteriors


def repair_polygon(polygon: Polygon) -> Polygon:
    """Make a self-intersecting or otherwise invalid polygon valid (see
    :func:`to_valid_shapely`: shapely ``make_valid`` per ring, exteriors minus holes).

    A valid polygon is returned unchanged. Raises :class:`GeometryError` for a degenerate one.
    """
    validate_polygon(polygon)
    if to_shapely(polygon).is_valid:
        return polygon
    return from_shapely(to_valid_shapely(polygon))


def clip_to_image(geometry: Geometry, size_hw: tuple[int, int]) -> Geometry:
    """Clip to the image rectangle [0, width] x [0, height].

    Raises :class:`GeometryError` when nothing of the shape lies inside the image.
    """
    height, width = size_hw
    if isinstance(geometry, Mask):
        if geometry.size != (height, width):
            raise GeometryError(f"mask size {geometry.size} differs from image size {(height, width)}")
        return geometry
    if isinstance(geometry, Box):
        x1, x2 = np.clip([geometry.x1, geometry.x2], 0, width)
        y1, y2 = np.clip([geometry.y1, geometry.y2], 0, height)
        if x2 - x1 <= 0 or y2 - y1 <= 0:
            raise GeometryError(f"box {geometry.xyxy} lies outside the image {(height, width)}")
        return Box(float(x1), float(y1), float(x2), float(y2))
    points = geometry.all_points()
    if points.min() >= 0 and points[:, 0].max() <= width and points[:, 1].max() <= height:
        return geometry
    clipped = to_valid_shapely(geometry).intersection(sg.box(0, 0, width, height))
    try:
        return from_shapely(clipped)
    except GeometryError as exc:
        raise GeometryError(f"polygon lies outside the image {(height, width)}") from exc
