"""Salient-object (foreground/background) measures of one-class and fg/bg masks.

The measures the salient-object-detection field reports, computed exactly as the maintained
reference implementation ``pysodmetrics`` (``py_sod_metrics`` 1.6.2: ``Fmeasure``, ``MAE``,
``Smeasure``, ``Emeasure``, ``WeightedFmeasure``) computes them; the tests check every number
against that package to 1e-6 on real masks and probability maps. The package itself is not a
runtime dependency: it pins numpy < 2.3.5 and opencv < 5, which conflicts with this project.

Inputs per image: a prediction map of shape (height, width) — float in [0, 1] (a probability map:
*soft*) or bool (a mask: *hard*) — and a ground-truth bool mask of the same shape (True =
foreground). :func:`prepare_uint8` converts 8-bit image files the way the SOD toolboxes do.

- precision, recall, F-beta (beta^2 = :data:`FBETA_SQUARED` = 0.3) and E-measure of the map
  binarized as ``map > 0.5`` (pysodmetrics' "binary" mode; a hard mask as it is);
- soft maps only: F-beta and E-measure at 256 thresholds (the map times 255, floored); *max* and
  *mean* are the max / mean over thresholds of the curve averaged over images; *adaptive* uses
  each image's threshold min(2 * mean(map), 1), averaged over images;
- MAE (mean absolute error), weighted F-beta (Margolin et al. 2014, beta^2 =
  :data:`WEIGHTED_FBETA_SQUARED` = 1), S-measure (Fan et al. 2017, alpha = 0.5), E-measure
  (Fan et al. 2018) — per image, averaged over images.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.ndimage import convolve, distance_transform_edt

from annotations.errors import MetricsError

FBETA_SQUARED = 0.3
WEIGHTED_FBETA_SQUARED = 1.0
S_MEASURE_ALPHA = 0.5
HARD_THRESHOLD = 0.5
EPS = float(np.spacing(1))
N_THRESHOLDS = 256

FloatMap = NDArray[np.float64]
BoolMap = NDArray[np.bool_]


def prepare_uint8(pred_u8: NDArray[Any], gt_u8: NDArray[Any]) -> tuple[FloatMap, BoolMap]:
    """8-bit (height, width) prediction and ground-truth images as the SOD toolboxes read them:
    prediction / 255 stretched to [0, 1] (MATLAB ``mapminmax``), ground truth > 128."""
    gt = np.asarray(gt_u8) > 128
    pred = np.asarray(pred_u8) / 255
    if pred.max() != pred.min():
        pred = (pred - pred.min()) / (pred.max() - pred.min())
    return pred.astype(np.float64), gt


def _check(pred: NDArray[Any], gt: NDArray[Any]) -> tuple[FloatMap, BoolMap, bool]:
    pred = np.asarray(pred)
    gt = np.asarray(gt)
    if pred.ndim != 2 or pred.shape != gt.shape:
        raise MetricsError(f"prediction {pred.shape} and ground truth {gt.shape} must be (height, width) of one size")
    if gt.dtype != np.bool_:
        raise MetricsError(f"ground truth must be a bool mask, got {gt.dtype}")
    if pred.dtype == np.bool_:
        return pred.astype(np.float64), gt, False
    if pred.dtype.kind != "f":
        raise MetricsError(f"prediction must be a bool mask or a float map in [0, 1], got {pred.dtype}")
    if pred.size and not (0.0 <= float(pred.min()) and float(pred.max()) <= 1.0):
        raise MetricsError("prediction values must lie in [0, 1]")
    return pred.astype(np.float64), gt, True


# ---------------------------------------------------------------------------- F-beta


def _fbeta(precision: NDArray[Any] | float, recall: NDArray[Any] | float, beta2: float) -> Any:
    numerator = (1 + beta2) * np.asarray(precision) * np.asarray(recall)
    denominator = np.where(numerator == 0, 1, beta2 * np.asarray(precision) + np.asarray(recall))
    return numerator / denominator


def precision_recall_at(pred: FloatMap, gt: BoolMap, threshold: float, *, strict: bool = False) -> tuple[float, float]:
    """Precision and recall of ``pred >= threshold`` (``pred > threshold`` when ``strict``); 0
    where undefined, as the SOD toolboxes."""
    binary = pred > threshold if strict else pred >= threshold
    tp = int(binary[gt].sum())
    if tp == 0:
        return 0.0, 0.0
    return tp / int(np.count_nonzero(binary)), tp / int(np.count_nonzero(gt))


def adaptive_threshold(pred: FloatMap) -> float:
    """The per-image adaptive threshold min(2 * mean(pred), 1)."""
    return float(min(2 * pred.mean(), 1.0))


def adaptive_fbeta(pred: FloatMap, gt: BoolMap, beta2: float = FBETA_SQUARED) -> float:
    """F-beta of ``pred >= adaptive_threshold(pred)``."""
    precision, recall = precision_recall_at(pred, gt, adaptive_threshold(pred))
    if precision == 0:
        return 0.0
    return float((1 + beta2) * precision * recall / (beta2 * precision + recall))


def _threshold_counts(pred: FloatMap, gt: BoolMap) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Foreground / background pixel counts at or above thresholds 255, 254, ..., 0 (of the map
    times 255, floored): two (256,) cumulative counts."""
    levels = (pred * 255).astype(np.uint8)
    fg = np.bincount(levels[gt], minlength=N_THRESHOLDS)
    bg = np.bincount(levels[~gt], minlength=N_THRESHOLDS)
    return np.cumsum(fg[::-1]), np.cumsum(bg[::-1])


