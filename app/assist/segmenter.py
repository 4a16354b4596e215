"""Interactive segmentation: a box and/or positive/negative clicks → a mask from the engine.

:class:`InteractiveSegmenter` holds the prompt of the image on screen, sends a ``Segment``
request whenever the prompt changes (one in flight at a time; changes made meanwhile are
coalesced into the next request), shows the worker's mask as soon as it answers, and turns it
into an annotation (mask or polygon, simplified to the annotator's tolerance, default 1 px)
through an undoable command. The canvas tool (:mod:`app.assist.mask_tool`) feeds it mouse gestures.

With SAM (method ``AUTO`` with SAM weights present, or ``SAM``) the image embedding is computed
when the tool is active on an image (``prepare``: a ``prepare_only`` Segment, the next image
prefetched) and a busy label shows until it is ready; each click then answers at decoder speed.
SAM's candidates (up to three) are kept and :meth:`InteractiveSegmenter.cycle_candidate` steps
through them (key C in the tool). Which method answered (and how long it took) is shown beside the prompt and in
the status bar. The method, the SAM model and the polygon tolerance are settings (QSettings).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QPointF, QRectF, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPixmap
from PySide6.QtWidgets import QGraphicsObject, QGraphicsPixmapItem, QStyleOptionGraphicsItem, QWidget

from annotations.geometry import Box, Geometry, Mask, mask_to_polygon, rle
from annotations.model import AddAnnotation, Annotation
from app.assist.context import AssistContext
from app.assist.shapes_qt import geometry_path, mask_crop_image
from engine.protocol import Segment, SegmentMethod, SegmentResult

log = logging.getLogger(__name__)

SEGMENT_Z = 950.0
DEFAULT_TOLERANCE_PX = 1.0
"""An accepted polygon stays within this many pixels of the mask's outline (Douglas-Peucker)."""
SETTINGS_GROUP = "interactive_segmentation"
PREFETCH_IDLE_MS = 3000
"""The next image's embedding is requested after this long without a prompt (the engine's
interactive lane runs one job at a time: a prefetch must not delay the annotator's clicks)."""

# The SAM models the engine knows (engine.sam.catalog; not imported here: it pulls in torch).
SAM_MODEL_TITLES = {"sam2.1_hiera_tiny": "SAM 2.1 tiny", "sam2.1_hiera_small": "SAM 2.1 small",
                    "efficientvit_sam_l0": "EfficientViT-SAM L0 (light, CPU)"}
METHOD_TITLES = {SegmentMethod.AUTO: "Auto", SegmentMethod.SAM: "SAM", SegmentMethod.GRABCUT: "GrabCut",
                 SegmentMethod.MODEL: "Project model + GrabCut"}


def answer_label(result: SegmentResult, index: int = 0, count: int = 1) -> str:
    """What answered, e.g. ``"SAM 2.1 tiny · 42 ms · candidate 1/3 (C: next)"``."""
    if result.method == SegmentMethod.SAM:
        title = SAM_MODEL_TITLES.get(result.model, result.model or "SAM")
    elif result.method == SegmentMethod.MODEL:
        title = "Project model + GrabCut"
    else:
        title = "GrabCut"
    text = f"{title} · {result.milliseconds:.0f} ms"
    if result.embedding_ms > 0:
        text += f" (embedding {result.embedding_ms / 1000:.1f} s)"
    if count > 1:
        text += f" · candidate {index + 1}/{count} (C: next)"
    return text


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
        self.status_text = ""  # what answered / "computing the image embedding…", drawn beside the prompt

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
        return rect.adjusted(-400, -80, 400, 50)  # point markers and the status line have a fixed screen size

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
        self._paint_status(painter)
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

    def set_status(self, text: str) -> None:
        """The line drawn at the prompt's top-left corner (screen-size text)."""
        if text != self.status_text:
            self.prepareGeometryChange()
            self.status_text = text
            self.update()

    def _anchor(self) -> QPointF | None:
        rect = self._box_rect()
        if rect is not None:
            return rect.topLeft()
        if self.prompt is not None and (self.prompt.positive_points or self.prompt.negative_points):
            x, y = (self.prompt.positive_points or self.prompt.negative_points)[0]
            return QPointF(x, y)
        if not self.outline.isEmpty():
            return self.outline.boundingRect().topLeft()
        return None

    def _paint_status(self, painter: QPainter) -> None:
        anchor = self._anchor()
        if not self.status_text or anchor is None:
            return
        at = painter.worldTransform().map(anchor)
        painter.save()
        painter.resetTransform()
        font = QFont(painter.font())
        font.setPointSizeF(9.0)
        painter.setFont(font)
        metrics = QFontMetricsF(font)
        box = metrics.boundingRect(self.status_text).adjusted(-4, -2, 4, 2)
        box.moveBottomLeft(QPointF(at.x(), at.y() - 4))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 170))
        painter.drawRoundedRect(box, 3, 3)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(box, Qt.AlignmentFlag.AlignCenter, self.status_text)
        painter.restore()

    def _box_rect(self) -> QRectF | None:
        if self.prompt is None or self.prompt.box_xyxy is None:
            return None
        x1, y1, x2, y2 = self.prompt.box_xyxy
        return QRectF(x1, y1, x2 - x1, y2 - y1)


