"""The review overlay: on the image opened from the review dashboard, matched pairs are drawn
in a colour that goes from red (IoU at the threshold) to green (IoU 1) with their IoU, missed
reference shapes (false negatives) in solid red, extra shapes (false positives) dashed orange,
label mismatches in purple.

The matching of the image is recomputed here with ``annotations.metrics.matching.match_shapes``
(one image: milliseconds) from the same two sides the review compared.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum
from pathlib import Path, PurePosixPath
from typing import Protocol

from PySide6.QtCore import QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QTransform
from PySide6.QtWidgets import QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from annotations.geometry import Box, Geometry, Polygon, rle
from annotations.metrics.matching import MatchIouType, MatchResult, Shape, match_shapes
from annotations.model import PredictionState
from annotations.store import Project
from app.assist.label_placement import Rect, place_captions
from app.assist.shapes_qt import geometry_path, iou_color

REVIEW_Z = 920.0
MISS_COLOR = QColor("#e0182d")
EXTRA_COLOR = QColor("#ff8c00")
MISMATCH_COLOR = QColor("#9b59b6")


class ReviewKind(str, Enum):
    """What the review compares (the reference side is the ground truth)."""

    MODEL_VS_FINAL = "model_vs_final"
    VS_COCO = "project_vs_coco"
    VS_PROJECT = "project_vs_project"


@dataclass(frozen=True)
class Mark:
    """One shape to draw: ``role`` is pair-gt, pair-pred, miss, extra or mismatch."""

    geometry: Geometry
    role: str
    caption: str
    color: QColor


def read_coco_shapes(gt_json: str | Path, category_ids_by_name: dict[str, int] | None = None) -> dict[str, list[Shape]]:
    """Ground-truth shapes of a COCO instances file by image file name (POSIX, as written).
    With ``category_ids_by_name`` (the project's classes), COCO classes are mapped by name, as
    the review pairs them; a class the project lacks gets the negative COCO id."""
    data = json.loads(Path(gt_json).read_text(encoding="utf-8"))
    coco_names = {int(c["id"]): str(c.get("name", c["id"])) for c in data.get("categories", [])}

    def category(coco_id: int) -> int:
        if category_ids_by_name is None:
            return coco_id
        return category_ids_by_name.get(coco_names.get(coco_id, ""), -coco_id)

    names = {img["id"]: str(img["file_name"]) for img in data.get("images", [])}
    sizes = {img["id"]: (int(img["height"]), int(img["width"])) for img in data.get("images", [])}
    out: dict[str, list[Shape]] = {name: [] for name in names.values()}
    for ann in data.get("annotations", []):
        image_id = ann.get("image_id")
        if image_id not in names:
            continue
        segmentation = ann.get("segmentation")
        geometry: Geometry
        if isinstance(segmentation, list) and segmentation:
            geometry = Polygon.from_coco(segmentation)
        elif isinstance(segmentation, dict):
            size = segmentation.get("size") or list(sizes[image_id])
            geometry = rle.from_coco({"size": size, "counts": segmentation["counts"]})
        else:
            geometry = Box.from_xywh(ann["bbox"])
        out[names[image_id]].append(
            Shape(category(int(ann["category_id"])), geometry, bool(ann.get("iscrowd", 0)), 1.0, int(ann.get("id", 0)))
        )
    return out


def _by_path(shapes_by_name: dict[str, list[Shape]], image_path: str) -> list[Shape]:
    if image_path in shapes_by_name:
        return shapes_by_name[image_path]
    base = PurePosixPath(image_path).name
    for name, shapes in shapes_by_name.items():
        if PurePosixPath(name).name == base:
            return shapes
    return []


class ComparedShape(Protocol):
    """A shape on either side of a comparison: an annotation, a prediction or a COCO shape."""

    @property
    def category_id(self) -> int: ...
    @property
    def geometry(self) -> Geometry: ...


def image_sides(kind: ReviewKind, project: Project, image_id: int, *, other_project: Project | None = None,
                coco_shapes: dict[str, list[Shape]] | None = None,
                model_version_id: int | None = None) -> tuple[Sequence[ComparedShape], Sequence[ComparedShape]]:
    """(reference shapes, compared shapes) of one image, as the review compares them:
    final annotations vs predictions (not superseded); COCO ground truth vs the project; this
    project vs the other project (the image matched by its path)."""
    annotations = project.annotations(image_id)
    if kind == ReviewKind.MODEL_VS_FINAL:
        predictions = [p for p in project.predictions(image_id) if p.state != PredictionState.SUPERSEDED
                       and (model_version_id is None or p.model_version_id == model_version_id)]
        return annotations, predictions
    image = project.get_image(image_id)
    if kind == ReviewKind.VS_COCO:
        return _by_path(coco_shapes or {}, image.path), annotations
    other_images = {i.path: i for i in other_project.images()} if other_project is not None else {}
    other = other_images.get(image.path)
    if other is None:
        base = PurePosixPath(image.path).name
        other = next((i for p, i in other_images.items() if PurePosixPath(p).name == base), None)
    if other is None or other_project is None:
        return annotations, []
    ids_by_name = {c.name: c.id for c in project.categories()}
    mapped = {c.id: ids_by_name.get(c.name, -c.id) for c in other_project.categories()}
    return annotations, [Shape(mapped.get(a.category_id, -a.category_id), a.geometry, a.iscrowd, 1.0, a.id)
                         for a in other_project.annotations(other.id)]


def review_marks(gt: Sequence[ComparedShape], pred: Sequence[ComparedShape], size_hw: tuple[int, int],
                 category_names: dict[int, str],
                 iou_threshold: float = 0.5, iou_type: str = "auto") -> tuple[list[Mark], MatchResult]:
    """What to draw for one image: pairs coloured by IoU, misses, extras and mismatches."""
    match_iou = MatchIouType(iou_type if iou_type in ("auto", "bbox", "segm") else "auto")
    match = match_shapes(gt, pred, size_hw, iou_threshold, match_iou)
    marks: list[Mark] = []
    for pair in match.pairs:
        g, p = gt[pair.gt_index], pred[pair.pred_index]
        if pair.same_class:
            color = iou_color(pair.iou)
            marks.append(Mark(g.geometry, "pair-gt", "", color))
            marks.append(Mark(p.geometry, "pair-pred", f"IoU {pair.iou:.2f}", color))
        else:
            a = category_names.get(g.category_id, str(g.category_id))
            b = category_names.get(p.category_id, str(p.category_id))
            marks.append(Mark(g.geometry, "mismatch", "", MISMATCH_COLOR))
            marks.append(Mark(p.geometry, "mismatch", f"{a} → {b} (IoU {pair.iou:.2f})", MISMATCH_COLOR))
    paired_gt = {m.gt_index for m in match.pairs}
    paired_pred = {m.pred_index for m in match.pairs}
    for index in match.false_negatives:
        if int(index) not in paired_gt:
            g = gt[int(index)]
            marks.append(Mark(g.geometry, "miss", f"missed {category_names.get(g.category_id, '')}".strip(), MISS_COLOR))
    for index in match.false_positives:
        if int(index) not in paired_pred:
            p = pred[int(index)]
            marks.append(Mark(p.geometry, "extra", f"extra {category_names.get(p.category_id, '')}".strip(), EXTRA_COLOR))
    return marks, match


class ReviewOverlay(QGraphicsObject):
    """Draws :class:`Mark` s in scene (image pixel) coordinates; captions keep screen size.
    ``shown(bool)``: marks appeared on the canvas (True) or were cleared (False)."""

    shown = Signal(bool)

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(REVIEW_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.marks: list[Mark] = []
        self._paths: list[tuple[Mark, QPainterPath]] = []
        self._bounds = QRectF()
        self.image_id: int | None = None

    def set_marks(self, image_id: int | None, marks: Sequence[Mark]) -> None:
        self.prepareGeometryChange()
        self.image_id = image_id
        self.marks = list(marks)
        self._paths = [(m, geometry_path(m.geometry)) for m in self.marks]
        bounds = QRectF()
        for _, path in self._paths:
            bounds = bounds.united(path.boundingRect())
        # Captions keep their screen size and may sit around a shape: a wide margin (scene px).
        margin = max(400.0, 0.5 * max(bounds.width(), bounds.height()))
        self._bounds = bounds.adjusted(-margin, -margin, margin, margin)
        self.update()
        self.shown.emit(bool(self.marks))

    def clear(self) -> None:
        self.set_marks(None, [])

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        font = QFont()
        font.setPointSizeF(8.0)
        for mark, path in self._paths:
            style = {"extra": Qt.PenStyle.DashLine, "pair-gt": Qt.PenStyle.DotLine}.get(mark.role, Qt.PenStyle.SolidLine)
            width = 3.0 if mark.role in ("miss", "mismatch") else 2.0
            pen = QPen(mark.color, width, style)
            pen.setCosmetic(True)
            painter.setPen(pen)
            fill = QColor(mark.color)
            fill.setAlpha(60 if mark.role == "miss" else 25 if mark.role == "pair-pred" else 0)
            painter.setBrush(fill if fill.alpha() else Qt.BrushStyle.NoBrush)
            painter.drawPath(path)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        self._paint_captions(painter, font)

    # Misses and mismatches first: when captions compete for room, those are the ones to read.
    _CAPTION_ORDER = {"miss": 0, "mismatch": 1, "extra": 2, "pair-pred": 3, "pair-gt": 4}

    def caption_rects(self, transform: QTransform, font: QFont) -> list[tuple[Mark, Rect]]:
        """Where each caption goes, in device (screen) pixels under ``transform`` (scene to
        device): around its shape, never over another caption; captions with no room are left out
        (zooming in makes room)."""
        metrics = QFontMetricsF(font)
        captioned = sorted(((m, p) for m, p in self._paths if m.caption), key=lambda mp: self._CAPTION_ORDER.get(mp[0].role, 9))
        shapes, sizes = [], []
        for mark, path in captioned:
            box = transform.mapRect(path.boundingRect())
            shapes.append(Rect(box.left(), box.top(), box.width(), box.height()))
            sizes.append((metrics.horizontalAdvance(mark.caption) + 6, metrics.height() + 2))
        return [(mark, rect) for (mark, _), rect in zip(captioned, place_captions(shapes, sizes), strict=True)
                if rect is not None]

    def _paint_captions(self, painter: QPainter, font: QFont) -> None:
        placed = self.caption_rects(painter.worldTransform(), font)
        painter.save()
        painter.resetTransform()  # device pixels: captions keep their screen size at any zoom
        painter.setFont(font)
        for mark, place in placed:
            rect = QRectF(place.x, place.y, place.width, place.height)
            painter.fillRect(rect, QColor(255, 255, 255, 220))
            painter.setPen(QPen(mark.color, 1))
            painter.drawRect(rect)
            painter.setPen(QColor("#111111"))
            painter.drawText(rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, mark.caption)
        painter.restore()

def finite(value: object) -> float:
    """``value`` (a number or numeric text from a report) as a float, NaN for None/null/other."""
    if not isinstance(value, (int, float, str)):
        return math.nan
    try:
        return float(value)
    except ValueError:
        return math.nan


__all__ = ["ComparedShape", "Mark", "ReviewKind", "ReviewOverlay", "image_sides", "read_coco_shapes", "review_marks", "finite"]
