"""Realistic annotator sessions driven through real key and mouse events on the window: the
bugs a bug hunt found (each test failed before its fix)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from annotations.geometry import Box
from annotations.model import ImageStatus
from tests.app.gui_helpers import click, drag, key, settle

CTRL = Qt.KeyboardModifier.ControlModifier


def test_ctrl_z_while_drawing_a_polygon_removes_the_last_vertex_only(qtbot, window) -> None:
    """labelme habit: Ctrl+Z mid-polygon undoes the last point; it used to throw the whole
    outline away and also undo the previous, unrelated edit."""
    key(qtbot, window, "r")
    drag(qtbot, window, [(100, 100), (150, 150)])
    count = len(window.session.annotations)
    key(qtbot, window, "p")
    for x, y in [(20, 20), (60, 20), (60, 60), (20, 60)]:
        click(qtbot, window, x, y)
    key(qtbot, window, "z", CTRL)
    assert len(window.tool.points) == 3
    assert len(window.session.annotations) == count  # the box is still there
    key(qtbot, window, Qt.Key.Key_Return)
    assert len(window.session.annotations) == count + 1
    key(qtbot, window, "z", CTRL)  # with no outline in progress Ctrl+Z is the normal undo
    assert len(window.session.annotations) == count


def test_typing_in_the_attribute_table_does_not_fire_window_shortcuts(qtbot, qtlog, window) -> None:
    """A digit typed into the attributes table edits the cell; it used to switch the class and
    re-class the selected shape. Delete there removes the attribute, not the shape."""
    box = next(a for a in window.session.ordered_annotations() if isinstance(a.geometry, Box))
    window.session.set_selection((box.id,))
    window.properties_panel.add_attribute_row()
    table = window.properties_panel.attributes
    table.setFocus()
    table.setCurrentCell(0, 1)
    settle()
    qtbot.keyClick(table, "2")
    settle()
    assert window.session.annotations[box.id].category_id == 1
    assert window.session.current_category_id == 1
    editor = table.focusWidget()
    assert editor is not table and editor.text() == "2"  # typing opened the cell editor
    qtbot.keyClick(editor, Qt.Key.Key_Return)
    settle()
    assert window.session.annotations[box.id].attributes == {"attribute1": 2}
    # The commit did not rebuild the table under its own editor.
    assert not [r for r in qtlog.records if "commitData" in r.message]
    table.setFocus()
    table.setCurrentCell(0, 1)
    qtbot.keyClick(table, Qt.Key.Key_Delete)
    assert box.id in window.session.annotations
    assert window.session.annotations[box.id].attributes == {}


def test_class_filter_follows_a_merge_of_classes(qtbot, window) -> None:
    """Images listed under a class filter are re-read after a merge (shapes on other images
    changed class); a filter on the merged-away class falls back to every image."""
    images = window.session.images
    key(qtbot, window, "d")
    key(qtbot, window, "3")
    key(qtbot, window, "r")
    drag(qtbot, window, [(10, 10), (50, 50)])  # a "cluster" box on image 2
    key(qtbot, window, "a")
    panel = window.images_panel
    panel.set_class_filter(2)
    assert [i.id for i in panel.model.rows] == [images[0].id]
    categories = {c.id: c for c in window.session.categories}
    window.labels_panel.merge_category(categories[3], categories[2])
    assert [i.id for i in panel.model.rows] == [images[0].id, images[1].id]
    panel.set_class_filter(4)
    window.labels_panel.merge_category(categories[4], categories[1])
    assert panel.class_filter.currentData() is None
    assert len(panel.model.rows) == len(images)


def test_next_image_under_the_unfinished_filter_continues_after_marking_done(qtbot, window) -> None:
    """With the "Unfinished" filter, marking image 2 done drops it from the list; D must then
    go on to image 3, not back to image 1."""
    images = window.session.images
    window.images_panel.set_status_filter("unfinished")
    key(qtbot, window, "d")
    assert window.current_image().id == images[1].id
    key(qtbot, window, Qt.Key.Key_Return, CTRL)
    assert window.project.get_image(images[1].id).status is ImageStatus.DONE
    key(qtbot, window, "d")
    assert window.current_image().id == images[2].id
    key(qtbot, window, "a")
    assert window.current_image().id == images[0].id


def test_undo_of_a_merge_stays_on_the_image_shown(qtbot, window) -> None:
    """A merge changes shapes on every image: undoing it used to jump to whichever image held
    the first moved shape. The classes and the shapes' classes come back."""
    images = window.session.images
    key(qtbot, window, "d")
    key(qtbot, window, "d")
    categories = {c.id: c for c in window.session.categories}
    before = {a.id: a.category_id for a in window.project.annotations(images[0].id)}
    window.labels_panel.merge_category(categories[1], categories[2])
    assert 1 not in {c.id for c in window.session.categories}
    key(qtbot, window, "z", CTRL)
    assert window.current_image().id == images[2].id
    assert [c.id for c in window.session.categories] == [1, 2, 3, 4]
    assert {a.id: a.category_id for a in window.project.annotations(images[0].id)} == before
    key(qtbot, window, "a")
    key(qtbot, window, "a")
    shapes = window.binding.render
    expected = {a.id: window.session.color_of(a.category_id) for a in window.session.annotations.values()}
    assert {i: shapes[i].color for i in shapes} == expected


