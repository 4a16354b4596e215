"""The shapes of the current image: select (synced with the canvas), show/hide, z-order, class,
delete. A table model, so tens of thousands of rows stay cheap."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QAbstractTableModel, QItemSelection, QItemSelectionModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from annotations.model import NO_CATEGORY, Annotation, AnnotationRole
from app.panels.labels_panel import color_icon
from app.session import Session

if TYPE_CHECKING:
    from app.workspace import Workspace

COLUMNS = ("Shape", "Class", "Z", "Source")


class AnnotationTableModel(QAbstractTableModel):
    def __init__(self, session: Session) -> None:
        super().__init__()
        self.session = session
        self.rows: list[Annotation] = []
        self._row_by_id: dict[int, int] = {}

    def reload(self) -> None:
        self.beginResetModel()
        self.rows = list(reversed(self.session.ordered_annotations()))  # front-most first
        self._row_by_id = {a.id: r for r, a in enumerate(self.rows)}
        self.endResetModel()

    def row_of(self, annotation_id: int) -> int:
        return self._row_by_id.get(annotation_id, -1)

    def update_rows(self, changed: frozenset[int]) -> bool:
        """Refresh the rows of ``changed`` in place when the set of shapes and their order
        stay the same; False when a reload is needed."""
        annotations = self.session.annotations
        rows = []
        for ann_id in changed:
            row = self._row_by_id.get(ann_id)
            fresh = annotations.get(ann_id)
            if row is None or fresh is None or fresh.z_order != self.rows[row].z_order:
                return False
            rows.append((row, fresh))
        for row, fresh in rows:
            self.rows[row] = fresh
            self.dataChanged.emit(self.index(row, 0), self.index(row, len(COLUMNS) - 1))
        return True

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:  # noqa: N802
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        return base | Qt.ItemFlag.ItemIsUserCheckable if index.column() == 0 else base

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        annotation = self.rows[index.row()]
        column = index.column()
        category = self.session.category(annotation.category_id)
        if role == Qt.ItemDataRole.DisplayRole:
            if column == 0:
                if annotation.role is AnnotationRole.IGNORE:
                    return f"{annotation.geometry.kind.value} #{annotation.id} ignore"
                crowd = " crowd" if annotation.iscrowd else ""
                return f"{annotation.geometry.kind.value} #{annotation.id}{crowd}"
            if column == 1:
                if annotation.category_id == NO_CATEGORY:
                    return "— (void)"
                return category.name if category else f"? ({annotation.category_id})"
            if column == 2:
                return annotation.z_order
            return annotation.source
        if role == Qt.ItemDataRole.CheckStateRole and column == 0:
            hidden = annotation.id in self.session.hidden
            return Qt.CheckState.Unchecked if hidden else Qt.CheckState.Checked
        if role == Qt.ItemDataRole.DecorationRole and column == 1 and category is not None:
            return color_icon(category.color, 12)
        if role == Qt.ItemDataRole.ToolTipRole and column == 0:
            return "Uncheck to hide this shape"
        return None

    def setData(self, index: QModelIndex | QPersistentModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:  # noqa: N802
        if role == Qt.ItemDataRole.CheckStateRole and index.column() == 0:
            annotation = self.rows[index.row()]
            visible = Qt.CheckState(value) == Qt.CheckState.Checked if not isinstance(value, bool) else value
            self.session.set_hidden(annotation.id, not visible)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.CheckStateRole])
            return True
        return False


class AnnotationsPanel(QWidget):
    def __init__(self, window: Workspace) -> None:
        super().__init__()
        self.workspace = window
        self.session = window.session
        self.model = AnnotationTableModel(self.session)
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(22)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # Fixed widths: ResizeToContents would read every row on each change (slow at 20k rows).
        for column, width in ((1, 96), (2, 34), (3, 64)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, width)
        self.front_button = QPushButton("Front")
        self.front_button.setToolTip("Bring the selected shapes to the front (Ctrl+])")
        self.back_button = QPushButton("Back")
        self.back_button.setToolTip("Send the selected shapes to the back (Ctrl+[)")
        self.class_button = QToolButton()
        self.class_button.setText("Class ▾")
        self.class_button.setToolTip("Change the class of the selected shapes")
        self.class_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.class_menu = QMenu(self.class_button)
        self.class_button.setMenu(self.class_menu)
        self.delete_button = QPushButton("Delete")
        buttons = QHBoxLayout()
        for widget in (self.front_button, self.back_button, self.class_button, self.delete_button):
            buttons.addWidget(widget)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        self._syncing = False
        self.front_button.clicked.connect(lambda: window.selection_edits.reorder(front=True))
        self.back_button.clicked.connect(lambda: window.selection_edits.reorder(front=False))
        self.delete_button.clicked.connect(window.selection_edits.delete)
        self.class_menu.aboutToShow.connect(self._fill_class_menu)
        self.table.selectionModel().selectionChanged.connect(self._on_table_selection)
        self.session.annotationsChanged.connect(self._on_annotations_changed)
        self.session.categoriesChanged.connect(self.reload)
        self.session.selectionChanged.connect(self._sync_from_session)
        self.session.visibilityChanged.connect(lambda: self.model.layoutChanged.emit())
        self.reload()

    def reload(self) -> None:
        self._syncing = True
        self.model.reload()
        self._syncing = False
        self._sync_from_session()

    def _on_annotations_changed(self, changed: object) -> None:
        """Edits that keep the rows and their order refresh those rows only; others reload."""
        if changed is not None and self.model.update_rows(changed):  # type: ignore[arg-type]
            return
        self.reload()

    def _sync_from_session(self) -> None:
        self._syncing = True
        selection = QItemSelection()
        last = self.model.columnCount() - 1
        for ann_id in self.session.selection:
            row = self.model.row_of(ann_id)
            if row >= 0:
                selection.select(self.model.index(row, 0), self.model.index(row, last))
        model = self.table.selectionModel()
        model.select(selection, QItemSelectionModel.SelectionFlag.ClearAndSelect)
        if self.session.selection:
            row = self.model.row_of(self.session.selection[-1])
            if row >= 0:
                self.table.scrollTo(self.model.index(row, 0))
        self._syncing = False

    def _on_table_selection(self, *_args: object) -> None:
        if self._syncing:
            return
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        self.session.set_selection([self.model.rows[r].id for r in rows])

    def _fill_class_menu(self) -> None:
        self.class_menu.clear()
        for category in self.session.categories:
            action = self.class_menu.addAction(color_icon(category.color), category.name)
            action.triggered.connect(lambda _checked=False, cid=category.id: self.workspace.selection_edits.set_category(cid))
