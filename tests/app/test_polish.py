"""Legibility and chrome: shape halos and hover highlight, the toolbar's icon set, panels that
fit a 1600 x 1000 window, and the review / training panels opened from the command line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QRectF

from annotations.geometry import Box
from annotations.model import Annotation
from app import icons, style
from app.canvas.render_shapes import build_render_shape
from app.canvas.shape_layer import ShapeLayerItem
from app.tools.base import ToolEvent


# ---------------------------------------------------------------- halo
def test_halo_contrasts_with_the_class_colour() -> None:
    assert style.halo_color("#800000").lightness() > 200  # dark red: a light rim
    assert style.halo_color("#c08080").lightness() < 50  # VOC person pink: a dark rim
    assert style.halo_color("#ffff00").alpha() == style.HALO_ALPHA


@pytest.mark.parametrize(("color", "dense"), [("#c08080", False), ("#800000", False), ("#c08080", True)])
def test_tiles_draw_a_contrasting_rim_outside_the_outline(qapp, color: str, dense: bool) -> None:
    layer = ShapeLayerItem()
    layer.set_image_rect(QRectF(0, 0, 100, 100))
    box = build_render_shape(Annotation(1, 1, 1, Box(20, 20, 60, 60)), color)
    shapes = [box]
    if dense:  # more than DENSE_SHAPE_COUNT shapes: 1 px outline, halo as a 1 px drop shadow
        far = [build_render_shape(Annotation(i, 1, 1, Box(95, 95, 96, 96)), color) for i in range(2, style.DENSE_SHAPE_COUNT + 3)]
        shapes += far
    layer.set_shapes(shapes, {s.annotation_id: 0 for s in shapes})
    assert (layer.outline_width <= 1.0) == dense
    scale = 2.0
    tile = layer._render_tile(scale, 0, 0, layer._tile_shapes(scale, 0, 0))
    # The right edge lies at device x = 120: the outline covers pixels 119-120, the rim 121.
    outside = tile.pixelColor(int(60 * scale) + 1, int(40 * scale))
    far_outside = tile.pixelColor(int(60 * scale) + 6, int(40 * scale))
    halo = style.halo_color(color)
    assert far_outside.alpha() == 0
    assert outside.alpha() > 60
    # Premultiplied tiles report un-premultiplied colours: the rim has the halo's lightness.
    assert abs(outside.lightness() - halo.lightness()) < 80


def test_hovering_a_shape_highlights_it_and_selection_clears_it(window) -> None:
    box = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Box))
    window.set_tool("select")
    tool = window.tool
    overlay = window.canvas.selection_overlay
    x, y = (box.geometry.x1 + box.geometry.x2) / 2, (box.geometry.y1 + box.geometry.y2) / 2
    tool.mouse_move(ToolEvent(x, y, pixel_size=0.3))
    assert overlay.hover_shape is not None and overlay.hover_shape.annotation_id == box.id
    tool.mouse_move(ToolEvent(1.0, 1.0, pixel_size=0.3))  # empty corner of the image
    assert overlay.hover_shape is None
    tool.mouse_move(ToolEvent(x, y, pixel_size=0.3))
    window.session.set_selection((box.id,))
    assert overlay.hover_shape is None  # the selection draws it now (with handles)
    tool.mouse_move(ToolEvent(x, y, pixel_size=0.3))
    assert overlay.hover_shape is None  # a selected shape is not hover-highlighted


# ---------------------------------------------------------------- icons
def test_every_tool_and_toolbar_action_has_a_crisp_icon(window) -> None:
    from PySide6.QtWidgets import QToolBar

    tool_actions = {name: window.findChild(type(window.actions_by_key["undo"]), f"tool_{name}") for name in icons.TOOL_ICONS}
    actions = {**tool_actions, **{key: window.actions_by_key[key] for key in icons.ACTION_ICONS}}
    assert all(action is not None for action in actions.values()), [k for k, a in actions.items() if a is None]
    for name, action in actions.items():
        icon = action.icon()
        assert not icon.isNull(), name
        image = icon.pixmap(24, 24).toImage()
        alpha = np.array([[image.pixelColor(i, j).alpha() for i in range(24)] for j in range(24)])
        assert (alpha > 200).sum() >= 12, f"{name}: the icon draws almost nothing"
        assert (alpha == 0).sum() >= 100, f"{name}: the icon is a filled square"
        tip = action.toolTip()
        shortcut = action.shortcut().toString()
        assert shortcut and shortcut in tip, f"{name}: tooltip {tip!r} lacks the shortcut {shortcut!r}"
    assert {p.stem for p in icons.ICON_DIR.glob("*.svg")} == set(icons.TOOL_ICONS) | set(icons.ACTION_ICONS)
    toolbars = window.findChildren(QToolBar)
    assert any(tool_actions["polygon"] in bar.actions() for bar in toolbars)
    assert icons.icon("no_such_icon").isNull()


# ---------------------------------------------------------------- panels
def test_prelabels_panel_fits_a_1000_px_tall_window(window, qtbot) -> None:
    window.resize(1600, 1000)
    window.show_panel("predictions")
    panel = window.assist.predictions_panel
    qtbot.waitUntil(lambda: panel.isVisible() and panel.list.height() > 0, timeout=3000)
    for widget in (panel.slider, panel.list, panel.accept_button, panel.accept_all_button, panel.model_combo,
                   panel.prelabel_image_button, panel.prelabel_all_button):
        visible = widget.visibleRegion().boundingRect()
        assert visible.height() == widget.height(), f"{widget!r} is cut or scrolled out of view"
    assert panel.list.height() >= 48


def test_review_panel_runs_the_default_review_for_the_command_line(window) -> None:
    from annotations.model import ImageStatus, SetImageStatus
    from app.assist import prepare_panel

    window.show_panel("review")
    panel = window.assist.review_panel
    prepare_panel(window.assist, "review", wait=True)  # the fixture has no finished image yet
    assert panel.report is None and "No finished images" in panel.status_label.text()
    first = window.project.images()[0]
    window.execute(SetImageStatus(first.id, ImageStatus.DONE))
    prepare_panel(window.assist, "review", wait=True)
    assert panel.report is not None and panel.error_text == ""
    assert panel.image_ids_listed() == [first.id]
    assert panel.images_table.item(0, 4).text() == str(len(window.project.annotations(first.id)) - 1)  # FN (crowd ignored)
    assert "No model pre-labels" in panel.status_label.text()  # the fixture has no predictions
    assert not panel.run_default_review()  # a report is shown: never replaced behind the user's back


def test_screenshot_of_the_review_panel_shows_a_report(tmp_path: Path, monkeypatch, qapp) -> None:
    from app import launch
    from cli.gui import sample_working_copy

    project = sample_working_copy(tmp_path / "data")
    seen: dict[str, object] = {}
    real_save = launch.save_screenshot

    def save(window, path: Path) -> None:
        seen["report"] = window.assist.review_panel.report
        seen["rows"] = window.assist.review_panel.images_table.rowCount()
        seen["versions_text"] = window.assist.training_panel.on_screen_label.text()
        real_save(window, path)

    monkeypatch.setattr(launch, "save_screenshot", save)
    out = tmp_path / "review.png"
    assert launch.run_gui(project, screenshot=out, panel="review") == 0
    assert out.is_file() and seen["report"] is not None
    assert seen["rows"] == 2  # the sample's two done images, worst first
    assert "No model versions yet" in str(seen["versions_text"])
