"""Intersection over union between shapes of any kind.

Box/box and polygon/polygon are exact in continuous coordinates; anything involving a mask is
computed on RLE (never dense) after rasterizing the other shape with pycocotools.
"""

from __future__ import annotations

from typing import cast

import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import GeometryError
from annotations.geometry.convert import to_mask, to_valid_shapely
from annotations.geometry.shapes import Box, Geometry, Mask, Polygon


def box_iou(a: Box, b: Box) -> float:
    """IoU of two xyxy boxes (no +1, as pycocotools). Two empty boxes give 0.

    >>> box_iou(Box(0, 0, 10, 10), Box(5, 0, 15, 10))  # half overlap: 50 / 150
    0.3333333333333333
    >>> box_iou(Box(0, 0, 10, 10), Box(10, 0, 20, 10))  # touching edges share no area
    0.0
    >>> box_iou(Box(3, 3, 3, 3), Box(3, 3, 3, 3))  # empty boxes, even identical ones
    0.0
    """
    iw = min(a.x2, b.x2) - max(a.x1, b.x1)
    ih = min(a.y2, b.y2) - max(a.y1, b.y1)
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    union = a.area + b.area - inter
    return float(inter / union) if union > 0 else 0.0


def boxes_iou_matrix(boxes_a_xyxy: np.ndarray, boxes_b_xyxy: np.ndarray) -> np.ndarray:
    """Pairwise IoU of (N, 4) and (M, 4) xyxy arrays -> (N, M) float64."""
    a = np.asarray(boxes_a_xyxy, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(boxes_b_xyxy, dtype=np.float64).reshape(-1, 4)
    iw = np.clip(np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0]), 0, None)
    ih = np.clip(np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1]), 0, None)
    inter = iw * ih
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.where(union > 0, inter / union, 0.0)
    return out


def mask_iou(a: Mask, b: Mask) -> float:
    """IoU of two RLE masks of one size, computed on RLE by pycocotools. Two empty masks give 0."""
    if a.size != b.size:
        raise GeometryError(f"mask sizes differ: {a.size} vs {b.size}")
    return float(mask_utils.iou([a.rle], [b.rle], [0])[0, 0])


def masks_iou_matrix(masks_a: list[Mask], masks_b: list[Mask], iscrowd_b: list[bool] | None = None) -> np.ndarray:
    """Pairwise IoU (N, M) of RLE masks; with ``iscrowd_b`` crowd targets use COCO's
    intersection-over-detection-area rule."""
    if not masks_a or not masks_b:
        return np.zeros((len(masks_a), len(masks_b)))
    crowd = [int(bool(c)) for c in (iscrowd_b or [False] * len(masks_b))]
    ious = mask_utils.iou([m.rle for m in masks_a], [m.rle for m in masks_b], crowd)
    return np.asarray(ious, dtype=np.float64).reshape(len(masks_a), len(masks_b))


def polygon_iou(a: Polygon, b: Polygon) -> float:
    """Exact area IoU of two polygons (shapely; invalid ones repaired as :func:`to_valid_shapely`)."""
    sa = to_valid_shapely(a)
    sb = to_valid_shapely(b)
    union = sa.union(sb).area
    if union <= 0:
        return 0.0
    return float(sa.intersection(sb).area / union)


def iou(a: Geometry, b: Geometry, size_hw: tuple[int, int] | None = None) -> float:
    """IoU of two shapes of any kinds.

    Box/box and polygon/polygon are exact. A polygon with a box is exact too (the box is a
    polygon). Any pair with a mask is computed on RLE at the image size: ``size_hw`` (height,
    width) may be omitted when one of the shapes is a mask (its size is used).
    """
    if isinstance(a, Box) and isinstance(b, Box):
        return box_iou(a, b)
    if not isinstance(a, Mask) and not isinstance(b, Mask):
        pa = a if isinstance(a, Polygon) else _box_polygon(a)
        pb = b if isinstance(b, Polygon) else _box_polygon(b)
        return polygon_iou(pa, pb)
    if size_hw is None:
        size_hw = a.size if isinstance(a, Mask) else cast(Mask, b).size  # b is the mask: the pair has one (checked above)
    return mask_iou(to_mask(a, size_hw), to_mask(b, size_hw))


def _box_polygon(box: Box) -> Polygon:
    return Polygon.from_points([[box.x1, box.y1], [box.x2, box.y1], [box.x2, box.y2], [box.x1, box.y2]])
