"""The pre-label layer: the model's proposals for the image on the canvas, drawn dashed with
their class, score and model version, filtered by a confidence threshold; accept one (Enter),
accept all above the threshold, reject (Delete) or edit — an accepted or edited prediction
becomes an annotation linked to it (``origin_prediction_id``) through undoable commands."""

from __future__ import annotations

import logging

from PySide6.QtCore import QEvent, QObject, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QMouseEvent, QPainter, QPainterPath, QPen, QPixmap, QTransform
from PySide6.QtWidgets import (
    QAbstractSpinBox,
    QApplication,
    QComboBox,
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsPixmapItem,
    QGraphicsSceneMouseEvent,
    QLineEdit,
    QPlainTextEdit,
    QStyleOptionGraphicsItem,
    QTextEdit,
    QWidget,
)

from annotations.geometry import Geometry, Mask
from annotations.model import AddAnnotation, Batch, Category, Prediction, PredictionState, accept_prediction, reject_prediction
from annotations.model.changes import Change
from app.assist.context import AssistContext
from app.assist.host import AssistCanvas
from app.assist.label_placement import Rect, place_captions
from app.assist.shapes_qt import geometry_path, mask_crop_image

log = logging.getLogger(__name__)

THRESHOLD_SETTING = "assist.score_threshold"
PREDICTION_Z = 900.0


def prediction_caption(prediction: Prediction, category_name: str) -> str:
    """``"cell 0.87 · v3"``: class, score and the model version that made it."""
    return f"{category_name} {prediction.score:.2f} · v{prediction.model_version_id}"


class _CaptionsItem(QGraphicsItem):
    """The captions of every proposal on screen, kept at screen size and placed around their
    shapes so that none covers another (``app.assist.label_placement``; at any zoom: placed
    again on every paint). The best proposals are placed first; a caption with no room is left
    out until the view is zoomed in."""

    def __init__(self, parent: QGraphicsItem) -> None:
        super().__init__(parent)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setZValue(1.0)  # above the outlines of the proposals (siblings at z 0)
        self.font = QFont()
        self.font.setPointSizeF(8.0)
        self.entries: list[tuple[str, QColor, QRectF]] = []  # caption, colour, shape bounds (scene)
        self._bounds = QRectF()

    def set_entries(self, entries: list[tuple[str, QColor, QRectF]]) -> None:
        """Captions to draw, most important first: (text, colour, the shape's scene bounds)."""
        self.prepareGeometryChange()
        self.entries = entries
        bounds = QRectF()
        for _, _, rect in entries:
            bounds = bounds.united(rect)
        margin = max(400.0, 0.5 * max(bounds.width(), bounds.height()))  # captions keep screen size
        self._bounds = bounds.adjusted(-margin, -margin, margin, margin) if entries else QRectF()
        self.update()

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self._bounds

    def placed(self, transform: QTransform) -> list[tuple[str, QColor, Rect]]:
        """Where the captions go in device pixels under ``transform`` (scene to device)."""
        metrics = QFontMetricsF(self.font)
        shapes, sizes = [], []
        for text, _, rect in self.entries:
            box = transform.mapRect(rect)
            shapes.append(Rect(box.left(), box.top(), box.width(), box.height()))
            sizes.append((metrics.horizontalAdvance(text) + 6, metrics.height() + 2))
        places = place_captions(shapes, sizes)
        return [(text, color, place) for (text, color, _), place in zip(self.entries, places, strict=True) if place is not None]

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        placed = self.placed(painter.worldTransform())
        painter.save()
        painter.resetTransform()  # device pixels: captions keep their screen size at any zoom
        painter.setFont(self.font)
        for text, color, place in placed:
            rect = QRectF(place.x, place.y, place.width, place.height)
            painter.fillRect(rect, QColor(255, 255, 255, 215))
            painter.setPen(QPen(color, 1, Qt.PenStyle.DashLine))
            painter.drawRect(rect)
            painter.setPen(QColor("#111111"))
            painter.drawText(rect.adjusted(3, 0, 0, 0), Qt.AlignmentFlag.AlignVCenter, text)
        painter.restore()