def fbeta_curve(pred: FloatMap, gt: BoolMap, beta2: float = FBETA_SQUARED) -> FloatMap:
    """F-beta at thresholds 255..0 (index 0 = the strictest), shape (256,)."""
    tps, fps = _threshold_counts(pred, gt)
    predicted = tps + fps
    predicted[predicted == 0] = 1
    precision = tps / predicted
    recall = tps / max(int(np.count_nonzero(gt)), 1)
    return np.asarray(_fbeta(precision, recall, beta2), dtype=np.float64)


# ---------------------------------------------------------------------------- MAE, S-measure


def mae(pred: FloatMap, gt: BoolMap) -> float:
    """Mean absolute error between the map and the mask."""
    return float(np.mean(np.abs(pred - gt)))


def _s_object(values: FloatMap) -> float:
    mean = float(np.mean(values))
    std = float(np.std(values, ddof=1)) if values.size > 1 else 0.0
    return 2 * mean / (mean**2 + 1 + std + EPS)


def _ssim(pred: FloatMap, gt: BoolMap) -> float:
    h, w = pred.shape
    n = h * w
    x = np.mean(pred)
    y = np.mean(gt)
    sigma_x = np.sum((pred - x) ** 2) / (n - 1 + EPS)
    sigma_y = np.sum((gt - y) ** 2) / (n - 1 + EPS)
    sigma_xy = np.sum((pred - x) * (gt - y)) / (n - 1 + EPS)
    alpha = 4 * x * y * sigma_xy
    beta = (x**2 + y**2) * (sigma_x + sigma_y)
    if alpha != 0:
        return float(alpha / (beta + EPS))
    return 1.0 if beta == 0 else 0.0


