"""JSON form of a :class:`~annotations.metrics.report.ReviewReport` — a stable, versioned schema.

Schema ``segstudio.review`` version ``1`` (``schema_version: 1``; a later version only adds
keys, a breaking change bumps the number). Every undefined number is ``null``.

```
{
  "schema": "segstudio.review", "schema_version": 1,
  "kind": "coco" | "project_vs_coco" | "project_vs_project" | "model_vs_final",
  "reference": str,            # the ground truth side (a file, a project, "final annotations")
  "compared": str,             # the side evaluated against it
  "iou_type": "bbox" | "segm", "iou_threshold": float,
  "summary": {
    "images", "gt", "pred", "tp", "fp", "fn", "label_mismatches", "ignored": int,
    "precision", "recall", "f1": micro over all shapes,
    "macro_f1": mean of per-class F1 (classes absent from both sides excluded),
    "mean_iou", "mean_boundary_iou": over same-class pairs,
    "boundary_dilation_ratio": float | null (null: boundary IoU not computed),
    "evaluator": "pycocotools" | "faster_coco_eval", "gt_ids_renumbered": bool,
    ... kind-specific extras (e.g. "model_version_id", "unmatched_images")
  },
  "coco": {"AP", "AP50", "AP75", "APs", "APm", "APl", "AR1", "AR10", "AR100", "ARs", "ARm", "ARl"},
  "per_class": [ {"category_id", "name", "gt", "pred", "tp", "fp", "fn", "precision", "recall",
                  "f1", "mean_iou", "mean_boundary_iou", "ap", "ap50", "ap75",
                  "label_mismatch_as_gt", "label_mismatch_as_pred"} ],   # by category id
  "per_image": [ {"image_id", "path", "width", "height", "gt", "pred", "tp", "fp", "fn",
                  "label_mismatches", "ignored", "precision", "recall", "f1", "mean_iou",
                  "mean_boundary_iou", "false_negative_ids", "false_positive_ids",
                  "mismatch_pairs": [[gt_id, pred_id]]} ],   # WORST FIRST (lowest F1, then most errors)
  "confusion": {"category_ids": [..., null], "classes": [names..., "unmatched"],
                "rows": "ground truth", "cols": "prediction", "matrix": [[int]]},
  "pr_curves": {"recall": [101 floats], "iou_thresholds": [0.5, 0.75],
                "curves": [{"category_id": int | null (null = mean), "name", "iou": float,
                            "precision": [101 floats | null]}]},
  "iou_histogram": {"bin_edges": [21 floats], "matched": [20 ints], "best_per_gt": [20 ints]},
  "model_outcomes": null | {           # model_vs_final only
      "totals": {outcome counts},
      "per_class": [{"category_id", "name", counts...}],
      "per_model_version": [{"model_version_id", "architecture", counts..., "coco": {...}}]
      # counts = accepted_unchanged, edited, rejected, still_proposed, superseded, class_changed,
      #          missed, mean_edit_iou, acceptance_rate
  },
  "predictions": null | [{"prediction_id", "image_id", "category_id", "model_version_id",
                          "score", "outcome", "annotation_id", "iou", "final_category_id"}],
  "semantic": null | {                 # pixel level; null when not computed (files review, --no-semantic)
      "images": int,                   # images painted (the compared ones)
      "pixel_accuracy", "mean_class_accuracy", "miou", "fw_iou", "mean_dice": float | null,
      "miou_foreground": float | null, # mIoU without the background class
      "per_class": [{"class": name, "iou", "dice", "accuracy", "precision": float | null,
                     "gt_pixels", "pred_pixels": int}],   # class 0 = "background", then by category id
      "background_class": "background", "ignore_index": 255,
      "confusion": {"classes": [names], "rows": "ground truth", "cols": "prediction", "matrix": [[int]]}
  }
}
```

The ``semantic`` section was added within schema version 1 (it only adds a key; nothing was
renamed or removed, so ``schema_version`` stays 1). Each side of an image is rasterized into a
(height, width) label map back to front — project shapes by z-order then id, COCO file shapes in
file order, predictions by score then id (most confident on top) — with class 0 = background
and category ``k`` (sorted by id) = ``k + 1``; crowd shapes of the reference side paint the
ignore index 255 (void: left out). One confusion matrix sums all images; metrics follow
:mod:`annotations.metrics.semantic` (a class absent from both sides is null and left out of the
means; the means include the background class, ``miou_foreground`` does not).

Ids in ``false_positive_ids`` / ``mismatch_pairs`` are the compared side's ids: annotation ids of
a project, prediction ids (model vs final), or the result's 1-based index in a results file.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any

from annotations.metrics.report import OutcomeCounts, ReviewReport

SCHEMA = "segstudio.review"
SCHEMA_VERSION = 1


def clean(value: Any) -> Any:
    """Recursively make ``value`` strict JSON: NaN/inf -> None, numpy scalars -> Python, tuples
    -> lists."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()  # numpy scalar
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    return value


def outcome_counts_json(counts: OutcomeCounts) -> dict[str, Any]:
    """Counts plus mean edit IoU and acceptance rate (accepted / decided, decided = accepted +
    edited + rejected; null when nothing was decided)."""
    decided = counts.accepted_unchanged + counts.edited + counts.rejected
    ious = counts.edit_ious
    return {
        "accepted_unchanged": counts.accepted_unchanged,
        "edited": counts.edited,
        "rejected": counts.rejected,
        "still_proposed": counts.still_proposed,
        "superseded": counts.superseded,
        "class_changed": counts.class_changed,
        "missed": counts.missed,
        "mean_edit_iou": (sum(ious) / len(ious)) if ious else None,
        "acceptance_rate": ((counts.accepted_unchanged + counts.edited) / decided) if decided else None,
    }


def report_to_json(report: ReviewReport) -> dict[str, Any]:
    """The report as strict-JSON data following the module schema."""
    confusion = report.confusion
    out = {
        "schema": SCHEMA,
        "schema_version": SCHEMA_VERSION,
        "kind": report.kind,
        "reference": report.reference,
        "compared": report.compared,
        "iou_type": report.iou_type,
        "iou_threshold": report.iou_threshold,
        "summary": report.summary,
        "coco": report.coco,
        "per_class": [asdict(r) for r in report.per_class],
        "per_image": [asdict(r) for r in report.per_image],
        "confusion": {
            "category_ids": list(confusion.category_ids) + [None],
            "classes": list(confusion.names) + ["unmatched"],
            "rows": "ground truth",
            "cols": "prediction",
            "matrix": confusion.matrix,
        },
        "pr_curves": report.pr_curves,
        "iou_histogram": report.iou_histogram,
        "model_outcomes": report.model_outcomes,
        "predictions": [asdict(p) for p in report.predictions] if report.predictions is not None else None,
        "semantic": report.semantic,
        "saliency": report.saliency,  # binary reviews: see annotations.metrics.saliency_review
    }
    cleaned: dict[str, Any] = clean(out)
    return cleaned


def write_json(report: ReviewReport, path: str | Path) -> Path:
    """Write the JSON report (UTF-8, strict JSON: no NaN) and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(report.to_json(), indent=1, allow_nan=False), encoding="utf-8")
    tmp.replace(path)
    return path
