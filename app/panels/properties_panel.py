"""Properties of the selected shape(s): class, iscrowd, free attributes (key = JSON value),
and read-only facts (kind, area, vertices, source, author, dates)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from annotations.geometry import Polygon
from annotations.model import Annotation, Batch, UpdateAnnotation
from app.panels.labels_panel import color_icon

if TYPE_CHECKING:
    from app.workspace import Workspace


def parse_value(text: str) -> Any:
    """An attribute value typed by the user: JSON when it parses (numbers, true/false, lists),
    else the plain string."""
    text = text.strip()
    try:
        return json.loads(text)
    except ValueError:
        return text


def format_value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class AttributeTable(QTableWidget):
    """The attributes table. Keys typed while it has the focus are its own: a digit starts
    editing the cell instead of switching the class (a window shortcut), and Delete /
    Backspace ask to remove the current attribute instead of deleting the shape.

    Signal: ``removeRequested()`` (Delete or Backspace outside the cell editor).
    """

    removeRequested = Signal()

    _OWN_KEYS = (Qt.Key.Key_Delete, Qt.Key.Key_Backspace)

    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.ShortcutOverride and isinstance(event, QKeyEvent) and self._is_own(event):
            event.accept()  # the window's shortcut does not fire; keyPressEvent gets the key
            return True
        return super().event(event)

    def _is_own(self, event: QKeyEvent) -> bool:
        modifier = Qt.KeyboardModifier
        if event.modifiers() & (modifier.ControlModifier | modifier.AltModifier | modifier.MetaModifier):
            return False
        return event.key() in self._OWN_KEYS or (bool(event.text()) and event.text().isprintable())

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802 - Qt name
        if event.key() in self._OWN_KEYS and self.state() != QTableWidget.State.EditingState:
            self.removeRequested.emit()
            event.accept()
            return
        super().keyPressEvent(event)


class PropertiesPanel(QWidget):
    def __init__(self, window: Workspace) -> None:
        super().__init__()
        self.workspace = window
        self.session = window.session
        self.title = QLabel("No shape selected")
        self.title.setWordWrap(True)
        self.category = QComboBox()
        self.iscrowd = QCheckBox("iscrowd (a group of objects, exported as RLE)")
        self.info = QLabel()
        self.info.setWordWrap(True)
        self.info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.attributes = AttributeTable(0, 2)
        self.attributes.setHorizontalHeaderLabels(["Attribute", "Value"])
        self.attributes.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.attributes.verticalHeader().setVisible(False)
        self.add_attribute_button = QPushButton("Add attribute")
        self.remove_attribute_button = QPushButton("Remove")
        form = QFormLayout()
        form.addRow("Class", self.category)
        form.addRow("", self.iscrowd)
        buttons = QHBoxLayout()
        buttons.addWidget(self.add_attribute_button)
        buttons.addWidget(self.remove_attribute_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.title)
        layout.addLayout(form)
        layout.addWidget(self.attributes, 1)
        layout.addLayout(buttons)
        layout.addWidget(self.info)

        self._loading = False
        self.category.currentIndexChanged.connect(self._on_category)
        self.iscrowd.toggled.connect(self._on_iscrowd)
        self.attributes.itemChanged.connect(self._on_attribute_edited)
        self.add_attribute_button.clicked.connect(self.add_attribute_row)
        self.remove_attribute_button.clicked.connect(self._remove_attribute_row)
        self.attributes.removeRequested.connect(self._remove_attribute_row)
        self.session.selectionChanged.connect(self.reload)
        self.session.annotationsChanged.connect(lambda _c: self.reload())
        self.session.categoriesChanged.connect(self.reload)
        self.reload()

    def _selected(self) -> list[Annotation]:
        return self.session.selected_annotations()

    def reload(self) -> None:
        self._loading = True
        selected = self._selected()
        enabled = bool(selected)
        for widget in (self.category, self.iscrowd, self.attributes, self.add_attribute_button, self.remove_attribute_button):
            widget.setEnabled(enabled)
        self.category.clear()
        for category in self.session.categories:
            self.category.addItem(color_icon(category.color), category.name, category.id)
        rows = [(k, format_value(v)) for k, v in selected[0].attributes.items()] if len(selected) == 1 else []
        if rows != self._table_rows():
            # Rebuilt only when it differs: an edit committed from the table leaves it (and its
            # open editor) alone instead of destroying the cell being committed.
            self.attributes.setRowCount(0)
            for key, value in rows:
                self._append_row(key, value)
        if not selected:
            self.title.setText("No shape selected")
            self.info.setText("")
            self.category.setCurrentIndex(-1)
            self.iscrowd.setChecked(False)
        else:
            first = selected[0]
            common_category = all(a.category_id == first.category_id for a in selected)
            self.category.setCurrentIndex(self.category.findData(first.category_id) if common_category else -1)
            self.iscrowd.setTristate(len(selected) > 1 and len({a.iscrowd for a in selected}) > 1)
            if self.iscrowd.isTristate():
                self.iscrowd.setCheckState(Qt.CheckState.PartiallyChecked)
            else:
                self.iscrowd.setChecked(first.iscrowd)
            if len(selected) == 1:
                self.title.setText(f"<b>{first.geometry.kind.value} #{first.id}</b>")
                vertices = f" · {first.geometry.vertex_count} vertices" if isinstance(first.geometry, Polygon) else ""
                holes = " · has holes" if isinstance(first.geometry, Polygon) and first.geometry.has_holes else ""
                self.info.setText(
                    f"Area {first.geometry.area:,.1f} px²{vertices}{holes}<br>Source: {first.source}"
                    + (f" · author {first.author}" if first.author else "")
                    + f"<br>Created {first.created[:19].replace('T', ' ')} · modified {first.modified[:19].replace('T', ' ')}"
                )
            else:
                self.title.setText(f"<b>{len(selected)} shapes selected</b>")
                self.info.setText("Class and iscrowd apply to all of them.")
                self.attributes.setEnabled(False)
                self.add_attribute_button.setEnabled(False)
                self.remove_attribute_button.setEnabled(False)
        self._loading = False

    def _table_rows(self) -> list[tuple[str, str]]:
        """(key, value) texts of the table's rows, top to bottom."""
        out = []
        for row in range(self.attributes.rowCount()):
            key_item, value_item = self.attributes.item(row, 0), self.attributes.item(row, 1)
            out.append((key_item.text() if key_item else "", value_item.text() if value_item else ""))
        return out

    def _append_row(self, key: str, value: str) -> None:
        row = self.attributes.rowCount()
        self.attributes.insertRow(row)
        self.attributes.setItem(row, 0, QTableWidgetItem(key))
        self.attributes.setItem(row, 1, QTableWidgetItem(value))

    # ------------------------------------------------------------------ edits
    def _update_all(self, changes_of: dict[int, dict[str, Any]], description: str) -> None:
        commands = tuple(UpdateAnnotation(ann_id, changes, description) for ann_id, changes in changes_of.items())
        if not commands:
            return
        self.workspace.execute(commands[0] if len(commands) == 1 else Batch(commands, description))

    def _on_category(self, index: int) -> None:
        if self._loading or index < 0:
            return
        category_id = self.category.itemData(index)
        changes = {a.id: {"category_id": category_id} for a in self._selected() if a.category_id != category_id}
        self._update_all(changes, "Change class")

    def _on_iscrowd(self, checked: bool) -> None:
        if self._loading:
            return
        self.iscrowd.setTristate(False)
        changes = {a.id: {"iscrowd": checked} for a in self._selected() if a.iscrowd != checked}
        self._update_all(changes, "Set iscrowd" if checked else "Clear iscrowd")

    def set_attributes(self, attributes: dict[str, Any]) -> None:
        """Replace the attributes of the single selected shape (one undo step)."""
        selected = self._selected()
        if len(selected) == 1 and selected[0].attributes != attributes:
            self._update_all({selected[0].id: {"attributes": attributes}}, "Edit attributes")

    def _table_attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for row in range(self.attributes.rowCount()):
            key_item, value_item = self.attributes.item(row, 0), self.attributes.item(row, 1)
            key = key_item.text().strip() if key_item else ""
            if key:
                out[key] = parse_value(value_item.text() if value_item else "")
        return out

    def _on_attribute_edited(self, _item: QTableWidgetItem) -> None:
        if not self._loading:
            self.set_attributes(self._table_attributes())

    def add_attribute_row(self) -> None:
        selected = self._selected()
        if len(selected) != 1:
            return
        existing = set(selected[0].attributes)
        n = 1
        while f"attribute{n}" in existing:
            n += 1
        self.set_attributes({**selected[0].attributes, f"attribute{n}": ""})

    def _remove_attribute_row(self) -> None:
        row = self.attributes.currentRow()
        selected = self._selected()
        if row < 0 or len(selected) != 1:
            return
        key_item = self.attributes.item(row, 0)
        key = key_item.text() if key_item else ""
        self.set_attributes({k: v for k, v in selected[0].attributes.items() if k != key})
