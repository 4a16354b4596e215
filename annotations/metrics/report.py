"""The review report: plain dataclasses, serialized by :mod:`annotations.metrics.report_json`.

Numbers that are undefined (no ground truth, no prediction, a class absent from both sides) are
``math.nan`` here and ``null`` in JSON; means skip them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class ClassRow:
    """Counts and metrics of one category over the whole review."""

    category_id: int
    name: str
    gt: int  # non-crowd ground-truth shapes
    pred: int  # predictions (crowd-ignored ones excluded)
    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_iou: float  # over same-class pairs
    mean_boundary_iou: float
    ap: float  # COCO AP@[.5:.95] of the category
    ap50: float
    ap75: float
    label_mismatch_as_gt: int  # GT of this class matched to another class
    label_mismatch_as_pred: int  # predictions of this class matched to GT of another class


@dataclass
class ImageRow:
    """Counts and metrics of one image; ``*_ids`` name the shapes behind the errors."""

    image_id: int
    path: str
    width: int
    height: int
    gt: int
    pred: int
    tp: int
    fp: int
    fn: int
    label_mismatches: int
    ignored: int
    precision: float
    recall: float
    f1: float
    mean_iou: float
    mean_boundary_iou: float
    false_negative_ids: list[int] = field(default_factory=list)
    false_positive_ids: list[int] = field(default_factory=list)
    mismatch_pairs: list[tuple[int, int]] = field(default_factory=list)  # (gt id, pred id)


@dataclass
class Confusion:
    """Instance confusion matrix, rows = ground-truth class, columns = predicted class; the last
    row/column is "unmatched" (a prediction with no GT partner / a GT with no prediction)."""

    category_ids: list[int]
    names: list[str]
    matrix: list[list[int]]


@dataclass
class OutcomeCounts:
    """What became of model predictions (model vs final)."""

    accepted_unchanged: int = 0
    edited: int = 0
    rejected: int = 0
    still_proposed: int = 0
    superseded: int = 0
    class_changed: int = 0  # edited predictions whose class changed
    missed: int = 0  # final shapes the model did not find (FN of the matching)
    edit_ious: list[float] = field(default_factory=list)  # IoU(pre-label, final) of edited ones

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass
class PredictionOutcome:
    """One prediction's fate; ``iou`` is IoU(pre-label, final shape) when accepted."""

    prediction_id: int
    image_id: int
    category_id: int
    model_version_id: int
    score: float
    outcome: str  # accepted_unchanged | edited | rejected | still_proposed | superseded
    annotation_id: int | None
    iou: float
    final_category_id: int | None


@dataclass
class ReviewReport:
    """A review: ``kind`` is ``coco`` (files), ``project_vs_coco``, ``project_vs_project`` or
    ``model_vs_final``. ``to_json()`` gives the documented, versioned JSON (report_json)."""

    kind: str
    reference: str  # what is taken as ground truth
    compared: str  # what is evaluated against it
    iou_type: str
    iou_threshold: float
    summary: dict[str, Any]
    per_class: list[ClassRow]
    per_image: list[ImageRow]
    confusion: Confusion
    pr_curves: dict[str, Any]
    iou_histogram: dict[str, Any]
    coco: dict[str, float]
    model_outcomes: dict[str, Any] | None = None
    predictions: list[PredictionOutcome] | None = None
    semantic: dict[str, Any] | None = None  # pixel-level section (semantic_review), None if not computed
    saliency: dict[str, Any] | None = None  # foreground/background measures (saliency_review), binary reviews only

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (schema in :mod:`annotations.metrics.report_json`)."""
        from annotations.metrics.report_json import report_to_json

        return report_to_json(self)

    def worst_images(self, n: int = 20) -> list[ImageRow]:
        """The first ``n`` images of ``per_image`` (already sorted worst first)."""
        return self.per_image[:n]
