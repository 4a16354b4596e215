"""Shortcut schemes (labelme, CVAT habits) chosen in Preferences, rebindable, remembered in the
settings file and listed in the help; pressed as real key events on the canvas."""

from __future__ import annotations

from PySide6.QtCore import Qt

from annotations.store import Project
from app.main_window import MainWindow
from app.shortcuts import Scheme, conflicts, scheme_bindings
from tests.app.gui_helpers import key

CTRL = Qt.KeyboardModifier.ControlModifier


def _choose(window, scheme: Scheme, rebind: dict[str, tuple[str, ...]] | None = None):
    window.actions_by_key["preferences"].trigger()
    dialog = window._preferences_dialog
    dialog.scheme_box.setCurrentIndex(dialog.scheme_box.findData(scheme.value))
    for name, sequences in (rebind or {}).items():
        dialog.set_binding(name, sequences)
    dialog.accept()
    return dialog


def test_labelme_keys_do_what_labelme_users_expect(qtbot, window) -> None:
    """Bug: labelme's Ctrl+N / Ctrl+R / Ctrl+J / Ctrl+S silently did nothing."""
    key(qtbot, window, "n", CTRL)
    assert window.tool.name == "select"  # the SegStudio scheme has no Ctrl+N
    _choose(window, Scheme.LABELME)
    key(qtbot, window, "n", CTRL)
    assert window.tool.name == "polygon"
    key(qtbot, window, "r", CTRL)
    assert window.tool.name == "box"
    key(qtbot, window, "j", CTRL)
    assert window.tool.name == "select"
    key(qtbot, window, "s", CTRL)
    assert "saved" in window.statusBar().currentMessage().lower()


def test_cvat_f_d_n(qtbot, window) -> None:
    """Bug: CVAT's F and D meant other things here (fit, next) and N nothing."""
    images = window.session.images
    _choose(window, Scheme.CVAT)
    key(qtbot, window, "f")
    assert window.current_image().id == images[1].id
    key(qtbot, window, "d")
    assert window.current_image().id == images[0].id
    key(qtbot, window, "r")
    key(qtbot, window, "v")
    key(qtbot, window, "n")  # draw again with the last drawing tool
    assert window.tool.name == "box"


def test_a_rebinding_is_remembered_and_listed_in_the_help(qtbot, window, gui_project_path) -> None:
    _choose(window, Scheme.CVAT, {"undo": ("Ctrl+U",)})
    window.actions_by_key["help"].trigger()
    rows = window._help_dialog.texts()
    assert any(r[2] == "Undo" and r[1] == "Ctrl+U" for r in rows)
    assert any(r[2] == "Next image" and r[1] == "F" for r in rows)
    assert "CVAT" in window._help_dialog.windowTitle()
    window.close()
    again = MainWindow(Project.open(gui_project_path), owns_project=True)
    qtbot.addWidget(again)
    assert again.shortcut_scheme is Scheme.CVAT
    assert again.actions_by_key["undo"].shortcut().toString() == "Ctrl+U"
    assert again.actions_by_key["next_image"].shortcut().toString() == "F"
    again.close()


def test_conflicting_bindings_block_ok(qtbot, window) -> None:
    window.actions_by_key["preferences"].trigger()
    dialog = window._preferences_dialog
    dialog.set_binding("undo", ("Ctrl+S",))
    assert "Ctrl+S" in dialog.problem.text()
    assert not dialog.buttons.button(dialog.buttons.StandardButton.Ok).isEnabled()
    dialog.reject()


def test_every_scheme_is_free_of_conflicts() -> None:
    for scheme in Scheme:
        assert conflicts(scheme_bindings(scheme)) == {}, scheme
