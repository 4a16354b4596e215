"""A typed view of the review report's JSON (``annotations.metrics.report_json``, schema
``segstudio.review`` version 1) as the review dashboard reads it: TypedDicts over the keys the
dashboard shows, so a misspelt key is a type error instead of an empty cell.

Every dictionary is ``total=False``: the dashboard reads each key with ``.get`` and shows "—"
for what a report leaves out (a stuff-only review has no instance measures, a review without
pixels no ``semantic`` section). Numbers that may be undefined are ``float | None`` (JSON null).
"""

from __future__ import annotations

from typing import Literal, TypedDict, cast

from annotations.metrics.report import ReviewReport

Metric = float | None
"""A measure of the report: null (None) where it is undefined (e.g. precision without shapes)."""


class CountsJson(TypedDict, total=False):
    """Shape counts: ground truth, predicted, matched (tp), unmatched predicted (fp) and
    unmatched ground truth (fn)."""

    gt: int
    pred: int
    tp: int
    fp: int
    fn: int


class SummaryJson(CountsJson, total=False):
    """``summary``: counts over every compared shape and the micro-averaged measures."""

    images: int
    precision: Metric
    recall: Metric
    f1: Metric
    mean_iou: Metric
    model_version_id: int  # model vs final only
    stuff_only: bool  # every class is stuff: no instance measures


class CocoJson(TypedDict, total=False):
    """``coco``: the COCO evaluation's headline numbers (those the dashboard shows)."""

    AP: Metric
    AP50: Metric
    AP75: Metric


class ImageRowJson(CountsJson, total=False):
    """One row of ``per_image`` (worst first)."""

    image_id: int
    path: str
    label_mismatches: int
    f1: Metric
    mean_iou: Metric


class ClassRowJson(CountsJson, total=False):
    """One row of ``per_class`` (by category id)."""

    category_id: int
    name: str
    precision: Metric
    recall: Metric
    ap: Metric


ClassCountKey = Literal["gt", "pred", "tp", "fp", "fn"]
ClassMetricKey = Literal["precision", "recall", "ap"]
CLASS_COUNT_KEYS: tuple[ClassCountKey, ...] = ("gt", "pred", "tp", "fp", "fn")
CLASS_METRIC_KEYS: tuple[ClassMetricKey, ...] = ("precision", "recall", "ap")


class PrCurveJson(TypedDict, total=False):
    """One curve of ``pr_curves``: precision at the 101 recall points (None: undefined)."""

    category_id: int | None  # None: the mean over classes
    name: str
    iou: float
    precision: list[Metric]


class PrCurvesJson(TypedDict, total=False):
    recall: list[float]
    curves: list[PrCurveJson]


class ConfusionJson(TypedDict, total=False):
    """A confusion matrix: rows ground truth, columns prediction, both over ``classes``."""

    classes: list[str]
    matrix: list[list[int]]


class HistogramJson(TypedDict, total=False):
    """``iou_histogram``: 20 bins over [0, 1] (21 edges) of the matched pairs' IoU."""

    bin_edges: list[float]
    matched: list[int]


class OutcomeTotalsJson(TypedDict, total=False):
    """``model_outcomes.totals``: what became of the model's pre-labels."""

    accepted_unchanged: int
    edited: int
    rejected: int
    missed: int
    mean_edit_iou: Metric
    acceptance_rate: Metric


class ModelOutcomesJson(TypedDict, total=False):
    totals: OutcomeTotalsJson


SaliencyKey = Literal["s_measure", "e_measure", "weighted_fbeta", "fbeta", "fbeta_max", "fbeta_mean",
                      "fbeta_adaptive", "mae", "precision", "recall"]


class SaliencyImageJson(TypedDict, total=False):
    """One row of ``saliency.per_image`` (lowest S-measure first)."""

    image: str  # the image's path
    image_id: int
    s_measure: Metric
    e_measure: Metric
    weighted_fbeta: Metric
    fbeta: Metric
    fbeta_max: Metric
    fbeta_mean: Metric
    fbeta_adaptive: Metric
    mae: Metric
    precision: Metric
    recall: Metric


class SaliencyJson(SaliencyImageJson, total=False):
    """``saliency``: the foreground/background measures of a binary review, overall (the
    inherited keys) and per image."""

    foreground: str
    per_image: list[SaliencyImageJson]


PixelClassJson = TypedDict("PixelClassJson", {  # "class" is a Python keyword: the functional form
    "class": str, "iou": Metric, "dice": Metric, "accuracy": Metric, "precision": Metric,
    "gt_pixels": int, "pred_pixels": int}, total=False)
"""One row of ``semantic.per_class`` (class 0 is the background)."""

PixelMetricKey = Literal["iou", "dice", "accuracy", "precision"]
PIXEL_METRIC_KEYS: tuple[PixelMetricKey, ...] = ("iou", "dice", "accuracy", "precision")


class SemanticJson(TypedDict, total=False):
    """``semantic``: the pixel-level measures."""

    miou: Metric
    pixel_accuracy: Metric
    per_class: list[PixelClassJson]
    confusion: ConfusionJson


class ReviewJson(TypedDict, total=False):
    """The report (the keys the dashboard reads)."""

    kind: str
    reference: str
    compared: str
    iou_type: str
    iou_threshold: float
    summary: SummaryJson
    coco: CocoJson
    per_image: list[ImageRowJson]
    per_class: list[ClassRowJson]
    confusion: ConfusionJson
    pr_curves: PrCurvesJson
    iou_histogram: HistogramJson
    model_outcomes: ModelOutcomesJson | None
    saliency: SaliencyJson | None
    semantic: SemanticJson | None


def review_json(report: ReviewReport) -> ReviewJson:
    """``report.to_json()`` seen through :class:`ReviewJson` (the same dict, not a copy)."""
    return cast(ReviewJson, report.to_json())