class PredictionItem(QGraphicsObject):
    """One proposal: a dashed outline in its class colour, a caption, and for masks a light
    fill; selected proposals are drawn thicker and filled."""

    def __init__(self, layer: PredictionLayer, prediction: Prediction, category: Category | None) -> None:
        super().__init__()
        self.layer = layer
        self.prediction = prediction
        self.color = QColor(category.color if category else "#ff00ff")
        self.path: QPainterPath = geometry_path(prediction.geometry)
        self.selected = False
        self.setAcceptedMouseButtons(Qt.MouseButton.LeftButton)
        self.setAcceptHoverEvents(True)
        self.setToolTip(prediction_caption(prediction, category.name if category else f"class {prediction.category_id}"))
        self.fill_item: QGraphicsPixmapItem | None = None
        if isinstance(prediction.geometry, Mask):
            image, x0, y0 = mask_crop_image(prediction.geometry, self.color, alpha=70)
            self.fill_item = QGraphicsPixmapItem(QPixmap.fromImage(image), self)
            self.fill_item.setOffset(x0, y0)
            self.fill_item.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
            self.fill_item.setZValue(-1)

    def boundingRect(self) -> QRectF:  # noqa: N802
        return self.path.boundingRect().adjusted(-2, -2, 2, 2)

    def shape(self) -> QPainterPath:
        return self.path

    def paint(self, painter: QPainter, _option: QStyleOptionGraphicsItem, _widget: QWidget | None = None) -> None:
        pen = QPen(self.color, 3.0 if self.selected else 2.0, Qt.PenStyle.DashLine)
        pen.setCosmetic(True)
        painter.setPen(pen)
        if self.selected:
            fill = QColor(self.color)
            fill.setAlpha(70)
            painter.setBrush(QBrush(fill))
        else:
            painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self.path)
        if self.selected:  # a white under-dash makes the selection readable on any image
            pen2 = QPen(QColor(255, 255, 255, 200), 1.0, Qt.PenStyle.DotLine)
            pen2.setCosmetic(True)
            painter.setPen(pen2)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self.path)

    def set_selected(self, selected: bool) -> None:
        if selected != self.selected:
            self.selected = selected
            self.update()

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:  # noqa: N802
        self.layer.select(self.prediction.id)
        event.accept()


class _LayerRoot(QGraphicsObject):
    """The container added to the canvas; paints nothing itself."""

    def boundingRect(self) -> QRectF:  # noqa: N802
        return QRectF()

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        pass


