"""The main window: canvas in the centre, images on the left, classes / shapes / properties on
the right, tools in a toolbar, zoom / cursor / image size in the status bar.

Tools, panels, dialogs and the assist features see it as an :class:`app.workspace.Workspace`
(session, canvas, ``execute``, ``selection_edits``, panels, tool switching), never as this
class. Every edit goes through ``execute``: one committed transaction per edit, returning what
changed. Undo and redo are the project's persisted history (``Project.undo_change``): they show
the image they change, or refuse when the image filter hides it. Window size, dock layout and
the shortcut scheme are remembered in the user's settings (``app.settings``).

Opening is staged so the window answers at once on a big project: ``__init__`` builds the
canvas, the image list and the side panels; the first image (then the background integrity
check) and the assist features (pre-labels, training, review, jobs, the mask tool, the Model
menu) follow in short steps, one per event-loop turn, after the window is on screen
(``building``; ``finish_building()`` or reading ``assist`` completes them at once, reading
``current_image()`` opens the first image at once).
"""

from __future__ import annotations

import importlib.util
import logging
import time
from collections.abc import Callable, Generator, Sequence
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QByteArray, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QCloseEvent, QCursor, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QApplication,
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
from annotations.geometry import Geometry
from annotations.model import (
    AddAnnotation,
    Annotation,
    Batch,
    Command,
    Image,
    ImageStatus,
    SetImageStatus,
    set_images_status,
)
from annotations.model.changes import Change
from annotations.store import Project
from app import icons, shortcuts
from app.actions import ACTIONS, TOOL_SHORTCUTS
from app.canvas import CanvasView
from app.canvas.binding import CanvasBinding
from app.canvas.render_shapes import RenderShape
from app.image_table import ImageView
from app.integrity_watch import IntegrityWatch
from app.panels.annotations_panel import AnnotationsPanel
from app.panels.images_panel import ImagesPanel
from app.panels.labels_panel import LabelsPanel
from app.panels.properties_panel import PropertiesPanel
from app.selection_edits import ClipboardShape, SelectionEdits
from app.session import Session
from app.settings import WINDOW_GEOMETRY_KEY, WINDOW_STATE_KEY, user_settings
from app.tools.base import Tool
from app.tools.brush import BrushTool
from app.tools.draw import BoxTool, PolygonTool
from app.tools.select import SelectTool

if TYPE_CHECKING:
    from app.assist import AssistFeatures
    from app.dialogs.preferences_dialog import PreferencesDialog

log = logging.getLogger(__name__)

BOTTOM_PANEL_MAX_PX = 330
BOTTOM_PANEL_MAX_FRACTION = 0.33
"""A bottom panel (training, review, jobs) gets at most this much of the window's height."""
DRAWING_TOOLS = frozenset({"box", "polygon", "hole", "brush"})
"""Tools that "Draw again" (CVAT's N) returns to."""

