"""The window checks a project opened with ``defer_check`` in the background: a sound file
changes nothing; a damaged one is reported (naming the file and the repair command) and the
window stops writing to it (edits are refused with a message, never half-done)."""

from __future__ import annotations

from pathlib import Path

from annotations.geometry import Box
from annotations.store import Project
from app.main_window import MainWindow
from tests.annotations.store.test_store_deferred_check import _damaged_but_openable, _project


def _window(qtbot, path: Path) -> MainWindow:
    window = MainWindow(Project.open(path, defer_check=True), owns_project=True)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.integrity.result is not None, timeout=30_000)
    return window


def test_a_sound_deferred_project_stays_writable(qtbot, tmp_path: Path) -> None:
    window = _window(qtbot, _project(tmp_path / "p.segproj", images=3, annotations=6))
    assert window.integrity.result is True and not window.project.readonly
    assert window.create_annotation(Box(1, 1, 10, 10)) is not None
    window.close()


def test_a_damaged_deferred_project_is_reported_and_not_written(qtbot, tmp_path: Path) -> None:
    damaged = _damaged_but_openable(_project(tmp_path / "p.segproj"))
    window = _window(qtbot, damaged)
    assert window.integrity.result is False and window.project.readonly
    message = window.statusBar().currentMessage()
    assert damaged.name in message and "repair" in message
    before = len(window.session.annotations)
    assert window.create_annotation(Box(1, 1, 10, 10)) is None  # refused with a message, no traceback
    assert "read-only" in window.statusBar().currentMessage()
    assert len(window.session.annotations) == before
    window.close()


def test_closing_the_window_stops_a_running_check_and_leaves_no_log(qtbot, tmp_path: Path, monkeypatch) -> None:
    """A check still reading when the window closes used to keep its connection (and so the
    file's ``-wal`` log) past the project's close: the next opening took that for a crash and
    checked the whole file while the user waited."""
    from annotations.store import integrity
    from tests.annotations.store.test_store_deferred_check import _endless_check

    path = _project(tmp_path / "p.segproj", images=3, annotations=6)
    monkeypatch.setattr(integrity, "check_integrity", _endless_check)
    window = MainWindow(Project.open(path, defer_check=True), owns_project=True)
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.integrity._check is not None and window.integrity._check._db is not None, timeout=10_000)
    window.close()
    assert window.integrity._thread is not None and not window.integrity._thread.is_alive()
    assert window.integrity.result is None  # stopped: nothing reported
    assert not Path(f"{path}-wal").exists()
    monkeypatch.undo()
    with Project.open(path, defer_check=True) as reopened:
        assert not reopened.integrity_checked  # closed cleanly: no check while opening
