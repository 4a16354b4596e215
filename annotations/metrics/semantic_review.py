"""The ``semantic`` section of a review: shapes rasterized into label maps, one pixel confusion
matrix over all compared images, and the metrics of :mod:`annotations.metrics.semantic`.

Rules (documented in :mod:`annotations.metrics.report_json`):

- Class 0 is ``background`` (pixels no shape covers); category ``k`` of the review (categories
  sorted by id) is class ``k + 1``.
- Each side of an image is painted **back to front** in the given paint order (projects: z-order,
  then id; COCO files: annotation order; predictions: score, then id — the most confident on
  top). A later shape overwrites an earlier one.
- A crowd shape of the reference side paints :data:`IGNORE` (void): those pixels are left out of
  the confusion matrix whatever the compared side holds there (unless a later, non-crowd shape
  covers them again).
- Every RLE is decoded once, and only its bounding box is written.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from pycocotools import mask as mask_utils

from annotations.metrics.semantic import SemanticMetrics, confusion_matrix, semantic_metrics

IGNORE = 255
BACKGROUND = "background"
# A shape's paint order, compared as a tuple (e.g. (z-order, id) or (score, id)): smaller = further back.
PaintKey = tuple[float, ...]


@dataclass
class PaintShape:
    """One shape to paint: its compressed RLE (COCO dict, size (h, w)), its class index in the
    label map (0 = background, ``IGNORE`` = void) and its paint key (smaller = further back)."""

    rle: dict[str, Any]
    label: int
    key: PaintKey


def rasterize(size_hw: tuple[int, int], shapes: Sequence[PaintShape], dtype: Any = np.int32) -> np.ndarray:
    """A (height, width) label map: background 0, then ``shapes`` painted in ascending ``key``."""
    h, w = int(size_hw[0]), int(size_hw[1])
    labels = np.zeros((h, w), dtype=dtype)
    for shape in sorted(shapes, key=lambda s: s.key):
        x, y, bw, bh = (int(v) for v in mask_utils.toBbox(shape.rle))
        if bw <= 0 or bh <= 0:
            continue
        mask = mask_utils.decode(shape.rle)
        x2, y2 = min(w, x + bw + 1), min(h, y + bh + 1)  # +1: toBbox is exact, the slack is harmless
        region = labels[y:y2, x:x2]
        region[mask[y:y2, x:x2].astype(bool, copy=False)] = shape.label
    return labels


class SemanticAccumulator:
    """Sums the pixel confusion matrix of many images; ``category_names`` are the review's
    categories in class order (class ``k + 1``)."""

    def __init__(self, category_names: Sequence[str]) -> None:
        self.class_names = [BACKGROUND, *category_names]
        self.num_classes = len(self.class_names)
        self.ignore_index = IGNORE if self.num_classes <= IGNORE else self.num_classes
        self.confusion = np.zeros((self.num_classes, self.num_classes), dtype=np.int64)
        self.images = 0

    @property
    def crowd_label(self) -> int:
        """The label painted by reference crowd shapes (void)."""
        return self.ignore_index

    def add_image(self, size_hw: tuple[int, int], reference: Sequence[PaintShape],
                  compared: Sequence[PaintShape]) -> None:
        """Rasterize both sides of one image of ``size_hw`` (height, width) and add its pixels."""
        gt = rasterize(size_hw, reference)
        pred = rasterize(size_hw, compared)
        self.confusion += confusion_matrix(gt, pred, self.num_classes, self.ignore_index)
        self.images += 1

    def metrics(self) -> SemanticMetrics:
        """The metrics of the accumulated matrix (NaN where undefined)."""
        return semantic_metrics(self.confusion, self.class_names)

    def to_json(self) -> dict[str, Any]:
        """The report's ``semantic`` section (see :mod:`annotations.metrics.report_json`)."""
        m = self.metrics()
        out = m.to_json()
        foreground = m.iou[1:]
        with np.errstate(all="ignore"):
            fg = float(np.nanmean(foreground)) if foreground.size and not np.all(np.isnan(foreground)) else math.nan
        out["miou_foreground"] = None if math.isnan(fg) else fg
        out["images"] = self.images
        out["ignore_index"] = self.ignore_index
        out["background_class"] = BACKGROUND
        out["confusion"] = {"classes": list(self.class_names), "rows": "ground truth", "cols": "prediction",
                            "matrix": self.confusion.tolist()}
        return out