DEFAULT_BRUSH_SIZE = 16
class MainWindow(QMainWindow):
    """SegStudio's main window over one open :class:`Project`.

    Signals: ``imageChanged(int)`` (the image shown), ``toolChanged(str)``,
    ``projectChanged()`` (after any edit, undo, redo or refresh).
    """

    imageChanged = Signal(int)
    toolChanged = Signal(str)
    projectChanged = Signal()

    def __init__(
        self, project: Project, *, owns_project: bool = False, remember_layout: bool | None = None, parent: QWidget | None = None
    ) -> None:
        """``remember_layout``: restore the window size and dock layout from the user's
        settings and save them on close (default: yes, except on the offscreen platform, so
        screenshots are reproducible)."""
        super().__init__(parent)
        if remember_layout is None:
            remember_layout = QGuiApplication.platformName() != "offscreen"
        self.remember_layout = remember_layout
        self._layout_restored = False
        self._saved_state: QByteArray | None = None
        self.project = project
        self.owns_project = owns_project
        self._assist: AssistFeatures | None = None
        self._build_steps: Generator[None, None, None] | None = None
        self.session = Session(project, self)
        self.canvas = CanvasView(self)
        self.canvas.setObjectName("canvas")
        self.setCentralWidget(self.canvas)
        self.binding = CanvasBinding(self.session, self.canvas, self)
        self.brush_size = DEFAULT_BRUSH_SIZE
        self.selection_edits = SelectionEdits(self.session, self._execute_all, self.show_message)
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
        self.context_menu: QMenu | None = None
        self._first_image_id: int | None = None  # opened by the first build step (see _build_later)

        self.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)
        # Side panels run the full height; bottom panels sit under the canvas only.
        self.setCorner(Qt.Corner.BottomLeftCorner, Qt.DockWidgetArea.LeftDockWidgetArea)
        self.setCorner(Qt.Corner.BottomRightCorner, Qt.DockWidgetArea.RightDockWidgetArea)
        self._build_menus()
        self._build_toolbars()
        self._build_status_bar()
        self._build_panels()
        self._register_builtin_tools()
        self._last_drawing_tool = "polygon"
        self.shortcut_scheme, bindings = shortcuts.load(user_settings())
        self.apply_shortcuts(bindings)
        self._connect_session()

        self.resize(1440, 900)
        self._arrange_docks()
        self.set_tool("select")
        # The image last worked on is opened in the first build step, after the window's first
        # paint (reading it and laying out its shapes would lengthen the opening's stall).
        self._first_image_id = self.session.last_image_id() or (
            int(self.session.images.ids[0]) if len(self.session.images) else None)
        self._update_title()
        self._update_actions()

        self.integrity = IntegrityWatch(self)
        self.integrity.damaged.connect(self._on_damaged)
        if self.remember_layout:
            self._restore_layout()
        # The rest (the assist features) is built after the window is on screen, one short step
        # per event-loop turn: opening never blocks the event loop for the whole build.
        self._build_steps = self._build_later()
        self._build_timer = QTimer(self)
        self._build_timer.setSingleShot(True)
        self._build_timer.setInterval(0)
        self._build_timer.timeout.connect(self._build_step)
        self._build_timer.start()

    # ================================================================== staged build
    def _build_later(self) -> Generator[None, None, None]:
        """The steps of the build that wait until the window is on screen (see the module doc)."""
        from app.assist import install_steps

        self._open_first_image()
        if not self.project.integrity_checked:  # opened with defer_check: check it without freezing the window
            self.integrity.start(self.project.path)  # (after the first image: its messages come first)
        yield
        self._assist = yield from install_steps(self)
        self._add_weights_action()
        if self._layout_restored and self._saved_state is not None:
            # Again with every dock there: the assist docks take their saved places (the side
            # panels, restored before show, stay where they are).
            self.restoreState(self._saved_state)

    def _build_step(self) -> None:
        steps = self._build_steps
        if steps is None:
            return
        try:
            next(steps)
        except StopIteration:
            self._build_steps = None
            return
        self._build_timer.start()

    @property
    def building(self) -> bool:
        """True while steps of the staged build are still to run."""
        return self._build_steps is not None

    def finish_building(self) -> None:
        """Run the remaining steps of the staged build now."""
        self._build_timer.stop()
        while self._build_steps is not None:
            self._build_step()
        self._build_timer.stop()

    @property
    def assist(self) -> AssistFeatures:
        """The assist features (``app.assist.install``); built now if the staged build has not
        got to them yet."""
        if self._assist is None:
            self.finish_building()
        assert self._assist is not None
        return self._assist

    def _open_first_image(self) -> None:
        """Open the image the window starts on, unless something opened an image already."""
        image_id, self._first_image_id = self._first_image_id, None
        if image_id is not None and self.session.image is None:
            self.open_image(image_id)

    def _on_damaged(self, message: str) -> None:
        """The background integrity check found the file damaged: stop writing to it (edits are
        refused with a message) and say how to repair it."""
        self.project.readonly = True
        self.show_message(f"Project file damaged: edits are off. {message}", 0)
        box = QMessageBox(QMessageBox.Icon.Critical, "Project file damaged",
                          f"{message}\n\nNothing more is written to this file; what is saved stays as it is.", parent=self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _add_weights_action(self) -> None:
        """Model > Get pretrained weights… (the dialog ships with the engine's weight files
        support; without it the entry is left out)."""
        if importlib.util.find_spec("app.dialogs.weights_dialog") is None:
            return
        action = QAction("Get pretrained &weights…", self)
        action.setObjectName("action_weights")
        action.setStatusTip("List the pretrained weight files, what they can propose for this project's classes, and fetch one")
        action.triggered.connect(lambda _checked=False: self._open_weights_dialog())
        self.add_menu_action("Model", action)

    def _open_weights_dialog(self) -> None:
        from app.dialogs.weights_dialog import WeightsDialog

        dialog = WeightsDialog(str(Path(self.project.path).absolute()), self)
        self._weights_dialog = dialog
        dialog.show()

    def _restore_layout(self) -> None:
        """Window size and dock layout as the user left them (after every panel exists)."""
        settings = user_settings()
        geometry = settings.value(WINDOW_GEOMETRY_KEY)
        state = settings.value(WINDOW_STATE_KEY)
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        if isinstance(state, QByteArray) and not state.isEmpty():
            self._saved_state = state
            self._layout_restored = self.restoreState(state)

    def _save_layout(self) -> None:
        settings = user_settings()
        settings.setValue(WINDOW_GEOMETRY_KEY, self.saveGeometry())
        settings.setValue(WINDOW_STATE_KEY, self.saveState())
        settings.sync()

    # ================================================================== public API
    @property
    def main_widget(self) -> QMainWindow:
        """This window as a Qt widget (the assist features parent their objects to it)."""
        return self

    def current_image(self) -> Image | None:
        """The image shown, or None for a project without images (the image the window starts
        on is opened now if the staged build has not got to it yet)."""
        self._open_first_image()
        return self.session.image

    def open_image(self, image_id: int) -> None:
        """Show image ``image_id`` (NotFoundError for an unknown id)."""
        self._first_image_id = None
        if self._current_tool is not None:
            self._tools[self._current_tool].reset()
        self.session.open_image(image_id)

    def execute(self, command: Command) -> Change:
        """Run an undoable model command through the store (committed at once) and refresh
        every view; returns what changed (``.command``: the command as done, ids assigned)."""
        return self.session.execute(command)

    def apply_edit(self, command: Command) -> Change | None:
        """Run an edit of a tool: like :meth:`execute`, but a refused or failed edit (a bad
        geometry, a store fault) is shown in the status bar and gives None, never a traceback."""
        done = self._run(lambda: self.execute(command))
        return done if isinstance(done, Change) else None

    def refresh(self) -> None:
        """Reload classes, statuses and shapes after changes made elsewhere (engine worker)."""
        self.session.reload()

    def wait_until_ready(self, timeout_s: float = 10.0) -> None:
        """Process events until the image is decoded and the visible thumbnails are drawn (for
        screenshots: they used to show grey thumbnail boxes), at most ``timeout_s`` seconds."""
        deadline = time.monotonic() + timeout_s
        self.finish_building()
        self.binding.wait_until_loaded()
        QApplication.processEvents()
        while not self.images_panel.rows_on_screen() and time.monotonic() < deadline:
            QApplication.processEvents()  # a long list is laid out in batches between events
        self.images_panel.request_visible_thumbnails()
        while self.images_panel.thumbnails.pending() and time.monotonic() < deadline:
            QApplication.processEvents()
            time.sleep(0.01)
        QApplication.processEvents()

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
        if anchor is not None and tab_with:  # (an anchor is only found for a named tab_with)
            anchor.raise_()
            self._tab_group_of[name] = self._tab_group_of.get(tab_with, tab_with)
        self._view_menu_panels.addAction(dock.toggleViewAction())
        return dock

    def show_panel(self, name: str) -> None:
        """Show and raise panel ``name``; KeyError for an unknown name."""
        if name not in self._panels and self.building:
            self.finish_building()
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
        if self.dockWidgetArea(dock) == Qt.DockWidgetArea.BottomDockWidgetArea:
            # Under the canvas, never more than a third of the window: the canvas keeps the room.
            height = min(BOTTOM_PANEL_MAX_PX, int(self.height() * BOTTOM_PANEL_MAX_FRACTION))
            if dock.height() > height:
                self.resizeDocks([dock], [height], Qt.Orientation.Vertical)

    def panel_names(self) -> list[str]:
        self.finish_building()
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
        if name in DRAWING_TOOLS:
            self._last_drawing_tool = name
        self.canvas.set_tool(tool)
        self._tool_actions[name].setChecked(True)
        if tool.hint:
            self.show_message(tool.hint, 0)
        self.toolChanged.emit(name)

    def apply_shortcuts(self, bindings: shortcuts.Bindings) -> None:
        """Bind window actions and tools (``tool_<name>``) to ``bindings``' key sequences;
        keys not in ``bindings`` keep theirs. Menus, tooltips and the help dialog follow."""
        for key, sequences in bindings.items():
            action = self._tool_actions.get(key[len("tool_"):]) if key.startswith("tool_") else self.actions_by_key.get(key)
            if action is None:
                continue
            action.setShortcuts([QKeySequence(s) for s in sequences])
            base = action.toolTip().split(" (")[0] if action.toolTip() else action.text().replace("&", "")
            tip = f"{base} ({QKeySequence(sequences[0]).toString(QKeySequence.SequenceFormat.NativeText)})" if sequences else base
            action.setToolTip(tip)
        self.bindings = {**getattr(self, "bindings", {}), **bindings}

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
        if not isinstance(done, Change):
            return None
        self.session.set_selection((done.annotation.id,))
        return done.annotation

    def open_shape_menu(self, annotation_id: int, delete_vertex: Callable[[], None] | None) -> QMenu:
        """Pop up the right-click menu of shape ``annotation_id`` at the pointer (non-blocking:
        ``self.context_menu`` holds it); ``delete_vertex`` deletes the vertex under the pointer."""
        from app.context_menu import build_shape_menu

        if self.context_menu is not None:
            self.context_menu.close()
        menu = build_shape_menu(self, annotation_id, delete_vertex, self)
        self.context_menu = menu
        menu.popup(QCursor.pos())
        return menu

    def _run(self, action: Callable[[], Any]) -> Any:
        """Run a UI edit; a bad edit becomes a status bar message instead of an exception."""
        try:
            return action()
        except AnnotationsError as exc:
            log.warning("edit refused: %s", exc)
            self.show_message(f"Not done: {exc}")
            return None

    def _execute_all(self, commands: Sequence[Command], description: str) -> Change | None:
        if not commands:
            return None
        command = commands[0] if len(commands) == 1 else Batch(tuple(commands), description)
        return self._run(lambda: self.execute(command))

    # ================================================================== edits on the selection
    @property
    def clipboard(self) -> list[ClipboardShape]:
        return self.selection_edits.clipboard

    @clipboard.setter
    def clipboard(self, shapes: list[ClipboardShape]) -> None:
        self.selection_edits.clipboard = shapes

    def choose_category(self, position: int) -> None:
        """Digit shortcut: make class ``position`` (0-based) current; re-class the selection."""
        categories = self.session.categories
        if 0 <= position < len(categories):
            category = categories[position]
            self.session.set_current_category(category.id)
            if self.session.selection:
                self.selection_edits.set_category(category.id)
            self.show_message(f"Class: {category.name}", 3000)

    # ================================================================== navigation
    def step_image(self, step: int) -> None:
        """Next (+1) / previous (-1) image in the image list as filtered."""
        rows = self.images_panel.model.rows  # a view of the session's table, in id order
        if not len(rows):
            rows = ImageView(self.session.images)
        if not len(rows):
            return
        image = self.session.image
        if image is None:
            self.open_image(rows[0].id if step > 0 else rows[-1].id)
            return
        here = rows.index_of(image.id)
        if here >= 0:
            index: int | None = here + step if 0 <= here + step < len(rows) else None
        else:
            # The current image left the filtered list (e.g. marked done under "Unfinished"):
            # go on from its place in the project's order.
            table_row = self.session.row_of_image(image.id)
            index = rows.neighbour(table_row, step) if table_row is not None else None
        if index is None:  # binary searches, no scan of 100,000 rows per key press
            self.show_message("No more images in this direction", 3000)
            return
        self.open_image(rows[index].id)

    def go_unfinished(self, step: int) -> None:
        """The next (+1) / previous (-1) image that is not done or reviewed (wrapping)."""
        images = self.session.images
        current = self.session.image
        here = self.session.image_index(current.id) if current is not None else -1
        unfinished = images.rows_unfinished()  # ascending table rows (a numpy mask: no row read)
        unfinished = unfinished[unfinished != here]
        if not unfinished.size:
            self.show_message("Every other image is done", 4000)
            return
        if step > 0:
            k = int(np.searchsorted(unfinished, here, side="right"))
            row = int(unfinished[k % unfinished.size])  # wraps to the first
        else:
            k = int(np.searchsorted(unfinished, max(here, 0), side="left")) - 1
            row = int(unfinished[k])  # -1 wraps to the last
        self.open_image(int(images.ids[row]))

    def set_image_done(self, done: bool) -> None:
        image = self.session.image
        if image is None:
            return
        status = ImageStatus.DONE if done else ImageStatus.IN_PROGRESS
        if image.status != status:
            self._run(lambda: self.execute(SetImageStatus(image.id, status)))

    def set_images_done(self, image_ids: list[int], done: bool) -> Change | None:
        """Mark images done (``done``) or not done — in progress, or new when they have no
        shapes — in one undoable step (``annotations.model.set_images_status``, as the command
        line's ``status --set``); finished images stay as they are when marking done (a reviewed
        image is not demoted), unfinished ones when marking not done."""
        finished = {image_id for image_id in image_ids if self._status(image_id).is_finished}
        if done:
            batches = [set_images_status(self.project, [i for i in image_ids if i not in finished], ImageStatus.DONE)]
        else:
            shaped = [i for i in image_ids if i in finished and self.project.annotations(i)]
            bare = [i for i in image_ids if i in finished and i not in shaped]
            batches = [set_images_status(self.project, shaped, ImageStatus.IN_PROGRESS),
                       set_images_status(self.project, bare, ImageStatus.NEW)]
        commands = [command for batch in batches for command in batch.commands]
        word = "done" if done else "not done"
        if not commands:
            self.show_message(f"The selected images are already {word}", 4000)
            return None
        noun = "image" if len(commands) == 1 else "images"
        change = self._execute_all(commands, f"Mark {len(commands)} {noun} {word}")
        if change is not None:
            self.show_message(f"Marked {len(commands)} {noun} {word} (one undo step)", 4000)
        return change

    def _status(self, image_id: int) -> ImageStatus:
        row = self.session.row_of_image(image_id)
        return self.session.images.status_at(row) if row is not None else self.project.get_image_status(image_id)

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
            if spec.key in ("quit", "redo", "paste", "select_all", "fill_holes", "send_back", "zoom_out", "prev_unfinished"):
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
        feature = QDockWidget.DockWidgetFeature
        dock.setFeatures(feature.DockWidgetMovable | feature.DockWidgetClosable | feature.DockWidgetFloatable)
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
        self.resizeDocks(
            [panels["labels"], panels["annotations"], panels["properties"]], [180, 320, 300], Qt.Orientation.Vertical
        )

    def showEvent(self, event) -> None:  # noqa: N802 - Qt name
        super().showEvent(event)
        if not self._shown_once:
            self._shown_once = True
            if self._layout_restored:
                return
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
        # Always enabled: another process (the engine worker, a CLI command) may add history
        # this window has not heard of yet; the store decides, "Nothing to undo" otherwise.
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
        path, _filter = QFileDialog.getOpenFileName(
            self, "Open project", str(self.project.root), "SegStudio projects (*.segproj)"
        )
        if not path:
            return
        try:
            project = Project.open(path, defer_check=True)
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

    def _act_save(self) -> None:
        self.show_message("Saved — every edit is written to the project file at once", 4000)

    def _act_draw_again(self) -> None:
        self.set_tool(self._last_drawing_tool)

    def _act_preferences(self) -> None:
        from app.dialogs.preferences_dialog import PreferencesDialog

        dialog = PreferencesDialog(self.shortcut_scheme, self.bindings, self)
        self._preferences_dialog = dialog
        dialog.accepted.connect(lambda: self._apply_preferences(dialog))
        dialog.show()

    def _apply_preferences(self, dialog: PreferencesDialog) -> None:
        self.shortcut_scheme = dialog.scheme()
        bindings = dialog.bindings()
        shortcuts.save(user_settings(), self.shortcut_scheme, bindings)
        self.apply_shortcuts(bindings)
        self.show_message(f"Shortcuts: {self.shortcut_scheme.display_name} scheme", 4000)

    def _act_quit(self) -> None:
        self.close()

    def _act_undo(self) -> None:
        if self.tool is not None:
            self.tool.reset()
        self.step_history(undo=True)

    def _act_redo(self) -> None:
        if self.tool is not None:
            self.tool.reset()
        self.step_history(undo=False)

    def step_history(self, *, undo: bool) -> Change | None:
        """Undo (or redo) the newest step of the project's history, showing the image it
        changes first; refused, with the reason in the status bar, when the images filter hides
        that image (unless the step changes that image's status, which may bring it back)."""
        word = "undo" if undo else "redo"
        preview = self._run(lambda: self.session.preview_step(undo=undo))
        if preview is None:
            self.show_message(f"Nothing to {word}", 3000)
            return None
        target = preview.image_id
        if target is not None and not self._step_stays_visible(preview, target):
            name = PurePosixPath(self.project.get_image(target).path).name
            self.show_message(
                f"Not {word}ne: “{preview.label}” changes {name}, which the image filter hides — "
                f"show all images to {word} it",
                10000,
            )
            return None
        change = self._run(lambda: self.session.undo() if undo else self.session.redo())
        if change is None:
            self.show_message(f"Nothing to {word}", 3000)
        return change if isinstance(change, Change) else None

    def _step_stays_visible(self, step: Change, image_id: int) -> bool:
        """True when the images list shows ``image_id`` now, or will once ``step`` set its
        status (undoing "Mark done" under the "Unfinished" filter brings the image back)."""
        if self.images_panel.shows(image_id):
            return True
        new_status = next(
            (c.status for c in step.commands() if isinstance(c, SetImageStatus) and c.image_id == image_id),
            None,
        )
        if new_status is None:
            return False
        return self.images_panel.would_show(replace(self.project.get_image(image_id), status=new_status))

    def _act_copy(self) -> None:
        self.selection_edits.copy()

    def _act_paste(self) -> None:
        self.selection_edits.paste()

    def _act_delete(self) -> None:
        self.selection_edits.delete()

    def _act_select_all(self) -> None:
        self.selection_edits.select_all()

    def _act_to_mask(self) -> None:
        self.selection_edits.convert("mask")

    def _act_to_polygon(self) -> None:
        self.selection_edits.convert("polygon")

    def _act_fill_holes(self) -> None:
        self.selection_edits.fill_holes()

    def _act_bring_front(self) -> None:
        self.selection_edits.reorder(front=True)

    def _act_send_back(self) -> None:
        self.selection_edits.reorder(front=False)

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

        tools = [
            (name, ", ".join(k.toString(QKeySequence.SequenceFormat.NativeText) for k in self._tool_actions[name].shortcuts()),
             tool.title)
            for name, tool in self._tools.items()
        ]
        extra = [
            (menu, action.shortcut().toString(QKeySequence.SequenceFormat.NativeText), action.text().replace("&", ""))
            for menu, action in self._extra_actions
            if not action.shortcut().isEmpty()
        ]
        dialog = HelpDialog(tools, self, extra=extra, bindings=self.bindings, scheme_title=self.shortcut_scheme.display_name)
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
        self._build_timer.stop()  # closed while building: nothing more is added
        if self.remember_layout:
            self._save_layout()
        self.binding.shutdown()
        self.images_panel.thumbnails.shutdown()
        self.integrity.stop()  # before the project closes: its connection must not outlive ours
        if self.owns_project:
            self.project.close()
        super().closeEvent(event)
