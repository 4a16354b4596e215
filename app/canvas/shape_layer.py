"""The shape layer: ONE graphics item that draws every unselected shape from cached tiles.

Why: a scene with one QGraphicsItem per shape repaints every visible shape on every pan and
zoom frame (about 110 ms at 2,000 polygons). Here shapes are rasterised once per zoom level into
256x256 device-pixel tiles anchored to the image origin; a pan frame only blits cached tiles
and renders the few newly exposed ones; a zoom frame blits the previous zoom's tiles scaled as a
placeholder while the sharp tiles are rendered within a per-frame time budget (and in idle
time), like a map viewer. A tile is rendered from the shapes a bounding-box query returns
(vectorised over numpy arrays), so its cost depends on the shapes it shows, not on the total.
An edit invalidates only the tiles under the changed shape's old and new bounds.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QImage, QPainter, QPen, QTransform
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from app import style
from app.canvas.render_shapes import RenderShape
from app.canvas.spatial_index import GridIndex

TILE_PX = 128
MAX_CACHED_TILES = 1920
"""About 120 MB of 256x256 ARGB tiles; older zoom levels are evicted first."""
_EMPTY = QImage()  # marker: a tile with no shapes (nothing to blit)


def _scale_key(scale: float) -> float:
    """Zoom levels equal up to rounding noise share one key (log2 scale to 1e-5)."""
    return round(math.log2(scale), 5)


class ShapeLayerItem(QGraphicsItem):
    """Draws the shapes of the current image except the excluded (selected or hidden) ones."""

    def __init__(self) -> None:
        super().__init__()
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self._rect = QRectF()
        self._shapes: list[RenderShape] = []
        self._z: dict[int, int] = {}
        self._index = GridIndex(np.zeros((0, 4)))
        self._ids = np.zeros(0, np.int64)
        self._drawn = np.zeros(0, bool)
        self._excluded: frozenset[int] = frozenset()
        self._all_hidden = False
        self._tiles: dict[float, dict[tuple[int, int], QImage]] = {}
        self._scale_lru: list[float] = []
        self.antialias = True
        self.frame_budget_s = 0.003
        """Seconds of tile rendering allowed inside one paint; the rest is deferred."""
        self.synchronous = False
        """Render every missing tile inside paint (screenshots, tests)."""
        self.tiles_rendered = 0
        """Instrumentation: how many tiles were rasterised so far."""
        self.cost_per_shape_s = 20e-6
        """Running estimate of the time one shape takes to draw into a tile (predicts whether a
        tile fits in the frame budget)."""
        self.on_pending: Callable[[], None] | None = None
        """Called when a paint left tiles unrendered (the view schedules idle rendering)."""
        self._pens: dict[str, tuple[QPen, QBrush, QPen]] = {}
        self._halo_pens: dict[str, QPen] = {}
        self.outline_width = style.OUTLINE_WIDTH_PX

    # ------------------------------------------------------------------ QGraphicsItem
    def boundingRect(self) -> QRectF:  # noqa: N802 - Qt name
        return self._rect

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        if self._all_hidden or not self._shapes:
            return
        world = painter.worldTransform()
        scale = world.m11()
        if scale <= 0 or abs(world.m12()) > 1e-9 or abs(world.m21()) > 1e-9:
            self._draw_direct(painter, option.exposedRect)
            return
        exposed = option.exposedRect.intersected(self._rect)
        if exposed.isEmpty():
            return
        key = _scale_key(scale)
        tiles = self._tiles_for(key)
        i0, j0, i1, j1 = self._tile_range(exposed, scale)
        deadline = time.perf_counter() + self.frame_budget_s
        # With another zoom level's tiles to stand in, new tiles are left to idle time (a
        # zoom frame only blits); without, up to the frame budget is rendered here.
        has_placeholder = any(k != key and self._tiles.get(k) for k in self._scale_lru)
        missing: list[tuple[int, int]] = []
        painter.save()
        painter.setWorldTransform(QTransform.fromTranslate(round(world.dx()), round(world.dy())))
        for j in range(j0, j1 + 1):
            for i in range(i0, i1 + 1):
                image = tiles.get((i, j))
                if image is None:
                    if has_placeholder and not self.synchronous:
                        missing.append((i, j))
                        continue
                    indices = self._tile_shapes(scale, i, j)
                    if self.synchronous or time.perf_counter() + len(indices) * self.cost_per_shape_s < deadline:
                        image = tiles[(i, j)] = self._render_tile(scale, i, j, indices)
                    else:
                        missing.append((i, j))
                        continue
                if image is not _EMPTY:
                    painter.drawImage(QPointF(i * TILE_PX, j * TILE_PX), image)
        if missing:
            painter.setWorldTransform(world)
            self._draw_placeholders(painter, key, scale, missing)
        painter.restore()
        self._evict(key)
        if missing and self.on_pending is not None:
            self.on_pending()

    # ------------------------------------------------------------------ data
    def set_image_rect(self, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self._rect = QRectF(rect)
        self.invalidate_all()

    def set_shapes(self, shapes: list[RenderShape], z_orders: dict[int, int]) -> None:
        """Replace every shape (image change); ``z_orders`` maps annotation id -> z."""
        self._z = dict(z_orders)
        self._shapes = sorted(shapes, key=lambda s: (self._z.get(s.annotation_id, 0), s.annotation_id))
        self._rebuild_index()
        self.invalidate_all()

    def update_shapes(self, changed: dict[int, RenderShape | None], z_orders: dict[int, int]) -> None:
        """Add, replace (RenderShape) or remove (None) shapes by annotation id; only the tiles
        under their old and new bounds are re-rendered."""
        by_id = {s.annotation_id: s for s in self._shapes}
        dirty: list[tuple[float, float, float, float]] = []
        for ann_id, shape in changed.items():
            old = by_id.pop(ann_id, None)
            if old is not None:
                dirty.append(old.bounds)
            if shape is not None:
                by_id[ann_id] = shape
                dirty.append(shape.bounds)
        self._z = dict(z_orders)
        self._shapes = sorted(by_id.values(), key=lambda s: (self._z.get(s.annotation_id, 0), s.annotation_id))
        self._rebuild_index()
        for bounds in dirty:
            self.invalidate_bounds(bounds)

    def set_excluded(self, ids: set[int] | frozenset[int]) -> None:
        """Shapes not drawn by this layer (the selection overlay draws selected shapes)."""
        ids = frozenset(ids)
        changed = ids ^ self._excluded
        if not changed:
            return
        self._excluded = ids
        self._drawn = ~np.isin(self._ids, np.fromiter(ids, np.int64, len(ids))) if ids else np.ones(len(self._ids), bool)
        for shape in self._shapes:
            if shape.annotation_id in changed:
                self.invalidate_bounds(shape.bounds)

    def set_all_hidden(self, hidden: bool) -> None:
        if hidden != self._all_hidden:
            self._all_hidden = hidden
            self.update()

    def shapes(self) -> list[RenderShape]:
        """Every shape, back to front (including excluded ones)."""
        return list(self._shapes)

    def shape_by_id(self, annotation_id: int) -> RenderShape | None:
        """The shape of annotation ``annotation_id``, or None."""
        positions = np.flatnonzero(self._ids == annotation_id)
        return self._shapes[int(positions[0])] if positions.size else None

    def query(self, rect: QRectF, *, drawn_only: bool = True) -> np.ndarray:
        """Indices (back to front) of shapes whose bounds intersect ``rect`` (image pixels)."""
        return self._index.query(rect.left(), rect.top(), rect.right(), rect.bottom(), self._drawn if drawn_only else None)

    def shape_at(self, x: float, y: float, tolerance: float = 0.0) -> RenderShape | None:
        """The front-most shape containing image point (x, y), excluded ones included."""
        candidates = self.query(QRectF(x - tolerance, y - tolerance, 2 * tolerance, 2 * tolerance), drawn_only=False)
        for index in candidates[::-1]:
            shape = self._shapes[int(index)]
            if shape.contains(x, y, tolerance):
                return shape
        return None

    def _rebuild_index(self) -> None:
        count = len(self._shapes)
        width = style.OUTLINE_WIDTH_PX if count <= style.DENSE_SHAPE_COUNT else style.DENSE_OUTLINE_WIDTH_PX
        if width != self.outline_width:
            self.outline_width = width
            self._pens.clear()
            self._halo_pens.clear()
            self._tiles.clear()
            self._scale_lru.clear()
        self._index = GridIndex(np.array([s.bounds for s in self._shapes], dtype=np.float64).reshape(count, 4))
        self._ids = np.array([s.annotation_id for s in self._shapes], dtype=np.int64)
        ex = self._excluded
        self._drawn = ~np.isin(self._ids, np.fromiter(ex, np.int64, len(ex))) if ex else np.ones(count, bool)

    # ------------------------------------------------------------------ tiles
    def invalidate_all(self) -> None:
        self._tiles.clear()
        self._scale_lru.clear()
        self.update()

    def invalidate_bounds(self, bounds: tuple[float, float, float, float]) -> None:
        """Drop cached tiles under image rectangle ``bounds`` (x1, y1, x2, y2) at every zoom."""
        x1, y1, x2, y2 = bounds
        for key, tiles in self._tiles.items():
            scale = 2.0**key
            margin = 3.0 / scale
            rect = QRectF(x1 - margin, y1 - margin, x2 - x1 + 2 * margin, y2 - y1 + 2 * margin)
            i0, j0, i1, j1 = self._tile_range(rect, scale)
            if (i1 - i0 + 1) * (j1 - j0 + 1) > len(tiles):
                for ij in [ij for ij in tiles if i0 <= ij[0] <= i1 and j0 <= ij[1] <= j1]:
                    del tiles[ij]
            else:
                for j in range(j0, j1 + 1):
                    for i in range(i0, i1 + 1):
                        tiles.pop((i, j), None)
        pad = 4.0
        self.update(QRectF(x1 - pad, y1 - pad, x2 - x1 + 2 * pad, y2 - y1 + 2 * pad))

    def cached_tile_count(self) -> int:
        return sum(len(t) for t in self._tiles.values())

    def render_missing(self, visible: QRectF, scale: float, budget_s: float, ring: int = 1) -> tuple[bool, bool]:
        """Render missing tiles of ``visible`` (then a ring of ``ring`` tiles around it) within
        ``budget_s`` seconds. Returns (rendered a visible tile, work remains)."""
        if self._all_hidden or not self._shapes or scale <= 0:
            return False, False
        key = _scale_key(scale)
        tiles = self._tiles_for(key)
        i0, j0, i1, j1 = self._tile_range(visible.intersected(self._rect), scale)
        deadline = time.perf_counter() + budget_s
        rendered_visible = False
        rendered = 0
        last_i, last_j = self._tile_range(self._rect, scale)[2:]
        for grow in range(ring + 1):
            for j in range(max(0, j0 - grow), min(last_j, j1 + grow) + 1):
                for i in range(max(0, i0 - grow), min(last_i, i1 + grow) + 1):
                    if (i, j) in tiles:
                        continue
                    indices = self._tile_shapes(scale, i, j)
                    # At least one tile per call (progress), more while they fit the budget.
                    if rendered and time.perf_counter() + len(indices) * self.cost_per_shape_s >= deadline:
                        return rendered_visible, True
                    tiles[(i, j)] = self._render_tile(scale, i, j, indices)
                    rendered += 1
                    rendered_visible |= grow == 0
        self._evict(key)
        return rendered_visible, False

    def _tiles_for(self, key: float) -> dict[tuple[int, int], QImage]:
        if key in self._scale_lru:
            if self._scale_lru[-1] != key:
                self._scale_lru.remove(key)
                self._scale_lru.append(key)
        else:
            self._scale_lru.append(key)
        return self._tiles.setdefault(key, {})

    @staticmethod
    def _tile_range(rect: QRectF, scale: float) -> tuple[int, int, int, int]:
        i0 = max(0, int(math.floor(rect.left() * scale / TILE_PX)))
        j0 = max(0, int(math.floor(rect.top() * scale / TILE_PX)))
        i1 = max(i0, int(math.floor((rect.right() * scale - 1e-6) / TILE_PX)))
        j1 = max(j0, int(math.floor((rect.bottom() * scale - 1e-6) / TILE_PX)))
        return i0, j0, i1, j1

    def _style(self, color: str) -> tuple[QPen, QBrush, QPen]:
        """(outline pen, fill brush, halo pen) of class colour ``color``; the halo pens are
        shared between colours with the same halo colour (fewer pen switches)."""
        found = self._pens.get(color)
        if found is None:
            halo_color = style.halo_color(color)
            halo_key = f"halo:{halo_color.name(QColor.NameFormat.HexArgb)}"
            halo = self._halo_pens.get(halo_key)
            if halo is None:
                width = self.outline_width if self.outline_width <= 1.0 else self.outline_width + style.HALO_EXTRA_PX
                halo = self._halo_pens[halo_key] = style.halo_pen(color, width)
            found = self._pens[color] = (style.outline_pen(color, self.outline_width), style.fill_brush(color), halo)
        return found

    def _tile_shapes(self, scale: float, i: int, j: int) -> np.ndarray:
        """Indices of the drawn shapes touching tile (i, j) at ``scale`` (outline margin included)."""
        side = TILE_PX / scale
        margin = 3.0 / scale
        return self.query(QRectF(i * side - margin, j * side - margin, side + 2 * margin, side + 2 * margin))

    def _render_tile(self, scale: float, i: int, j: int, indices: np.ndarray) -> QImage:
        self.tiles_rendered += 1
        if not len(indices):
            return _EMPTY
        started = time.perf_counter()
        image = QImage(TILE_PX, TILE_PX, QImage.Format.Format_ARGB32_Premultiplied)
        image.fill(0)
        painter = QPainter(image)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, self.antialias)
        painter.setTransform(QTransform(scale, 0, 0, scale, -i * TILE_PX, -j * TILE_PX))
        self._paint_shapes(painter, indices.tolist(), scale)
        painter.end()
        per_shape = (time.perf_counter() - started) / len(indices)
        self.cost_per_shape_s = 0.7 * self.cost_per_shape_s + 0.3 * per_shape
        return image

    def _draw_placeholders(self, painter: QPainter, key: float, scale: float, missing: list[tuple[int, int]]) -> None:
        """Fill missing tiles from the most recent other zoom level's tiles, scaled."""
        other = next((k for k in reversed(self._scale_lru) if k != key and self._tiles.get(k)), None)
        if other is None:
            return
        other_tiles = self._tiles[other]
        other_scale = 2.0**other
        side = TILE_PX / scale
        other_side = TILE_PX / other_scale
        for i, j in missing:
            target = QRectF(i * side, j * side, side, side)
            a0, b0, a1, b1 = self._tile_range(target, other_scale)
            for b in range(b0, b1 + 1):
                for a in range(a0, a1 + 1):
                    image = other_tiles.get((a, b))
                    if image is None or image is _EMPTY:
                        continue
                    source_rect = QRectF(a * other_side, b * other_side, other_side, other_side)
                    part = source_rect.intersected(target)
                    if part.isEmpty():
                        continue
                    src = QRectF(
                        (part.left() - source_rect.left()) * other_scale,
                        (part.top() - source_rect.top()) * other_scale,
                        part.width() * other_scale,
                        part.height() * other_scale,
                    )
                    painter.drawImage(part, image, src)

    def _evict(self, current: float) -> None:
        total = self.cached_tile_count()
        while total > MAX_CACHED_TILES and len(self._scale_lru) > 1:
            oldest = self._scale_lru.pop(0)
            total -= len(self._tiles.pop(oldest, {}))
        if total > MAX_CACHED_TILES:
            tiles = self._tiles.get(current, {})
            for ij in list(tiles)[: total - MAX_CACHED_TILES]:
                del tiles[ij]

    def _draw_direct(self, painter: QPainter, exposed: QRectF) -> None:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, self.antialias)
        self._paint_shapes(painter, self.query(exposed).tolist(), None)

    def _paint_shapes(self, painter: QPainter, indices: list[int], scale: float | None) -> None:
        """Draw shapes ``indices`` (back to front) in two passes: first every halo (the
        contrasting under-stroke, so a neighbour's halo never covers an outline), then fills
        and outlines. ``scale``: device px per image px of an axis-aligned painter, or None.

        Halos are strokes HALO_EXTRA_PX wider than the outline; with the dense 1 px outline
        (Qt's fast path; a wider stroke costs ~3x) the halo is a 1 px stroke shifted one
        device pixel down-right instead, a drop shadow at the cost of one more fast stroke."""
        shapes = self._shapes
        shadow = self.outline_width <= 1.0
        painter.save()
        painter.setBrush(Qt.BrushStyle.NoBrush)
        if shadow and scale:
            painter.translate(1.0 / scale, 1.0 / scale)
        current_halo: QPen | None = None
        for index in indices:
            shape = shapes[index]
            halo = self._style(shape.color)[2]
            if halo is not current_halo:
                current_halo = halo
                painter.setPen(halo)
            shape.draw_outline(painter)
        painter.restore()
        current_color: str | None = None
        for index in indices:
            shape = shapes[index]
            if shape.color != current_color:
                current_color = shape.color
                pen, brush, _halo = self._style(current_color)
                painter.setPen(pen)
                painter.setBrush(brush)
            shape.draw(painter)

    def clear_style_cache(self) -> None:
        """Forget cached pens (after a class was recoloured)."""
        self._pens.clear()
        self._halo_pens.clear()
        self.invalidate_all()
