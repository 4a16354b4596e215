"""Interactive segmentation: a box and/or positive/negative clicks → a mask from the engine.

:class:`InteractiveSegmenter` holds the prompt of the image on screen, sends a ``Segment``
request whenever the prompt changes (one in flight at a time; changes made meanwhile are
coalesced into the next request), shows the worker's mask as soon as it answers, and turns it
into an annotation (mask or polygon) through an undoable command. The canvas tool
(:mod:`app.assist.mask_tool`) feeds it mouse gestures.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsObject, QGraphicsPixmapItem, QStyleOptionGraphicsItem, QWidget

from annotations.geometry import Box, Mask, mask_to_polygon, rle
from annotations.model import AddAnnotation, Annotation
from app.assist.context import AssistContext
from app.assist.shapes_qt import geometry_path, mask_crop_image
from engine.protocol import Segment, SegmentMethod

log = logging.getLogger(__name__)

SEGMENT_Z = 950.0


@dataclass
class Prompt:
    """The user's prompt on one image: a box (xyxy, image pixels) and clicks (x, y)."""

    image_id: int
    box_xyxy: tuple[float, float, float, float] | None = None
    positive_points: list[tuple[float, float]] = field(default_factory=list)
    negative_points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return self.box_xyxy is None and not self.positive_points and not self.negative_points


