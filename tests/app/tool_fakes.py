"""A stand-in workspace for driving canvas tools with ToolEvent sequences, without a window:
a real Session on a real project, a canvas that only answers what tools ask."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from annotations.geometry import Geometry
from annotations.model import AddAnnotation, Annotation, Command, Image
from annotations.model.changes import Change
from annotations.store import Project
from app.selection_edits import SelectionEdits
from app.session import Session


class FakeShapeLayer:
    """No shapes drawn: hit tests find nothing (tests that need hits select shapes instead)."""

    def shape_at(self, x: float, y: float) -> None:
        return None


class FakeCanvas:
    def __init__(self, session: Session) -> None:
        self.session = session
        self.shape_layer = FakeShapeLayer()
        self.selection_overlay: Any = None
        self.previews = 0

    @property
    def image_size_hw(self) -> tuple[int, int]:
        image = self.session.image
        return image.size_hw if image is not None else (0, 0)

    def viewport(self) -> Any:
        return None

    def update_tool_preview(self) -> None:
        self.previews += 1


class ShapesCanvas:
    """A canvas without a view: the real shape layer (hit tests, rubber band) and selection
    overlay (edit previews, active vertex), kept in step with the session the way
    ``app.canvas.binding.CanvasBinding`` does; ``cursor`` is the last cursor a tool set."""

    def __init__(self, session: Session) -> None:
        from PySide6.QtWidgets import QWidget

        from app.canvas.overlays import SelectionOverlayItem
        from app.canvas.shape_layer import ShapeLayerItem

        self.session = session
        self.shape_layer = ShapeLayerItem()
        self.selection_overlay = SelectionOverlayItem()
        self._viewport = QWidget()
        self.previews = 0
        session.annotationsChanged.connect(lambda _changed: self._sync())
        session.imageChanged.connect(lambda _image_id: self._sync())
        session.selectionChanged.connect(self._sync_selection)
        session.visibilityChanged.connect(self._sync_selection)
        self._sync()

    def _sync(self) -> None:
        from app.canvas.render_shapes import build_render_shape

        session = self.session
        self.render = {a.id: build_render_shape(a, session.color_of(a.category_id)) for a in session.ordered_annotations()}
        self.shape_layer.set_shapes(list(self.render.values()), {a.id: a.z_order for a in session.annotations.values()})
        self._sync_selection()

    def _sync_selection(self) -> None:
        session = self.session
        visible = [i for i in session.selection if i not in session.hidden and i in self.render]
        self.shape_layer.set_excluded(set(session.hidden) | set(visible))
        self.selection_overlay.set_shapes([self.render[i] for i in visible])

    @property
    def image_size_hw(self) -> tuple[int, int]:
        image = self.session.image
        return image.size_hw if image is not None else (0, 0)

    def viewport(self) -> Any:
        return self._viewport

    @property
    def cursor(self) -> Any:
        return self._viewport.cursor().shape()

    def update_tool_preview(self) -> None:
        self.previews += 1


class FakeWorkspace:
    """What tools use of the workspace; ``messages`` collects the status bar texts. With
    ``shapes=True`` the canvas is a :class:`ShapesCanvas` (real hit tests, for the select tool)."""

    def __init__(self, project: Project, image_id: int, *, shapes: bool = False) -> None:
        self.project = project
        self.session = Session(project)
        self.session.open_image(image_id)
        self.canvas: FakeCanvas | ShapesCanvas = ShapesCanvas(self.session) if shapes else FakeCanvas(self.session)
        self.brush_size = 10
        self.messages: list[str] = []
        self.selection_edits = SelectionEdits(self.session, self._execute_all, self.show_message)

    def _execute_all(self, commands: list[Command], description: str) -> Change | None:
        from annotations.model import Batch

        if not commands:
            return None
        return self.execute(commands[0] if len(commands) == 1 else Batch(tuple(commands), description))

    def current_image(self) -> Image | None:
        return self.session.image

    def execute(self, command: Command) -> Change:
        return self.session.execute(command)

    def apply_edit(self, command: Command) -> Change | None:
        """MainWindow.apply_edit: a refused edit becomes a message (tested on the real window)."""
        from annotations.errors import AnnotationsError

        try:
            return self.execute(command)
        except AnnotationsError as exc:
            self.messages.append(f"Not done: {exc}")
            return None

    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        self.messages.append(text)

    def current_category_color(self) -> str:
        return "#ff0000"

    def create_annotation(self, geometry: Geometry, description: str = "Add shape") -> Annotation | None:
        image = self.session.image
        assert image is not None and self.session.current_category_id is not None
        change = self.execute(AddAnnotation(Annotation(0, image.id, self.session.current_category_id, geometry)))
        self.session.set_selection((change.annotation.id,))
        return change.annotation

    def canvas_shape(self, annotation_id: int) -> None:
        return None

    def open_shape_menu(self, annotation_id: int, delete_vertex: Callable[[], None] | None) -> None:
        self.menu_for = (annotation_id, delete_vertex)
