"""Validation of a model on held-out finished images, with the review metrics of
:mod:`annotations.metrics` (COCO mAP through the maintained evaluator; the pixel confusion
matrix for semantic models).

Primary metric (decides promotion): ``segm_map`` for instance masks, ``bbox_map`` for boxes,
``miou`` for semantic masks. Undefined values (no ground truth) are stored as None and never
count as an improvement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from annotations.geometry import rle, to_box, to_mask
from annotations.metrics.detection import coco_map
from annotations.metrics.saliency import saliency_summary
from annotations.metrics.semantic import confusion_matrix, semantic_metrics
from engine.catalog import OutputKind
from engine.data import ImageCache, SnapshotImage, semantic_target
from engine.inference import ImagePrediction, predict, prepare_for_inference
from engine.jobs.context import IsCancelled, check_cancelled, never_cancelled
from engine.models.registry import BuiltModel


def primary_metric(output: OutputKind) -> str:
    """The metric key that decides promotion for a kind of model."""
    return {OutputKind.INSTANCE_MASKS: "segm_map", OutputKind.BOXES: "bbox_map"}.get(output, "miou")


def _num(value: float) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


def is_better(new: dict[str, Any], old: dict[str, Any] | None, key: str, min_delta: float = 0.0) -> bool:
    """Whether ``new[key]`` beats ``old[key]`` by more than ``min_delta`` (undefined never wins;
    anything defined beats an undefined or missing old value)."""
    value = new.get(key)
    if value is None:
        return False
    previous = None if old is None else old.get(key)
    return previous is None or value > previous + min_delta


MIN_VAL_IMAGES = 1
"""Fewer validation images than this never promote (1: the split always holds one out, and a
first model trained on 2-7 finished images must be able to promote; the bootstrap below takes
over as soon as there are enough images to resample)."""
MIN_GAIN = 0.02
"""The smallest absolute gain of the primary metric (0..1 scale) that counts as real; COCO mAP
of an untrained network wobbles by ~0.001 between checkpoints, so 0.0005 vs 0.0 is noise."""
BOOTSTRAP_MIN_IMAGES = 3
"""With at least this many validation images scored per image, the gain must also hold up under
resampling of the validation images (:func:`bootstrap_gain_interval`)."""
BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_LEVEL = 0.90
"""Two-sided level of the bootstrap interval: promotion needs its lower end above 0 (a one-sided
95 % check that the mean per-image gain is positive)."""
PER_IMAGE = "per_image"
"""Metrics key: ``{image id (str): primary metric of that image alone}`` (None when undefined)."""


@dataclass(frozen=True)
class GainInterval:
    """Bootstrap interval of the mean per-image gain (metric units) over ``images`` images."""

    mean_gain: float
    low: float
    high: float
    images: int


def bootstrap_gain_interval(new: dict[str, Any], baseline: dict[str, Any] | None, *,
                            resamples: int = BOOTSTRAP_RESAMPLES, level: float = BOOTSTRAP_LEVEL,
                            seed: int = 0) -> GainInterval | None:
    """Percentile bootstrap of the mean per-image gain: the validation images are resampled with
    replacement ``resamples`` times (seeded, so the decision is repeatable) and the mean of
    ``new[PER_IMAGE][i] - baseline[PER_IMAGE][i]`` taken each time (an undefined or missing
    baseline value counts as 0; images where the new value is undefined are left out). None
    when fewer than :data:`BOOTSTRAP_MIN_IMAGES` images remain or per-image values are missing."""
    per_new = new.get(PER_IMAGE)
    if not isinstance(per_new, dict):
        return None
    per_old = baseline.get(PER_IMAGE) if baseline is not None else None
    per_old = per_old if isinstance(per_old, dict) else {}
    gains = []
    for image_id, value in per_new.items():
        if value is None:
            continue
        old = per_old.get(image_id)
        gains.append(float(value) - (float(old) if old is not None else 0.0))
    if len(gains) < BOOTSTRAP_MIN_IMAGES:
        return None
    values = np.asarray(gains, np.float64)
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), (resamples, len(values)))].mean(axis=1)
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail])
    return GainInterval(float(values.mean()), float(low), float(high), len(values))


@dataclass(frozen=True)
class PromotionDecision:
    """Whether a trained model replaces the one it was compared with, and why, in words."""

    promoted: bool
    reason: str


def promotion_decision(new: dict[str, Any], baseline: dict[str, Any] | None, key: str, *,
                       min_val_images: int = MIN_VAL_IMAGES, min_gain: float = MIN_GAIN) -> PromotionDecision:
    """Promote only on a real validation gain: the primary metric ``key`` is defined, the
    validation set has at least ``min_val_images`` images, and the metric beats the baseline's
    (an undefined baseline counts as 0) by at least ``min_gain`` (absolute, metric units)."""
    value = new.get(key)
    if value is None:
        return PromotionDecision(False, f"{key} is undefined on the validation images (no ground truth to score)")
    n_val = int(new.get("val_images", 0) or 0)
    if n_val < min_val_images:
        return PromotionDecision(False, f"only {n_val} validation image(s); at least {min_val_images} are needed to "
                                        "tell a real gain from luck (finish more images)")
    previous = None if baseline is None else baseline.get(key)
    before = float(previous) if isinstance(previous, (int, float)) else 0.0
    gain = float(value) - before
    if gain < min_gain:
        return PromotionDecision(False, f"{key} {value:.4f} vs {before:.4f} before: gain {gain:+.4f} is below the "
                                        f"minimum {min_gain:.2f} on {n_val} validation images")
    text = f"{key} {value:.4f} vs {before:.4f} before: gain {gain:+.4f} >= {min_gain:.2f} on {n_val} validation images"
    interval = bootstrap_gain_interval(new, baseline)
    if interval is None:
        return PromotionDecision(True, f"{text} (too few images scored one by one for a bootstrap interval)")
    span = (f"mean per-image gain {interval.mean_gain:+.4f}, {BOOTSTRAP_LEVEL:.0%} bootstrap interval "
            f"[{interval.low:+.4f}, {interval.high:+.4f}] over {interval.images} images")
    if interval.low <= 0.0:
        return PromotionDecision(False, f"{text}, but the {span} reaches 0: the gain may be luck of which images "
                                        "were held out (finish more images)")
    return PromotionDecision(True, f"{text}; {span} lies above 0")


def epoch_rank(val: dict[str, Any], key: str, train_loss: float) -> tuple[float, float, float]:
    """Sort key of an epoch (higher is better): the primary metric, then a finer metric (AP50,
    pixel accuracy) for ties such as an all-zero mAP, then the lower training loss."""
    secondary = {"segm_map": "segm_map50", "bbox_map": "bbox_map50", "miou": "pixel_accuracy"}.get(key, key)
    primary, finer = val.get(key), val.get(secondary)
    return (float(primary) if primary is not None else -1.0, float(finer) if finer is not None else -1.0,
            -float(train_loss))


def evaluate(
    built: BuiltModel,
    items: Sequence[SnapshotImage],
    class_ids: Sequence[int],
    cache: ImageCache,
    device: torch.device,
    *,
    batch_size: int = 2,
    is_cancelled: IsCancelled = never_cancelled,
) -> dict[str, Any]:
    """Validation metrics of ``built`` on ``items`` (their human annotations are the truth).

    ``class_ids``: category id of class index 1..K. The module is left in eval mode.
    """
    class_index = {cid: i + 1 for i, cid in enumerate(class_ids)}
    prepare_for_inference(built, device)
    predictions: list[ImagePrediction] = []
    for start in range(0, len(items), max(batch_size, 1)):
        check_cancelled(is_cancelled)
        chunk = items[start : start + batch_size]
        predictions += predict(built, [cache.get(item) for item in chunk], device, score_threshold=0.0)
    if built.spec.output is OutputKind.SEMANTIC_MASKS:
        return _semantic(items, predictions, class_ids, class_index, built.num_classes)
    return _coco(items, predictions, class_index, len(class_ids), with_masks=built.spec.output.has_masks)


def _semantic(items: Sequence[SnapshotImage], predictions: Sequence[ImagePrediction], class_ids: Sequence[int],
              class_index: dict[int, int], num_classes: int) -> dict[str, Any]:
    cm = np.zeros((num_classes, num_classes), np.int64)
    per_image: dict[str, float | None] = {}
    for item, pred in zip(items, predictions):
        assert pred.label_map is not None  # semantic predictions carry a label map
        image_cm = confusion_matrix(semantic_target(item, class_index), pred.label_map, num_classes, ignore_index=255)
        per_image[str(item.image.id)] = _num(semantic_metrics(image_cm).miou)
        cm += image_cm
    m = semantic_metrics(cm, ["background", *map(str, class_ids)])
    return {
        "miou": _num(m.miou),
        "pixel_accuracy": _num(m.pixel_accuracy),
        "mean_dice": _num(m.mean_dice),
        "iou_per_class": {name: _num(float(v)) for name, v in zip(["background", *map(str, class_ids)], m.iou)},
        "val_images": len(items),
        **_binary_measures(items, predictions, class_index),
        PER_IMAGE: per_image,  # last: displays list the summary metrics first
    }


def _binary_measures(items: Sequence[SnapshotImage], predictions: Sequence[ImagePrediction],
                     class_index: dict[int, int]) -> dict[str, Any]:
    """``{"saliency": ...}`` for a one-class (foreground/background) model: the saliency measures
    (S-measure, E-measure, weighted F-beta, F-beta max/mean/adaptive, MAE) of its foreground
    probability maps against the finished masks, ignore pixels counted as background; else ``{}``."""
    if len(class_index) != 1 or any(p.foreground_probability is None for p in predictions):
        return {}
    maps = [p.foreground_probability for p in predictions if p.foreground_probability is not None]
    truths = [semantic_target(item, class_index) == 1 for item in items]
    measures = saliency_summary(maps, truths).to_json()
    return {"saliency": {key: value for key, value in measures.items() if key != "per_image"}}


def _coco(items: Sequence[SnapshotImage], predictions: Sequence[ImagePrediction], class_index: dict[int, int],
          n_classes: int, *, with_masks: bool) -> dict[str, Any]:
    images: list[dict[str, Any]] = []
    annotations: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    for item in items:
        height, width = item.image.size_hw
        images.append({"id": item.image.id, "width": width, "height": height})
        for shape in item.shapes:
            index = class_index.get(shape.category_id)
            if index is None:
                continue
            mask = to_mask(shape.geometry, (height, width))
            box = to_box(shape.geometry)
            annotations.append({
                "id": len(annotations) + 1, "image_id": item.image.id, "category_id": index,
                "bbox": list(box.xywh), "area": float(rle.area(mask)), "iscrowd": int(shape.iscrowd),
                "segmentation": mask.to_coco(),
            })
    for item, pred in zip(items, predictions):
        for det in pred.detections:
            result = {"image_id": item.image.id, "category_id": det.class_index, "score": det.score,
                      "bbox": list(det.box.xywh)}
            if with_masks and det.mask is not None:
                result["segmentation"] = det.mask.to_coco()
            results.append(result)
    gt = {"images": images, "annotations": annotations, "categories": [{"id": i} for i in range(1, n_classes + 1)]}
    metrics: dict[str, Any] = {"val_images": len(items), "val_objects": len(annotations)}
    bbox = coco_map(gt, results, "bbox")
    metrics.update(bbox_map=_num(bbox["AP"]), bbox_map50=_num(bbox["AP50"]))
    if with_masks:
        segm_results = [r for r in results if "segmentation" in r]
        segm = coco_map(gt, segm_results, "segm")
        metrics.update(segm_map=_num(segm["AP"]), segm_map50=_num(segm["AP50"]))
    metrics[PER_IMAGE] = _per_image_map(gt, segm_results if with_masks else results, "segm" if with_masks else "bbox")
    return metrics


def _per_image_map(gt: dict[str, Any], results: list[dict[str, Any]], iou_type: str) -> dict[str, float | None]:
    """COCO AP (the primary metric) of each validation image alone: ``{image id (str): AP}``,
    None where the image has no ground truth (for :func:`bootstrap_gain_interval`)."""
    out: dict[str, float | None] = {}
    for image in gt["images"]:
        image_id = image["id"]
        annotations = [a for a in gt["annotations"] if a["image_id"] == image_id]
        if not annotations:
            out[str(image_id)] = None
            continue
        one = {**gt, "images": [image], "annotations": annotations}
        out[str(image_id)] = _num(coco_map(one, [r for r in results if r["image_id"] == image_id], iou_type)["AP"])
    return out