class InteractiveSegmenter(QObject):
    """Prompt → Segment job → mask preview → annotation.

    Signals: ``maskChanged(mask or None)`` when a new mask arrived (or the prompt was cleared);
    ``failed(message)`` when the worker could not segment; ``statusChanged(text)`` when the
    busy/answer line changes.

    ``method`` None: the saved setting (default ``AUTO``).
    """

    maskChanged = Signal(object)
    failed = Signal(str)
    statusChanged = Signal(str)

    def __init__(self, context: AssistContext, method: SegmentMethod | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        settings = QSettings()
        saved_method = str(settings.value(f"{SETTINGS_GROUP}/method", SegmentMethod.AUTO.value))
        self.method = method if method is not None else (
            SegmentMethod(saved_method) if saved_method in {m.value for m in SegmentMethod} else SegmentMethod.AUTO)
        saved_model = str(settings.value(f"{SETTINGS_GROUP}/sam_model", ""))
        self.sam_model = saved_model if saved_model in SAM_MODEL_TITLES else ""
        try:
            self.tolerance_px = float(settings.value(f"{SETTINGS_GROUP}/tolerance_px", DEFAULT_TOLERANCE_PX))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            self.tolerance_px = DEFAULT_TOLERANCE_PX
        self.prompt: Prompt | None = None
        self.mask: Mask | None = None
        self.candidates: list[Mask] = []
        self.candidate_index = 0
        self.last_result: SegmentResult | None = None
        self.status = ""
        self.embedding_busy = False
        self._job_id: str | None = None
        self._prepare_job: str | None = None
        self._prefetch_job: str | None = None
        self._prefetch_key: tuple[int, str] | None = None
        self._prefetch_id: int | None = None
        self._prepared: set[tuple[int, str]] = set()
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(PREFETCH_IDLE_MS)
        self._prefetch_timer.timeout.connect(self._prefetch)
        self._dirty = False
        self.active = False  # the mask tool is the current tool: embeddings are prepared on image change
        self.overlay = SegmentOverlay()
        context.window.canvas.add_overlay(self.overlay)
        context.bridge.jobSucceeded.connect(self._on_succeeded)
        context.bridge.jobFailed.connect(self._on_failed)
        context.bridge.jobCancelled.connect(self._on_cancelled)
        context.bridge.jobProgress.connect(self._on_progress)
        context.window.imageChanged.connect(lambda *_: self._on_image_changed())

    # ------------------------------------------------------------------ settings
    def set_method(self, method: SegmentMethod, sam_model: str = "") -> None:
        """Choose who answers (saved): ``AUTO``/``SAM`` with ``sam_model`` ("" = the default), or
        ``GRABCUT``; the current image's embedding is prepared again for the new model."""
        self.method = method
        self.sam_model = sam_model if sam_model in SAM_MODEL_TITLES else ""
        settings = QSettings()
        settings.setValue(f"{SETTINGS_GROUP}/method", method.value)
        settings.setValue(f"{SETTINGS_GROUP}/sam_model", self.sam_model)

    def set_tolerance(self, tolerance_px: float) -> None:
        """The polygon tolerance in pixels (saved); 0 keeps every outline vertex."""
        self.tolerance_px = max(0.0, float(tolerance_px))
        QSettings().setValue(f"{SETTINGS_GROUP}/tolerance_px", self.tolerance_px)

    @property
    def uses_sam(self) -> bool:
        """Whether requests may be answered by SAM (method AUTO or SAM)."""
        return self.method in (SegmentMethod.AUTO, SegmentMethod.SAM)

    def _set_status(self, text: str) -> None:
        self.status = text
        self.overlay.set_status(text)
        self.statusChanged.emit(text)
        if text:
            self.context.window.show_message(text, 6000)

    def prepare(self, next_image_id: int | None = None) -> None:
        """Ask the engine for the current image's SAM embedding, so the first click answers at
        decoder speed; shows the busy label until it is ready. ``next_image_id``'s embedding is
        prefetched once the annotator has not prompted for :data:`PREFETCH_IDLE_MS`. Nothing for
        GrabCut, or when this image and model were prepared (or prefetched) already."""
        self._prefetch_id = next_image_id
        image_id = self.context.current_image_id()
        if image_id is None or not self.uses_sam:
            return
        if (image_id, self.sam_model) in self._prepared:
            self._prefetch_timer.start()
            return
        if self._prepare_job is not None:
            self.context.bridge.cancel(self._prepare_job)
        self._drop_prefetch()  # a prefetch of another image must not delay the image on screen
        self._prepared.add((image_id, self.sam_model))
        self.embedding_busy = True
        self._set_status("Computing the image embedding…")
        request = Segment(project_path=self.context.project_path, image_id=image_id, method=self.method,
                          sam_model=self.sam_model, prepare_only=True)
        self._prepare_job = self.context.bridge.submit(request, f"Prepare image {image_id}")

    def _prefetch(self) -> None:
        """The next image's embedding, while the annotator is idle (see :meth:`prepare`)."""
        key = (self._prefetch_id, self.sam_model) if self._prefetch_id is not None else None
        if key is None or key in self._prepared or not self.uses_sam or not self.active:
            return
        if self._job_id is not None or self.embedding_busy or self._prefetch_job is not None:
            self._prefetch_timer.start()  # busy: try again after the next quiet spell
            return
        self._prepared.add((key[0], key[1]))
        self._prefetch_key = (key[0], key[1])
        request = Segment(project_path=self.context.project_path, image_id=key[0], method=self.method,
                          sam_model=self.sam_model, prepare_only=True)
        self._prefetch_job = self.context.bridge.submit(request, f"Prefetch image {key[0]}")

    def _drop_prefetch(self) -> None:
        """Cancel a prefetch in flight (a prompt goes first); its image is prepared again later."""
        if self._prefetch_job is not None:
            self.context.bridge.cancel(self._prefetch_job)
            if self._prefetch_key is not None:
                self._prepared.discard(self._prefetch_key)
            self._prefetch_job = None

    def next_image_id(self) -> int | None:
        """The image after the current one in the workspace's order, if known (for prefetching)."""
        image_id = self.context.current_image_id()
        session = self.context.window.session
        row = session.row_of_image(image_id) if image_id is not None else None
        return int(session.images.ids[row + 1]) if row is not None and row + 1 < len(session.images) else None

    def _on_image_changed(self) -> None:
        self.clear()
        if self.active:
            self.prepare(self.next_image_id())

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
        self.candidates = []
        self.candidate_index = 0
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
        self._drop_prefetch()
        if self._prefetch_timer.isActive() or self._prefetch_id is not None:
            self._prefetch_timer.start()  # restart the idle wait
        self._dirty = False
        request = Segment(
            project_path=self.context.project_path,
            image_id=prompt.image_id,
            box_xyxy=prompt.box_xyxy,
            positive_points=tuple(prompt.positive_points),
            negative_points=tuple(prompt.negative_points),
            method=self.method,
            sam_model=self.sam_model,
        )
        # Segment requests run in the worker's interactive lane: they never wait behind training.
        self._job_id = self.context.bridge.submit(request, f"Segment image {prompt.image_id}")

    # ------------------------------------------------------------------ answers
    def _on_progress(self, job_id: str, done: int, _total: int, _message: str, _metrics: object) -> None:
        if job_id == self._prepare_job and done >= 1 and self.embedding_busy:
            self.embedding_busy = False
            self._set_status("Ready: click or drag a box")
            self._prefetch_timer.start()

    def _on_succeeded(self, job_id: str, result: object) -> None:
        if not isinstance(result, SegmentResult):
            return  # a pre-label or training job: not the segmenter's
        if job_id == self._prefetch_job:
            self._prefetch_job = None
            return
        if job_id == self._prepare_job:
            self._prepare_job = None
            sam = result.method == SegmentMethod.SAM
            if self.embedding_busy:
                self.embedding_busy = False
                self._set_status("Ready: click or drag a box" if sam else "No SAM weights: GrabCut answers")
            if sam:
                self._prefetch_timer.start()
            return
        if job_id != self._job_id:
            return
        self._job_id = None
        self.last_result = result
        if self.prompt is not None:
            size = (int(result.size[0]), int(result.size[1]))
            self.candidates = [Mask(size, bytes(c)) for c in (result.counts, *result.alternatives)]
            self.candidate_index = 0
            self.mask = self.candidates[0]
            self.maskChanged.emit(self.mask)
            self._set_status(answer_label(result, 0, len(self.candidates)))
        if self._dirty:
            self._send()
        self.overlay.set_state(self.prompt, self.mask, self._job_id is not None)

    def _on_failed(self, job_id: str, _error_type: str, message: str, _tb: str) -> None:
        if job_id == self._prefetch_job:
            self._prefetch_job = None
            return
        if job_id == self._prepare_job:
            self._prepare_job = None
            self.embedding_busy = False
            self._set_status(f"Embedding failed: {message}")
            return
        if job_id != self._job_id:
            return
        self._job_id = None
        self.failed.emit(message)
        if self._dirty:
            self._send()
        self.overlay.set_state(self.prompt, self.mask, self._job_id is not None)

    def _on_cancelled(self, job_id: str) -> None:
        if job_id == self._prefetch_job:
            self._prefetch_job = None
        if job_id == self._prepare_job:
            self._prepare_job = None
            self.embedding_busy = False
        if job_id == self._job_id:
            self._job_id = None
            if self._dirty:
                self._send()

    def cycle_candidate(self, step: int = 1) -> bool:
        """Show SAM's next candidate mask (wrapping); False when there is only one."""
        if len(self.candidates) < 2 or self.prompt is None:
            return False
        self.candidate_index = (self.candidate_index + step) % len(self.candidates)
        self.mask = self.candidates[self.candidate_index]
        self.maskChanged.emit(self.mask)
        self.overlay.set_state(self.prompt, self.mask, self._job_id is not None)
        if self.last_result is not None:
            self._set_status(answer_label(self.last_result, self.candidate_index, len(self.candidates)))
        return True

    # ------------------------------------------------------------------ accepting
    def accept(self, as_polygon: bool = False, category_id: int | None = None) -> int | None:
        """Store the current mask as an annotation (a polygon traced from it when
        ``as_polygon``, simplified to ``tolerance_px``) through an undoable command; returns the
        new annotation's id."""
        if self.mask is None or self.prompt is None or rle.area(self.mask) == 0:
            return None
        geometry: Geometry = mask_to_polygon(self.mask, tolerance=self.tolerance_px) if as_polygon else self.mask
        category = category_id if category_id is not None else self.current_category_id()
        if category is None:
            self.failed.emit("the project has no class to give the new shape")
            return None
        annotation = Annotation(0, self.prompt.image_id, category, geometry, attributes={"tool": "interactive"})
        done = self.context.execute(AddAnnotation(annotation))
        self.clear()
        return done.annotation.id or None

    def current_category_id(self) -> int | None:
        """The class chosen in the workspace, else the project's first class."""
        chosen = self.context.window.session.current_category_id
        if chosen is not None and chosen > 0:
            return chosen
        categories = self.context.project.categories()
        return categories[0].id if categories else None


def box_from_drag(start: QPointF, end: QPointF) -> Box:
    """The box spanned by a drag (any direction), image pixels."""
    return Box(min(start.x(), end.x()), min(start.y(), end.y()), max(start.x(), end.x()), max(start.y(), end.y()))


__all__ = ["InteractiveSegmenter", "Prompt", "SegmentOverlay", "box_from_drag"]
