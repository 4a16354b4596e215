"""The keyboard shortcuts dialog, built from the same tables as the menus (never out of date)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.actions import ACTIONS, CANVAS_GESTURES
from app.table_cells import filled_cell


def shortcut_rows(
    tools: list[tuple[str, str, str]],
    extra: list[tuple[str, str, str]] | None = None,
    bindings: dict[str, tuple[str, ...]] | None = None,
) -> list[tuple[str, str, str]]:
    """(section, keys, what it does) for every tool, window action (with the key sequences of
    ``bindings`` when given: the scheme and rebindings in force), action added by other parts
    of the app (``extra``: (menu, keys, text)) and canvas gesture."""
    rows: list[tuple[str, str, str]] = []
    for name, shortcut, description in tools:
        rows.append(("Tools", shortcut, f"{description} ({name})"))
    for spec in ACTIONS:
        sequences = bindings.get(spec.key, spec.shortcuts) if bindings is not None else spec.shortcuts
        if sequences:
            keys = ", ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in sequences)
            rows.append((spec.menu, keys, spec.text.replace("&", "").replace("…", "")))
    rows.extend(extra or [])
    for keys, description in CANVAS_GESTURES:
        rows.append(("Canvas", keys, description))
    return rows


class HelpDialog(QDialog):
    def __init__(
        self,
        tools: list[tuple[str, str, str]],
        parent: QWidget | None = None,
        extra: list[tuple[str, str, str]] | None = None,
        bindings: dict[str, tuple[str, ...]] | None = None,
        scheme_title: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Keyboard shortcuts — {scheme_title} scheme" if scheme_title else "Keyboard shortcuts")
        rows = shortcut_rows(tools, extra, bindings)
        self.table = QTableWidget(len(rows), 3)
        self.table.setHorizontalHeaderLabels(["Where", "Keys", "Action"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        for row, values in enumerate(rows):
            for column, text in enumerate(values):
                item = QTableWidgetItem(text)
                if column == 1:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(row, column, item)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)
        layout.addWidget(buttons)
        self.resize(760, 640)
        self.setWindowModality(Qt.WindowModality.NonModal)

    def texts(self) -> list[tuple[str, str, str]]:
        """Every row as shown (for tests)."""
        table = self.table
        return [
            (filled_cell(table, r, 0).text(), filled_cell(table, r, 1).text(), filled_cell(table, r, 2).text())
            for r in range(table.rowCount())
        ]