def s_measure(pred: FloatMap, gt: BoolMap, alpha: float = S_MEASURE_ALPHA) -> float:
    """Structure measure: alpha * object-aware + (1 - alpha) * region-aware similarity."""
    y = float(np.mean(gt))
    if y == 0:
        return float(1 - np.mean(pred))
    if y == 1:
        return float(np.mean(pred))
    objects = _s_object(pred[gt]) * y + _s_object((1 - pred)[~gt]) * (1 - y)
    h, w = gt.shape
    area = h * w
    cy_f, cx_f = np.argwhere(gt).mean(axis=0).round()
    cy, cx = int(cy_f) + 1, int(cx_f) + 1
    w_lt = cx * cy / area
    w_rt = cy * (w - cx) / area
    w_lb = (h - cy) * cx / area
    w_rb = 1 - w_lt - w_rt - w_lb
    region = (_ssim(pred[:cy, :cx], gt[:cy, :cx]) * w_lt + _ssim(pred[:cy, cx:], gt[:cy, cx:]) * w_rt
              + _ssim(pred[cy:, :cx], gt[cy:, :cx]) * w_lb + _ssim(pred[cy:, cx:], gt[cy:, cx:]) * w_rb)
    return float(max(0.0, objects * alpha + region * (1 - alpha)))


# ---------------------------------------------------------------------------- E-measure


def _enhanced_sum(tp: Any, fp: Any, gt_fg: int, size: int) -> Any:
    """Sum of the enhanced alignment matrix from pixel counts (scalars or (256,) arrays)."""
    pred_fg = tp + fp
    pred_bg = size - pred_fg
    if gt_fg == 0:
        return pred_bg
    if gt_fg == size:
        return pred_fg
    fn = gt_fg - tp
    tn = pred_bg - fn
    mean_pred = pred_fg / size
    mean_gt = gt_fg / size
    total = 0
    for count, p, g in ((tp, 1 - mean_pred, 1 - mean_gt), (fp, 1 - mean_pred, -mean_gt),
                        (fn, -mean_pred, 1 - mean_gt), (tn, -mean_pred, -mean_gt)):
        align = 2 * (p * g) / (p**2 + g**2 + EPS)
        total = total + (align + 1) ** 2 / 4 * count
    return total


def e_measure_at(pred: FloatMap, gt: BoolMap, threshold: float, *, strict: bool = False) -> float:
    """Enhanced-alignment measure of ``pred >= threshold`` (``pred > threshold`` when ``strict``)."""
    binary = pred > threshold if strict else pred >= threshold
    tp = int(np.count_nonzero(binary & gt))
    fp = int(np.count_nonzero(binary & ~gt))
    size = gt.shape[0] * gt.shape[1]
    return float(_enhanced_sum(tp, fp, int(np.count_nonzero(gt)), size) / (size - 1 + EPS))


def e_measure_curve(pred: FloatMap, gt: BoolMap) -> FloatMap:
    """E-measure at thresholds 255..0 (index 0 = the strictest), shape (256,)."""
    tps, fps = _threshold_counts(pred, gt)
    size = gt.shape[0] * gt.shape[1]
    total = _enhanced_sum(tps.astype(np.float64), fps.astype(np.float64), int(np.count_nonzero(gt)), size)
    return np.asarray(total / (size - 1 + EPS), dtype=np.float64)


# ---------------------------------------------------------------------------- weighted F-beta


def _gauss_kernel(size: int = 7, sigma: float = 5.0) -> FloatMap:
    """MATLAB ``fspecial('gaussian', [size size], sigma)``."""
    m = (size - 1) / 2
    y, x = np.ogrid[-m : m + 1, -m : m + 1]
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(h.dtype).eps * h.max()] = 0
    total = h.sum()
    return np.asarray(h / total if total != 0 else h, dtype=np.float64)


