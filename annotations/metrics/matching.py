"""Match two sets of shapes on one image by IoU (ground truth vs prediction / annotator B).

Rules (documented in the JSON schema too):

- **IoU matrix** (G ground truth rows x P prediction columns). Box/box pairs are exact box IoU
  (no +1, as pycocotools); every pair involving a polygon or a mask is computed on RLE at the
  image size, polygons and boxes rasterized the DESIGN way (pycocotools). ``iou_type="bbox"``
  compares bounding boxes of everything, ``"segm"`` rasterizes everything (COCO's two modes).
- **Crowd ground truth** (``iscrowd``) is an ignore region, the COCO way: its IoU column is
  intersection / prediction area; a prediction of the same class that reaches the threshold on
  a crowd region is *ignored* (neither TP nor FP); a crowd region is never a FN.
- **Optimal assignment in two passes** (as CVAT's quality control): first same-class pairs with
  IoU >= threshold, by the Hungarian method (most pairs, then the largest total IoU); then,
  among what is left, pairs across classes with IoU >= threshold: these are *label mismatches*.
- **Counts**: TP = same-class pairs; FP = predictions not in a same-class pair and not ignored
  (a mismatched prediction is an FP of its class); FN = non-crowd ground truth not in a
  same-class pair (a mismatched one is an FN of its class).
- **Undefined**: precision with no prediction, recall with no ground truth, F1 with neither and
  mean IoU with no TP are NaN (never 0, never a crash).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, cast

import numpy as np
from pycocotools import mask as mask_utils

from annotations.errors import GeometryError, MetricsError
from annotations.geometry import Box, to_box, to_mask
from annotations.geometry.shapes import Geometry
from annotations.metrics.assignment import max_weight_matching

DEFAULT_IOU_THRESHOLD = 0.5


class MatchIouType(str, Enum):
    """How shapes are compared: ``auto`` (exact boxes, RLE for anything else), ``bbox``, ``segm``."""

    AUTO = "auto"
    BBOX = "bbox"
    SEGM = "segm"


@dataclass(frozen=True)
class Shape:
    """A shape to match: an annotation, a prediction (``score``) or a COCO object."""

    category_id: int
    geometry: Geometry
    iscrowd: bool = False
    score: float = 1.0
    id: int = 0


def as_shape(obj: Any) -> Shape:
    """A :class:`Shape` from an ``Annotation``, a ``Prediction`` or a ``Shape``."""
    if isinstance(obj, Shape):
        return obj
    try:
        return Shape(
            category_id=int(obj.category_id),
            geometry=obj.geometry,
            iscrowd=bool(getattr(obj, "iscrowd", False)),
            score=float(getattr(obj, "score", 1.0)),
            id=int(getattr(obj, "id", 0)),
        )
    except AttributeError as exc:
        raise MetricsError(f"cannot match {type(obj).__name__}: needs category_id and geometry") from exc


# ---------------------------------------------------------------------------- IoU


def shape_rle(geometry: Geometry, size_hw: tuple[int, int], where: str = "shape") -> dict[str, Any]:
    """The pycocotools RLE dict of any geometry at image size (height, width); a mask of another
    size raises :class:`MetricsError` naming ``where``."""
    if isinstance(geometry, Box):
        # geometry.box_to_mask hands pycocotools a list, which its bbox path rejects (2.0.11).
        rle: dict[str, Any] = mask_utils.frPyObjects(np.array([geometry.xywh], dtype=np.float64), size_hw[0], size_hw[1])[0]
        return rle
    try:
        return to_mask(geometry, size_hw).rle
    except GeometryError as exc:
        raise MetricsError(f"{where}: {exc}") from exc


def pairwise_iou(
    gt_geometries: Sequence[Geometry],
    pred_geometries: Sequence[Geometry],
    size_hw: tuple[int, int],
    gt_iscrowd: Sequence[bool] | None = None,
    iou_type: MatchIouType | str = MatchIouType.AUTO,
) -> np.ndarray:
    """(G, P) IoU matrix between ground-truth and predicted geometries on an image of size
    (height, width). Crowd columns use intersection / prediction area. A mask whose size is not
    ``size_hw`` raises :class:`MetricsError`."""
    iou_type = MatchIouType(iou_type)
    g, p = len(gt_geometries), len(pred_geometries)
    out = np.zeros((g, p), dtype=np.float64)
    if g == 0 or p == 0:
        return out
    crowd = [int(bool(c)) for c in (gt_iscrowd if gt_iscrowd is not None else [False] * g)]
    size_hw = (int(size_hw[0]), int(size_hw[1]))
    if iou_type is MatchIouType.BBOX:
        gt_boxes = [list(to_box(x).xywh) for x in gt_geometries]
        pred_boxes = [list(to_box(x).xywh) for x in pred_geometries]
        return np.asarray(mask_utils.iou(pred_boxes, gt_boxes, crowd), dtype=np.float64).reshape(p, g).T
    gt_is_box = np.array([isinstance(x, Box) for x in gt_geometries])
    pred_is_box = np.array([isinstance(x, Box) for x in pred_geometries])
    if iou_type is MatchIouType.AUTO and gt_is_box.all() and pred_is_box.all():
        gt_boxes = [list(cast(Box, x).xywh) for x in gt_geometries]  # all boxes: checked just above
        pred_boxes = [list(cast(Box, x).xywh) for x in pred_geometries]
        return np.asarray(mask_utils.iou(pred_boxes, gt_boxes, crowd), dtype=np.float64).reshape(p, g).T
    gt_rles = [shape_rle(x, size_hw, f"ground-truth shape #{i}") for i, x in enumerate(gt_geometries)]
    pred_rles = [shape_rle(x, size_hw, f"predicted shape #{i}") for i, x in enumerate(pred_geometries)]
    out = np.asarray(mask_utils.iou(pred_rles, gt_rles, crowd), dtype=np.float64).reshape(p, g).T
    if iou_type is MatchIouType.AUTO and gt_is_box.any() and pred_is_box.any():
        gi = np.flatnonzero(gt_is_box)
        pi = np.flatnonzero(pred_is_box)
        exact = mask_utils.iou(
            [list(cast(Box, pred_geometries[int(j)]).xywh) for j in pi],  # pi, gi: indices of boxes
            [list(cast(Box, gt_geometries[int(i)]).xywh) for i in gi],
            [crowd[i] for i in gi],
        )
        out[np.ix_(gi, pi)] = np.asarray(exact, dtype=np.float64).reshape(len(pi), len(gi)).T
    return out


# ---------------------------------------------------------------------------- matching


@dataclass(frozen=True)
class MatchedPair:
    """One assignment: indices into the GT and prediction lists, their IoU, same class or not."""

    gt_index: int
    pred_index: int
    iou: float
    same_class: bool


@dataclass
class MatchResult:
    """The matching of one image. Arrays are indexed like the input lists.

    ``iou``: (G, P); ``gt_to_pred`` / ``pred_to_gt``: the partner index or -1 (same-class and
    label-mismatch pairs alike); ``pred_ignored``: prediction absorbed by a crowd region.
    """

    iou: np.ndarray
    gt_category_ids: np.ndarray
    pred_category_ids: np.ndarray
    gt_iscrowd: np.ndarray
    gt_to_pred: np.ndarray
    pred_to_gt: np.ndarray
    pred_ignored: np.ndarray
    iou_threshold: float

    @property
    def pairs(self) -> list[MatchedPair]:
        """Every assigned pair, same class first then label mismatches, by GT index."""
        out = []
        for g in np.flatnonzero(self.gt_to_pred >= 0):
            p = int(self.gt_to_pred[g])
            out.append(MatchedPair(int(g), p, float(self.iou[g, p]),
                                   bool(self.gt_category_ids[g] == self.pred_category_ids[p])))
        return sorted(out, key=lambda m: (not m.same_class, m.gt_index))

    @property
    def same_class_gt(self) -> np.ndarray:
        """(G,) bool: GT in a same-class pair (a true positive)."""
        partner = self.gt_to_pred
        ok = partner >= 0
        out = np.zeros(len(partner), dtype=bool)
        out[ok] = self.gt_category_ids[ok] == self.pred_category_ids[partner[ok]]
        return out

    @property
    def same_class_pred(self) -> np.ndarray:
        """(P,) bool: prediction in a same-class pair (a true positive)."""
        partner = self.pred_to_gt
        ok = partner >= 0
        out = np.zeros(len(partner), dtype=bool)
        out[ok] = self.pred_category_ids[ok] == self.gt_category_ids[partner[ok]]
        return out

    @property
    def true_positive_ious(self) -> np.ndarray:
        """IoU of every same-class pair (in GT order)."""
        g = np.flatnonzero(self.same_class_gt)
        return self.iou[g, self.gt_to_pred[g]] if g.size else np.zeros(0)

    @property
    def false_negatives(self) -> np.ndarray:
        """Indices of non-crowd GT not in a same-class pair (mismatched ones included)."""
        return np.flatnonzero(~self.same_class_gt & ~self.gt_iscrowd)

    @property
    def false_positives(self) -> np.ndarray:
        """Indices of predictions not in a same-class pair and not ignored."""
        return np.flatnonzero(~self.same_class_pred & ~self.pred_ignored)

    @property
    def label_mismatches(self) -> list[MatchedPair]:
        return [m for m in self.pairs if not m.same_class]

    @property
    def tp(self) -> int:
        return int(self.same_class_gt.sum())

    @property
    def fp(self) -> int:
        return int(self.false_positives.size)

    @property
    def fn(self) -> int:
        return int(self.false_negatives.size)

    @property
    def precision(self) -> float:
        return _ratio(self.tp, self.tp + self.fp)

    @property
    def recall(self) -> float:
        return _ratio(self.tp, self.tp + self.fn)

    @property
    def f1(self) -> float:
        return _ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn)

    @property
    def mean_iou(self) -> float:
        ious = self.true_positive_ious
        return float(ious.mean()) if ious.size else math.nan


def _ratio(num: float, den: float) -> float:
    return float(num) / float(den) if den > 0 else math.nan


def match_from_iou(
    iou_gp: np.ndarray,
    gt_category_ids: Iterable[int],
    pred_category_ids: Iterable[int],
    gt_iscrowd: Iterable[bool] | None = None,
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
) -> MatchResult:
    """Two-pass optimal matching from a precomputed (G, P) IoU matrix (see the module rules)."""
    iou_gp = np.asarray(iou_gp, dtype=np.float64)
    gt_cats = np.asarray(list(gt_category_ids), dtype=np.int64)
    pred_cats = np.asarray(list(pred_category_ids), dtype=np.int64)
    g, p = len(gt_cats), len(pred_cats)
    if iou_gp.shape != (g, p):
        raise MetricsError(f"IoU matrix has shape {iou_gp.shape}, expected ({g}, {p})")
    if not 0.0 <= iou_threshold <= 1.0:
        raise MetricsError(f"IoU threshold must be in [0, 1], got {iou_threshold}")
    crowd = np.zeros(g, dtype=bool) if gt_iscrowd is None else np.asarray(list(gt_iscrowd), dtype=bool)
    gt_to_pred = np.full(g, -1, dtype=np.int64)
    pred_to_gt = np.full(p, -1, dtype=np.int64)
    ignored = np.zeros(p, dtype=bool)
    # A threshold of 0 still needs some overlap to call two shapes a pair.
    reach = (iou_gp >= iou_threshold) & (iou_gp > 0) if g and p else np.zeros((g, p), dtype=bool)
    if reach.any():
        same = gt_cats[:, None] == pred_cats[None, :]
        normal = ~crowd
        # Pass 1: same class, non-crowd GT.
        allowed = reach & same & normal[:, None]
        rows, cols = max_weight_matching(iou_gp, allowed)
        gt_to_pred[rows] = cols
        pred_to_gt[cols] = rows
        # Crowd regions absorb same-class leftovers (COCO's ignore rule).
        if crowd.any():
            free_pred = pred_to_gt < 0
            ignored = free_pred & (reach & same & crowd[:, None]).any(axis=0)
        # Pass 2: across classes among the leftovers -> label mismatches.
        allowed = reach & normal[:, None] & (gt_to_pred < 0)[:, None] & ((pred_to_gt < 0) & ~ignored)[None, :]
        if allowed.any():
            rows, cols = max_weight_matching(iou_gp, allowed)
            gt_to_pred[rows] = cols
            pred_to_gt[cols] = rows
    return MatchResult(
        iou=iou_gp,
        gt_category_ids=gt_cats,
        pred_category_ids=pred_cats,
        gt_iscrowd=crowd,
        gt_to_pred=gt_to_pred,
        pred_to_gt=pred_to_gt,
        pred_ignored=ignored,
        iou_threshold=float(iou_threshold),
    )


def match_shapes(
    gt: Sequence[Any],
    pred: Sequence[Any],
    size_hw: tuple[int, int],
    iou_threshold: float = DEFAULT_IOU_THRESHOLD,
    iou_type: MatchIouType | str = MatchIouType.AUTO,
) -> MatchResult:
    """Match ground-truth shapes ``gt`` with predicted shapes ``pred`` on one image.

    ``gt`` / ``pred``: annotations, predictions or :class:`Shape` (anything with
    ``category_id`` and ``geometry``; ``iscrowd`` read on the GT side). ``size_hw`` is the image
    (height, width). Returns the IoU matrix, the pairs and the TP/FP/FN split.
    """
    gt_shapes = [as_shape(x) for x in gt]
    pred_shapes = [as_shape(x) for x in pred]
    crowd = [s.iscrowd for s in gt_shapes]
    iou = pairwise_iou([s.geometry for s in gt_shapes], [s.geometry for s in pred_shapes], size_hw, crowd, iou_type)
    return match_from_iou(iou, [s.category_id for s in gt_shapes], [s.category_id for s in pred_shapes], crowd,
                          iou_threshold)


__all__ = [
    "DEFAULT_IOU_THRESHOLD", "MatchIouType", "MatchResult", "MatchedPair", "Shape", "as_shape",
    "match_from_iou", "match_shapes", "pairwise_iou", "shape_rle",
]
