"""Panoptic quality (Kirillov et al., 2019) with the panopticapi rules.

Per image, segments are ``id -> {category_id, iscrowd[, area]}`` over an (H, W) id map (COCO
panoptic PNG: ``id = R + 256 G + 256² B``; 0 = VOID):

- a GT and a predicted segment of the same category match iff ``IoU > 0.5`` (strict), with
  ``union = |p| + |g| - |p∩g| - |p ∩ VOID|`` (predicted pixels on void do not count);
- crowd GT segments never match and are never FN;
- an unmatched prediction whose overlap with VOID plus the same-category crowd region is more
  than half its area is ignored (not an FP);
- per class ``PQ = ΣIoU / (TP + ½FP + ½FN)``, ``SQ = ΣIoU / TP`` (0 when TP = 0, as
  panopticapi), ``RQ = TP / (TP + ½FP + ½FN)``;
- classes with ``TP + FP + FN == 0`` are **NaN** and excluded from the All / Things / Stuff
  averages; an average over no class is NaN.

GT segment areas are taken from ``area`` when given (as panopticapi does), else counted.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from annotations.errors import MetricsError

VOID = 0
OFFSET = 256 * 256 * 256


def rgb_to_id(rgb_hw3: np.ndarray) -> np.ndarray:
    """COCO panoptic PNG (H, W, 3) uint8 -> (H, W) uint32 segment ids."""
    rgb = np.asarray(rgb_hw3).astype(np.uint32)
    if rgb.ndim != 3 or rgb.shape[2] < 3:
        raise MetricsError(f"a panoptic PNG must be RGB (height, width, 3), got shape {rgb.shape}")
    return rgb[..., 0] + 256 * rgb[..., 1] + 256 * 256 * rgb[..., 2]


@dataclass
class PanopticClassStat:
    """Accumulated counts of one category."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    iou_sum: float = 0.0

    @property
    def pq(self) -> float:
        den = self.tp + 0.5 * self.fp + 0.5 * self.fn
        return self.iou_sum / den if den > 0 else math.nan

    @property
    def sq(self) -> float:
        if self.tp + self.fp + self.fn == 0:
            return math.nan
        return self.iou_sum / self.tp if self.tp else 0.0

    @property
    def rq(self) -> float:
        den = self.tp + 0.5 * self.fp + 0.5 * self.fn
        return self.tp / den if den > 0 else math.nan


@dataclass
class PanopticResult:
    """``all`` / ``things`` / ``stuff``: ``{"pq", "sq", "rq", "n"}`` (n = classes averaged);
    ``per_class``: category id -> :class:`PanopticClassStat`."""

    all: dict[str, float]
    things: dict[str, float]
    stuff: dict[str, float]
    per_class: dict[int, PanopticClassStat] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        def num(v: float) -> float | None:
            return None if isinstance(v, float) and math.isnan(v) else v

        return {
            "all": {k: num(v) for k, v in self.all.items()},
            "things": {k: num(v) for k, v in self.things.items()},
            "stuff": {k: num(v) for k, v in self.stuff.items()},
            "per_class": [
                {"category_id": c, "pq": num(s.pq), "sq": num(s.sq), "rq": num(s.rq), "tp": s.tp, "fp": s.fp,
                 "fn": s.fn}
                for c, s in sorted(self.per_class.items())
            ],
        }


