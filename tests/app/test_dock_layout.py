"""Dock layout: no stray tab bar floats over a panel (Qt leaves one behind when a dock moves
between tab groups or a group is half shown)."""

from __future__ import annotations

from PySide6.QtCore import QRect
from PySide6.QtWidgets import QTabBar


def tab_bars_over(window, dock) -> list[tuple[str, ...]]:
    """Tabbed bars (shown, with tabs) whose rectangle overlaps ``dock``'s contents."""
    top_left = dock.widget().mapTo(window, dock.widget().rect().topLeft())
    area = QRect(top_left, dock.widget().size())
    return [
        tuple(bar.tabText(i) for i in range(bar.count()))
        for bar in window.findChildren(QTabBar)
        if bar.parent() is window and bar.isVisible() and bar.count() and bar.geometry().intersects(area)
    ]


def test_no_tab_bar_floats_over_the_properties_panel(window, qtbot) -> None:
    properties = window._panels["properties"]
    for size in ((1600, 1000), (1200, 800)):
        window.resize(*size)
        qtbot.wait(50)
        assert tab_bars_over(window, properties) == [], size


def test_showing_a_bottom_panel_shows_its_whole_tab_group(window, qtbot) -> None:
    window.show_panel("review")
    qtbot.wait(50)
    for name in ("training", "review", "jobs"):
        assert window._panels[name].isVisible(), name
    assert not window._panels["review"].visibleRegion().isEmpty()  # raised in front of its group
    assert tab_bars_over(window, window._panels["properties"]) == []
