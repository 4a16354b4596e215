"""Semantic segmentation metrics from a pixel confusion matrix.

Conventions (the Cityscapes / torchmetrics ones):

- The confusion matrix is (C, C) int64, **rows = ground truth, columns = prediction**.
- Pixels whose ground truth is ``ignore_index`` are left out entirely (neither FN nor FP), so a
  prediction on a void pixel costs nothing.
- Per class: ``IoU = TP / (TP + FP + FN)``, ``Dice = 2TP / (2TP + FP + FN)``,
  ``accuracy (recall) = TP / (TP + FN)``, ``precision = TP / (TP + FP)``.
- **Undefined is NaN and excluded from the means**: a class absent from both the ground truth
  and the prediction has NaN IoU and Dice; a class without ground-truth pixels has NaN accuracy.
  mIoU, mean Dice and mean class accuracy are NaN-skipping means (NaN when every class is NaN).
- Pixel accuracy = trace / total; frequency-weighted IoU = sum over classes of
  (GT pixels of the class / total) * IoU. Both are NaN for an empty matrix.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from annotations.errors import MetricsError


def confusion_matrix(
    gt_labels_hw: np.ndarray, pred_labels_hw: np.ndarray, num_classes: int, ignore_index: int | None = 255
) -> np.ndarray:
    """Pixel confusion matrix (num_classes, num_classes) int64, rows = GT class, cols = predicted.

    ``gt_labels_hw`` and ``pred_labels_hw`` are integer label maps of one (height, width).
    GT pixels equal to ``ignore_index`` are skipped. Any other label outside ``[0, num_classes)``
    raises :class:`MetricsError`, as do different image sizes.
    """
    gt = np.asarray(gt_labels_hw)
    pred = np.asarray(pred_labels_hw)
    if gt.shape != pred.shape:
        raise MetricsError(f"image sizes differ: ground truth {gt.shape} vs prediction {pred.shape} (height, width)")
    if num_classes < 1:
        raise MetricsError(f"num_classes must be >= 1, got {num_classes}")
    if not (np.issubdtype(gt.dtype, np.integer) and np.issubdtype(pred.dtype, np.integer)):
        raise MetricsError(f"label maps must be integer arrays, got {gt.dtype} and {pred.dtype}")
    gt = gt.reshape(-1).astype(np.int64, copy=False)
    pred = pred.reshape(-1).astype(np.int64, copy=False)
    if ignore_index is not None:
        keep = gt != ignore_index
        if not keep.all():
            gt = gt[keep]
            pred = pred[keep]
    for name, labels in (("ground truth", gt), ("prediction", pred)):
        if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
            bad = labels[(labels < 0) | (labels >= num_classes)][0]
            raise MetricsError(
                f"{name} has label {int(bad)} outside [0, {num_classes})"
                + (f" (ignore_index is {ignore_index})" if ignore_index is not None else "")
            )
    return np.bincount(gt * num_classes + pred, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


@dataclass
class SemanticMetrics:
    """Metrics of one confusion matrix; per-class arrays have shape (C,), NaN where undefined."""

    pixel_accuracy: float
    mean_class_accuracy: float
    miou: float
    fw_iou: float
    mean_dice: float
    iou: np.ndarray
    dice: np.ndarray
    class_accuracy: np.ndarray
    precision: np.ndarray
    gt_pixels: np.ndarray
    pred_pixels: np.ndarray
    class_names: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """Plain JSON (NaN -> null)."""
        def num(v: float) -> float | None:
            return None if math.isnan(v) else float(v)

        names = self.class_names or [str(i) for i in range(len(self.iou))]
        return {
            "pixel_accuracy": num(self.pixel_accuracy),
            "mean_class_accuracy": num(self.mean_class_accuracy),
            "miou": num(self.miou),
            "fw_iou": num(self.fw_iou),
            "mean_dice": num(self.mean_dice),
            "per_class": [
                {
                    "class": names[c],
                    "iou": num(self.iou[c]),
                    "dice": num(self.dice[c]),
                    "accuracy": num(self.class_accuracy[c]),
                    "precision": num(self.precision[c]),
                    "gt_pixels": int(self.gt_pixels[c]),
                    "pred_pixels": int(self.pred_pixels[c]),
                }
                for c in range(len(self.iou))
            ],
        }


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    num = num.astype(np.float64)
    den = den.astype(np.float64)
    out = np.full(num.shape, np.nan)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _nanmean(values: np.ndarray) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values)) if values.size else math.nan


def semantic_metrics(confusion: np.ndarray, class_names: list[str] | None = None) -> SemanticMetrics:
    """Pixel accuracy, mean class accuracy, per-class IoU, mIoU, frequency-weighted IoU and Dice
    from a (C, C) confusion matrix (rows = GT). See the module docstring for undefined cases."""
    cm = np.asarray(confusion)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise MetricsError(f"confusion matrix must be square (C, C), got {cm.shape}")
    if class_names is not None and len(class_names) != cm.shape[0]:
        raise MetricsError(f"{len(class_names)} class names for a {cm.shape[0]}-class confusion matrix")
    cm = cm.astype(np.int64, copy=False)
    tp = np.diag(cm)
    gt_pixels = cm.sum(axis=1)
    pred_pixels = cm.sum(axis=0)
    fp = pred_pixels - tp
    fn = gt_pixels - tp
    total = int(gt_pixels.sum())
    iou = _ratio(tp, tp + fp + fn)
    dice = _ratio(2 * tp, 2 * tp + fp + fn)
    class_accuracy = _ratio(tp, gt_pixels)
    precision = _ratio(tp, pred_pixels)
    if total > 0:
        freq = gt_pixels / total
        fw_iou = float(np.sum(freq[gt_pixels > 0] * iou[gt_pixels > 0]))
        pixel_accuracy = float(tp.sum() / total)
    else:
        fw_iou = pixel_accuracy = math.nan
    return SemanticMetrics(
        pixel_accuracy=pixel_accuracy,
        mean_class_accuracy=_nanmean(class_accuracy),
        miou=_nanmean(iou),
        fw_iou=fw_iou,
        mean_dice=_nanmean(dice),
        iou=iou,
        dice=dice,
        class_accuracy=class_accuracy,
        precision=precision,
        gt_pixels=gt_pixels,
        pred_pixels=pred_pixels,
        class_names=list(class_names or []),
    )
