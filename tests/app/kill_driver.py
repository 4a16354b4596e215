"""A GUI process for the crash test: opens the real main window offscreen on PROJECT, makes
edits with real mouse and key events, prints ``EDITS <json>`` and then waits in the event loop
to be killed. Usage: ``python tests/app/kill_driver.py PROJECT``."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from annotations.store import Project
from app.main_window import MainWindow


def main() -> int:
    app = QApplication(sys.argv[:1])
    window = MainWindow(Project.open(sys.argv[1]), owns_project=True)
    window.resize(1400, 900)
    window.show()
    window.activateWindow()
    for _ in range(20):
        app.processEvents()
    window.canvas.fit()
    viewport = window.canvas.viewport()

    def at(x: float, y: float):
        return window.canvas.mapFromScene(QPointF(x, y))

    def press_key(key: object, modifier: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier) -> None:
        window.canvas.setFocus()
        QTest.keyClick(window.canvas, key, modifier)

    before = {a.id for a in window.session.annotations.values()}
    press_key("r")
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(20, 20))
    QTest.mouseMove(viewport, at(60, 60))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(100, 80))
    press_key("p")
    for x, y in [(150, 100), (250, 110), (220, 200)]:
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(x, y))
    press_key(Qt.Key.Key_Return)
    press_key(Qt.Key.Key_Escape)
    window.session.set_selection(())
    press_key("b")
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(40, 120))
    QTest.mouseMove(viewport, at(80, 120))
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, at(120, 120))
    press_key(Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)  # mark the image done
    added = sorted({a.id for a in window.session.annotations.values()} - before)
    state = {
        "image_id": window.current_image().id,
        "status": window.current_image().status.value,
        "added": {str(i): window.session.annotations[i].geometry.kind.value for i in added},
    }
    print("EDITS " + json.dumps(state), flush=True)
    return int(app.exec())


if __name__ == "__main__":
    sys.exit(main())
