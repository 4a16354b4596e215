"""Select and edit: click to select (Shift/Ctrl+click adds), drag to move, rubber-band select
on empty canvas, drag box corners and polygon vertices, press near a polygon edge to insert a
vertex, right-click a vertex (or Alt+click it, or click it and press Delete) to delete it,
right-click a shape for its menu, arrow keys nudge."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, cast

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QKeyEvent, QPainter, QPen

from annotations.errors import GeometryError
from annotations.geometry import Box, Geometry, Polygon, to_box
from annotations.model import Batch, UpdateAnnotation
from app import editing, style
from app.tools.base import Tool, ToolEvent

if TYPE_CHECKING:
    from app.canvas.overlays import SelectionOverlayItem
    from app.session import Session
    from app.workspace import ToolCanvas


class _Mode(Enum):
    IDLE = "idle"
    MOVE = "move"
    VERTEX = "vertex"
    CORNER = "corner"
    RUBBER = "rubber"


_EdgeHit = tuple[editing.VertexRef, float, float]  # (ref of the edge's first vertex, x, y): editing.nearest_edge


class SelectTool(Tool):
    title = "Select / edit"
    cursor = Qt.CursorShape.ArrowCursor
    hint = "Drag: move · drag a vertex: reshape · press an edge: add vertex · right-click: menu"

    def __init__(self) -> None:
        super().__init__()
        self._mode = _Mode.IDLE
        self._start = (0.0, 0.0)
        self._last = (0.0, 0.0)
        self._target: int | None = None
        self._vertex: editing.VertexRef | None = None
        self._corner = 0
        self._geometry: Geometry | None = None
        self._description = ""
        self.active_vertex: tuple[int, editing.VertexRef] | None = None
        """(annotation id, vertex) selected by the last vertex click: Delete removes it."""

    # ------------------------------------------------------------------ helpers
    @property
    def _session(self) -> Session:
        assert self.window is not None
        return self.window.session

    @property
    def _canvas(self) -> ToolCanvas:
        assert self.window is not None
        return self.window.canvas

    @property
    def _overlay(self) -> SelectionOverlayItem:
        return self._canvas.selection_overlay

    def reset(self) -> None:
        self._mode = _Mode.IDLE
        self._geometry = None
        self._target = None
        self.active_vertex = None
        if self.window is not None:
            overlay = self._overlay
            overlay.previews.clear()
            overlay.offset = QPointF(0, 0)
            overlay.active_vertex = None
            overlay.hover_point = None
            overlay.hover_shape = None
            overlay.update()
            self.update_preview()

    def _size_hw(self) -> tuple[int, int]:
        image = self._session.image
        return image.size_hw if image is not None else (1, 1)

    def _clamp(self, x: float, y: float) -> tuple[float, float]:
        h, w = self._size_hw()
        return min(max(x, 0.0), float(w)), min(max(y, 0.0), float(h))

    def _handle_at(self, event: ToolEvent) -> tuple[str, int, object] | None:
        """A handle of a selected shape under the pointer: ("corner", id, k), ("vertex", id,
        ref) or ("edge", id, (ref, x, y))."""
        tolerance = style.HIT_TOLERANCE_PX * event.pixel_size
        session = self._session
        for ann_id in reversed(session.selection):
            annotation = session.annotations.get(ann_id)
            if annotation is None:
                continue
            geometry = annotation.geometry
            if isinstance(geometry, Box):
                corners = editing.box_corners(geometry)
                d2 = ((corners - (event.x, event.y)) ** 2).sum(axis=1)
                k = int(np.argmin(d2))
                if d2[k] <= tolerance**2:
                    return ("corner", ann_id, k)
            elif isinstance(geometry, Polygon):
                ref = editing.nearest_vertex(geometry, event.x, event.y, tolerance)
                if ref is not None:
                    return ("vertex", ann_id, ref)
                edge = editing.nearest_edge(geometry, event.x, event.y, tolerance * 0.8)
                if edge is not None:
                    return ("edge", ann_id, edge)
        return None

    def _shape_at(self, event: ToolEvent) -> int | None:
        tolerance = 2.0 * event.pixel_size
        session = self._session
        layer = self._canvas.shape_layer
        for ann_id in reversed(session.selection):
            shape = next((s for s in self._overlay.shapes if s.annotation_id == ann_id), None)
            if shape is not None and shape.contains(event.x, event.y, tolerance):
                return ann_id
        hidden = session.hidden
        candidates = layer.query(QRectF(event.x - tolerance, event.y - tolerance, 2 * tolerance, 2 * tolerance), drawn_only=False)
        shapes = layer.shapes()
        for index in candidates[::-1]:
            shape = shapes[int(index)]
            if shape.annotation_id not in hidden and shape.contains(event.x, event.y, tolerance):
                return shape.annotation_id
        return None

    # ------------------------------------------------------------------ mouse
    def mouse_press(self, event: ToolEvent) -> bool:
        if event.button == Qt.MouseButton.RightButton and self.window is not None and self._session.image is not None:
            return self._context_menu(event)
        if event.button != Qt.MouseButton.LeftButton or self.window is None or self._session.image is None:
            return False
        session = self._session
        self._start = self._last = (event.x, event.y)
        handle = self._handle_at(event)
        if handle is not None:
            kind, ann_id, data = handle
            annotation = session.annotations[ann_id]
            self._target = ann_id
            if kind == "corner":
                assert isinstance(data, int)  # a corner handle carries the corner index k
                self._mode, self._corner = _Mode.CORNER, data
                self._geometry = annotation.geometry
                self._description = "Resize box"
                return True
            if kind == "vertex":
                ref = data
                assert isinstance(ref, editing.VertexRef)
                if event.has(Qt.KeyboardModifier.AltModifier):
                    self._delete_vertex(ann_id, ref)
                    return True
                self._mode, self._vertex = _Mode.VERTEX, ref
                self._geometry = annotation.geometry
                self._description = "Move vertex"
                self._set_active_vertex(ann_id, ref)
                return True
            ref, px, py = cast(_EdgeHit, data)  # an edge handle carries nearest_edge's result
            polygon = annotation.geometry
            assert isinstance(polygon, Polygon)
            inserted, new_ref = editing.insert_vertex(polygon, ref, px, py)
            self._mode, self._vertex = _Mode.VERTEX, new_ref
            self._geometry = inserted
            self._description = "Insert vertex"
            self._overlay.previews[ann_id] = inserted
            self._overlay.hover_point = None
            self._set_active_vertex(ann_id, new_ref)
            return True
        hit = self._shape_at(event)
        toggle = event.has(Qt.KeyboardModifier.ShiftModifier) or event.has(Qt.KeyboardModifier.ControlModifier)
        self._set_active_vertex(None, None)
        if hit is None:
            if not toggle:
                session.set_selection(())
            self._mode = _Mode.RUBBER
            return True
        if toggle:
            selection = [i for i in session.selection if i != hit] if hit in session.selection else [*session.selection, hit]
            session.set_selection(selection)
            self._mode = _Mode.IDLE
            return True
        if hit not in session.selection:
            session.set_selection((hit,))
        self._mode = _Mode.MOVE
        return True

    def mouse_move(self, event: ToolEvent) -> bool:
        if self.window is None:
            return False
        if self._mode is _Mode.IDLE:
            self._hover(event)
            return False
        self._last = (event.x, event.y)
        overlay = self._overlay
        if self._mode is _Mode.CORNER and self._target is not None:
            box = self._session.annotations[self._target].geometry
            assert isinstance(box, Box)
            x, y = self._clamp(event.x, event.y)
            try:
                self._geometry = editing.move_box_corner(box, self._corner, x, y)
            except GeometryError:
                return True
            overlay.previews[self._target] = self._geometry
        elif self._mode is _Mode.VERTEX and self._target is not None and self._vertex is not None:
            base = self._geometry
            assert isinstance(base, Polygon)
            x, y = self._clamp(event.x, event.y)
            self._geometry = editing.move_vertex(base, self._vertex, x, y)
            overlay.previews[self._target] = self._geometry
        elif self._mode is _Mode.MOVE:
            dx, dy = self._move_delta()
            overlay.offset = QPointF(dx, dy)
        elif self._mode is _Mode.RUBBER:
            self.update_preview()
        overlay.update()
        return True

    def _move_delta(self) -> tuple[float, float]:
        dx = self._last[0] - self._start[0]
        dy = self._last[1] - self._start[1]
        selected = self._session.selected_annotations()
        if not selected:
            return 0.0, 0.0
        boxes = [to_box(a.geometry) for a in selected]
        union = Box(min(b.x1 for b in boxes), min(b.y1 for b in boxes), max(b.x2 for b in boxes), max(b.y2 for b in boxes))
        dx, dy = editing.clamp_translation(union, dx, dy, self._size_hw())
        if any(a.geometry.kind.value == "mask" for a in selected):
            dx, dy = float(round(dx)), float(round(dy))
        return dx, dy

    def mouse_release(self, event: ToolEvent) -> bool:
        if event.button != Qt.MouseButton.LeftButton or self.window is None:
            return False
        mode, self._mode = self._mode, _Mode.IDLE
        overlay = self._overlay
        if mode in (_Mode.CORNER, _Mode.VERTEX) and self._target is not None:
            geometry, target = self._geometry, self._target
            overlay.previews.clear()
            current = self._session.annotations.get(target)
            if geometry is not None and current is not None and geometry != current.geometry:
                self.window.apply_edit(UpdateAnnotation(target, {"geometry": geometry}, self._description))
            overlay.update()
        elif mode is _Mode.MOVE:
            dx, dy = self._move_delta()
            overlay.offset = QPointF(0, 0)
            if abs(dx) > 1e-9 or abs(dy) > 1e-9:
                self._translate_selection(dx, dy, "Move shapes")
            overlay.update()
        elif mode is _Mode.RUBBER:
            x0, y0 = self._start
            rect = QRectF(QPointF(min(x0, event.x), min(y0, event.y)), QPointF(max(x0, event.x), max(y0, event.y)))
            if rect.width() > 2 * event.pixel_size or rect.height() > 2 * event.pixel_size:
                inside = [
                    s.annotation_id
                    for s in self._canvas.shape_layer.shapes()
                    if s.annotation_id not in self._session.hidden
                    and rect.contains(QRectF(QPointF(s.bounds[0], s.bounds[1]), QPointF(s.bounds[2], s.bounds[3])))
                ]
                adds = event.modifiers & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
                keep = list(self._session.selection) if adds else []
                self._session.set_selection(keep + inside)
            self.update_preview()
        return True

    def _translate_selection(self, dx: float, dy: float, description: str) -> None:
        assert self.window is not None
        size_hw = self._size_hw()
        commands = tuple(
            UpdateAnnotation(a.id, {"geometry": editing.translate(a.geometry, dx, dy, size_hw)}, description)
            for a in self._session.selected_annotations()
        )
        if commands:
            self.window.apply_edit(commands[0] if len(commands) == 1 else Batch(commands, description))

    def _hover(self, event: ToolEvent) -> None:
        overlay = self._overlay
        handle = self._handle_at(event) if self._session.selection else None
        point = None
        cursor = Qt.CursorShape.ArrowCursor
        if handle is not None:
            if handle[0] == "edge":
                _ref, px, py = cast(_EdgeHit, handle[2])  # an edge handle carries nearest_edge's result
                point = QPointF(px, py)
                cursor = Qt.CursorShape.CrossCursor
            else:
                cursor = Qt.CursorShape.PointingHandCursor
        hit = self._shape_at(event) if handle is None else None
        if hit is not None and hit in self._session.selection:
            cursor = Qt.CursorShape.SizeAllCursor
        hover = None
        if hit is not None and hit not in self._session.selection:
            hover = self._canvas.shape_layer.shape_by_id(hit)
        overlay.set_hover_shape(hover)
        if point != overlay.hover_point:
            overlay.hover_point = point
            overlay.update()
        self._canvas.viewport().setCursor(cursor)

    def _context_menu(self, event: ToolEvent) -> bool:
        """Right-click: on a vertex of a selected polygon, or on a shape (selected first), open
        the shape menu; on empty canvas nothing happens."""
        assert self.window is not None
        handle = self._handle_at(event)
        if handle is not None and handle[0] == "vertex":
            ann_id, ref = handle[1], handle[2]
            assert isinstance(ref, editing.VertexRef)
            self._set_active_vertex(ann_id, ref)
            self.window.open_shape_menu(ann_id, lambda: self._delete_vertex(ann_id, ref))
            return True
        hit = handle[1] if handle is not None else self._shape_at(event)
        if hit is None:
            return False
        if hit not in self._session.selection:
            self._session.set_selection((hit,))
        self.window.open_shape_menu(hit, None)
        return True

    # ------------------------------------------------------------------ vertices
    def _set_active_vertex(self, ann_id: int | None, ref: editing.VertexRef | None) -> None:
        overlay = self._overlay
        if ann_id is None or ref is None:
            self.active_vertex = None
            overlay.active_vertex = None
        else:
            self.active_vertex = (ann_id, ref)
            overlay.active_vertex = (ann_id, ref.part, ref.ring, ref.index)
        overlay.update()

    def _delete_vertex(self, ann_id: int, ref: editing.VertexRef) -> None:
        assert self.window is not None
        polygon = self._session.annotations[ann_id].geometry
        assert isinstance(polygon, Polygon)
        try:
            reduced = editing.delete_vertex(polygon, ref)
        except GeometryError as exc:
            self.window.show_message(str(exc))
            return
        self._set_active_vertex(None, None)
        self.window.apply_edit(UpdateAnnotation(ann_id, {"geometry": reduced}, "Delete vertex"))

    # ------------------------------------------------------------------ keys
    _NUDGE = {Qt.Key.Key_Left: (-1, 0), Qt.Key.Key_Right: (1, 0), Qt.Key.Key_Up: (0, -1), Qt.Key.Key_Down: (0, 1)}

    def claims_key(self, event: QKeyEvent) -> bool:
        if event.key() in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.active_vertex is not None:
            return self.active_vertex[0] in self._session.selection
        return False

    def key_press(self, event: QKeyEvent) -> bool:
        if self.window is None:
            return False
        key = event.key()
        if key in (Qt.Key.Key_Delete, Qt.Key.Key_Backspace) and self.claims_key(event):
            ann_id, ref = self.active_vertex  # type: ignore[misc]
            self._delete_vertex(ann_id, ref)
            return True
        if key == Qt.Key.Key_Escape:
            if self._mode is not _Mode.IDLE:
                self.reset()
            else:
                self._set_active_vertex(None, None)
                self._session.set_selection(())
            return True
        if key in self._NUDGE and self._session.selection:
            step = 10.0 if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 1.0
            dx, dy = self._NUDGE[Qt.Key(key)]
            self._last, self._start = (dx * step, dy * step), (0.0, 0.0)
            ddx, ddy = self._move_delta()
            if ddx or ddy:
                self._translate_selection(ddx, ddy, "Nudge shapes")
            return True
        return False

    # ------------------------------------------------------------------ preview
    def paint(self, painter: QPainter, pixel_size: float) -> None:
        if self._mode is not _Mode.RUBBER:
            return
        x0, y0 = self._start
        x1, y1 = self._last
        pen = QPen(QColor("#ffffff"), 1.0)
        pen.setCosmetic(True)
        pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(QColor(255, 255, 255, 30))
        painter.drawRect(QRectF(QPointF(min(x0, x1), min(y0, y1)), QPointF(max(x0, x1), max(y0, y1))))
