"""Preferences: the shortcut scheme (SegStudio, labelme, CVAT habits) and every key binding,
rebindable (type the keys into the cell; several sequences separated by " | "). Conflicting
bindings are named and block OK."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.actions import ACTIONS, TOOL_SHORTCUTS
from app.shortcuts import Bindings, Scheme, conflicts, normalized, scheme_bindings
from app.table_cells import filled_cell


def _titles() -> dict[str, str]:
    titles = {spec.key: f"{spec.menu}: {spec.text.replace('&', '').replace('…', '')}" for spec in ACTIONS}
    for name, _shortcut, description in TOOL_SHORTCUTS:
        titles[f"tool_{name}"] = f"Tool: {description}"
    return titles


class PreferencesDialog(QDialog):
    """Choose a scheme, rebind keys; :meth:`scheme` and :meth:`bindings` give the result."""

    def __init__(self, scheme: Scheme, bindings: Bindings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Preferences")
        self._titles = _titles()
        self._keys = [key for key in self._titles if key in bindings or key in scheme_bindings(Scheme.SEGSTUDIO)]
        self.scheme_box = QComboBox()
        self.scheme_box.setObjectName("shortcutScheme")
        for choice in Scheme:
            self.scheme_box.addItem(f"{choice.display_name} habits", choice.value)
        self.scheme_box.setCurrentIndex(self.scheme_box.findData(scheme.value))
        self.table = QTableWidget(len(self._keys), 2)
        self.table.setObjectName("bindingsTable")
        self.table.setHorizontalHeaderLabels(["Action", "Keys"])
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(24)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        self.problem = QLabel()
        self.problem.setObjectName("bindingProblem")
        self.problem.setWordWrap(True)
        self.problem.setStyleSheet("color: #e5534b;")
        reset = QPushButton("Reset to the scheme")
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("Shortcut scheme", self.scheme_box)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(QLabel("Double-click a cell to rebind; several key sequences separated by “ | ”."))
        layout.addWidget(self.table, 1)
        layout.addWidget(self.problem)
        layout.addWidget(reset, 0, Qt.AlignmentFlag.AlignLeft)
        layout.addWidget(self.buttons)
        self._fill(bindings)
        self.scheme_box.currentIndexChanged.connect(lambda _i: self._fill(scheme_bindings(self.scheme())))
        reset.clicked.connect(lambda: self._fill(scheme_bindings(self.scheme())))
        self.table.itemChanged.connect(lambda _item: self._check())
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        self.resize(620, 640)

    def _fill(self, bindings: Bindings) -> None:
        self.table.blockSignals(True)
        for row, key in enumerate(self._keys):
            title = QTableWidgetItem(self._titles[key])
            title.setFlags(title.flags() & ~Qt.ItemFlag.ItemIsEditable)
            self.table.setItem(row, 0, title)
            keys = " | ".join(QKeySequence(s).toString(QKeySequence.SequenceFormat.PortableText) for s in bindings.get(key, ()))
            item = QTableWidgetItem(keys)
            item.setData(Qt.ItemDataRole.UserRole, key)
            self.table.setItem(row, 1, item)
        self.table.blockSignals(False)
        self._check()

    def scheme(self) -> Scheme:
        return Scheme(self.scheme_box.currentData())

    def set_binding(self, key: str, sequences: tuple[str, ...]) -> None:
        """Rebind ``key`` as if typed into its cell."""
        filled_cell(self.table, self._keys.index(key), 1).setText(" | ".join(sequences))

    def bindings(self) -> Bindings:
        """The bindings as edited (portable key text)."""
        result: Bindings = {}
        for row, key in enumerate(self._keys):
            text = filled_cell(self.table, row, 1).text()
            result[key] = tuple(normalized(part.strip()) for part in text.split("|") if part.strip() and normalized(part.strip()))
        return result

    def _check(self) -> None:
        clashes = conflicts(self.bindings())
        text = "; ".join(
            f"{seq} is bound to {' and '.join(self._titles[k] for k in keys)}" for seq, keys in sorted(clashes.items())
        )
        self.problem.setText(text)
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setEnabled(not clashes)
