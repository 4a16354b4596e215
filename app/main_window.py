"""The main window: canvas in the centre, images on the left, classes / shapes / properties on
the right, tools in a toolbar, zoom / cursor / image size in the status bar.

Public API used by other parts of the app (the model-assisted labeling in ``app.assist``):
``project``, ``session``, ``canvas``, ``current_image()``, ``imageChanged(int)``,
``open_image(id)``, ``execute(command)``, ``refresh()``, ``add_panel(name, title, widget)``,
``show_panel(name)``, ``add_menu_action(menu, action)``, ``register_tool(name, tool,
shortcut)``, ``set_tool(name)``. Every edit goes through ``execute``: one committed
transaction per edit, undoable, nothing to save.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Callable

from PySide6.QtCore import QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFileDialog,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QScrollArea,
    QSpinBox,
    QToolBar,
    QToolButton,
    QWidget,
)

from annotations.errors import AnnotationsError
from annotations.geometry import Geometry, Mask, Polygon, to_mask
from annotations.model import (
    AddAnnotation,
    Annotation,
    Batch,
    Command,
    DeleteAnnotation,
    Image,
    ImageStatus,
    SetImageStatus,
    UpdateAnnotation,
)
from annotations.store import Project
from app import editing, icons
from app.actions import ACTIONS, TOOL_SHORTCUTS
from app.canvas import CanvasView
from app.canvas.binding import CanvasBinding
from app.canvas.render_shapes import RenderShape
from app.panels.annotations_panel import AnnotationsPanel
from app.panels.images_panel import ImagesPanel
from app.panels.labels_panel import LabelsPanel
from app.panels.properties_panel import PropertiesPanel
from app.session import Session
from app.tools.base import Tool
from app.tools.brush import BrushTool
from app.tools.draw import BoxTool, PolygonTool
from app.tools.select import SelectTool

log = logging.getLogger(__name__)

DEFAULT_BRUSH_SIZE = 16
MASK_TO_POLYGON_TOLERANCE = 0.75
"""Pixels of Douglas-Peucker simplification when a mask becomes an editable polygon."""


@dataclass(frozen=True)
class ClipboardShape:
    """A copied shape, independent of its image (pasted with a new id)."""

    category_id: int
    geometry: Geometry
    iscrowd: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)


class MainWindow(QMainWindow):
    """SegStudio's main window over one open :class:`Project`.

    Signals: ``imageChanged(int)`` (the image shown), ``toolChanged(str)``,
    ``projectChanged()`` (after any edit, undo, redo or refresh).
    """

    imageChanged = Signal(int)
    toolChanged = Signal(str)
    projectChanged = Signal()

    def __init__(self, project: Project, *, owns_project: bool = False, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.project = project
        self.owns_project = owns_project
        self.session = Session(project, self)
        self.canvas = CanvasView(self)
        self.canvas.setObjectName("canvas")
        self.setCentralWidget(self.canvas)
        self.binding = CanvasBinding(self.session, self.canvas, self)
        self.brush_size = DEFAULT_BRUSH_SIZE
        self.clipboard: list[ClipboardShape] = []
        self._tools: dict[str, Tool] = {}
        self._tool_actions: dict[str, QAction] = {}
        self._tool_group = QActionGroup(self)
        self._tool_group.setExclusive(True)
        self._current_tool: str | None = None
        self._panels: dict[str, QDockWidget] = {}
        self._tab_group_of: dict[str, str] = {}  # panel name -> the first panel of its tab group
        self._menus: dict[str, QMenu] = {}
        self.actions_by_key: dict[str, QAction] = {}
        self._category_actions: list[QAction] = []
        self._help_dialog: QWidget | None = None
        self._shown_once = False
        self._extra_actions: list[tuple[str, QAction]] = []

        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # Side panels run the full height; bottom panels sit under the canvas only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_menus()
        self._build_toolbars()
        self._build_status_bar()
        self._build_panels()
        self._register_builtin_tools()
        self._connect_session()

        self.resize(1440, 900)
        self._arrange_docks()
        self.set_tool("select")
        start = self.session.last_image_id() or (self.session.images[0].id if self.session.images else None)
        if start is not None:
            self.open_image(start)
        self._update_title()
        self._update_actions()

        from app.assist import install

        install(self)

    # ================================================================== public API
    def current_image(self) -> Image | None:
        """The image shown, or None for a project without images."""
        return self.session.image

    def open_image(self, image_id: int) -> None:
        """Show image ``image_id`` (NotFoundError for an unknown id)."""
        if self._current_tool is not None:
            self._tools[self._current_tool].reset()
        self.session.open_image(image_id)

    def execute(self, command: Command) -> Command:
        """Run an undoable model command through the store (committed at once) and refresh
        every view; returns the command as done (ids assigned)."""
        return self.session.execute(command)

    def refresh(self) -> None:
        """Reload classes, statuses and shapes after changes made elsewhere (engine worker)."""
        self.session.reload()

    def add_panel(
        self,
        name: str,
        title: str,
        widget: QWidget,
        *,
        area: Qt.DockWidgetArea = Qt.DockWidgetArea.RightDockWidgetArea,
        tab_with: str | None = "properties",
    ) -> QDockWidget:
        """Add a dock panel; ``name`` is the key for :meth:`show_panel` (and ``main.py --panel
        NAME``). It goes to ``area``, tabbed with the panel named ``tab_with`` when that panel
        exists and sits in the same area (tabified once: moving a dock between tab groups
        leaves a stray tab bar behind in Qt)."""
        if name in self._panels:
            raise ValueError(f"a panel named {name!r} already exists")
        # A scroll area keeps a wide panel from pushing the canvas aside (it scrolls instead).
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        # Never sideways: a horizontal bar would also steal height and bring up the vertical one.
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(widget)
        anchor = self._panels.get(tab_with) if tab_with else None  # before this dock is registered
        if anchor is not None and self.dockWidgetArea(anchor) != area:
            anchor = None
        dock = self._make_dock(name, title, scroll, area, tab_onto=anchor)
        if anchor is not None:
            anchor.raise_()
            self._tab_group_of[name] = self._tab_group_of.get(tab_with, tab_with)
        self._view_menu_panels.addAction(dock.toggleViewAction())
        return dock

    def show_panel(self, name: str) -> None:
        """Show and raise panel ``name``; KeyError for an unknown name."""
        if name not in self._panels:
            raise KeyError(f"unknown panel {name!r}; known panels: {', '.join(sorted(self._panels))}")
        # A tab group is shown whole: with some of its docks hidden Qt keeps a stale tab bar.
        group = self._tab_group_of.get(name, name)
        for member, member_dock in self._panels.items():
            if self._tab_group_of.get(member, member) == group and member_dock.isHidden():
                member_dock.show()
        dock = self._panels[name]
        dock.show()
        dock.raise_()

    def panel_names(self) -> list[str]:
        return sorted(self._panels)

    def add_menu_action(self, menu: str, action: QAction) -> None:
        """Add ``action`` to menu ``menu`` (created before Help when missing); its shortcut is
        listed in the help dialog."""
        self._menu(menu).addAction(action)
        self._extra_actions.append((menu.replace("&", ""), action))

    def register_tool(self, name: str, tool: Tool, shortcut: str = "") -> QAction:
        """Make ``tool`` available as ``name`` (Tools menu, toolbar, ``shortcut``)."""
        if name in self._tools:
            raise ValueError(f"a tool named {name!r} is already registered")
        tool.name = name
        self._tools[name] = tool
        action = QAction(icons.icon(name), tool.title, self)
        action.setCheckable(True)
        action.setObjectName(f"tool_{name}")
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
            action.setToolTip(f"{tool.title} ({shortcut})")
        if tool.hint:
            action.setStatusTip(tool.hint)
        action.triggered.connect(lambda _checked=False, n=name: self.set_tool(n))
        self._tool_group.addAction(action)
        self._tool_actions[name] = action
        self._menu("Tools").insertAction(self._tools_menu_separator, action)
        self._tools_toolbar.addAction(action)
        return action

    def set_tool(self, name: str) -> None:
        """Make tool ``name`` current; KeyError for an unknown name."""
        tool = self._tools[name]
        if self._current_tool == name:
            return
        if self._current_tool is not None:
            self._tools[self._current_tool].deactivate()
        self._current_tool = name
        tool.activate(self)
        self.canvas.set_tool(tool)
        self._tool_actions[name].setChecked(True)
        if tool.hint:
            self.show_message(tool.hint, 0)
        self.toolChanged.emit(name)

    @property
    def tool(self) -> Tool | None:
        return self._tools.get(self._current_tool) if self._current_tool else None

    def tool_names(self) -> list[str]:
        return list(self._tools)

    # ================================================================== helpers for tools and panels
    def show_message(self, text: str, timeout_ms: int = 8000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    def current_category_color(self) -> str:
        category_id = self.session.current_category_id
        return self.session.color_of(category_id) if category_id is not None else "#ffffff"

    def canvas_shape(self, annotation_id: int) -> RenderShape | None:
        return self.binding.render.get(annotation_id)

    def create_annotation(self, geometry: Geometry, description: str = "Add shape") -> Annotation | None:
        """Add a shape of the current class on top of the current image and select it."""
        image = self.session.image
        if image is None:
            return None
        category_id = self.session.current_category_id
        if category_id is None:
            self.show_message("Add a class first (Labels panel → Add…)")
            return None
        top = max((a.z_order for a in self.session.annotations.values()), default=0)
        annotation = Annotation(0, image.id, category_id, geometry, z_order=top)
        done = self._run(lambda: self.execute(AddAnnotation(annotation)))
        if not isinstance(done, AddAnnotation):
            return None
        self.session.set_selection((done.annotation.id,))
        return done.annotation

    def _run(self, action: Callable[[], Any]) -> Any:
        """Run a UI edit; a bad edit becomes a status bar message instead of an exception."""
        try:
            return action()
        except AnnotationsError as exc:
            log.warning("edit refused: %s", exc)
            self.show_message(f"Not done: {exc}")
            return None

    def _execute_all(self, commands: "list[Command]", description: str) -> Command | None:
        if not commands:
            return None
        command = commands[0] if len(commands) == 1 else Batch(tuple(commands), description)
        return self._run(lambda: self.execute(command))

    # ================================================================== edits on the selection
    def delete_selection(self) -> None:
        self._execute_all([DeleteAnnotation(a.id) for a in self.session.selected_annotations()], "Delete shapes")

    def set_selection_category(self, category_id: int) -> None:
        commands = [
            UpdateAnnotation(a.id, {"category_id": category_id}, "Change class")
            for a in self.session.selected_annotations()
            if a.category_id != category_id
        ]
        self._execute_all(commands, "Change class")

    def reorder_selection(self, *, front: bool) -> None:
        selected = self.session.selected_annotations()
        others = [a.z_order for a in self.session.annotations.values() if a.id not in self.session.selection]
        if not selected:
            return
        if front:
            base = max(others, default=0) + 1
            ordered = sorted(selected, key=lambda a: (a.z_order, a.id))
        else:
            base = min(others, default=0) - len(selected)
            ordered = sorted(selected, key=lambda a: (a.z_order, a.id))
        commands = [
            UpdateAnnotation(a.id, {"z_order": base + k}, "Bring to front" if front else "Send to back")
            for k, a in enumerate(ordered)
            if a.z_order != base + k
        ]
        self._execute_all(commands, "Bring to front" if front else "Send to back")

    def convert_selection(self, kind: str) -> None:
        """Convert the selected shapes to ``mask`` or ``polygon``."""
        image = self.session.image
        if image is None:
            return
        commands: list[Command] = []
        for annotation in self.session.selected_annotations():
            try:
                if kind == "mask" and not isinstance(annotation.geometry, Mask):
                    geometry: Geometry = to_mask(annotation.geometry, image.size_hw)
                elif kind == "polygon" and not isinstance(annotation.geometry, Polygon):
                    geometry = editing.to_polygon(annotation.geometry, tolerance=MASK_TO_POLYGON_TOLERANCE)
                else:
                    continue
            except AnnotationsError as exc:
                self.show_message(f"Shape #{annotation.id} not converted: {exc}")
                continue
            commands.append(UpdateAnnotation(annotation.id, {"geometry": geometry}, f"Convert to {kind}"))
        self._execute_all(commands, f"Convert to {kind}")

    def fill_selection_holes(self) -> None:
        commands = [
            UpdateAnnotation(a.id, {"geometry": editing.fill_holes(a.geometry)}, "Fill holes")
            for a in self.session.selected_annotations()
            if editing.has_holes(a.geometry)
        ]
        if not commands:
            self.show_message("The selected shapes have no holes")
        self._execute_all(commands, "Fill holes")

    def copy_selection(self) -> None:
        self.clipboard = [ClipboardShape(a.category_id, a.geometry, a.iscrowd, dict(a.attributes)) for a in self.session.selected_annotations()]
        if self.clipboard:
            self.show_message(f"Copied {len(self.clipboard)} shape(s)")

    def paste(self) -> None:
        image = self.session.image
        if image is None or not self.clipboard:
            return
        known = {c.id for c in self.session.categories}
        top = max((a.z_order for a in self.session.annotations.values()), default=0)
        commands: list[Command] = []
        outside = unknown_class = 0
        for shape in self.clipboard:
            if shape.category_id not in known:
                unknown_class += 1
                continue
            geometry = editing.fit_to_image(shape.geometry, image.size_hw)
            if geometry is None:
                outside += 1
                continue
            commands.append(AddAnnotation(Annotation(0, image.id, shape.category_id, geometry, z_order=top, iscrowd=shape.iscrowd, attributes=shape.attributes)))
        skipped = ", ".join(
            text for count, text in ((outside, f"{outside} outside this image"), (unknown_class, f"{unknown_class} of a deleted class")) if count
        )
        done = self._execute_all(commands, "Paste shapes")
        if done is None:
            self.show_message("Nothing to paste onto this image" + (f" ({skipped})" if skipped else ""))
            return
        added = [done] if isinstance(done, AddAnnotation) else [c for c in done.commands if isinstance(c, AddAnnotation)]  # type: ignore[attr-defined]
        self.session.set_selection([c.annotation.id for c in added])
        self.show_message(f"Pasted {len(added)} shape(s)" + (f"; not pasted: {skipped}" if skipped else ""))

    def select_all(self) -> None:
        self.session.set_selection([a.id for a in self.session.ordered_annotations() if a.id not in self.session.hidden])

    def choose_category(self, position: int) -> None:
        """Digit shortcut: make class ``position`` (0-based) current; re-class the selection."""
        categories = self.session.categories
        if 0 <= position < len(categories):
            category = categories[position]
            self.session.set_current_category(category.id)
            if self.session.selection:
                self.set_selection_category(category.id)
            self.show_message(f"Class: {category.name}", 3000)

    # ================================================================== navigation
    def step_image(self, step: int) -> None:
        """Next (+1) / previous (-1) image in the image list as filtered."""
        rows = self.images_panel.model.rows or self.session.images
        image = self.session.image
        if not rows:
            return
        ids = [i.id for i in rows]
        if image is None:
            target = rows[0] if step > 0 else rows[-1]
        elif image.id not in ids:
            # The current image left the filtered list (e.g. marked done under "Unfinished"):
            # go on from its place in the project's order.
            order = {i.id: k for k, i in enumerate(self.session.images)}
            here = order.get(image.id, -1)
            after = [r for r in rows if order.get(r.id, -1) > here]
            before = [r for r in rows if order.get(r.id, -1) < here]
            candidates = after[:1] if step > 0 else before[-1:]
            if not candidates:
                self.show_message("No more images in this direction", 3000)
                return
            target = candidates[0]
        else:
            index = ids.index(image.id) + step
            if not 0 <= index < len(rows):
                self.show_message("No more images in this direction", 3000)
                return
            target = rows[index]
        self.open_image(target.id)

    def go_unfinished(self, step: int) -> None:
        """The next (+1) / previous (-1) image that is not done or reviewed (wrapping)."""
        images = self.session.images
        if not images:
            return
        current = self.session.image
        start = self.session.image_index(current.id) if current is not None else -1
        for offset in range(1, len(images) + 1):
            candidate = images[(start + step * offset) % len(images)]
            if not candidate.status.is_finished and (current is None or candidate.id != current.id):
                self.open_image(candidate.id)
                return
        self.show_message("Every other image is done", 4000)

    def set_image_done(self, done: bool) -> None:
        image = self.session.image
        if image is None:
            return
        status = ImageStatus.DONE if done else ImageStatus.IN_PROGRESS
        if image.status != status:
            self._run(lambda: self.execute(SetImageStatus(image.id, status)))

    # ================================================================== building
    def _menu(self, title: str) -> QMenu:
        key = title.replace("&", "")
        found = self._menus.get(key)
        if found is None:
            help_menu = self._menus.get("Help")
            found = QMenu(title if "&" in title else f"&{title}", self)
            if help_menu is not None:
                self.menuBar().insertMenu(help_menu.menuAction(), found)
            else:
                self.menuBar().addMenu(found)
            self._menus[key] = found
        return found

    def _build_menus(self) -> None:
        for title in ("File", "Edit", "View", "Image", "Tools", "Help"):
            self._menu(title)
        self._tools_menu_separator = self._menu("Tools").addSeparator()
        for spec in ACTIONS:
            action = QAction(spec.text, self)
            action.setObjectName(f"action_{spec.key}")
            if spec.shortcuts:
                action.setShortcuts([QKeySequence(s) for s in spec.shortcuts])
            tip = spec.tip or spec.text.replace("&", "").replace("…", "")
            if spec.shortcuts:
                tip += f" ({spec.shortcuts[0]})"
            action.setToolTip(tip)
            action.setStatusTip(tip)
            action.setCheckable(spec.checkable)
            handler = getattr(self, f"_act_{spec.key}")
            if spec.checkable:
                action.toggled.connect(handler)
            else:
                action.triggered.connect(lambda _checked=False, h=handler: h())
            self.actions_by_key[spec.key] = action
            self._menu(spec.menu).addAction(action)
            if spec.key in ("quit", "redo", "paste", "select_all", "fill_holes", "zoom_out", "prev_unfinished"):
                self._menu(spec.menu).addSeparator()
        self._view_menu_panels = self._menu("View").addMenu("&Panels")
        classes = self._menu("Tools").addMenu("&Class")
        for n in range(1, 10):
            action = QAction(f"Class {n}", self)
            action.setObjectName(f"action_class_{n}")
            action.setShortcut(QKeySequence(str(n)))
            action.triggered.connect(lambda _checked=False, p=n - 1: self.choose_category(p))
            classes.addAction(action)
            self._category_actions.append(action)

    def _build_toolbars(self) -> None:
        self._tools_toolbar = QToolBar("Tools", self)
        self._tools_toolbar.setObjectName("toolsToolbar")
        self._tools_toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self._tools_toolbar.setIconSize(QSize(20, 20))
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, self._tools_toolbar)
        edit = QToolBar("Edit", self)
        edit.setObjectName("editToolbar")
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, edit)
        edit.addWidget(QLabel(" Brush "))
        self.brush_spin = QSpinBox()
        self.brush_spin.setRange(1, 1000)
        self.brush_spin.setSuffix(" px")
        self.brush_spin.setValue(self.brush_size)
        self.brush_spin.setToolTip("Brush and eraser diameter in image pixels ([ and ])")
        self.brush_spin.valueChanged.connect(self._on_brush_spin)
        edit.addWidget(self.brush_spin)
        edit.addSeparator()
        # Icons with tooltips (name + shortcut) for the familiar buttons; the two that drive the
        # annotation loop keep their text beside the icon.
        edit.setIconSize(QSize(20, 20))
        edit.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonIconOnly)
        texts = {"undo": "Undo", "redo": "Redo", "fit": "Fit", "zoom_1to1": "1:1", "prev_image": "Prev",
                 "next_image": "Next", "next_unfinished": "Next unfinished", "mark_done": "Done"}
        for key in icons.ACTION_ICONS:
            action = self.actions_by_key[key]
            action.setIcon(icons.icon(key))
            action.setIconText(texts[key])
            edit.addAction(action)
        for key in ("next_unfinished", "mark_done"):
            button = edit.widgetForAction(self.actions_by_key[key])
            if isinstance(button, QToolButton):
                button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.status_image = QLabel()
        self.status_size = QLabel()
        self.status_zoom = QLabel()
        self.status_cursor = QLabel()
        self.status_cursor.setMinimumWidth(230)
        for label in (self.status_image, self.status_size, self.status_zoom, self.status_cursor):
            label.setContentsMargins(6, 0, 6, 0)
            bar.addPermanentWidget(label)
        self.canvas.zoomChanged.connect(lambda scale: self.status_zoom.setText(f"Zoom {scale * 100:.0f}%"))
        self.binding.imageFailed.connect(lambda _id, _msg: self._update_title())
        self.canvas.cursorMoved.connect(self._on_cursor)

    def _make_dock(self, name: str, title: str, widget: QWidget, area: Qt.DockWidgetArea, *,
                   tab_onto: QDockWidget | None = None) -> QDockWidget:
        """A dock in ``area``, or straight onto ``tab_onto``'s tab group (never split into the
        area first: that would reshuffle the column's sizes)."""
        dock = QDockWidget(title, self)
        dock.setObjectName(f"dock_{name}")
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable | QDockWidget.DockWidgetFeature.DockWidgetFloatable)
        if tab_onto is not None:
            self.tabifyDockWidget(tab_onto, dock)
        else:
            self.addDockWidget(area, dock)
        self._panels[name] = dock
        return dock

    def _build_panels(self) -> None:
        self.images_panel = ImagesPanel(self)
        self.labels_panel = LabelsPanel(self)
        self.annotations_panel = AnnotationsPanel(self)
        self.properties_panel = PropertiesPanel(self)
        left = self._make_dock("images", "Images", self.images_panel, Qt.DockWidgetArea.LeftDockWidgetArea)
        labels = self._make_dock("labels", "Classes", self.labels_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        shapes = self._make_dock("annotations", "Shapes", self.annotations_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        props = self._make_dock("properties", "Properties", self.properties_panel, Qt.DockWidgetArea.RightDockWidgetArea)
        self.splitDockWidget(labels, shapes, Qt.Orientation.Vertical)
        self.splitDockWidget(shapes, props, Qt.Orientation.Vertical)
        for dock in (left, labels, shapes, props):
            self._view_menu_panels.addAction(dock.toggleViewAction())

    def _arrange_docks(self) -> None:
        """Side panels narrow, the canvas gets the room."""
        panels = self._panels
        self.resizeDocks([panels["images"], panels["labels"]], [270, 340], Qt.Orientation.Horizontal)
        self.resizeDocks([panels["labels"], panels["annotations"], panels["properties"]], [180, 320, 300], Qt.Orientation.Vertical)

    def showEvent(self, event) -> None:  # noqa: N802, ANN001 - Qt name
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            self._arrange_docks()
            # Once more after the first layout pass: tab groups made before the window was shown
            # are only then real layout items that resizeDocks accepts.
            QTimer.singleShot(0, self._arrange_docks)

    def _register_builtin_tools(self) -> None:
        tools: dict[str, Tool] = {
            "select": SelectTool(),
            "box": BoxTool(),
            "polygon": PolygonTool(),
            "hole": PolygonTool(hole=True),
            "brush": BrushTool(),
            "eraser": BrushTool(erase=True),
        }
        for name, shortcut, _description in TOOL_SHORTCUTS:
            self.register_tool(name, tools[name], shortcut)

    def _connect_session(self) -> None:
        session = self.session
        session.imageChanged.connect(self._on_image_changed)
        session.message.connect(self.show_message)
        session.selectionChanged.connect(self._update_actions)
        session.historyChanged.connect(self._update_actions)
        session.imagesChanged.connect(self._update_actions)
        session.imagesChanged.connect(self._update_title)
        session.projectChanged.connect(self.projectChanged.emit)

    # ================================================================== reactions
    def _on_image_changed(self, image_id: int) -> None:
        image = self.session.image
        if image is not None:
            self.status_size.setText(f"{image.width} × {image.height} px")
        self._update_title()
        self._update_actions()
        self.imageChanged.emit(image_id)

    def _update_title(self) -> None:
        image = self.session.image
        parts = []
        if image is not None:
            index = self.session.image_index(image.id) + 1
            parts.append(f"{PurePosixPath(image.path).name} ({index}/{len(self.session.images)})")
            broken = ""
            if self.binding.failed_image_id == image.id:
                found = self.project.image_path(image).is_file()
                broken = " · cannot decode the file" if found else " · file not found (moved?)"
            self.status_image.setText(f"{PurePosixPath(image.path).name} · {image.status.value.replace('_', ' ')}{broken}")
        parts += [Path(self.project.path).name, "SegStudio"]
        self.setWindowTitle(" — ".join(parts))

    def _update_actions(self) -> None:
        has_selection = bool(self.session.selection)
        for key in ("copy", "delete", "to_mask", "to_polygon", "fill_holes", "bring_front", "send_back"):
            self.actions_by_key[key].setEnabled(has_selection)
        undo_label = self.project.undo_label()
        redo_label = self.project.redo_label()
        undo, redo = self.actions_by_key["undo"], self.actions_by_key["redo"]
        undo.setEnabled(undo_label is not None)
        redo.setEnabled(redo_label is not None)
        undo.setText(f"&Undo {undo_label}" if undo_label else "&Undo")
        redo.setText(f"&Redo {redo_label}" if redo_label else "&Redo")
        image = self.session.image
        done = self.actions_by_key["mark_done"]
        done.blockSignals(True)
        done.setChecked(image is not None and image.status.is_finished)
        done.setEnabled(image is not None)
        done.blockSignals(False)

    def _on_cursor(self, x: float, y: float) -> None:
        image = self.session.image
        if image is None:
            return
        col, row = int(x // 1), int(y // 1)
        if not (0 <= col < image.width and 0 <= row < image.height):
            self.status_cursor.setText(f"x {col}, y {row} (outside)")
            return
        value = ""
        display = self.binding.display
        if display is not None and row < display.pixels.shape[0] and col < display.pixels.shape[1]:
            value = f" · {display.value_text(row, col)}"
        self.status_cursor.setText(f"x {col}, y {row}{value}")

    def _on_brush_spin(self, value: int) -> None:
        self.brush_size = int(value)
        self.canvas.update_tool_preview()

    # ================================================================== action handlers
    def _act_open_project(self) -> None:
        path, _filter = QFileDialog.getOpenFileName(self, "Open project", str(self.project.root), "SegStudio projects (*.segproj)")
        if not path:
            return
        try:
            project = Project.open(path)
        except AnnotationsError as exc:
            QMessageBox.critical(self, "Cannot open project", str(exc))
            return
        window = MainWindow(project, owns_project=True)
        window.show()
        self.close()

    def _act_import_annotations(self) -> None:
        from app.dialogs.io_dialogs import run_import_dialog

        run_import_dialog(self)

    def _act_export_annotations(self) -> None:
        from app.dialogs.io_dialogs import run_export_dialog

        run_export_dialog(self)

    def _act_quit(self) -> None:
        self.close()

    def _act_undo(self) -> None:
        if self.tool is not None:
            self.tool.reset()
        if self._run(self.session.undo) is None:
            self.show_message("Nothing to undo", 3000)

    def _act_redo(self) -> None:
        if self._run(self.session.redo) is None:
            self.show_message("Nothing to redo", 3000)

    def _act_copy(self) -> None:
        self.copy_selection()

    def _act_paste(self) -> None:
        self.paste()

    def _act_delete(self) -> None:
        self.delete_selection()

    def _act_select_all(self) -> None:
        self.select_all()

    def _act_to_mask(self) -> None:
        self.convert_selection("mask")

    def _act_to_polygon(self) -> None:
        self.convert_selection("polygon")

    def _act_fill_holes(self) -> None:
        self.fill_selection_holes()

    def _act_bring_front(self) -> None:
        self.reorder_selection(front=True)

    def _act_send_back(self) -> None:
        self.reorder_selection(front=False)

    def _act_fit(self) -> None:
        self.canvas.fit()

    def _act_zoom_1to1(self) -> None:
        self.canvas.zoom_1to1()

    def _act_zoom_in(self) -> None:
        self.canvas.zoom_by(1.25)

    def _act_zoom_out(self) -> None:
        self.canvas.zoom_by(0.8)

    def _act_hide_all(self, checked: bool) -> None:
        self.session.set_all_hidden(checked)

    def _act_next_image(self) -> None:
        self.step_image(+1)

    def _act_prev_image(self) -> None:
        self.step_image(-1)

    def _act_next_unfinished(self) -> None:
        self.go_unfinished(+1)

    def _act_prev_unfinished(self) -> None:
        self.go_unfinished(-1)

    def _act_mark_done(self, checked: bool) -> None:
        self.set_image_done(checked)
        self._update_actions()

    def _act_brush_smaller(self) -> None:
        self.brush_spin.setValue(max(1, int(round(self.brush_size / 1.25))))

    def _act_brush_larger(self) -> None:
        self.brush_spin.setValue(max(self.brush_size + 1, int(round(self.brush_size * 1.25))))

    def _act_help(self) -> None:
        from app.dialogs.help_dialog import HelpDialog

        tools = [(name, self._tool_actions[name].shortcut().toString(), tool.title) for name, tool in self._tools.items()]
        extra = [
            (menu, action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), action.text().replace("&", ""))
            for menu, action in self._extra_actions
            if not action.shortcut().isEmpty()
        ]
        dialog = HelpDialog(tools, self, extra=extra)
        self._help_dialog = dialog
        dialog.show()

    def _act_about(self) -> None:
        QMessageBox.about(
            self,
            "About SegStudio",
            "SegStudio — an annotation studio for segmentation and detection data sets.\n"
            "Every edit is saved at once; undo and redo survive restarts.",
        )

    # ================================================================== closing
    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802 - Qt name
        self.binding.shutdown()
        self.images_panel.thumbnails.shutdown()
        if self.owns_project:
            self.project.close()
        super().closeEvent(event)