class SegmentOverlay(QGraphicsObject):
    """The prompt (box, green + and red − clicks) and the current mask (translucent fill and
    outline) in scene coordinates."""

    def __init__(self) -> None:
        super().__init__()
        self.setZValue(SEGMENT_Z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.prompt: Prompt | None = None
        self.drag_rect: QRectF | None = None
        self.outline = QPainterPath()
        self.color = QColor("#00c8ff")
        self.fill = QGraphicsPixmapItem(self)
        self.fill.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.waiting = False

    def set_state(self, prompt: Prompt | None, mask: Mask | None, waiting: bool) -> None:
        self.prepareGeometryChange()
        self.prompt = prompt
        self.waiting = waiting
        if mask is None or rle.area(mask) == 0:
            self.outline = QPainterPath()
            self.fill.setPixmap(QPixmap())
        else:
            self.outline = geometry_path(mask)
            image, x0, y0 = mask_crop_image(mask, self.color, alpha=100)
            self.fill.setPixmap(QPixmap.fromImage(image))
            self.fill.setOffset(x0, y0)
        self.update()

    def set_drag(self, rect: QRectF | None) -> None:
        self.prepareGeometryChange()
        self.drag_rect = rect
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        rect = self.outline.boundingRect()
        if self.prompt is not None and self.prompt.box_xyxy is not None:
            x1, y1, x2, y2 = self.prompt.box_xyxy
            rect = rect.united(QRectF(x1, y1, x2 - x1, y2 - y1))
        if self.drag_rect is not None:
            rect = rect.united(self.drag_rect)
        if self.prompt is not None:
            for x, y in (*self.prompt.positive_points, *self.prompt.negative_points):
                rect = rect.united(QRectF(x - 1, y - 1, 2, 2))
        return rect.adjusted(-50, -50, 50, 50)  # the point markers have a fixed screen size

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        scale = painter.worldTransform().m11() or 1.0
        pen = QPen(self.color, 2.0)
        pen.setCosmetic(True)
        painter.setPen(pen)
        painter.drawPath(self.outline)
        for rect in (self.drag_rect, self._box_rect()):
            if rect is not None:
                for color, style in ((QColor("#000000"), Qt.PenStyle.SolidLine), (QColor("#ffffff"), Qt.PenStyle.DashLine)):
                    box_pen = QPen(color, 1.5, style)
                    box_pen.setCosmetic(True)
                    painter.setPen(box_pen)
                    painter.drawRect(rect)
        if self.prompt is None:
            return
        radius = 5.0 / scale
        for points, color in ((self.prompt.positive_points, QColor("#27ae60")), (self.prompt.negative_points, QColor("#e74c3c"))):
            for x, y in points:
                outline = QPen(QColor("#ffffff"), 1.5)
                outline.setCosmetic(True)
                painter.setPen(outline)
                painter.setBrush(color)
                painter.drawEllipse(QPointF(x, y), radius, radius)

    def _box_rect(self) -> QRectF | None:
        if self.prompt is None or self.prompt.box_xyxy is None:
            return None
        x1, y1, x2, y2 = self.prompt.box_xyxy
        return QRectF(x1, y1, x2 - x1, y2 - y1)


class InteractiveSegmenter(QObject):
    """Prompt → Segment job → mask preview → annotation.

    Signals: ``maskChanged(mask or None)`` when a new mask arrived (or the prompt was cleared);
    ``failed(message)`` when the worker could not segment.
    """

    maskChanged = Signal(object)
    failed = Signal(str)

    def __init__(self, context: AssistContext, method: SegmentMethod = SegmentMethod.AUTO, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.method = method
        self.prompt: Prompt | None = None
        self.mask: Mask | None = None
        self.last_result: Any = None
        self._job_id: str | None = None
        self._dirty = False
        self.overlay = SegmentOverlay()
        canvas = getattr(context.window, "canvas", None)
        if canvas is not None and hasattr(canvas, "add_overlay"):
            canvas.add_overlay(self.overlay)
        context.bridge.jobSucceeded.connect(self._on_succeeded)
        context.bridge.jobFailed.connect(self._on_failed)
        context.bridge.jobCancelled.connect(self._on_cancelled)
        image_changed = getattr(context.window, "imageChanged", None)
        if image_changed is not None:
            image_changed.connect(lambda *_: self.clear())

    # ------------------------------------------------------------------ prompt
    @property
    def busy(self) -> bool:
        """A Segment job is in flight."""
        return self._job_id is not None

    def _prompt(self) -> Prompt | None:
        image_id = self.context.current_image_id()
        if image_id is None:
            return None
        if self.prompt is None or self.prompt.image_id != image_id:
            self.prompt = Prompt(image_id)
            self.mask = None
        return self.prompt

    def set_box(self, x1: float, y1: float, x2: float, y2: float) -> None:
        """Set the box (any corner order, image pixels) and ask for a mask."""
        prompt = self._prompt()
        if prompt is None:
            return
        prompt.box_xyxy = (min(x1, x2), min(y1, y2), max(x1, x2), max(y1, y2))
        self._changed()

    def add_point(self, x: float, y: float, positive: bool = True) -> None:
        """Add a positive (object) or negative (background) click and ask for a refined mask."""
        prompt = self._prompt()
        if prompt is None:
            return
        (prompt.positive_points if positive else prompt.negative_points).append((float(x), float(y)))
        self._changed()

    def undo_point(self) -> None:
        """Remove the newest click (or the box when no click is left)."""
        prompt = self.prompt
        if prompt is None:
            return
        if prompt.negative_points and (not prompt.positive_points or len(prompt.negative_points) >= len(prompt.positive_points)):
            prompt.negative_points.pop()
        elif prompt.positive_points:
            prompt.positive_points.pop()
        else:
            prompt.box_xyxy = None
        if prompt.empty:
            self.clear()
        else:
            self._changed()

    def clear(self) -> None:
        """Forget the prompt and the mask (a job in flight is ignored when it answers)."""
        if self._job_id is not None:
            self.context.bridge.cancel(self._job_id)
        self._job_id = None
        self._dirty = False
        self.prompt = None
        self.mask = None
        self.overlay.set_state(None, None, False)
        self.overlay.set_drag(None)
        self.maskChanged.emit(None)

    def _changed(self) -> None:
        self.overlay.set_state(self.prompt, self.mask, True)
        if self._job_id is not None:
            self._dirty = True  # sent when the job in flight answers
            return
        self._send()

    def _send(self) -> None:
        prompt = self.prompt
        if prompt is None or prompt.empty:
            return
        self._dirty = False
        request = Segment(
            project_path=self.context.project_path,
            image_id=prompt.image_id,
            box_xyxy=prompt.box_xyxy,
            positive_points=tuple(prompt.positive_points),
            negative_points=tuple(prompt.negative_points),
            method=self.method,
        )
        # Segment requests run in the worker's interactive lane: they never wait behind training.
        self._job_id = self.context.bridge.submit(request, f"Segment image {prompt.image_id}")

    # ------------------------------------------------------------------ answers
    def _on_succeeded(self, job_id: str, result: Any) -> None:
        if job_id != self._job_id:
            return
        self._job_id = None
        self.last_result = result
        if self.prompt is not None:
            self.mask = Mask(tuple(int(v) for v in result.size), bytes(result.counts))  # type: ignore[arg-type]
            self.maskChanged.emit(self.mask)
        if self._dirty:
            self._send()
        self.overlay.set_state(self.prompt, self.mask, self._job_id is not None)

    def _on_failed(self, job_id: str, _error_type: str, message: str, _tb: str) -> None:
        if job_id != self._job_id:
            return
        self._job_id = None
        self.failed.emit(message)
        if self._dirty:
            self._send()
        self.overlay.set_state(self.prompt, self.mask, self._job_id is not None)

    def _on_cancelled(self, job_id: str) -> None:
        if job_id == self._job_id:
            self._job_id = None
            if self._dirty:
                self._send()

    # ------------------------------------------------------------------ accepting
    def accept(self, as_polygon: bool = False, category_id: int | None = None) -> int | None:
        """Store the current mask as an annotation (a polygon traced from it when
        ``as_polygon``) through an undoable command; returns the new annotation's id."""
        if self.mask is None or self.prompt is None or rle.area(self.mask) == 0:
            return None
        geometry: Any = mask_to_polygon(self.mask) if as_polygon else self.mask
        category = category_id if category_id is not None else self.current_category_id()
        if category is None:
            self.failed.emit("the project has no class to give the new shape")
            return None
        annotation = Annotation(0, self.prompt.image_id, category, geometry, attributes={"tool": "interactive"})
        done = self.context.execute(AddAnnotation(annotation))
        stored = getattr(done, "annotation", None)
        self.clear()
        return int(stored.id) if stored is not None and stored.id else None

    def current_category_id(self) -> int | None:
        """The class chosen in the workspace, else the project's first class."""
        window = self.context.window
        session = getattr(window, "session", None)
        session_value = getattr(session, "current_category_id", None)
        if isinstance(session_value, int) and session_value > 0:
            return session_value
        for name in ("current_category_id", "current_category"):
            getter = getattr(window, name, None)
            if callable(getter):
                try:
                    value = getter()
                except Exception:
                    continue
                value = getattr(value, "id", value)
                if isinstance(value, int) and value > 0:
                    return value
        categories = self.context.project.categories() if self.context.project is not None else []
        return categories[0].id if categories else None


def box_from_drag(start: QPointF, end: QPointF) -> Box:
    """The box spanned by a drag (any direction), image pixels."""
    return Box(min(start.x(), end.x()), min(start.y(), end.y()), max(start.x(), end.x()), max(start.y(), end.y()))


__all__ = ["InteractiveSegmenter", "Prompt", "SegmentOverlay", "box_from_drag"]
