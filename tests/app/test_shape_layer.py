"""The cached shape layer: what it draws, and that pan/zoom/edits re-render only what they must."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtWidgets import QApplication

from annotations.geometry import Box, Polygon
from annotations.model import UpdateAnnotation
from app.canvas.spatial_index import GridIndex
from tests.app.gui_helpers import view_point


def _pixel(window, x: float, y: float):
    window.canvas.flush_rendering()
    QApplication.processEvents()
    return window.canvas.grab().toImage().pixelColor(view_point(window, x, y))


def test_shapes_are_drawn_in_their_class_colour_with_holes_empty(qtbot, window) -> None:
    holed = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Polygon) and a.geometry.has_holes)
    window.session.set_all_hidden(True)
    plain_fill = _pixel(window, 250, 80)
    plain_hole = _pixel(window, 230, 55)
    window.session.set_all_hidden(False)
    fill = _pixel(window, 250, 80)  # inside the debris polygon (green #3cb44b)
    hole = _pixel(window, 230, 55)  # inside its hole
    assert fill.green() - fill.red() > plain_fill.green() - plain_fill.red() + 15
    assert (hole.red(), hole.green(), hole.blue()) == (plain_hole.red(), plain_hole.green(), plain_hole.blue())
    assert holed.category_id == 2


def test_pan_reuses_cached_tiles(qtbot, window) -> None:
    layer = window.canvas.shape_layer
    layer.synchronous = False
    window.canvas.fit()
    window.canvas.flush_rendering()
    window.canvas.viewport().repaint()
    rendered = layer.tiles_rendered
    for dx, dy in [(15, 0), (-30, 10), (0, -25), (12, 12)]:
        window.canvas.translate_view(dx, dy)
        window.canvas.viewport().repaint()
    assert layer.tiles_rendered == rendered  # the whole image was visible: every tile was cached


def test_an_edit_rerenders_only_the_tiles_under_the_shape(qtbot, window) -> None:
    layer = window.canvas.shape_layer
    window.canvas.zoom_by(2.0)
    window.canvas.flush_rendering()
    window.canvas.viewport().repaint()
    cached = layer.cached_tile_count()
    box = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Box))
    rendered = layer.tiles_rendered
    window.execute(UpdateAnnotation(box.id, {"geometry": box.geometry.translated(3, 2)}))
    window.canvas.viewport().repaint()
    redone = layer.tiles_rendered - rendered
    assert 0 < redone <= 9  # a 58 x 50 px box at ~6x zoom touches a few 128-px tiles
    assert redone < cached


def test_zoom_shows_placeholders_then_sharp_tiles_in_idle_time(qtbot, window) -> None:
    layer = window.canvas.shape_layer
    layer.synchronous = False
    window.canvas.flush_rendering()
    window.canvas.viewport().repaint()
    rendered = layer.tiles_rendered
    window.canvas.zoom_by(1.6)
    window.canvas.viewport().repaint()
    assert layer.tiles_rendered == rendered  # the zoom frame only blitted the old tiles, scaled
    scale = window.canvas.scale_factor()
    visible = window.canvas.visible_image_rect().intersected(layer.boundingRect())

    def sharp() -> bool:
        i0, j0, i1, j1 = layer._tile_range(visible, scale)
        tiles = layer._tiles.get(round(np.log2(scale), 5), {})
        return all((i, j) in tiles for i in range(i0, i1 + 1) for j in range(j0, j1 + 1))

    qtbot.waitUntil(sharp, timeout=5000)


def test_selected_shapes_are_drawn_by_the_overlay_not_the_cache(qtbot, window) -> None:
    box = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Box))
    window.session.set_selection((box.id,))
    layer = window.canvas.shape_layer
    position = list(layer._ids).index(box.id)
    assert not layer._drawn[position]
    assert [s.annotation_id for s in window.canvas.selection_overlay.shapes] == [box.id]
    window.session.set_selection(())
    assert layer._drawn[position]


def test_grid_index_matches_brute_force() -> None:
    rng = np.random.default_rng(3)
    xy = rng.uniform(0, 5000, size=(3000, 2))
    size = rng.exponential(30, size=(3000, 2))
    size[:10] *= 60  # a few huge boxes
    bounds = np.concatenate([xy, xy + size], axis=1)
    index = GridIndex(bounds)
    mask = rng.random(3000) < 0.8
    for _ in range(200):
        left, top = rng.uniform(-200, 5200, 2)
        right, bottom = left + rng.uniform(0, 900), top + rng.uniform(0, 900)
        brute = np.flatnonzero(
            (bounds[:, 0] <= right) & (bounds[:, 2] >= left) & (bounds[:, 1] <= bottom) & (bounds[:, 3] >= top) & mask
        )
        assert np.array_equal(index.query(left, top, right, bottom, mask), brute)
    assert len(GridIndex(np.zeros((0, 4))).query(0, 0, 10, 10)) == 0


def test_hit_test_picks_the_front_most_shape(qtbot, window) -> None:
    layer = window.canvas.shape_layer
    polygon = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Polygon) and a.geometry.has_holes)
    assert layer.shape_at(250, 80).annotation_id == polygon.id
    assert layer.shape_at(230, 55) is None  # in the hole
    assert layer.shape_at(QPointF(5, 5).x(), 5) is None
