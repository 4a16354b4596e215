"""Starting the GUI: ``run_gui(project_path, screenshot=None, panel=None) -> exit code``.

With ``screenshot`` the window is rendered offscreen (no display needed), saved as PNG, and the
process exits 0. Bad input (missing or corrupt project, unknown panel) gives exit code 2 with
the message on stderr (with ``screenshot``) or in an error dialog.
"""

from __future__ import annotations

import gc
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from annotations.errors import AnnotationsError

if TYPE_CHECKING:  # PySide6 is imported when the GUI starts, not when this module is imported
    from PySide6.QtCore import QCoreApplication

    from app.main_window import MainWindow

SCREENSHOT_SIZE = (1600, 1000)
EXIT_OK, EXIT_BAD_INPUT = 0, 2
EXIT_MISSING_SYSTEM_LIBRARIES = 1  # not the user's input: the desktop lacks Qt's X11 libraries


def _application(offscreen: bool) -> QCoreApplication:
    if offscreen and "QT_QPA_PLATFORM" not in os.environ:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        app = QApplication(sys.argv[:1])
        app.setApplicationName("SegStudio")
        app.setOrganizationName("SegStudio")
        app.setStyle("Fusion")
    return app


def preload_gui() -> None:
    """Do at application start, before a window exists, what would otherwise stall the first
    window: import every GUI module (~0.3-0.6 s compiled from source, less from ``.pyc``), load
    the toolbar icons (the SVG plugin and the 20 px pixmaps) and freeze what exists then out of
    the garbage collector's generations (``gc.freeze``). Needs the QApplication."""
    from PySide6.QtCore import QSize

    import app.main_window  # noqa: F401 - imported for its side effect: the modules are loaded
    from app import icons
    from app.assist import preload

    preload()
    for name in (*icons.TOOL_ICONS, *icons.ACTION_ICONS):
        icons.icon(name).pixmap(QSize(20, 20))
    warm_up_widgets()
    # What start-up made (modules, classes, Qt wrappers: hundreds of thousands of objects) lives
    # as long as the process: out of the collector's sight, a full collection while a window
    # opens takes a few milliseconds instead of ~30-50 ms.
    gc.collect()
    gc.freeze()


WARM_UP_WINDOW = "warmUpWindow"
"""The object name of :func:`warm_up_widgets`' throwaway window."""


def warm_up_widgets() -> None:
    """Build, lay out and render off screen (into a pixmap; nothing is shown) a throwaway main
    window made of the widget kinds the real one uses, then delete it (~25 ms at start).

    PySide6 creates its Python types and enums on first use, and Qt its style and font caches on
    first layout: ~15-20 ms the first window would otherwise spend in its opening stall."""
    from PySide6.QtCore import QCoreApplication, QEvent, Qt
    from PySide6.QtGui import (
        QAction,
        QContextMenuEvent,
        QGradient,
        QInputMethodEvent,
        QPixmap,
        QPlatformSurfaceEvent,
        QScrollEvent,
        QStandardItem,
        QStandardItemModel,
    )
    from PySide6.QtWidgets import (
        QCheckBox,
        QComboBox,
        QDockWidget,
        QGraphicsScene,
        QGraphicsView,
        QLabel,
        QListView,
        QListWidget,
        QMainWindow,
        QPushButton,
        QSpinBox,
        QTableView,
        QToolBar,
        QVBoxLayout,
        QWidget,
    )

    window = QMainWindow()
    window.setObjectName(WARM_UP_WINDOW)
    window.menuBar().addMenu("&File").addAction(QAction("Open", window))
    toolbar = QToolBar("Tools", window)
    toolbar.addAction(QAction("Tool", window))
    toolbar.addWidget(QSpinBox())
    window.addToolBar(toolbar)
    view = QGraphicsView(QGraphicsScene(window))
    view.viewport().setCursor(Qt.CursorShape.CrossCursor)
    window.setCentralWidget(view)
    model = QStandardItemModel(window)
    model.appendRow(QStandardItem("row"))
    list_view, table_view = QListView(), QTableView()
    list_view.setModel(model)
    table_view.setModel(model)
    panel = QWidget()
    layout = QVBoxLayout(panel)
    for widget in (QComboBox(), QLabel("label"), list_view, table_view, QListWidget(), QCheckBox("check"),
                   QPushButton("button")):
        layout.addWidget(widget)
    dock = QDockWidget("Panel", window)
    dock.setWidget(panel)
    window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
    window.statusBar().addPermanentWidget(QLabel("status"))
    window.resize(800, 600)
    window.render(QPixmap(800, 600))
    window.deleteLater()
    QCoreApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    # Enums that the first window's events and style would make on first use (QGradient.Preset
    # alone: ~2 ms); reading the attribute makes them.
    _ = (QScrollEvent.ScrollState, QPlatformSurfaceEvent.SurfaceEventType, QInputMethodEvent.AttributeType,
         QContextMenuEvent.Reason, QGradient.Type, QGradient.Spread, QGradient.CoordinateMode,
         QGradient.InterpolationMode, QGradient.Preset)


def _fail(message: str, screenshot: Path | None) -> int:
    print(f"error: {message}", file=sys.stderr)
    if screenshot is None:
        from PySide6.QtWidgets import QMessageBox

        QMessageBox.critical(None, "SegStudio", message)
    return EXIT_BAD_INPUT


def save_screenshot(window: MainWindow, path: Path) -> None:
    """Render ``window`` (after the image is decoded and every visible tile is drawn) to PNG."""
    from PySide6.QtCore import QCoreApplication

    window.wait_until_ready()
    for _ in range(3):
        QCoreApplication.processEvents()
    window.canvas.flush_rendering()
    QCoreApplication.processEvents()
    path.parent.mkdir(parents=True, exist_ok=True)
    if not window.grab().save(str(path), "PNG"):
        raise OSError(f"{path}: cannot write the screenshot")


def run_gui(project_path: str | os.PathLike[str], screenshot: Path | None = None, panel: str | None = None) -> int:
    """Open the main window on ``project_path``; returns the process exit code.

    Without the X11 libraries Qt's xcb plugin needs, prints one line naming the apt packages and
    returns 1 (instead of Qt's "Could not load the Qt platform plugin xcb" abort).
    """
    screenshot = Path(screenshot) if screenshot is not None else None
    if screenshot is None or "QT_QPA_PLATFORM" in os.environ:  # else offscreen: no X11 needed
        from app.qt_platform import xcb_problem

        problem = xcb_problem()
        if problem is not None:
            print(problem, file=sys.stderr)
            return EXIT_MISSING_SYSTEM_LIBRARIES
    app = _application(offscreen=screenshot is not None)
    from annotations.store import Project

    preload_gui()
    from app.main_window import MainWindow

    project_path = Path(project_path)
    try:
        project = Project.open(project_path, defer_check=True)  # the window checks it in the background
    except AnnotationsError as exc:
        return _fail(str(exc), screenshot)
    window = MainWindow(project, owns_project=True)
    if screenshot is not None:
        window.resize(*SCREENSHOT_SIZE)
    window.show()
    if panel is not None:
        try:
            window.show_panel(panel)
        except KeyError as exc:
            window.close()
            return _fail(str(exc.args[0]), screenshot)
        from app.assist import prepare_panel

        prepare_panel(window.assist, panel, wait=screenshot is not None)
    if screenshot is not None:
        try:
            save_screenshot(window, screenshot)
        finally:
            window.close()
        return EXIT_OK
    return int(app.exec())
