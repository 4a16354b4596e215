"""COCO run-length encoding, through pycocotools (the reference implementation).

Dense masks are (height, width) arrays of bool or uint8; RLE is :class:`Mask`.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import GeometryError
from annotations.geometry.shapes import Box, Mask


def encode(mask_hw: np.ndarray) -> Mask:
    """Encode a dense (height, width) binary mask to compressed RLE."""
    mask_hw = np.asarray(mask_hw)
    if mask_hw.ndim != 2:
        raise GeometryError(f"a mask must have shape (height, width), got {mask_hw.shape}")
    if mask_hw.shape[0] == 0 or mask_hw.shape[1] == 0:
        raise GeometryError(f"a mask must not be empty, got shape {mask_hw.shape}")
    encoded = mask_utils.encode(np.asfortranarray(mask_hw.astype(np.uint8, copy=False) != 0, dtype=np.uint8))
    return Mask((int(encoded["size"][0]), int(encoded["size"][1])), encoded["counts"])


def decode(mask: Mask) -> np.ndarray:
    """Decode to a dense (height, width) bool array."""
    dense: np.ndarray = mask_utils.decode(mask.rle)  # pycocotools is untyped
    return dense.astype(bool)


def from_coco(segmentation: dict[str, Any]) -> Mask:
    """From a COCO RLE dict, compressed (``counts`` str/bytes) or uncompressed (list of ints)."""
    try:
        height, width = (int(v) for v in segmentation["size"])
        counts = segmentation["counts"]
    except (KeyError, TypeError, ValueError) as exc:
        raise GeometryError(f"not a COCO RLE (needs 'size' [h, w] and 'counts'): {exc}") from exc
    if isinstance(counts, list):
        if sum(counts) != height * width:
            raise GeometryError(
                f"uncompressed RLE counts sum to {sum(counts)}, expected height*width={height * width}"
            )
        compressed = mask_utils.frPyObjects({"size": [height, width], "counts": counts}, height, width)
        return Mask((height, width), compressed["counts"])
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    return Mask((height, width), counts)


def area(mask: Mask) -> int:
    """Number of foreground pixels."""
    return int(mask_utils.area(mask.rle))


def bbox(mask: Mask) -> Box:
    """Tight box around the foreground pixels (pixel edges, so a single pixel is 1 x 1).

    An empty mask gives a zero-size box at the origin.
    """
    x, y, w, h = (float(v) for v in mask_utils.toBbox(mask.rle))
    return Box(x, y, x + w, y + h)


def union(masks: list[Mask]) -> Mask:
    """Pixel-wise OR of masks of one size."""
    _check_same_size(masks)
    merged = mask_utils.merge([m.rle for m in masks], intersect=False)
    return Mask(masks[0].size, merged["counts"])


def intersection(masks: list[Mask]) -> Mask:
    """Pixel-wise AND of masks of one size."""
    _check_same_size(masks)
    merged = mask_utils.merge([m.rle for m in masks], intersect=True)
    return Mask(masks[0].size, merged["counts"])


def difference(mask: Mask, minus: Mask) -> Mask:
    """Pixels of ``mask`` that are not in ``minus``."""
    _check_same_size([mask, minus])
    return encode(decode(mask) & ~decode(minus))


def empty(size_hw: tuple[int, int]) -> Mask:
    """An all-background mask of the given (height, width)."""
    return encode(np.zeros(size_hw, dtype=np.uint8))


def _check_same_size(masks: list[Mask]) -> None:
    if not masks:
        raise GeometryError("no masks given")
    sizes = {m.size for m in masks}
    if len(sizes) != 1:
        raise GeometryError(f"masks have different sizes (height, width): {sorted(sizes)}")
