"""The keyboard shortcuts dialog, built from the same tables as the menus (never out of date)."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget

from app.actions import ACTIONS, CANVAS_GESTURES


def shortcut_rows(
    tools: "list[tuple[str, str, str]]", extra: "list[tuple[str, str, str]] | None" = None
) -> list[tuple[str, str, str]]:
    """(section, keys, what it does) for every tool, window action, action added by other
    parts of the app (``extra``: (menu, keys, text)) and canvas gesture."""
    rows: list[tuple[str, str, str]] = []
    for name, shortcut, description in tools:
        rows.append(("Tools", shortcut, f"{description} ({name})"))
    for spec in ACTIONS:
        if spec.shortcuts:
            keys = ", ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.NativeText) for s in spec.shortcuts)
            rows.append((spec.menu, keys, spec.text.replace("&", "").replace("…", "")))
    rows.extend(extra or [])
    for keys, description in CANVAS_GESTURES:
        rows.append(("Canvas", keys, description))
    return rows


class HelpDialog(QDialog):
    def __init__(
        self, tools: "list[tuple[str, str, str]]", parent: QWidget | None = None, extra: "list[tuple[str, str, str]] | None" = None
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        rows = shortcut_rows(tools, extra)
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
        return [tuple(self.table.item(r, c).text() for c in range(3)) for r in range(self.table.rowCount())]  # type: ignore[misc]
