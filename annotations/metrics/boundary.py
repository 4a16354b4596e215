"""Boundary IoU (Cheng, Girshick, Dollár, Berg, Kirillov, CVPR 2021).

The boundary region of a mask is the set of its pixels within distance ``d`` of its contour,
``d = max(1, round(dilation_ratio * image diagonal))`` with the usual ratio 0.02. It is
computed as in the authors' ``boundary_iou_api``: the mask minus its erosion by a 3x3 square
iterated ``d`` times, the image padded by one background pixel first so that a mask cut by the
image border has a boundary there too. Boundary IoU = |Bg ∩ Bp| / |Bg ∪ Bp| — NaN when both
masks are empty.

For instances stored as RLE, :func:`boundary_iou_rle` works on the crop around both masks (the
erosion of pixels farther than one pixel outside the union box cannot change), which gives the
same number as the full-image computation at a fraction of the cost.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import MetricsError

DEFAULT_DILATION_RATIO = 0.02


def boundary_width(size_hw: tuple[int, int], dilation_ratio: float = DEFAULT_DILATION_RATIO) -> int:
    """The boundary width ``d`` in pixels for an image of (height, width)."""
    h, w = size_hw
    return max(1, int(round(dilation_ratio * math.sqrt(h * h + w * w))))


def mask_to_boundary(mask_hw: np.ndarray, dilation: int) -> np.ndarray:
    """(height, width) bool boundary region of a binary mask, ``dilation`` pixels wide.

    ``dilation`` erosions by a 3x3 square equal one erosion by a (2d+1) square, which OpenCV
    runs as two separable passes; the one-pixel zero border is the reference's padding.
    """
    mask = (np.asarray(mask_hw) != 0).astype(np.uint8)
    padded = cv2.copyMakeBorder(mask, 1, 1, 1, 1, cv2.BORDER_CONSTANT, value=0)
    eroded = cv2.erode(padded, _square_kernel(dilation))[1:-1, 1:-1]
    boundary_hw: np.ndarray = (mask > 0) & (eroded == 0)
    return boundary_hw


def rle_counts(rle: dict[str, Any]) -> np.ndarray:
    """The run lengths (int64) of a COCO RLE, compressed (str/bytes, decoded with the
    ``maskApi.c rleFrString`` rules) or uncompressed (a list)."""
    counts = rle["counts"]
    if isinstance(counts, list):
        return np.asarray(counts, dtype=np.int64)
    if _fast_uncompress is not None:
        return np.asarray(_fast_uncompress([rle])[0]["counts"], dtype=np.int64)
    return _parse_counts(counts)


def _parse_counts(counts: str | bytes) -> np.ndarray:
    """Vectorised ``rleFrString``: 5-bit groups, LSB first, 0x20 = more, 0x10 in the last group =
    negative; from the third count on, each is a delta to the count two places before."""
    if isinstance(counts, str):
        counts = counts.encode("ascii")
    c = np.frombuffer(counts, dtype=np.uint8).astype(np.int64) - 48
    if c.size == 0:
        return np.zeros(0, dtype=np.int64)
    more = (c & 0x20) != 0
    ends = np.flatnonzero(~more)
    group = np.concatenate(([0], np.cumsum(~more)[:-1]))  # group index of each char
    starts = np.concatenate(([0], ends[:-1] + 1))
    k = np.arange(c.size) - starts[group]  # position of the char inside its group
    values = np.zeros(ends.size, dtype=np.int64)
    np.add.at(values, group, (c & 0x1F) << (5 * k))
    negative = (c[ends] & 0x10) != 0
    width = 5 * (k[ends] + 1)
    values[negative] |= -(np.int64(1) << width[negative])
    out = values.copy()
    if out.size > 2:
        out[2::2] = np.cumsum(values[2::2])
    if out.size > 3:
        out[1::2] = np.cumsum(values[1::2])
    return out


# A list of compressed RLEs -> the same RLEs with uncompressed (list) counts.
_UncompressRles = Callable[[list[dict[str, Any]]], list[dict[str, Any]]]


def _load_fast_uncompress() -> _UncompressRles | None:
    """faster-coco-eval's C++ string -> counts converter, when installed (same output)."""
    try:
        from faster_coco_eval import mask_api_new_cpp

        uncompress: _UncompressRles = mask_api_new_cpp.toUncompressedRLE
        return uncompress
    except ImportError:  # pragma: no cover - optional dependency
        return None


_fast_uncompress = _load_fast_uncompress()