def weighted_fbeta(pred: FloatMap, gt: BoolMap, beta2: float = WEIGHTED_FBETA_SQUARED) -> float:
    """Weighted F-beta (Margolin et al.): errors weighted by their position relative to the
    foreground (Gaussian dependency, distance-based importance). 0 for an empty ground truth."""
    if not gt.any():
        return 0.0
    distance, indices = distance_transform_edt(~gt, return_indices=True)
    error = np.abs(pred - gt)
    spread = np.copy(error)
    outside = ~gt
    spread[outside] = spread[indices[0][outside], indices[1][outside]]
    smoothed = convolve(spread, weights=_gauss_kernel(), mode="constant", cval=0)
    min_error = np.where(gt & (smoothed < error), smoothed, error)
    importance = np.where(outside, 2 - np.exp(np.log(0.5) / 5 * distance), np.ones_like(gt))
    weighted = min_error * importance
    tp_w = np.sum(gt) - np.sum(weighted[gt])
    fp_w = np.sum(weighted[outside])
    recall = 1 - np.mean(weighted[gt])
    precision = tp_w / (tp_w + fp_w + EPS)
    return float((1 + beta2) * recall * precision / (recall + beta2 * precision + EPS))


# ---------------------------------------------------------------------------- per image, overall


@dataclass(frozen=True)
class ImageSaliency:
    """The measures of one image. ``soft``: the prediction was a probability map; then
    ``fbeta_curve`` / ``e_curve`` (256,) and the adaptive values are set, else None."""

    precision: float
    recall: float
    fbeta: float
    mae: float
    weighted_fbeta: float
    s_measure: float
    e_measure: float
    soft: bool
    fbeta_adaptive: float | None = None
    e_adaptive: float | None = None
    fbeta_curve: FloatMap | None = field(default=None, repr=False, compare=False)
    e_curve: FloatMap | None = field(default=None, repr=False, compare=False)

    def to_json(self) -> dict[str, Any]:
        """The scalar measures (curves left out) as JSON-ready data."""
        out: dict[str, Any] = {k: getattr(self, k) for k in SCALAR_KEYS}
        out["soft"] = self.soft
        out["fbeta_max"] = float(self.fbeta_curve.max()) if self.fbeta_curve is not None else None
        out["e_max"] = float(self.e_curve.max()) if self.e_curve is not None else None
        return out


SCALAR_KEYS = ("precision", "recall", "fbeta", "fbeta_adaptive", "mae", "weighted_fbeta", "s_measure",
               "e_measure", "e_adaptive")


def image_saliency(pred: NDArray[Any], gt: NDArray[Any]) -> ImageSaliency:
    """All measures of one (height, width) prediction (float map in [0, 1] or bool mask) against
    a bool ground-truth mask. Raises :class:`MetricsError` for other shapes or types."""
    p, g, soft = _check(pred, gt)
    precision, recall = precision_recall_at(p, g, HARD_THRESHOLD, strict=True)
    return ImageSaliency(
        precision=precision, recall=recall, fbeta=float(_fbeta(precision, recall, FBETA_SQUARED)),
        mae=mae(p, g), weighted_fbeta=weighted_fbeta(p, g), s_measure=s_measure(p, g),
        e_measure=e_measure_at(p, g, HARD_THRESHOLD, strict=True), soft=soft,
        fbeta_adaptive=adaptive_fbeta(p, g) if soft else None,
        e_adaptive=e_measure_at(p, g, adaptive_threshold(p)) if soft else None,
        fbeta_curve=fbeta_curve(p, g) if soft else None,
        e_curve=e_measure_curve(p, g) if soft else None,
    )


