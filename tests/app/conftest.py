"""Fixtures for the workspace GUI tests: a real project on real images and a shown window."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("PySide6")


@pytest.fixture
def gui_project_path(tmp_path: Path, shared_data: Path) -> Path:
    """A project file with 3 real images; the first has shapes of every kind."""
    from tests.app.gui_helpers import build_project

    return build_project(tmp_path, shared_data)


@pytest.fixture
def window(qtbot, gui_project_path: Path):
    """The main window on :func:`gui_project_path`, shown, active, 1400 x 900, built (the
    assist panels, tool and menu come in event-loop turns after show: waited for)."""
    from PySide6.QtWidgets import QApplication

    from annotations.store import Project
    from app.main_window import MainWindow

    project = Project.open(gui_project_path)
    win = MainWindow(project, owns_project=True)
    qtbot.addWidget(win)
    win.resize(1400, 900)
    win.show()
    qtbot.waitExposed(win)
    qtbot.waitUntil(lambda: not win.building, timeout=10_000)
    win.activateWindow()
    qtbot.waitUntil(lambda: QApplication.activeWindow() is win, timeout=3000)
    win.canvas.fit()
    win.canvas.shape_layer.synchronous = True
    yield win
    if win.isVisible():
        win.close()


@pytest.fixture(autouse=True)
def _user_settings_in_tmp(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test gets its own empty settings file (window layout, shortcut scheme), never the
    user's real one."""
    from PySide6.QtCore import QSettings

    folder = tmp_path_factory.mktemp("qsettings")
    QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(folder))
