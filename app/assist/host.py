"""The main window as the assist features (``app.assist``) see it: a small Protocol the main
window satisfies (and ``tests/app/assist/fakes.py`` stands in for), so the assist code neither
imports ``app.main_window`` nor probes the window with ``getattr``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

from PySide6.QtCore import QPoint, QPointF, Qt, SignalInstance
from PySide6.QtWidgets import QDockWidget, QGraphicsItem, QMainWindow, QWidget

from annotations.model import Command, Image
from annotations.model.changes import Change
from annotations.store import Project

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from app.session import Session
    from app.tools.base import Tool


@runtime_checkable
class AssistCanvas(Protocol):
    """What the assist features use of the canvas: overlays drawn above the shapes (scene
    coordinates = image pixels), the viewport (click watching) and the view-to-scene mapping."""

    def add_overlay(self, item: QGraphicsItem) -> None: ...
    def remove_overlay(self, item: QGraphicsItem) -> None: ...
    def viewport(self) -> QWidget: ...
    def mapToScene(self, point: QPoint, /) -> QPointF: ...  # noqa: N802 - Qt name


@runtime_checkable
class AssistHost(Protocol):
    """The main window as the assist features (``app.assist``) see it: the session (image list,
    selection, current class), the canvas overlays, undoable edits, panels, menus and tools.

    ``main_widget`` is the window as a Qt widget: the parent of the assist objects and the owner
    of their docks.
    """

    @property
    def session(self) -> Session: ...
    @property
    def project(self) -> Project: ...
    @property
    def canvas(self) -> AssistCanvas: ...
    @property
    def main_widget(self) -> QMainWindow: ...
    @property
    def imageChanged(self) -> SignalInstance: ...  # noqa: N802 - Qt signal name

    def current_image(self) -> Image | None: ...
    def open_image(self, image_id: int) -> None: ...
    def execute(self, command: Command) -> Change: ...
    def refresh(self) -> None: ...
    def show_message(self, text: str, timeout_ms: int = 8000) -> None: ...
    def set_tool(self, name: str) -> None: ...
    def register_tool(self, name: str, tool: Tool, shortcut: str = "") -> object: ...
    def add_panel(
        self, name: str, title: str, widget: QWidget, *, area: Qt.DockWidgetArea = ..., tab_with: str | None = ...
    ) -> QDockWidget: ...
    def show_panel(self, name: str) -> None: ...
    def add_menu_action(self, menu: str, action: QAction) -> None: ...