def decode_crop(rle: dict[str, Any], x0: int, y0: int, x1: int, y1: int, counts: np.ndarray | None = None) -> np.ndarray:
    """Decode only the window rows [y0, y1) x cols [x0, x1) of a COCO RLE -> uint8 (y1-y0, x1-x0).
    Much cheaper than a full-image decode for a small object."""
    h = int(rle["size"][0])
    counts = rle_counts(rle) if counts is None else counts
    ends = np.cumsum(counts)
    starts = ends - counts
    lo, hi = x0 * h, x1 * h  # the window's columns, as flat (column-major) indices
    first = int(np.searchsorted(ends, lo, side="right"))  # first run ending after lo
    last = int(np.searchsorted(starts, hi, side="left"))  # runs starting before hi
    idx = np.arange(first, last)
    lengths = np.minimum(ends[first:last], hi) - np.maximum(starts[first:last], lo)
    flat = np.repeat((idx & 1).astype(np.uint8), lengths)  # odd runs are foreground
    cols = flat.reshape(x1 - x0, h).T  # (h, x1-x0)
    return cols[y0:y1]


@lru_cache(maxsize=64)
def _square_kernel(dilation: int) -> np.ndarray:
    side = 2 * int(dilation) + 1
    return cv2.getStructuringElement(cv2.MORPH_RECT, (side, side))


def boundary_iou(gt_mask_hw: np.ndarray, pred_mask_hw: np.ndarray,
                 dilation_ratio: float = DEFAULT_DILATION_RATIO) -> float:
    """Boundary IoU of two (height, width) binary masks of one image. NaN if both are empty."""
    gt = np.asarray(gt_mask_hw)
    pred = np.asarray(pred_mask_hw)
    if gt.shape != pred.shape:
        raise MetricsError(f"image sizes differ: ground truth {gt.shape} vs prediction {pred.shape} (height, width)")
    d = boundary_width(gt.shape, dilation_ratio)
    bg = mask_to_boundary(gt, d)
    bp = mask_to_boundary(pred, d)
    union = np.count_nonzero(bg | bp)
    if union == 0:
        return math.nan
    return float(np.count_nonzero(bg & bp) / union)


def boundary_iou_rle(gt_rle: dict[str, Any], pred_rle: dict[str, Any], dilation_ratio: float = DEFAULT_DILATION_RATIO) -> float:
    """Boundary IoU of two COCO RLE masks (``{"size": [h, w], "counts": ...}``) of one image,
    computed on the crop around both masks. NaN if both are empty."""
    if list(gt_rle["size"]) != list(pred_rle["size"]):
        raise MetricsError(f"image sizes differ: ground truth {gt_rle['size']} vs prediction {pred_rle['size']}")
    h, w = (int(v) for v in gt_rle["size"])
    d = boundary_width((h, w), dilation_ratio)
    boxes = mask_utils.toBbox([gt_rle, pred_rle])  # (2, 4) xywh, zero for an empty mask
    present = boxes[:, 2] > 0
    if not present.any():
        return math.nan
    x0 = int(boxes[present, 0].min())
    y0 = int(boxes[present, 1].min())
    x1 = int((boxes[present, 0] + boxes[present, 2]).max())
    y1 = int((boxes[present, 1] + boxes[present, 3]).max())
    ch, cw = y1 - y0, x1 - x0
    # Both crops side by side, separated and surrounded by one background pixel: one erosion
    # serves both, and the zero columns/rows play the reference's one-pixel padding (pixels
    # outside the crop are background anyway).
    canvas = np.zeros((ch + 2, 2 * cw + 3), dtype=np.uint8)
    canvas[1:-1, 1:1 + cw] = decode_crop(gt_rle, x0, y0, x1, y1)
    canvas[1:-1, cw + 2:2 * cw + 2] = decode_crop(pred_rle, x0, y0, x1, y1)
    eroded = cv2.erode(canvas, _square_kernel(d))
    edge = canvas > eroded
    bg = edge[1:-1, 1:1 + cw]
    bp = edge[1:-1, cw + 2:2 * cw + 2]
    union = np.count_nonzero(bg | bp)
    if union == 0:
        return math.nan
    return float(np.count_nonzero(bg & bp) / union)


def semantic_boundary_iou(gt_labels_hw: np.ndarray, pred_labels_hw: np.ndarray, num_classes: int,
                          ignore_index: int | None = 255,
                          dilation_ratio: float = DEFAULT_DILATION_RATIO) -> np.ndarray:
    """Per-class boundary IoU of two label maps (num_classes,), NaN for a class absent from
    both. Pixels whose ground truth is ``ignore_index`` are left out of both boundaries."""
    gt = np.asarray(gt_labels_hw)
    pred = np.asarray(pred_labels_hw)
    if gt.shape != pred.shape:
        raise MetricsError(f"image sizes differ: ground truth {gt.shape} vs prediction {pred.shape} (height, width)")
    d = boundary_width(gt.shape, dilation_ratio)
    valid = np.ones(gt.shape, dtype=bool) if ignore_index is None else gt != ignore_index
    out = np.full(num_classes, np.nan)
    for c in range(num_classes):
        g = gt == c
        p = (pred == c) & valid
        if not g.any() and not p.any():
            continue
        bg = mask_to_boundary(g, d)
        bp = mask_to_boundary(p, d) & valid
        union = np.count_nonzero(bg | bp)
        out[c] = np.count_nonzero(bg & bp) / union if union else math.nan
    return out