@dataclass(frozen=True)
class SaliencySummary:
    """Measures over a set of images: each the mean over images, except ``fbeta_max`` /
    ``fbeta_mean`` / ``e_max`` / ``e_mean`` (max / mean over thresholds of the mean curve; None
    unless every prediction was soft). ``per_image`` in input order."""

    images: int
    precision: float
    recall: float
    fbeta: float
    mae: float
    weighted_fbeta: float
    s_measure: float
    e_measure: float
    soft: bool
    fbeta_max: float | None
    fbeta_mean: float | None
    fbeta_adaptive: float | None
    e_max: float | None
    e_mean: float | None
    e_adaptive: float | None
    per_image: tuple[ImageSaliency, ...] = field(repr=False)

    def to_json(self, image_names: list[str] | None = None) -> dict[str, Any]:
        """Strict-JSON-ready data: the overall numbers, the constants, and ``per_image`` rows
        (``image`` = the given name or the 0-based index). NaN (no image) becomes None."""
        overall = {k: _finite(getattr(self, k)) for k in OVERALL_KEYS}
        rows = []
        for i, row in enumerate(self.per_image):
            entry: dict[str, Any] = {"image": image_names[i] if image_names is not None else i}
            entry.update({k: _finite(v) for k, v in row.to_json().items()})
            rows.append(entry)
        return {"images": self.images, "soft": self.soft, "fbeta_beta_squared": FBETA_SQUARED,
                "weighted_fbeta_beta_squared": WEIGHTED_FBETA_SQUARED, "threshold": HARD_THRESHOLD,
                **overall, "per_image": rows}


OVERALL_KEYS = ("precision", "recall", "fbeta", "fbeta_max", "fbeta_mean", "fbeta_adaptive", "mae",
                "weighted_fbeta", "s_measure", "e_measure", "e_max", "e_mean", "e_adaptive")


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _mean(values: Iterable[float | None]) -> float:
    array = np.asarray([v for v in values if v is not None], dtype=np.float64)
    return float(array.mean()) if array.size else math.nan


def summarize(rows: Iterable[ImageSaliency]) -> SaliencySummary:
    """Aggregate per-image measures (see :class:`SaliencySummary`)."""
    per_image = tuple(rows)
    soft = bool(per_image) and all(r.soft for r in per_image)
    f_curves = [r.fbeta_curve for r in per_image if r.fbeta_curve is not None]
    e_curves = [r.e_curve for r in per_image if r.e_curve is not None]
    f_curve = np.mean(f_curves, axis=0) if soft else None
    e_curve = np.mean(e_curves, axis=0) if soft else None
    return SaliencySummary(
        images=len(per_image),
        precision=_mean(r.precision for r in per_image),
        recall=_mean(r.recall for r in per_image),
        fbeta=_mean(r.fbeta for r in per_image),
        mae=_mean(r.mae for r in per_image),
        weighted_fbeta=_mean(r.weighted_fbeta for r in per_image),
        s_measure=_mean(r.s_measure for r in per_image),
        e_measure=_mean(r.e_measure for r in per_image),
        soft=soft,
        fbeta_max=float(f_curve.max()) if f_curve is not None else None,
        fbeta_mean=float(f_curve.mean()) if f_curve is not None else None,
        fbeta_adaptive=_mean(r.fbeta_adaptive for r in per_image) if soft else None,
        e_max=float(e_curve.max()) if e_curve is not None else None,
        e_mean=float(e_curve.mean()) if e_curve is not None else None,
        e_adaptive=_mean(r.e_adaptive for r in per_image) if soft else None,
        per_image=per_image,
    )


def saliency_summary(prob_maps: Iterable[NDArray[Any]], gt_masks: Iterable[NDArray[Any]]) -> SaliencySummary:
    """The measures of paired predictions and ground truths, per image and overall.

    ``prob_maps``: (height, width) float maps in [0, 1] (foreground probability) or bool masks;
    ``gt_masks``: bool (height, width) masks, True = foreground. For validation during training
    pass the model's foreground probability maps. Raises :class:`MetricsError` when the two
    sequences differ in length or an image pair in shape or type.
    """
    preds = list(prob_maps)
    gts = list(gt_masks)
    if len(preds) != len(gts):
        raise MetricsError(f"{len(preds)} prediction maps for {len(gts)} ground-truth masks")
    rows = []
    for index, (pred, gt) in enumerate(zip(preds, gts)):
        try:
            rows.append(image_saliency(pred, gt))
        except MetricsError as exc:
            raise MetricsError(f"image {index}: {exc}") from exc
    return summarize(rows)