class PanopticAccumulator:
    """Add images one by one, then :meth:`result`. ``categories``: ``{id: isthing (bool)}``."""

    def __init__(self, categories: dict[int, bool]) -> None:
        self.categories = {int(k): bool(v) for k, v in categories.items()}
        self.stats: dict[int, PanopticClassStat] = {c: PanopticClassStat() for c in self.categories}

    def add(self, gt_ids_hw: np.ndarray, gt_segments: Iterable[dict[str, Any]], pred_ids_hw: np.ndarray,
            pred_segments: Iterable[dict[str, Any]], where: str = "image") -> None:
        """One image: (H, W) id maps and their segments (``id``, ``category_id``, ``iscrowd``)."""
        gt_map = np.asarray(gt_ids_hw)
        pred_map = np.asarray(pred_ids_hw)
        if gt_map.shape != pred_map.shape:
            raise MetricsError(f"{where}: image sizes differ: ground truth {gt_map.shape} vs prediction "
                               f"{pred_map.shape} (height, width)")
        gt_segms = {int(s["id"]): dict(s) for s in gt_segments}
        pred_segms = {int(s["id"]): dict(s) for s in pred_segments}
        for segs, side in ((gt_segms, "ground-truth"), (pred_segms, "predicted")):
            for sid, s in segs.items():
                if int(s["category_id"]) not in self.categories:
                    raise MetricsError(f"{where}: {side} segment {sid} has unknown category {s['category_id']}")
        labels, counts = np.unique(pred_map, return_counts=True)
        seen = set()
        for label, count in zip(labels.tolist(), counts.tolist()):
            if label == VOID and label not in pred_segms:
                continue
            if label not in pred_segms:
                raise MetricsError(f"{where}: predicted segment {label} is in the PNG but not in the JSON")
            pred_segms[label]["area"] = count
            seen.add(label)
        missing = set(pred_segms) - seen
        if missing:
            raise MetricsError(f"{where}: predicted segments {sorted(missing)} are in the JSON but not in the PNG")
        labels, counts = np.unique(gt_map, return_counts=True)
        gt_counted = dict(zip(labels.tolist(), counts.tolist()))
        for sid, s in gt_segms.items():
            if "area" not in s:
                s["area"] = gt_counted.get(sid, 0)

        joint = gt_map.astype(np.uint64) * OFFSET + pred_map.astype(np.uint64)
        labels, counts = np.unique(joint, return_counts=True)
        overlap = {(int(joint_label // OFFSET), int(joint_label % OFFSET)): int(c)
                   for joint_label, c in zip(labels.tolist(), counts.tolist())}

        gt_matched, pred_matched = set(), set()
        for (g, p), inter in overlap.items():
            if g not in gt_segms or p not in pred_segms:
                continue
            gs, ps = gt_segms[g], pred_segms[p]
            if gs.get("iscrowd", 0) == 1 or gs["category_id"] != ps["category_id"]:
                continue
            union = ps["area"] + gs["area"] - inter - overlap.get((VOID, p), 0)
            iou = inter / union
            if iou > 0.5:
                stat = self.stats[int(gs["category_id"])]
                stat.tp += 1
                stat.iou_sum += iou
                gt_matched.add(g)
                pred_matched.add(p)
        crowd_of_category: dict[int, int] = {}
        for g, gs in gt_segms.items():
            if g in gt_matched:
                continue
            if gs.get("iscrowd", 0) == 1:
                crowd_of_category[int(gs["category_id"])] = g
                continue
            self.stats[int(gs["category_id"])].fn += 1
        for p, ps in pred_segms.items():
            if p in pred_matched:
                continue
            inter = overlap.get((VOID, p), 0)
            if int(ps["category_id"]) in crowd_of_category:
                inter += overlap.get((crowd_of_category[int(ps["category_id"])], p), 0)
            if ps["area"] and inter / ps["area"] > 0.5:
                continue
            self.stats[int(ps["category_id"])].fp += 1

    def result(self) -> PanopticResult:
        """PQ / SQ / RQ for All, Things and Stuff, and per class."""
        def average(isthing: bool | None) -> dict[str, float]:
            rows = [s for c, s in self.stats.items()
                    if (isthing is None or self.categories[c] == isthing) and s.tp + s.fp + s.fn > 0]
            if not rows:
                return {"pq": math.nan, "sq": math.nan, "rq": math.nan, "n": 0}
            return {"pq": float(np.mean([s.pq for s in rows])), "sq": float(np.mean([s.sq for s in rows])),
                    "rq": float(np.mean([s.rq for s in rows])), "n": len(rows)}

        return PanopticResult(all=average(None), things=average(True), stuff=average(False),
                              per_class=dict(self.stats))


def pq_from_files(gt_json: str | Path, gt_folder: str | Path, pred_json: str | Path,
                  pred_folder: str | Path) -> PanopticResult:
    """PQ of COCO panoptic predictions (JSON + PNG folder) against the ground truth, same inputs
    as panopticapi's ``pq_compute``. Every GT image needs a prediction."""
    from annotations.errors import ImageFileError
    from annotations.imageio import decode_pil

    def read_ids(folder: str | Path, file_name: object, image_id: object) -> np.ndarray:
        """The segment-id map of one PNG, read through the one image opener (pixel budget), from
        inside ``folder`` only (a ``file_name`` that leads out of it is refused)."""
        root = Path(folder).resolve()
        path = (root / str(file_name)).resolve()
        if not path.is_relative_to(root):
            raise MetricsError(f"image {image_id}: file_name {file_name!r} leads outside {root}")
        try:
            return rgb_to_id(np.array(decode_pil(path, upright=False).convert("RGB")))
        except (ImageFileError, OSError) as exc:
            raise MetricsError(f"image {image_id}: cannot read a panoptic PNG: {exc}") from exc

    gt = _load(gt_json)
    pred = _load(pred_json)
    categories = {int(c["id"]): bool(c.get("isthing", 1)) for c in gt["categories"]}
    acc = PanopticAccumulator(categories)
    predictions = {a["image_id"]: a for a in pred["annotations"]}
    for ann in gt["annotations"]:
        image_id = ann["image_id"]
        if image_id not in predictions:
            raise MetricsError(f"{pred_json}: no prediction for image {image_id}")
        p = predictions[image_id]
        gt_png = read_ids(gt_folder, ann["file_name"], image_id)
        pred_png = read_ids(pred_folder, p["file_name"], image_id)
        acc.add(gt_png, ann["segments_info"], pred_png, p["segments_info"], where=f"image {image_id}")
    return acc.result()


def _load(path: str | Path) -> dict[str, Any]:
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetricsError(f"{path}: cannot read COCO panoptic JSON: {exc}") from exc
    if not isinstance(data, dict) or "annotations" not in data:
        raise MetricsError(f"{path}: not a COCO panoptic file (no 'annotations')")
    return data


def panoptic_quality(pairs: Iterable[tuple[np.ndarray, Iterable[dict[str, Any]], np.ndarray, Iterable[dict[str, Any]]]],
                     categories: dict[int, bool]) -> PanopticResult:
    """PQ over images given as ``(gt_ids_hw, gt_segments, pred_ids_hw, pred_segments)``."""
    acc = PanopticAccumulator(categories)
    for index, (gt_map, gt_segs, pred_map, pred_segs) in enumerate(pairs):
        acc.add(gt_map, gt_segs, pred_map, pred_segs, where=f"image #{index}")
    return acc.result()


__all__: list[Any] = ["PanopticAccumulator", "PanopticClassStat", "PanopticResult", "panoptic_quality",
                      "pq_from_files", "rgb_to_id", "VOID", "OFFSET"]
