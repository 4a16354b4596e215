"""The GUI on a full disk or a read-only project (issue 17): the edit is refused with a clear
status-bar message, nothing is applied, and it can be retried once the fault is gone."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image as PILImage

pytest.importorskip("PySide6")
pytest.importorskip("pytestqt")


@pytest.fixture
def window(qtbot, tmp_path: Path):
    from annotations.model import Category, Image
    from annotations.store import Project
    from app.main_window import MainWindow

    PILImage.fromarray(np.zeros((200, 300, 3), np.uint8)).save(tmp_path / "a.png")
    with Project.create(tmp_path / "p.segproj", [Category(1, "cell", "#ff0000")]) as project:
        project.add_images([Image(0, "a.png", 300, 200)])
    win = MainWindow(Project.open(tmp_path / "p.segproj"), owns_project=True)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    if win.isVisible():
        win.close()


def _big_polygon():
    from annotations.geometry import Polygon

    angles = np.linspace(0, 2 * np.pi, 6000, endpoint=False)
    return Polygon.from_points(np.stack([150 + 80 * np.cos(angles), 100 + 80 * np.sin(angles)], axis=1))


def test_full_disk_edit_is_refused_with_a_message_and_can_be_retried(window) -> None:
    project = window.session.project
    if window.session.image is None:
        window.session.open_image(project.images()[0].id)
    before = len(project.annotations())
    pages = project._db.execute("PRAGMA page_count").fetchone()[0]
    project._db.execute(f"PRAGMA max_page_count = {pages}")  # the file cannot grow: SQLITE_FULL
    assert window.create_annotation(_big_polygon()) is None
    assert "disk is full" in window.statusBar().currentMessage()
    assert len(project.annotations()) == before and len(window.session.annotations) == before
    project._db.execute(f"PRAGMA max_page_count = {pages * 1000}")
    assert window.create_annotation(_big_polygon()) is not None  # retried once space is back
    assert len(project.annotations()) == before + 1


def test_read_only_project_edit_is_refused_with_a_message(window) -> None:
    from annotations.geometry import Box

    project = window.session.project
    if window.session.image is None:
        window.session.open_image(project.images()[0].id)
    project._db.execute("PRAGMA query_only = ON")  # what a file made read-only under us looks like to SQLite
    assert window.create_annotation(Box(10, 10, 50, 50)) is None
    assert "read-only" in window.statusBar().currentMessage()
    assert project.annotations() == []
