"""COCO ``segmentation``/``bbox``/``area`` from our geometries and back (DESIGN §4).

Export rules: polygon ``area`` is the shoelace area summed over parts and ``bbox`` the vertex
extent (as official COCO; for a polygon reaching outside the image, both describe its part
inside the image while the vertices are kept, so the rasterized mask is unchanged); masks are
compressed RLE with ``area`` = pixel count and ``bbox`` = tight pixel box; a box is written as
its rectangle polygon (in pycocotools' own ``frBbox`` vertex order, so ``annToMask`` equals our
box mask) and marked ``"segstudio": {"geometry": "box"}`` so it comes back as a box. Polygons
with holes become RLE (COCO polygons cannot carry holes). Polygon parts with fewer than 3
vertices or no area are dropped: pycocotools crashes on a 4-number polygon.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import FormatError, GeometryError
from annotations.formats.validate import MAX_VERTICES, check_numbers, check_points, check_rle
from annotations.geometry import Box, Geometry, Mask, Polygon, PolygonPart, clip_to_image, polygon_to_mask, ring_area, rle

BOX_MARK = {"geometry": "box"}


@dataclass(frozen=True)
class CocoShape:
    """The COCO fields of one shape."""

    segmentation: Any
    bbox_xywh: list[float]
    area: float
    is_box: bool = False


def _inside(geometry: Geometry, size_hw: tuple[int, int]) -> bool:
    height, width = size_hw
    if isinstance(geometry, Box):
        return geometry.x1 >= 0 and geometry.y1 >= 0 and geometry.x2 <= width and geometry.y2 <= height
    if isinstance(geometry, Polygon):
        pts = geometry.all_points()
        return bool(pts.min() >= 0 and pts[:, 0].max() <= width and pts[:, 1].max() <= height)
    return True


def _usable_part(part: PolygonPart) -> bool:
    return len(np.unique(part.exterior, axis=0)) >= 3 and ring_area(part.exterior) > 0


def to_coco_shape(geometry: Geometry, size_hw: tuple[int, int]) -> CocoShape | None:
    """The COCO fields of a geometry on an image of (height, width), clipped to the image; None
    when nothing usable remains (empty mask, degenerate or outside polygon, empty box)."""
    clipped = geometry
    try:
        if not _inside(geometry, size_hw):
            clipped = clip_to_image(geometry, size_hw)
    except GeometryError:
        return None
    if isinstance(geometry, Box):
        box = clipped if isinstance(clipped, Box) else geometry
        if box.width <= 0 or box.height <= 0:
            return None
        x, y, w, h = (float(v) for v in box.xywh)
        rectangle = [x, y, x, y + h, x + w, y + h, x + w, y]
        return CocoShape([rectangle], [x, y, w, h], w * h, is_box=True)
    if isinstance(geometry, Polygon):
        parts = [p for p in geometry.parts if _usable_part(p)]
        if not parts:
            return None
        polygon = Polygon(tuple(parts))
        if polygon.has_holes:
            return _mask_shape(polygon_to_mask(polygon, size_hw))
        if clipped is not geometry and isinstance(clipped, Polygon):
            # Vertices outside the image stay (pycocotools clips when rasterizing, so the mask is
            # unchanged); bbox and area describe the part inside the image.
            inside = [p for p in clipped.parts if _usable_part(p)]
            if not inside:
                return None
            points = np.concatenate([p.exterior for p in inside], axis=0)
            area = float(sum(p.area for p in inside))
        else:
            points = np.concatenate([p.exterior for p in parts], axis=0)
            area = float(sum(ring_area(p.exterior) for p in parts))
        x1, y1 = points.min(axis=0)
        x2, y2 = points.max(axis=0)
        return CocoShape(polygon.to_coco(), [float(x1), float(y1), float(x2 - x1), float(y2 - y1)], area)
    assert isinstance(geometry, Mask)
    return _mask_shape(geometry)


def _mask_shape(mask: Mask) -> CocoShape | None:
    area = int(mask_utils.area(mask.rle))
    if area == 0:
        return None
    bbox = [float(v) for v in mask_utils.toBbox(mask.rle)]
    return CocoShape(mask.to_coco(), bbox, float(area))


def from_coco_shape(
    segmentation: Any, bbox: Any, size_hw: tuple[int, int], *, is_box: bool, path: str, item: str
) -> tuple[Geometry, list[str]]:
    """Our geometry from COCO fields; returns it and notes about dropped parts.

    Polygons (list of flat lists; a single flat list is accepted), compressed or uncompressed
    RLE, or — with ``is_box`` or no segmentation — the ``bbox``. Raises :class:`FormatError`.
    """
    notes: list[str] = []
    try:
        if is_box or segmentation in (None, [], {}):
            return _box(bbox, size_hw, path=path, item=item), notes
        if isinstance(segmentation, dict):
            check_rle(segmentation, size_hw, path=path, item=item)  # before any C code sees the counts
            mask = rle.from_coco(segmentation)
            try:
                mask_utils.area(mask.rle)
            except Exception as exc:  # pycocotools raises plain errors on garbage counts
                raise FormatError(f"RLE counts cannot be decoded: {exc}", path=path, item=item) from exc
            return mask, notes
        if isinstance(segmentation, list):
            if segmentation and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in segmentation):
                segmentation = [segmentation]
            parts = []
            if sum(len(flat) if isinstance(flat, list) else 0 for flat in segmentation) > 2 * MAX_VERTICES:
                raise FormatError(f"more than {MAX_VERTICES} polygon vertices", path=path, item=item)
            for index, flat in enumerate(segmentation):
                if not isinstance(flat, list) or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in flat):
                    raise FormatError(f"polygon part {index} is not a list of numbers", path=path, item=item)
                if len(flat) % 2:
                    raise FormatError(f"polygon part {index} has an odd number of coordinates ({len(flat)})",
                                      path=path, item=item)
                points = check_points(np.asarray(flat, dtype=np.float64).reshape(-1, 2), size_hw, path=path,
                                      item=f"{item} part {index}")
                part = PolygonPart(points)
                if _usable_part(part):
                    parts.append(part)
                else:
                    notes.append(f"{item}: polygon part {index} has fewer than 3 distinct vertices or no area; dropped")
            if parts:
                return Polygon(tuple(parts)), notes
            if bbox is not None:
                notes.append(f"{item}: no usable polygon part; imported as its bbox")
                return _box(bbox, size_hw, path=path, item=item), notes
            raise FormatError("no usable polygon part and no bbox", path=path, item=item)
    except GeometryError as exc:
        raise FormatError(str(exc), path=path, item=item) from exc
    except OverflowError as exc:  # an integer too large for a float (JSON allows any length)
        raise FormatError(f"a coordinate is too large: {exc}", path=path, item=item) from exc
    raise FormatError(f"segmentation must be a list of polygons or an RLE object, got {type(segmentation).__name__}",
                      path=path, item=item)


def _box(bbox: Any, size_hw: tuple[int, int], *, path: str, item: str) -> Box:
    if (
        not isinstance(bbox, list)
        or len(bbox) != 4
        or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in bbox)
    ):
        raise FormatError(f"bbox must be [x, y, width, height], got {bbox!r}"[:300], path=path, item=item)
    x, y, w, h = check_numbers(bbox, 4, path=path, item=item, what="bbox")
    if w < 0 or h < 0:
        raise FormatError(f"bbox has a negative width or height: {bbox}", path=path, item=item)
    check_points(np.array([[x, y], [x + w, y + h]]), size_hw, path=path, item=item)
    return Box.from_xywh([x, y, w, h])
