"""The tool protocol of the canvas.

A tool receives mouse events already mapped to continuous image pixel coordinates (pixel
(row i, col j) covers [j, j+1) x [i, i+1)), key events, and may draw a live preview. It edits
the project only through ``window.apply_edit(command)``, so every edit is undoable and saved,
and an edit the store refuses becomes a status bar message, never a traceback.

Register a tool with ``window.register_tool(name, tool, shortcut)`` and switch with
``window.set_tool(name)``. The canvas handles panning (middle button, Space + drag) and wheel
zoom before tools see events.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeyEvent, QPainter

if TYPE_CHECKING:
    from app.workspace import Workspace


@dataclass(frozen=True)
class ToolEvent:
    """A mouse event on the canvas.

    ``x``, ``y``: continuous image pixel coordinates; ``button``: the button that changed (press
    and release) or NoButton (move); ``buttons``: buttons held; ``pixel_size``: image pixels per
    screen pixel at the current zoom (multiply screen-pixel tolerances by it).
    """

    x: float
    y: float
    button: Qt.MouseButton = Qt.MouseButton.NoButton
    buttons: Qt.MouseButton = Qt.MouseButton.NoButton
    modifiers: Qt.KeyboardModifier = Qt.KeyboardModifier.NoModifier
    pixel_size: float = 1.0

    @property
    def pixel(self) -> tuple[int, int]:
        """(column, row) of the pixel under the pointer (may lie outside the image)."""
        return (int(self.x // 1), int(self.y // 1))

    def has(self, modifier: Qt.KeyboardModifier) -> bool:
        return bool(self.modifiers & modifier)


class Tool:
    """Base class of canvas tools; every handler returns True when it consumed the event."""

    title: str = "Tool"
    """Text of the tool's menu entry and toolbar button."""
    cursor: Qt.CursorShape = Qt.CursorShape.ArrowCursor
    hint: str = ""
    """One line shown in the status bar while the tool is active."""

    def __init__(self) -> None:
        self.window: Workspace | None = None
        self.name: str = ""

    # -------------------------------------------------------------- lifecycle
    def activate(self, window: Workspace) -> None:
        """Called when the tool becomes the current one."""
        self.window = window

    def deactivate(self) -> None:
        """Called when another tool is chosen; drop any drawing in progress."""
        self.reset()

    def reset(self) -> None:
        """Abandon work in progress (also called when the image changes)."""

    # -------------------------------------------------------------- events
    def mouse_press(self, event: ToolEvent) -> bool:
        return False

    def mouse_move(self, event: ToolEvent) -> bool:
        return False

    def mouse_release(self, event: ToolEvent) -> bool:
        return False

    def mouse_double_click(self, event: ToolEvent) -> bool:
        return False

    def key_press(self, event: QKeyEvent) -> bool:
        return False

    def key_release(self, event: QKeyEvent) -> bool:
        return False

    def claims_key(self, event: QKeyEvent) -> bool:
        """True when the tool wants ``event`` even though a window shortcut uses that key
        (e.g. Backspace while drawing a polygon, Delete while a vertex is selected)."""
        return False

    # -------------------------------------------------------------- preview
    def paint(self, painter: QPainter, pixel_size: float) -> None:
        """Draw the live preview in image coordinates (``pixel_size``: image px per screen px)."""

    def update_preview(self) -> None:
        """Ask the canvas to repaint this tool's preview."""
        if self.window is not None:
            self.window.canvas.update_tool_preview()