class PredictionLayer(QObject):
    """The proposals of the current image above the confidence threshold, and the actions on them.

    Signals: ``changed()`` (the visible list changed), ``selectionChanged(prediction_id or None)``.
    """

    changed = Signal()
    selectionChanged = Signal(object)

    def __init__(self, context: AssistContext, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.root = _LayerRoot()
        self.root.setZValue(PREDICTION_Z)
        self.captions = _CaptionsItem(self.root)
        self.items: dict[int, PredictionItem] = {}
        self.predictions: list[Prediction] = []  # visible ones, best score first
        self.selected_id: int | None = None
        self._visible = True
        self.captions_visible = True
        stored = context.project.get_setting(THRESHOLD_SETTING, 0.5)
        self._threshold = float(stored) if isinstance(stored, (int, float)) else 0.5
        window = context.window
        window.canvas.add_overlay(self.root)
        window.imageChanged.connect(lambda *_: self.refresh(clear_selection=True))
        context.predictionsChanged.connect(self.refresh)
        # undo/redo of an accept or reject, and edits made elsewhere
        window.session.projectChanged.connect(self.refresh)
        # selecting an annotation hands Enter/Delete back to the workspace
        window.session.selectionChanged.connect(self._on_annotation_selection)
        # The review's marks caption the same shapes (pairs, misses, extras): one set of captions.
        context.reviewMarksShown.connect(lambda shown: self.set_captions_visible(not shown))
        self.click_watcher = PredictionClickWatcher(self, window.canvas)
        self.refresh()

    def _on_annotation_selection(self) -> None:
        if self.context.window.session.selection:
            self.select(None)

    # ------------------------------------------------------------------ reading
    @property
    def threshold(self) -> float:
        """Proposals scoring below this are hidden (and not accepted by accept-all)."""
        return self._threshold

    def set_threshold(self, value: float) -> None:
        """Change the threshold (0..1), remember it in the project and redraw."""
        value = max(0.0, min(1.0, float(value)))
        if abs(value - self._threshold) < 1e-9:
            return
        self._threshold = value
        project = self.context.project
        if not project.readonly:
            try:
                project.set_setting(THRESHOLD_SETTING, value)
            except Exception:  # a busy store must not break the slider
                log.exception("storing the score threshold failed")
        self.refresh()

    def set_captions_visible(self, visible: bool) -> None:
        """Show or hide the score captions (the outlines stay)."""
        self.captions_visible = visible
        self.captions.setVisible(visible)

    def set_visible(self, visible: bool) -> None:
        """Show or hide the whole layer."""
        self._visible = visible
        self.root.setVisible(visible)

    def all_proposed(self) -> list[Prediction]:
        """Every proposed prediction of the current image, whatever its score."""
        project, image_id = self.context.project, self.context.current_image_id()
        if image_id is None:
            return []
        return project.predictions(image_id, state=PredictionState.PROPOSED)

    def refresh(self, clear_selection: bool = False) -> None:
        """Re-read the proposals of the current image and rebuild the items."""
        project = self.context.project
        categories = {c.id: c for c in project.categories()}
        self.predictions = [p for p in self.all_proposed() if p.score >= self._threshold]
        for item in self.items.values():
            item.setParentItem(None)  # type: ignore[arg-type]  # stubs omit None; Qt takes a null parent (detach)
            if item.scene() is not None:
                item.scene().removeItem(item)
        self.items.clear()
        for prediction in reversed(self.predictions):  # best score drawn on top
            item = PredictionItem(self, prediction, categories.get(prediction.category_id))
            item.setParentItem(self.root)
            self.items[prediction.id] = item
        self.captions.set_entries([(item.toolTip(), item.color, item.path.boundingRect())
                                   for item in (self.items[p.id] for p in self.predictions)])  # best first
        if clear_selection or self.selected_id not in self.items:
            self._set_selected(None)
        else:
            self.items[self.selected_id].set_selected(True)
        self.changed.emit()

    def prediction(self, prediction_id: int) -> Prediction:
        for p in self.predictions:
            if p.id == prediction_id:
                return p
        return self.context.project.get_prediction(prediction_id)

    # ------------------------------------------------------------------ selection
    def select(self, prediction_id: int | None) -> None:
        """Select a visible proposal (None clears the selection)."""
        if prediction_id is not None and prediction_id not in self.items:
            prediction_id = None
        self._set_selected(prediction_id)

    def _set_selected(self, prediction_id: int | None) -> None:
        if prediction_id == self.selected_id:
            return
        if self.selected_id in self.items:
            self.items[self.selected_id].set_selected(False)
        self.selected_id = prediction_id
        if prediction_id is not None:
            self.items[prediction_id].set_selected(True)
        self.selectionChanged.emit(prediction_id)

    def select_next(self, step: int = 1) -> None:
        """Select the next (or previous) visible proposal in score order."""
        if not self.predictions:
            self.select(None)
            return
        ids = [p.id for p in self.predictions]
        index = ids.index(self.selected_id) + step if self.selected_id in ids else (0 if step > 0 else -1)
        self.select(ids[index % len(ids)])

    def _after_decision(self, decided_index: int) -> None:
        """Refresh and move the selection to the proposal that took the decided one's place."""
        self.refresh()
        if self.predictions:
            self.select(self.predictions[min(decided_index, len(self.predictions) - 1)].id)

    def _target(self, prediction_id: int | None) -> Prediction | None:
        target = prediction_id if prediction_id is not None else self.selected_id
        if target is None:
            return None
        return self.prediction(target)

    def _index_of(self, prediction_id: int) -> int:
        ids = [p.id for p in self.predictions]
        return ids.index(prediction_id) if prediction_id in ids else 0

    # ------------------------------------------------------------------ decisions
    def accept(self, prediction_id: int | None = None, geometry: Geometry | None = None) -> int | None:
        """Accept a proposal (the selected one by default), optionally with an edited geometry;
        returns the id of the annotation made from it."""
        prediction = self._target(prediction_id)
        if prediction is None:
            return None
        index = self._index_of(prediction.id)
        done = self.context.execute(accept_prediction(prediction, geometry=geometry))
        annotation_id = self._annotation_made(done, prediction.id)
        self.context.predictionsChanged.emit()
        self._after_decision(index)
        return annotation_id

    def accept_all(self) -> int:
        """Accept every visible proposal (score >= threshold) as one undoable step; returns the count."""
        chosen = list(self.predictions)
        if not chosen:
            return 0
        self.context.execute(Batch(tuple(accept_prediction(p) for p in chosen), f"Accept {len(chosen)} predictions"))
        self.context.predictionsChanged.emit()
        self.refresh(clear_selection=True)
        return len(chosen)

    def reject(self, prediction_id: int | None = None) -> bool:
        """Reject a proposal (the selected one by default)."""
        prediction = self._target(prediction_id)
        if prediction is None:
            return False
        index = self._index_of(prediction.id)
        self.context.execute(reject_prediction(prediction))
        self.context.predictionsChanged.emit()
        self._after_decision(index)
        return True

    def edit(self, prediction_id: int | None = None) -> int | None:
        """Turn a proposal into a linked annotation and hand it to the workspace's editing
        tools (its later edits keep the link, so the pre-label → final IoU stays computable)."""
        prediction = self._target(prediction_id)
        if prediction is None:
            return None
        done = self.context.execute(accept_prediction(prediction))
        annotation_id = self._annotation_made(done, prediction.id)
        self.context.predictionsChanged.emit()
        self.refresh(clear_selection=True)
        window = self.context.window
        if annotation_id is not None:
            window.session.set_selection((annotation_id,))
        window.set_tool("select")
        return annotation_id

    def prediction_at(self, x: float, y: float) -> int | None:
        """The best-scoring visible proposal whose shape contains image point (x, y)."""
        point = QPointF(x, y)
        for prediction in self.predictions:  # best score first
            item = self.items.get(prediction.id)
            if item is not None and item.path.contains(point):
                return prediction.id
        return None

    def _annotation_made(self, done: Change, prediction_id: int) -> int | None:
        for command in done.commands():
            if not isinstance(command, AddAnnotation):
                continue
            if command.annotation.origin_prediction_id == prediction_id and command.annotation.id:
                return int(command.annotation.id)
        project = self.context.project
        for annotation in project.annotations(self.context.current_image_id()):
            if annotation.origin_prediction_id == prediction_id:
                return annotation.id
        return None


class PredictionKeys(QObject):
    """Enter accepts and Delete rejects the selected proposal, Escape deselects — only while a
    proposal is selected and the focus is in the main window outside a text field, so the
    workspace keeps those keys otherwise (an app-wide filter, because QShortcuts with the same
    keys in the workspace would be ambiguous).

    The filter is installed only while a proposal is selected (``filtering``): an app-wide
    filter sees every event of the process (~4,300 while a window opens), and without a
    selection it has nothing to do."""

    _TEXT_INPUTS = (QLineEdit, QTextEdit, QPlainTextEdit, QAbstractSpinBox)

    def __init__(self, layer: PredictionLayer, window: QWidget) -> None:
        super().__init__(layer)
        self.layer = layer
        self.window = window
        self.filtering = False
        self._detached = False
        layer.selectionChanged.connect(self._on_selection)
        self._on_selection(layer.selected_id)

    def _on_selection(self, prediction_id: object) -> None:
        """Install the app-wide filter when a proposal becomes selected, remove it when none is."""
        wanted = prediction_id is not None and not self._detached
        app = QApplication.instance()
        if wanted == self.filtering or app is None:
            return
        if wanted:
            app.installEventFilter(self)
        else:
            app.removeEventFilter(self)
        self.filtering = wanted

    def _applies(self, event: QEvent) -> bool:
        if self.layer.selected_id is None:
            return False
        key = event.key()  # type: ignore[attr-defined]
        if key not in (Qt.Key.Key_Return, Qt.Key.Key_Enter, Qt.Key.Key_Delete, Qt.Key.Key_Escape):
            return False
        if event.modifiers() & ~Qt.KeyboardModifier.KeypadModifier:  # type: ignore[attr-defined]
            return False
        focus = QApplication.focusWidget()
        if focus is None or isinstance(focus, self._TEXT_INPUTS) or (isinstance(focus, QComboBox) and focus.isEditable()):
            return False
        return focus.window() is self.window

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind not in (QEvent.Type.ShortcutOverride, QEvent.Type.KeyPress):
            return False
        if not isinstance(watched, QWidget) or not self._applies(event):
            return False
        if kind == QEvent.Type.ShortcutOverride:
            event.accept()  # we take the key: the workspace's shortcut does not fire
            return True
        key = event.key()  # type: ignore[attr-defined]
        if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
            self.layer.accept()
        elif key == Qt.Key.Key_Delete:
            self.layer.reject()
        else:
            self.layer.select(None)
        return True

    def detach(self) -> None:
        """Remove the filter for good (the window is closing)."""
        self._detached = True
        self._on_selection(None)


class PredictionClickWatcher(QObject):
    """Watches left clicks on the canvas (without consuming them, so the current tool still
    gets them): a click inside a proposal and outside every annotation selects the proposal;
    a click elsewhere clears the selection."""

    def __init__(self, layer: PredictionLayer, canvas: AssistCanvas) -> None:
        super().__init__(layer)
        self.layer = layer
        self.canvas = canvas
        canvas.viewport().installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() != QEvent.Type.MouseButtonPress or not self.layer.items or not self.layer.root.isVisible():
            return False
        if not isinstance(event, QMouseEvent):
            return False
        if event.button() != Qt.MouseButton.LeftButton or event.modifiers() != Qt.KeyboardModifier.NoModifier:
            return False
        point = self.canvas.mapToScene(event.position().toPoint())
        hit = self.layer.prediction_at(point.x(), point.y())
        if hit is not None and self._inside_annotation(point.x(), point.y()):
            hit = None
        self.layer.select(hit)
        return False

    def _inside_annotation(self, x: float, y: float) -> bool:
        project, image_id = self.layer.context.project, self.layer.context.current_image_id()
        if image_id is None:
            return False
        point = QPointF(x, y)
        for annotation in project.annotations(image_id):
            try:
                if geometry_path(annotation.geometry).contains(point):
                    return True
            except Exception:  # noqa: BLE001 - an odd geometry must not break clicking
                continue
        return False
