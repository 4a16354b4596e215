"""The class list: colour, name, 1-9 shortcut and shape count on the current image; add,
rename, recolour, merge and delete classes (all undoable commands)."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QColorDialog,
    QGridLayout,
    QInputDialog,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from annotations.errors import AnnotationsError
from annotations.model import AddCategory, Category, DeleteCategory, UpdateCategory, merge_categories
from app import style

if TYPE_CHECKING:
    from app.workspace import Workspace


def color_icon(hex_rgb: str, size: int = 14) -> QIcon:
    pixmap = QPixmap(size, size)
    pixmap.fill(style.qcolor(hex_rgb))
    return QIcon(pixmap)


class LabelsPanel(QWidget):
    def __init__(self, window: Workspace) -> None:
        super().__init__()
        self.workspace = window
        self.session = window.session
        self.list = QListWidget()
        self.list.setSelectionMode(QListWidget.SelectionMode.SingleSelection)
        self.add_button = QPushButton("Add…")
        self.rename_button = QPushButton("Rename…")
        self.color_button = QPushButton("Colour…")
        self.merge_button = QPushButton("Merge into…")
        self.delete_button = QPushButton("Delete")
        for button, tip in (
            (self.add_button, "Add a class"),
            (self.rename_button, "Rename the selected class (or double-click it)"),
            (self.color_button, "Change the selected class's colour"),
            (self.merge_button, "Move every shape of the selected class to another class and delete it"),
            (self.delete_button, "Delete the selected class (only when no shape uses it)"),
        ):
            button.setToolTip(tip)
        grid = QGridLayout()
        grid.addWidget(self.add_button, 0, 0)
        grid.addWidget(self.rename_button, 0, 1)
        grid.addWidget(self.color_button, 0, 2)
        grid.addWidget(self.merge_button, 1, 0, 1, 2)
        grid.addWidget(self.delete_button, 1, 2)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.list, 1)
        layout.addLayout(grid)

        self.add_button.clicked.connect(self._ask_add)
        self.rename_button.clicked.connect(self._ask_rename)
        self.color_button.clicked.connect(self._ask_color)
        self.merge_button.clicked.connect(self._ask_merge)
        self.delete_button.clicked.connect(self._delete_selected)
        self.list.itemDoubleClicked.connect(lambda _item: self._ask_rename())
        self.list.currentItemChanged.connect(self._on_current_changed)
        self.session.categoriesChanged.connect(self.rebuild)
        self.session.annotationsChanged.connect(lambda _c: self.rebuild())
        self.session.currentCategoryChanged.connect(lambda _c: self._select_current())
        self.rebuild()

    # ------------------------------------------------------------------ view
    def rebuild(self) -> None:
        counts = Counter(a.category_id for a in self.session.annotations.values())
        self.list.blockSignals(True)
        self.list.clear()
        for position, category in enumerate(self.session.categories):
            key = f"{position + 1}  " if position < 9 else "    "
            item = QListWidgetItem(color_icon(category.color), f"{key}{category.name}   ({counts.get(category.id, 0)})")
            item.setData(Qt.ItemDataRole.UserRole, category.id)
            item.setToolTip(f"id {category.id} · {category.color}" + (f" · shortcut {position + 1}" if position < 9 else ""))
            self.list.addItem(item)
        self.list.blockSignals(False)
        self._select_current()

    def _select_current(self) -> None:
        current = self.session.current_category_id
        self.list.blockSignals(True)
        for row in range(self.list.count()):
            if self.list.item(row).data(Qt.ItemDataRole.UserRole) == current:
                self.list.setCurrentRow(row)
                break
        self.list.blockSignals(False)

    def _on_current_changed(self, item: QListWidgetItem | None, _previous: QListWidgetItem | None) -> None:
        if item is not None:
            self.session.set_current_category(int(item.data(Qt.ItemDataRole.UserRole)))

    def selected_category(self) -> Category | None:
        item = self.list.currentItem()
        return self.session.category(int(item.data(Qt.ItemDataRole.UserRole))) if item is not None else None

    # ------------------------------------------------------------------ edits (testable without dialogs)
    def add_category(self, name: str, color: str | None = None) -> Category | None:
        name = name.strip()
        if not name:
            return None
        if any(c.name == name for c in self.session.categories):
            self.workspace.show_message(f"A class named {name!r} already exists")
            return None
        color = color or style.next_palette_color([c.color for c in self.session.categories])
        done = self.workspace.execute(AddCategory(Category(0, name, color)))
        self.session.set_current_category(done.category.id)
        return done.category

    def rename_category(self, category: Category, name: str) -> None:
        name = name.strip()
        if not name or name == category.name:
            return
        if any(c.name == name and c.id != category.id for c in self.session.categories):
            self.workspace.show_message(f"A class named {name!r} already exists")
            return
        renamed = Category(category.id, name, category.color, category.supercategory, category.is_thing, category.attributes)
        self.workspace.execute(UpdateCategory(renamed))

    def recolor_category(self, category: Category, color: str) -> None:
        if QColor(color).isValid() and color.lower() != category.color.lower():
            recoloured = Category(
                category.id, category.name, QColor(color).name(), category.supercategory, category.is_thing, category.attributes
            )
            self.workspace.execute(UpdateCategory(recoloured))

    def merge_category(self, source: Category, into: Category) -> None:
        if source.id == into.id:
            return
        self.workspace.execute(merge_categories(self.session.project, source.id, into.id))
        self.session.set_current_category(into.id)
        self.workspace.show_message(f"Merged {source.name!r} into {into.name!r}")

    # ------------------------------------------------------------------ buttons
    def _ask_add(self) -> None:
        name, ok = QInputDialog.getText(self, "Add class", "Name of the new class:")
        if ok:
            self.add_category(name)

    def _ask_rename(self) -> None:
        category = self.selected_category()
        if category is None:
            return
        name, ok = QInputDialog.getText(self, "Rename class", f"New name for {category.name!r}:", text=category.name)
        if ok:
            self.rename_category(category, name)

    def _ask_color(self) -> None:
        category = self.selected_category()
        if category is None:
            return
        color = QColorDialog.getColor(style.qcolor(category.color), self, f"Colour of {category.name}")
        if color.isValid():
            self.recolor_category(category, color.name())

    def _ask_merge(self) -> None:
        source = self.selected_category()
        if source is None:
            return
        others = [c for c in self.session.categories if c.id != source.id]
        if not others:
            return
        name, ok = QInputDialog.getItem(
            self, "Merge classes", f"Move every {source.name!r} shape to:", [c.name for c in others], 0, False
        )
        if ok:
            into = next(c for c in others if c.name == name)
            self.merge_category(source, into)

    def _delete_selected(self) -> None:
        category = self.selected_category()
        if category is None:
            return
        try:
            self.workspace.execute(DeleteCategory(category.id))
        except AnnotationsError as exc:
            self.workspace.show_message(f"Cannot delete {category.name!r}: {exc} (merge it into another class instead)")
