"""The side panels with real widgets: classes, shapes list, properties, image list, status bar."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QItemSelectionModel, QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QColorDialog, QInputDialog

from annotations.geometry import Box, Mask
from annotations.model import ImageStatus, SetImageStatus
from tests.app.gui_helpers import view_point


def test_labels_panel_add_rename_recolour_merge_delete(qtbot, window, monkeypatch) -> None:
    panel = window.labels_panel
    assert panel.list.count() == 4
    assert panel.list.item(0).text().startswith("1  nucleus")

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("organelle", True))
    qtbot.mouseClick(panel.add_button, Qt.MouseButton.LeftButton)
    added = window.project.category_by_name("organelle")
    assert added is not None and panel.list.count() == 5
    assert window.session.current_category_id == added.id
    assert added.color.lower() not in {c.color.lower() for c in window.session.categories if c.id != added.id}

    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("mitochondrion", True))
    qtbot.mouseClick(panel.rename_button, Qt.MouseButton.LeftButton)
    assert window.project.get_category(added.id).name == "mitochondrion"

    monkeypatch.setattr(QColorDialog, "getColor", lambda *a, **k: QColor("#123456"))
    qtbot.mouseClick(panel.color_button, Qt.MouseButton.LeftButton)
    assert window.project.get_category(added.id).color == "#123456"

    # Merge 'artefact' (the two-part polygon) into 'debris'.
    artefact = window.project.category_by_name("artefact")
    debris = window.project.category_by_name("debris")
    panel.list.setCurrentRow(3)
    assert panel.selected_category().id == artefact.id
    monkeypatch.setattr(QInputDialog, "getItem", lambda *a, **k: ("debris", True))
    qtbot.mouseClick(panel.merge_button, Qt.MouseButton.LeftButton)
    assert window.project.category_by_name("artefact") is None
    assert all(a.category_id != artefact.id for a in window.project.annotations())
    assert sum(a.category_id == debris.id for a in window.session.annotations.values()) == 2
    # The merge is one undo step.
    window.actions_by_key["undo"].trigger()
    assert window.project.category_by_name("artefact") is not None
    assert sum(a.category_id == artefact.id for a in window.session.annotations.values()) == 1

    # Delete: refused for a used class, done for an unused one.
    panel.list.setCurrentRow(0)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert window.project.category_by_name("nucleus") is not None
    assert "Cannot delete" in window.statusBar().currentMessage()
    row = next(r for r in range(panel.list.count()) if "mitochondrion" in panel.list.item(r).text())
    panel.list.setCurrentRow(row)
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert window.project.category_by_name("mitochondrion") is None


def test_recolour_repaints_the_shapes(qtbot, window) -> None:
    panel = window.labels_panel
    box = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Box))
    panel.recolor_category(window.session.category(box.category_id), "#00ff00")
    assert window.canvas_shape(box.id).color == "#00ff00"
    window.canvas.flush_rendering()
    image = window.canvas.grab().toImage()
    edge = image.pixelColor(view_point(window, box.geometry.x1 + 0.2, (box.geometry.y1 + box.geometry.y2) / 2))
    assert edge.green() > 180 and edge.red() < 120


def test_annotations_panel_select_hide_order_and_class(qtbot, window) -> None:
    panel = window.annotations_panel
    table, model = panel.table, panel.model
    assert model.rowCount() == 5
    first = model.rows[0]
    assert first.id == window.session.ordered_annotations()[-1].id  # front-most first

    table.selectRow(2)
    assert window.session.selection == (model.rows[2].id,)
    selected_id = model.rows[2].id
    assert window.canvas.selection_overlay.shapes[0].annotation_id == selected_id

    # Canvas selection selects the row.
    window.session.set_selection((first.id,))
    assert [i.row() for i in table.selectionModel().selectedRows()] == [0]

    # Hide with the check box: the shape layer stops drawing it and clicks go through it.
    index = model.index(0, 0)
    model.setData(index, Qt.CheckState.Unchecked.value, Qt.ItemDataRole.CheckStateRole)
    assert first.id in window.session.hidden and first.id not in window.session.selection
    assert window.canvas.shape_layer._drawn[list(window.canvas.shape_layer._ids).index(first.id)] == False  # noqa: E712
    model.setData(index, Qt.CheckState.Checked.value, Qt.ItemDataRole.CheckStateRole)
    assert first.id not in window.session.hidden

    # z-order buttons.
    back_most = window.session.ordered_annotations()[0]
    window.session.set_selection((back_most.id,))
    qtbot.mouseClick(panel.front_button, Qt.MouseButton.LeftButton)
    assert window.session.ordered_annotations()[-1].id == back_most.id
    assert model.rows[0].id == back_most.id
    qtbot.mouseClick(panel.back_button, Qt.MouseButton.LeftButton)
    assert window.session.ordered_annotations()[0].id == back_most.id

    # Change class from the class menu.
    panel._fill_class_menu()
    panel.class_menu.actions()[2].trigger()  # 'cluster'
    assert window.session.annotations[back_most.id].category_id == 3

    # Multi-selection in the table.
    flag = QItemSelectionModel.SelectionFlag
    table.selectionModel().select(model.index(1, 0), flag.Select | flag.Rows)
    assert len(window.session.selection) == 2
    qtbot.mouseClick(panel.delete_button, Qt.MouseButton.LeftButton)
    assert model.rowCount() == 3


def test_properties_panel_iscrowd_attributes_and_class(qtbot, window) -> None:
    panel = window.properties_panel
    assert not panel.iscrowd.isEnabled()
    mask = next(a for a in window.session.annotations.values() if isinstance(a.geometry, Mask) and not a.iscrowd)
    window.session.set_selection((mask.id,))
    assert panel.iscrowd.isEnabled() and not panel.iscrowd.isChecked()
    assert "Area" in panel.info.text()
    qtbot.mouseClick(panel.iscrowd, Qt.MouseButton.LeftButton)
    assert window.project.get_annotation(mask.id).iscrowd is True

    qtbot.mouseClick(panel.add_attribute_button, Qt.MouseButton.LeftButton)
    assert window.project.get_annotation(mask.id).attributes == {"attribute1": ""}
    panel.attributes.item(0, 0).setText("occluded")
    panel.attributes.item(0, 1).setText("true")
    assert window.project.get_annotation(mask.id).attributes == {"occluded": True}
    panel.attributes.item(0, 1).setText("0.75")
    assert window.project.get_annotation(mask.id).attributes == {"occluded": 0.75}

    panel.category.setCurrentIndex(panel.category.findData(4))
    assert window.project.get_annotation(mask.id).category_id == 4

    # Two shapes: class applies to both, attributes are off.
    other = next(a for a in window.session.annotations.values() if a.id != mask.id)
    window.session.set_selection((mask.id, other.id))
    assert "2 shapes" in panel.title.text() and not panel.attributes.isEnabled()
    panel.category.setCurrentIndex(panel.category.findData(2))
    assert {window.project.get_annotation(i).category_id for i in (mask.id, other.id)} == {2}


def test_images_panel_filters_thumbnails_and_navigation(qtbot, window) -> None:
    panel = window.images_panel
    images = window.session.images
    assert panel.model.rowCount() == 3
    qtbot.waitUntil(
        lambda: all(panel.model.data(panel.model.index(r), Qt.ItemDataRole.DecorationRole) is not None for r in range(3)),
        timeout=10000,
    )

    window.execute(SetImageStatus(images[1].id, ImageStatus.DONE))
    panel.set_status_filter("done")
    assert [i.id for i in panel.model.rows] == [images[1].id]
    panel.set_status_filter("unfinished")
    assert [i.id for i in panel.model.rows] == [images[0].id, images[2].id]
    panel.set_status_filter("all")

    panel.set_class_filter(3)  # 'cluster': only the first image has one
    assert [i.id for i in panel.model.rows] == [images[0].id]
    panel.set_class_filter(-1)  # images without shapes
    assert [i.id for i in panel.model.rows] == [images[1].id, images[2].id]
    panel.set_class_filter(None)

    rect = panel.list.visualRect(panel.model.index(2))
    qtbot.mouseClick(panel.list.viewport(), Qt.MouseButton.LeftButton, pos=rect.center())
    assert window.current_image().id == images[2].id
    qtbot.mouseClick(panel.prev_button, Qt.MouseButton.LeftButton)  # previous unfinished: image 1 (2 is done)
    assert window.current_image().id == images[0].id
    assert "3 of 3 images shown · 1 done" == panel.summary.text()


def test_status_bar_shows_zoom_cursor_pixel_and_size(qtbot, window) -> None:
    image = window.current_image()
    assert window.status_size.text() == f"{image.width} × {image.height} px"
    assert window.status_zoom.text() == f"Zoom {window.canvas.scale_factor() * 100:.0f}%"
    qtbot.mouseMove(window.canvas.viewport(), view_point(window, 100.5, 50.5))
    text = window.status_cursor.text()
    assert text.startswith("x 100, y 50 · RGB ")
    pixels = window.binding.display.pixels
    b, g, r = (int(v) for v in pixels[50, 100, :3])
    assert text.endswith(f"RGB {r},{g},{b}")
    qtbot.mouseMove(window.canvas.viewport(), QPoint(2, 2))
    assert "outside" in window.status_cursor.text()
    window.canvas.zoom_by(2.0)
    assert window.status_zoom.text() == f"Zoom {window.canvas.scale_factor() * 100:.0f}%"


def test_window_title_and_panel_api(qtbot, window) -> None:
    assert window.windowTitle().startswith(window.current_image().path.split("/")[-1])
    with pytest.raises(KeyError):
        window.show_panel("no-such-panel")
    for name in ("images", "labels", "annotations", "properties"):
        window.show_panel(name)
        assert window._panels[name].isVisible()
