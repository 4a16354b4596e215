"""Stale or raw text (issue 14 item 6): the training data line follows the statuses live, no
retraining text while auto-retrain is off (and no store reads on its timer), numbers from the
engine are rounded, window size and dock layout are remembered."""

from __future__ import annotations

from PySide6.QtCore import Qt

from annotations.store import Project
from app.assist.text_format import tidy_numbers
from app.main_window import MainWindow
from tests.app.gui_helpers import key

CTRL = Qt.KeyboardModifier.ControlModifier


def test_training_data_line_follows_marking_done(qtbot, window) -> None:
    """Bug: "Training data: 1 finished" while 3 were done."""
    panel = window.assist.training_panel
    assert panel.data_label.text().startswith("Training data: 0 finished of 3")
    for _ in range(3):
        key(qtbot, window, Qt.Key.Key_Return, CTRL)
        key(qtbot, window, "d")
    assert panel.data_label.text().startswith("Training data: 3 finished of 3")
    key(qtbot, window, "z", CTRL)
    assert panel.data_label.text().startswith("Training data: 2 finished of 3")


def test_no_retraining_text_and_no_timer_while_auto_retrain_is_off(qtbot, window, monkeypatch) -> None:
    """Bug: "Retraining: 5 newly finished images" while auto-retrain was off and nothing ran;
    its 3-second timer read the retrain state on the GUI thread anyway (615 ms at 100,000 images)."""
    import app.assist.training_panel as training_module

    panel = window.assist.training_panel
    panel.auto_every.setValue(1)
    calls: list[int] = []
    real = training_module.decide
    monkeypatch.setattr(training_module, "decide", lambda *a, **k: calls.append(1) or real(*a, **k))
    for _ in range(3):
        key(qtbot, window, Qt.Key.Key_Return, CTRL)
        key(qtbot, window, "d")
    panel.check_auto_retrain()
    assert not panel.auto_check.isChecked()
    assert "Retraining" not in panel.auto_status.text() and panel.auto_status.text().startswith("Off")
    assert calls == [] and not panel.auto_timer.isActive()
    panel.auto_check.setChecked(True)
    assert panel.auto_timer.isActive() and calls


def test_engine_numbers_are_rounded() -> None:
    assert tidy_numbers("epoch 3/10: miou 0.43412547882535674") == "epoch 3/10: miou 0.434"
    assert tidy_numbers("v1.2 took 12.5 s, 3 images") == "v1.2 took 12.5 s, 3 images"


def test_window_size_and_dock_layout_are_remembered(qtbot, gui_project_path) -> None:
    first = MainWindow(Project.open(gui_project_path), owns_project=True, remember_layout=True)
    qtbot.addWidget(first)
    first.resize(700, 520)  # inside the offscreen screen (restoreGeometry clamps to it)
    first.show()
    qtbot.waitExposed(first)
    first.show_panel("training")
    first._panels["labels"].hide()
    size = (first.width(), first.height())  # the training dock may raise the minimum height
    assert size[0] == 700
    first.close()
    second = MainWindow(Project.open(gui_project_path), owns_project=True, remember_layout=True)
    qtbot.addWidget(second)
    second.show()
    qtbot.waitExposed(second)
    qtbot.waitUntil(lambda: not second.building)  # the assist docks come in the staged build
    assert (second.width(), second.height()) == size
    assert second._panels["training"].isVisible()
    assert not second._panels["labels"].isVisible()
    second.close()


def test_wait_until_ready_waits_for_the_visible_thumbnails(window) -> None:
    """Bug: screenshots showed grey thumbnail boxes (taken before the thumbnails were decoded)."""
    window.wait_until_ready()
    cache, model = window.images_panel.thumbnails, window.images_panel.model
    assert cache.pending() == 0
    assert all(cache._pixmaps.get(image.id) is not None or cache._images.get(image.id) is not None for image in model.rows)


def test_a_bottom_panel_leaves_the_canvas_most_of_the_height(qtbot, window) -> None:
    """Bug: the bottom dock squeezed the canvas."""
    window.resize(1400, 800)
    window.show_panel("training")
    qtbot.wait(50)
    assert window._panels["training"].height() <= 0.34 * window.height()
    assert window.canvas.height() >= 0.45 * window.height()