def test_paste_onto_a_smaller_image_says_what_was_left_out(qtbot, window) -> None:
    """Shapes that fall outside a smaller image are not pasted, and the message says so."""
    images = window.session.images
    key(qtbot, window, "r")
    drag(qtbot, window, [(270, 10), (310, 40)])  # beyond x = 256, the width of image 2
    outside_id = window.session.selection[0]
    box = next(a for a in window.session.ordered_annotations() if isinstance(a.geometry, Box) and a.id != outside_id)
    window.session.set_selection((box.id, outside_id))
    key(qtbot, window, "c", CTRL)
    key(qtbot, window, "d")
    assert window.current_image().size_hw == (256, 256)
    key(qtbot, window, "v", CTRL)
    assert [a.geometry for a in window.session.ordered_annotations()] == [box.geometry]
    message = window.statusBar().currentMessage()
    assert "Pasted 1 shape" in message and "1 outside this image" in message
    window.session.set_selection(())
    window.clipboard = window.clipboard[1:]  # only the one outside
    key(qtbot, window, "v", CTRL)
    assert len(window.session.annotations) == 1
    assert "Nothing to paste" in window.statusBar().currentMessage() and "outside" in window.statusBar().currentMessage()
    assert window.current_image().id == images[1].id


def test_project_whose_image_folder_was_moved(qtbot, tmp_path, shared_data) -> None:
    """Every image file missing (the folder was moved): the window opens, names the missing
    file, says "not found" rather than "cannot decode", still lists and edits the shapes."""
    import shutil

    from PIL import Image as PILImage

    from annotations.model import Annotation, Category, Image
    from annotations.store import Project
    from app.main_window import MainWindow
    from tests.app.gui_helpers import COLOR_IMAGE, GRAY_IMAGES, dsb_image

    folder = tmp_path / "images"
    folder.mkdir()
    files = [Path(shutil.copy(dsb_image(shared_data, i), folder / f"{i[:8]}.png")) for i in (COLOR_IMAGE, *GRAY_IMAGES)]
    project = Project.create(tmp_path / "moved.segproj", [Category(1, "nucleus", "#e6194b")])
    images = project.add_images([Image(0, f"images/{f.name}", *PILImage.open(f).size) for f in files])
    project.add_annotations([Annotation(0, images[0].id, 1, Box(5, 5, 40, 40))])
    project.close()
    folder.rename(tmp_path / "elsewhere")

    window = MainWindow(Project.open(tmp_path / "moved.segproj"), owns_project=True)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    window.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=3000)
    assert "0d3640c1.png" in window.statusBar().currentMessage() and "not found" in window.statusBar().currentMessage()
    assert "file not found" in window.status_image.text()
    assert window.annotations_panel.model.rowCount() == 1 and window.canvas_shape(1) is not None
    window.session.set_selection((1,))
    key(qtbot, window, Qt.Key.Key_Right)  # nudge: still editable
    assert window.project.get_annotation(1).geometry == Box(6, 5, 41, 40)
    key(qtbot, window, "d")
    key(qtbot, window, "d")
    assert window.current_image().id == images[2].id and "not found" in window.status_image.text()
    window.close()
