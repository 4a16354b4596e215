"""One undo truth: the project's persisted history is the window's undo. Ctrl+Z after a restart
or after another process (the engine worker, a CLI command) wrote an edit shows the image it
changes, or refuses, saying why, when the image filter hides it. Driven with real key events."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication

from annotations.geometry import Box, Polygon
from annotations.model import AddAnnotation, Annotation, ImageStatus, SetImageStatus
from annotations.store import Project
from app.main_window import MainWindow
from tests.app.gui_helpers import drag, key

CTRL = Qt.KeyboardModifier.ControlModifier
TRIANGLE = Polygon.from_points([[10, 10], [60, 12], [30, 50]])


def _open(qtbot, path: Path) -> MainWindow:
    project = Project.open(path)
    win = MainWindow(project, owns_project=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    win.canvas.fit()
    return win


def test_ctrl_z_after_reopening_shows_the_image_it_changes(qtbot, gui_project_path: Path) -> None:
    """Bug: on image 2, Ctrl+Z deleted a polygon on image 3 without showing it (the GUI's own
    undo stack knew images only for edits made since the window opened)."""
    with Project.open(gui_project_path) as project:
        third = project.images()[2]
        added = project.execute(AddAnnotation(Annotation(0, third.id, 2, TRIANGLE)))
    win = _open(qtbot, gui_project_path)
    second = win.session.images[1]
    win.open_image(second.id)
    key(qtbot, win, "z", CTRL)
    assert win.current_image().id == third.id
    assert added.annotation.id not in win.session.annotations
    assert win.project.annotations(third.id) == []
    message = win.statusBar().currentMessage()
    assert "Undone: Add polygon" in message and Path(third.path).name in message
    key(qtbot, win, "y", CTRL)  # redo comes back to the same image with the shape
    assert win.current_image().id == third.id
    assert added.annotation.id in win.session.annotations
    win.close()


def test_ctrl_z_after_another_process_wrote_shows_that_image(qtbot, window) -> None:
    """An edit made by another connection (as the engine worker or the CLI do) is undone on its
    own image, and the shapes shown are the store's."""
    images = window.session.images
    with Project.open(window.project.path) as other:
        added = other.execute(AddAnnotation(Annotation(0, images[2].id, 1, Box(5, 5, 40, 40))))
    assert window.current_image().id == images[0].id
    key(qtbot, window, "z", CTRL)
    assert window.current_image().id == images[2].id
    assert added.annotation.id not in window.session.annotations
    assert window.project.annotations(images[2].id) == []


def test_ctrl_z_refuses_when_the_filter_hides_the_image(qtbot, window) -> None:
    """With the list filtered to "Done", undoing an edit on a hidden image is refused with the
    reason; nothing changes. Showing all images lets the same Ctrl+Z through."""
    images = window.session.images
    window.open_image(images[2].id)
    key(qtbot, window, "r")
    drag(qtbot, window, [(20, 20), (80, 90)])
    assert len(window.session.annotations) == 1
    window.open_image(images[0].id)
    window.execute(SetImageStatus(images[0].id, ImageStatus.DONE))
    key(qtbot, window, "z", CTRL)  # undoes "Mark image done" on the image shown: allowed
    window.images_panel.set_status_filter("done")
    window.execute(SetImageStatus(images[0].id, ImageStatus.DONE))
    key(qtbot, window, "z", CTRL)  # the status step may bring the image back: allowed
    assert window.project.get_image(images[0].id).status is ImageStatus.NEW
    window.images_panel.set_status_filter("done")
    key(qtbot, window, "z", CTRL)  # next: the box on image 3, hidden by the filter
    assert len(window.project.annotations(images[2].id)) == 1
    assert "filter hides" in window.statusBar().currentMessage()
    window.images_panel.set_status_filter("all")
    key(qtbot, window, "z", CTRL)
    assert window.current_image().id == images[2].id


def test_status_bar_and_list_follow_an_undone_status(qtbot, window) -> None:
    """Bug: after undoing "Mark image done" made outside this window's own edits (before a
    restart, or by another process) the status bar said "· done" while the list said "new"."""
    image = window.current_image()
    with Project.open(window.project.path) as other:
        other.execute(SetImageStatus(image.id, ImageStatus.DONE))
    window.refresh()  # as after an engine job
    assert "· done" in window.status_image.text()
    key(qtbot, window, "z", CTRL)
    status = window.project.get_image(image.id).status
    assert status is ImageStatus.NEW
    assert window.status_image.text().split(" · ")[1] == "new"
    row = window.images_panel.model.row_of(image.id)
    assert window.images_panel.model.rows[row].status is status


def test_first_shape_marks_a_new_image_in_progress_in_the_same_undo_step(qtbot, window) -> None:
    """Bug: images with shapes stayed "new", so the "In progress" filter was useless."""
    gray = window.session.images[1]
    window.open_image(gray.id)
    assert gray.status is ImageStatus.NEW
    key(qtbot, window, "r")
    drag(qtbot, window, [(20, 20), (80, 90)])
    assert window.project.get_image(gray.id).status is ImageStatus.IN_PROGRESS
    assert "in progress" in window.status_image.text()
    drag(qtbot, window, [(100, 100), (150, 160)])  # a second shape: no second status step
    key(qtbot, window, "z", CTRL)
    assert window.project.get_image(gray.id).status is ImageStatus.IN_PROGRESS
    key(qtbot, window, "z", CTRL)  # shape and status go back together
    assert window.project.get_image(gray.id).status is ImageStatus.NEW
    assert window.session.annotations == {}


def test_accepting_a_prediction_with_enter_marks_the_image_in_progress_and_undoes_as_one(qtbot, window) -> None:
    from annotations.model import ModelVersion, Prediction, PredictionState

    project = window.project
    image = window.session.images[1]
    version = project.add_model_version(ModelVersion(0, "unet_tiny", (1, 2)))
    project.add_predictions([Prediction(0, image.id, 1, Box(10, 10, 50, 50), 0.9, version.id),
                             Prediction(0, image.id, 2, Box(60, 60, 90, 90), 0.8, version.id)])
    window.open_image(image.id)
    layer = window.assist.layer
    window.assist.context.predictionsChanged.emit()
    qtbot.waitUntil(lambda: len(layer.predictions) == 2, timeout=5000)
    chosen = layer.predictions[0]
    layer.select(chosen.id)
    window.canvas.setFocus()
    qtbot.keyClick(window.canvas, Qt.Key.Key_Return)
    assert project.get_prediction(chosen.id).state is PredictionState.ACCEPTED
    assert project.get_image(image.id).status is ImageStatus.IN_PROGRESS
    made = [a for a in window.session.annotations.values() if a.origin_prediction_id == chosen.id]
    assert len(made) == 1
    key(qtbot, window, "z", CTRL)
    assert project.get_prediction(chosen.id).state is PredictionState.PROPOSED
    assert project.get_image(image.id).status is ImageStatus.NEW
