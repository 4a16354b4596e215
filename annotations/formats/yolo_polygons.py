"""One YOLO polygon per object: parts and holes joined by zero-area bridges, simplified, checked.

A YOLO segmentation label line *is* an object, so a multi-part shape must become one polygon.
:func:`merge_rings` follows the convention of Ultralytics' own converters (``merge_multi_segment``
in ``ultralytics/data/converter.py``; re-implemented here, not copied): consecutive rings are
linked at their closest pair of vertices; the path walks the first ring completely, each middle
ring from its entry to its exit vertex, the last ring completely, then back through the rest of
every middle ring, so every link is walked once each way (a bridge of zero width and zero area).
Rasterizers that fill by crossing parity (pycocotools, OpenCV ``fillPoly``) fill each part, and
cut each hole (holes are joined the same way, right after their exterior).

:func:`object_polygon` also simplifies every ring (Douglas-Peucker, pixels), rasterizes the
written polygon back with pycocotools and reports its IoU with the source shape's mask; when
the simplified polygon's IoU is below :data:`SIMPLIFIED_MIN_IOU` it falls back to the exact outline;
an object still below :data:`IOU_REPORT_THRESHOLD` is reported by the exporter.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import GeometryError
from annotations.geometry import Box, Geometry, Polygon, PolygonPart, mask_to_polygon, polygon_to_mask, to_mask
from annotations.geometry.simplify import DEFAULT_SIMPLIFY_TOLERANCE_PX, simplify_ring

IOU_REPORT_THRESHOLD = 0.95
"""An exported object whose polygon covers its source mask with a lower IoU is reported."""

SIMPLIFIED_MIN_IOU = 0.97
"""A simplified polygon is kept only when its IoU with the source mask is at least this (else the
exact outline is written): simplification never costs more than 3 % IoU."""


class MultipartMode(str, Enum):
    """How a shape with several separate parts becomes one YOLO object."""

    MERGE = "merge"  # all parts joined by zero-area bridges (Ultralytics' convention)
    LARGEST = "largest"  # only the largest part (reported as a warning)


DEFAULT_MULTIPART = MultipartMode.MERGE


@dataclass(frozen=True)
class ObjectPolygon:
    """The one polygon written for an object: ``ring_xy`` (N, 2) x, y in image pixels,
    ``parts`` separate parts of the source, ``parts_written`` those in ``ring_xy``, ``iou`` of
    its pycocotools rasterization with the source mask (of the kept part when only the largest is
    written), ``tolerance_px`` actually used."""

    ring_xy: np.ndarray
    parts: int
    parts_written: int
    iou: float
    tolerance_px: float


def _nearest_pair(a_xy: np.ndarray, b_xy: np.ndarray) -> tuple[int, int]:
    """Indices (i, j) of the closest vertices a[i], b[j] (squared Euclidean distance)."""
    d2 = ((a_xy[:, None, :] - b_xy[None, :, :]) ** 2).sum(axis=-1)
    i, j = np.unravel_index(int(np.argmin(d2)), d2.shape)
    return int(i), int(j)


def _walk(ring_xy: np.ndarray, start: int, stop: int, *, full_if_equal: bool) -> np.ndarray:
    """Vertices start, start+1, ..., stop (indices modulo N, both ends included); when
    ``start == stop`` either the single vertex or the full loop back to it."""
    n = len(ring_xy)
    steps = (stop - start) % n
    if steps == 0 and full_if_equal:
        steps = n
    return ring_xy[(start + np.arange(steps + 1)) % n]


def merge_rings(rings_xy: list[np.ndarray]) -> np.ndarray:
    """One closed path (M, 2) through every ring (each (N_i, 2), N_i >= 3), Ultralytics style
    (see the module docstring). A single ring is returned as is."""
    if not rings_xy:
        raise GeometryError("no ring to merge")
    if len(rings_xy) == 1:
        return rings_xy[0]
    last = len(rings_xy) - 1
    exits = [0] * len(rings_xy)
    entries = [0] * len(rings_xy)
    for k in range(1, len(rings_xy)):
        exits[k - 1], entries[k] = _nearest_pair(rings_xy[k - 1], rings_xy[k])
    pieces = [_walk(rings_xy[0], exits[0], exits[0], full_if_equal=True)]
    for k in range(1, last):
        pieces.append(_walk(rings_xy[k], entries[k], exits[k], full_if_equal=False))
    pieces.append(_walk(rings_xy[last], entries[last], entries[last], full_if_equal=True))
    for k in range(last - 1, 0, -1):
        # the rest of the middle ring; equal entry and exit: the forward walk took one vertex
        pieces.append(_walk(rings_xy[k], exits[k], entries[k], full_if_equal=True))
    return np.concatenate(pieces, axis=0)


def _rings(part: PolygonPart, tolerance_px: float) -> list[np.ndarray]:
    rings = [simplify_ring(part.exterior, tolerance_px)]
    rings += [simplify_ring(hole, tolerance_px) for hole in part.holes]
    return [r for r in rings if len(r) >= 3]


def _polygon_of(geometry: Geometry) -> Polygon:
    if isinstance(geometry, Box):
        x1, y1, x2, y2 = geometry.xyxy
        ring = np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float64)
        return Polygon((PolygonPart(ring),))
    if isinstance(geometry, Polygon):
        return geometry
    return mask_to_polygon(geometry)


def ring_iou(ring_xy: np.ndarray, mask_rle: dict[str, Any], size_hw: tuple[int, int]) -> float:
    """IoU of a polygon (N, 2) pixel x, y, rasterized by pycocotools, with a COCO RLE mask of
    image size (height, width)."""
    height, width = size_hw
    drawn = mask_utils.merge(mask_utils.frPyObjects([ring_xy.reshape(-1).tolist()], height, width))
    return float(mask_utils.iou([drawn], [mask_rle], [0])[0, 0])


def object_polygon(geometry: Geometry, size_hw: tuple[int, int], *,
                   multipart: MultipartMode = DEFAULT_MULTIPART,
                   tolerance_px: float = DEFAULT_SIMPLIFY_TOLERANCE_PX) -> ObjectPolygon:
    """The single polygon of one object (a shape already clipped to the image of size
    (height, width)). Raises :class:`GeometryError` when nothing with >= 3 vertices remains."""
    polygon = _polygon_of(geometry)
    parts = list(polygon.parts)
    if multipart is MultipartMode.LARGEST and len(parts) > 1:
        parts = [max(parts, key=lambda p: p.area)]
    # IoU against what is meant to be written: the whole shape, or the kept part (largest mode)
    kept = Polygon(tuple(parts))
    source = (to_mask(geometry, size_hw) if len(parts) == len(polygon.parts) else polygon_to_mask(kept, size_hw)).rle
    best: ObjectPolygon | None = None
    for tolerance in (tolerance_px, 0.0) if tolerance_px > 0 else (0.0,):
        rings = [ring for part in parts for ring in _rings(part, tolerance)]
        if not rings:
            continue
        ring_xy = merge_rings(rings)
        candidate = ObjectPolygon(ring_xy, len(polygon.parts), len(parts), ring_iou(ring_xy, source, size_hw), tolerance)
        if best is None or candidate.iou > best.iou:
            best = candidate
        if best.iou >= SIMPLIFIED_MIN_IOU:
            break
    if best is None:
        raise GeometryError("no polygon ring with 3 or more vertices")
    return best
