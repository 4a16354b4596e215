"""Colours, pens and sizes of the canvas: the one place class colours become QColors."""

from __future__ import annotations

from functools import lru_cache

from PySide6.QtCore import Qt
from PySide6.QtGui import QBrush, QColor, QPen

FILL_ALPHA = 72
"""Fill opacity (0-255) of an unselected shape: the image stays readable underneath."""
SELECTED_FILL_ALPHA = 120
HOVER_FILL_ALPHA = 60
"""Extra fill drawn over the shape under the pointer (on top of its FILL_ALPHA tile fill)."""
MASK_ALPHA = 110
"""Opacity of mask pixels (masks have no separate outline fill, so a little stronger)."""
OUTLINE_WIDTH_PX = 1.5
"""Outline of unselected shapes (screen pixels)."""
DENSE_OUTLINE_WIDTH_PX = 1.0
"""Outline when an image has more than DENSE_SHAPE_COUNT shapes: 1 px takes Qt's fast
antialiased path; 1.5 px goes through the stroker and draws about 4x slower."""
DENSE_SHAPE_COUNT = 2000
SELECTED_OUTLINE_WIDTH_PX = 2.5
HOVER_OUTLINE_WIDTH_PX = 2.0
HALO_EXTRA_PX = 2.0
"""The halo (a contrasting under-stroke) is this much wider than the outline: 1 px each side,
so a class colour close to the photo's own colours still has a visible edge."""
HALO_ALPHA = 190
HALO_DARK_LUMINANCE = 100
"""Class colours darker than this (0-255 luma) get a light halo, the others a dark one."""
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


def next_palette_color(used: list[str] | set[str]) -> str:
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


def luminance(hex_rgb: str) -> float:
    """Perceived brightness (ITU-R 601 luma, 0-255) of a ``#rrggbb`` colour."""
    color = qcolor(hex_rgb)
    return 0.299 * color.red() + 0.587 * color.green() + 0.114 * color.blue()


@lru_cache(maxsize=512)
def halo_color(hex_rgb: str) -> QColor:
    """The under-stroke colour for class colour ``hex_rgb``: translucent white under dark
    colours (dark red stays visible on dark photos), translucent black under the others."""
    if luminance(hex_rgb) < HALO_DARK_LUMINANCE:
        return QColor(255, 255, 255, HALO_ALPHA)
    return QColor(0, 0, 0, HALO_ALPHA)


def halo_pen(hex_rgb: str, width_px: float) -> QPen:
    """A cosmetic pen ``width_px`` screen pixels wide in :func:`halo_color`, drawn under the
    outline (pass the outline width plus HALO_EXTRA_PX for a 1 px rim on each side)."""
    pen = QPen(halo_color(hex_rgb), width_px)
    pen.setCosmetic(True)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    return pen


def fill_brush(hex_rgb: str, alpha: int = FILL_ALPHA) -> QBrush:
    """A solid brush in the class colour with opacity ``alpha`` (0-255)."""
    return QBrush(qcolor(hex_rgb, alpha))


def contrast_text_color(hex_rgb: str) -> QColor:
    """Black or white, whichever reads better on the colour."""
    return QColor("#000000") if luminance(hex_rgb) > 150 else QColor("#ffffff")
