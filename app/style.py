"""Colours, pens and sizes of the canvas: the one place class colours become QColors."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPen

FILL_ALPHA = 72
"""Fill opacity (0-255) of an unselected shape: the image stays readable underneath."""
SELECTED_FILL_ALPHA = 120
MASK_ALPHA = 110
"""Opacity of mask pixels (masks have no separate outline fill, so a little stronger)."""
OUTLINE_WIDTH_PX = 1.5
"""Outline of unselected shapes (screen pixels)."""
DENSE_OUTLINE_WIDTH_PX = 1.0
"""Outline when an image has more than DENSE_SHAPE_COUNT shapes: 1 px takes Qt's fast
antialiased path; 1.5 px goes through the stroker and draws about 4x slower."""
DENSE_SHAPE_COUNT = 2000
SELECTED_OUTLINE_WIDTH_PX = 2.5
HANDLE_SIZE_PX = 7.0
"""Side of a vertex handle square, in screen pixels."""
HIT_TOLERANCE_PX = 6.0
"""How close (screen pixels) the pointer must be to a vertex or an edge to grab it."""
CANVAS_BACKGROUND = QColor("#2b2d30")
PREVIEW_COLOR = QColor("#ffd60a")

# Distinct, colour-blind-friendlier colours for classes created in the GUI (Kelly / Tol mix).
PALETTE: tuple[str, ...] = (
    "#e6194b", "#3cb44b", "#4363d8", "#f58231", "#911eb4", "#42d4f4", "#f032e6", "#bfef45",
    "#fabed4", "#469990", "#dcbeff", "#9a6324", "#fffac8", "#800000", "#aaffc3", "#808000",
    "#ffd8b1", "#000075", "#a9a9a9", "#ffe119",
)


def next_palette_color(used: "list[str] | set[str]") -> str:
    """The first palette colour not in ``used`` (case-insensitive), cycling when all are used."""
    taken = {c.lower() for c in used}
    for color in PALETTE:
        if color not in taken:
            return color
    return PALETTE[len(taken) % len(PALETTE)]


@lru_cache(maxsize=512)
def qcolor(hex_rgb: str, alpha: int = 255) -> QColor:
    """A QColor from ``#rrggbb`` with an alpha (0-255); invalid strings give grey."""
    color = QColor(hex_rgb)
    if not color.isValid():
        color = QColor("#808080")
    color.setAlpha(alpha)
    return color


def outline_pen(hex_rgb: str, width_px: float = OUTLINE_WIDTH_PX) -> QPen:
    """A cosmetic pen (constant screen width at every zoom) in the class colour."""
    pen = QPen(qcolor(hex_rgb), width_px)
    pen.setCosmetic(True)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def fill_brush(hex_rgb: str, alpha: int = FILL_ALPHA) -> QBrush:
    return QBrush(qcolor(hex_rgb, alpha))


def contrast_text_color(hex_rgb: str) -> QColor:
    """Black or white, whichever reads better on the colour."""
    color = qcolor(hex_rgb)
    luminance = 0.299 * color.red() + 0.587 * color.green() + 0.114 * color.blue()
    return QColor("#000000") if luminance > 150 else QColor("#ffffff")
