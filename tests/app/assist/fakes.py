"""Test doubles for the assist tests: a scripted engine client (the protocol without a worker)."""

from __future__ import annotations

import threading
from typing import Any


class FakeClient:
    """An EngineClient stand-in: records submissions and cancels; ``emit`` queues events that
    the next ``poll`` returns. ``start_gate`` (an Event) lets a test hold ``start()``."""

    def __init__(self, start_gate: threading.Event | None = None, fail_start: bool = False) -> None:
        self.submitted: list[Any] = []
        self.cancelled: list[str] = []
        self.events: list[Any] = []
        self.started = False
        self.shut_down = False
        self.start_gate = start_gate
        self.fail_start = fail_start
        self.pid = 4242
        self._lock = threading.Lock()

    def start(self) -> None:
        if self.start_gate is not None:
            self.start_gate.wait(10)
        if self.fail_start:
            raise RuntimeError("no python for the worker")
        self.started = True

    def submit(self, request: Any) -> str:
        self.submitted.append(request)
        return request.job_id

    def cancel(self, job_id: str) -> None:
        self.cancelled.append(job_id)

    def emit(self, *events: Any) -> None:
        with self._lock:
            self.events.extend(events)

    def poll(self, timeout: float = 0.0) -> list[Any]:
        with self._lock:
            events, self.events = self.events, []
        return events

    def is_alive(self) -> bool:
        return self.started and not self.shut_down

    def kill(self) -> None:
        pass

    def shutdown(self, timeout: float = 5.0) -> None:
        self.shut_down = True
        self.shutdown_timeout = timeout


def make_fake_window(project: Any):
    """A QMainWindow satisfying app.workspace.AssistHost, the seams of app.main_window.MainWindow
    that the assist code uses (project, session, main_widget, current_image, imageChanged,
    open_image, execute, refresh, show_message, add_panel, show_panel, add_menu_action,
    canvas.add_overlay/remove_overlay, register_tool/set_tool)."""
    from PySide6.QtCore import Qt, Signal
    from PySide6.QtWidgets import QDockWidget, QGraphicsScene, QGraphicsView, QMainWindow, QMenu

    class FakeCanvas(QGraphicsView):
        def __init__(self) -> None:
            super().__init__()
            self.setScene(QGraphicsScene())
            self.overlays: list[Any] = []

        def add_overlay(self, item: Any) -> None:
            self.scene().addItem(item)
            self.overlays.append(item)

        def remove_overlay(self, item: Any) -> None:
            if item in self.overlays:
                self.scene().removeItem(item)
                self.overlays.remove(item)

    from app.session import Session

    class FakeWindow(QMainWindow):
        imageChanged = Signal(int)

        def __init__(self) -> None:
            super().__init__()
            self.project = project
            self.session = Session(project, self)
            self.messages: list[str] = []
            self.canvas = FakeCanvas()
            self.setCentralWidget(self.canvas)
            self.panels: dict[str, QDockWidget] = {}
            self.tools: dict[str, Any] = {}
            self.active_tool: str | None = None
            self.menus: dict[str, QMenu] = {}
            self.refreshes = 0
            self._image_id: int | None = None

        @property
        def main_widget(self) -> QMainWindow:
            return self

        def show_message(self, text: str, timeout_ms: int = 8000) -> None:
            self.messages.append(text)

        def current_image(self) -> Any:
            return self.project.get_image(self._image_id) if self._image_id else None

        def open_image(self, image_id: int) -> None:
            self._image_id = image_id
            self.session.open_image(image_id)
            self.imageChanged.emit(image_id)

        def execute(self, command: Any) -> Any:
            done = self.session.execute(command)
            self.refresh()
            return done

        def refresh(self) -> None:
            self.refreshes += 1

        def add_panel(self, name: str, title: str, widget: Any, *,
                      area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
                      tab_with: str | None = "properties") -> QDockWidget:
            dock = QDockWidget(title, self)
            dock.setObjectName(f"panel-{name}")
            dock.setWidget(widget)
            self.addDockWidget(area, dock)
            self.panels[name] = dock
            return dock

        def show_panel(self, name: str) -> None:
            self.panels[name].show()
            self.panels[name].raise_()

        def add_menu_action(self, menu: str, action: Any) -> None:
            if menu not in self.menus:
                self.menus[menu] = self.menuBar().addMenu(menu)
            self.menus[menu].addAction(action)

        def register_tool(self, name: str, tool: Any, shortcut: str = "") -> None:
            self.tools[name] = tool

        def set_tool(self, name: str) -> None:
            self.active_tool = name

    return FakeWindow()


def make_shapes_project(root: Any, *, images: int = 8, finished: int = 6, seed: int = 0) -> Any:
    """A small real project on disk: ``images`` noisy 128x96 PNGs, each with a disc (class
    "disc"), a square ("square") and a triangle ("triangle") at random places; the first
    ``finished`` images are done with exact polygon annotations, the rest are new. Returns the
    project file path (the project is closed)."""
    from pathlib import Path

    import cv2
    import numpy as np

    from annotations.geometry import Polygon
    from annotations.model import Annotation, Category, Image, ImageStatus
    from annotations.store import Project

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    path = root / "shapes.segproj"
    project = Project.create(path, [Category(1, "disc", "#e6194b"), Category(2, "square", "#3cb44b"),
                                    Category(3, "triangle", "#4363d8")])
    annotations = []
    for k in range(images):
        pixels = rng.normal(70, 12, (96, 128, 3)).clip(0, 255).astype(np.uint8)
        cells = rng.permutation(3)  # one shape per vertical third, so they never overlap
        shapes = []
        for kind, cell in zip(range(3), cells):
            cx = int(21 + 43 * cell + rng.integers(-3, 4))
            cy = int(rng.integers(32, 64))
            r = int(rng.integers(12, 16))
            if kind == 0:
                cv2.circle(pixels, (cx, cy), r, (230, 210, 70), -1)
                t = np.linspace(0, 2 * np.pi, 32, endpoint=False)
                ring = np.stack([cx + 0.5 + (r + 0.5) * np.cos(t), cy + 0.5 + (r + 0.5) * np.sin(t)], 1)
            elif kind == 1:
                cv2.rectangle(pixels, (cx - r, cy - r), (cx + r, cy + r), (70, 220, 230), -1)
                ring = np.array([[cx - r, cy - r], [cx + r + 1, cy - r], [cx + r + 1, cy + r + 1], [cx - r, cy + r + 1]], float)
            else:
                r += 5  # a triangle covers half its box: make it as big as the others
                tri = np.array([[cx, cy - r], [cx + r, cy + r], [cx - r, cy + r]], np.int32)
                cv2.fillPoly(pixels, [tri], (60, 60, 240))
                ring = tri.astype(float) + 0.5
            shapes.append((kind + 1, ring))
        cv2.imwrite(str(root / f"shapes{k}.png"), pixels)
        status = ImageStatus.DONE if k < finished else ImageStatus.NEW
        [image] = project.add_images([Image(0, f"shapes{k}.png", 128, 96, status)])
        if k < finished:
            annotations += [Annotation(0, image.id, c, Polygon.from_points(ring)) for c, ring in shapes]
    project.add_annotations(annotations)
    project.close()
    return path
