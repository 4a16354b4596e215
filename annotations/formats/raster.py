"""Painting annotations into label images, back to front, with the project's one rasterizer
(pycocotools for polygons and boxes; masks are decoded as stored)."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from annotations.geometry import Box, Geometry, Mask, rle, to_mask
from annotations.model import Annotation


def geometry_mask(geometry: Geometry, size_hw: tuple[int, int]) -> Mask:
    """Any geometry as an RLE mask of image size (height, width), pycocotools rasterization.

    A box is rasterized as the polygon pycocotools' own ``frBbox`` builds (same pixels), which
    also avoids ``frPyObjects`` crashing on a Python list of 4 numbers.
    """
    if isinstance(geometry, Box):
        height, width = size_hw
        xs, ys, xe, ye = (float(v) for v in geometry.xyxy)
        encoded = mask_utils.frPyObjects([[xs, ys, xs, ye, xe, ye, xe, ys]], height, width)[0]
        return Mask((height, width), encoded["counts"])
    return to_mask(geometry, size_hw)


def dense_mask(annotation: Annotation, size_hw: tuple[int, int]) -> np.ndarray:
    """The annotation as a (height, width) bool array (pycocotools rasterization)."""
    return rle.decode(geometry_mask(annotation.geometry, size_hw))


def paint(
    annotations: Sequence[Annotation],
    size_hw: tuple[int, int],
    value_of: Callable[[int, Annotation], int | None],
    *,
    background: int = 0,
    dtype: type = np.uint8,
) -> np.ndarray:
    """A (height, width) label image: each annotation, in the given (back-to-front) order,
    overwrites its pixels with ``value_of(index, annotation)``; ``None`` leaves it out."""
    canvas: np.ndarray = np.full(size_hw, background, dtype=dtype)
    for index, annotation in enumerate(annotations):
        value = value_of(index, annotation)
        if value is None:
            continue
        canvas[dense_mask(annotation, size_hw)] = value
    return canvas


def tight_bbox_xywh(mask_hw: np.ndarray) -> list[int]:
    """The tight pixel box ``[x, y, width, height]`` of a bool mask (``[0, 0, 0, 0]`` if empty)."""
    rows = np.flatnonzero(mask_hw.any(axis=1))
    cols = np.flatnonzero(mask_hw.any(axis=0))
    if rows.size == 0:
        return [0, 0, 0, 0]
    return [int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)]
