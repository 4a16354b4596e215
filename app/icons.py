"""The toolbar's icon set: small SVGs in ``resources/icons`` named after the tool or action key
(``select.svg``, ``undo.svg``, ``mark_done.svg``...), drawn on a 24 x 24 grid in one style
(1.8 px slate strokes, blue accent), so they stay crisp at any device pixel ratio."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from PySide6.QtGui import QIcon

ICON_DIR = Path(__file__).resolve().parents[1] / "resources" / "icons"

TOOL_ICONS: tuple[str, ...] = ("select", "box", "polygon", "hole", "brush", "eraser", "interactive_mask")
"""Tool names that have an icon."""
ACTION_ICONS: tuple[str, ...] = (
    "undo", "redo", "fit", "zoom_1to1", "prev_image", "next_image", "next_unfinished", "mark_done",
)
"""Window action keys (``app.actions.ACTIONS``) that have an icon."""


def icon_path(name: str) -> Path:
    """Where the icon called ``name`` lives (the file may be missing)."""
    return ICON_DIR / f"{name}.svg"


@lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """The icon ``name`` from ``resources/icons``; a null QIcon when there is no such file
    (the action then shows its text only)."""
    path = icon_path(name)
    return QIcon(str(path)) if path.is_file() else QIcon()
