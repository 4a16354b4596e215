"""The workspace as tools, panels, the right-click menu and the assist features see it: a small
Protocol the main window satisfies, so none of them imports ``app.main_window`` (no import
circle) and each can be driven in tests by a stand-in (see ``tests/app/test_tools_unit.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QMenu, QWidget

from annotations.geometry import Geometry
from annotations.model import Annotation, Command, Image
from annotations.model.changes import Change
from annotations.store import Project

if TYPE_CHECKING:
    from PySide6.QtGui import QAction

    from app.canvas.overlays import SelectionOverlayItem
    from app.canvas.render_shapes import RenderShape
    from app.canvas.shape_layer import ShapeLayerItem
    from app.selection_edits import SelectionEdits
    from app.session import Session


@runtime_checkable
class ToolCanvas(Protocol):
    """What tools use of the canvas: its shape layer (hit tests), the selection overlay (live
    previews of edits), the viewport (cursor) and a repaint of the tool preview."""

    @property
    def shape_layer(self) -> ShapeLayerItem: ...
    @property
    def selection_overlay(self) -> SelectionOverlayItem: ...
    @property
    def image_size_hw(self) -> tuple[int, int]: ...
    def viewport(self) -> QWidget: ...
    def update_tool_preview(self) -> None: ...


@runtime_checkable
class Workspace(Protocol):
    """The editing workspace: session (image, shapes, selection), canvas, edits, panels, tools.

    ``execute`` runs an undoable command (one committed transaction) and returns what changed;
    ``apply_edit`` is the tools' way to run one: an edit the store refuses or cannot write
    (:class:`annotations.errors.AnnotationsError`: a bad geometry, a store fault) becomes a status
    bar message and None instead of an exception; ``selection_edits`` are the edits of the
    selected shapes; ``brush_size`` is the brush and
    eraser diameter in image pixels.
    """

    brush_size: int

    @property
    def session(self) -> Session: ...
    @property
    def project(self) -> Project: ...
    @property
    def canvas(self) -> ToolCanvas: ...
    @property
    def selection_edits(self) -> SelectionEdits: ...

    def current_image(self) -> Image | None: ...
    def open_image(self, image_id: int) -> None: ...
    def execute(self, command: Command) -> Change: ...
    def apply_edit(self, command: Command) -> Change | None: ...
    def refresh(self) -> None: ...
    def show_message(self, text: str, timeout_ms: int = 8000) -> None: ...
    def current_category_color(self) -> str: ...
    def create_annotation(self, geometry: Geometry, description: str = "Add shape") -> Annotation | None: ...
    def canvas_shape(self, annotation_id: int) -> RenderShape | None: ...
    def open_shape_menu(self, annotation_id: int, delete_vertex: Callable[[], None] | None) -> QMenu: ...

    # images
    def go_unfinished(self, step: int) -> None: ...
    def set_images_done(self, image_ids: list[int], done: bool) -> Change | None: ...

    # tools and panels
    def set_tool(self, name: str) -> None: ...
    def add_panel(
        self, name: str, title: str, widget: QWidget, *, area: Qt.DockWidgetArea = ..., tab_with: str | None = ...
    ) -> QDockWidget: ...
    def show_panel(self, name: str) -> None: ...
    def add_menu_action(self, menu: str, action: QAction) -> None: ...

