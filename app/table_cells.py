"""Typed access to QTableWidget cells the code filled itself (Qt types ``item()`` as Optional)."""

from __future__ import annotations

from PySide6.QtWidgets import QTableWidget, QTableWidgetItem


def filled_cell(table: QTableWidget, row: int, column: int) -> QTableWidgetItem:
    """The item at (``row``, ``column``) of ``table``, which the caller filled with ``setItem``;
    raises AssertionError naming the cell when it is empty (a programming error)."""
    item = table.item(row, column)
    assert item is not None, f"{table.objectName() or type(table).__name__}: cell ({row}, {column}) is empty"
    return item
