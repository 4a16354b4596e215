"""The canvas's right-click menu on shapes and polygon vertices (labelme habit): delete the
vertex under the pointer, delete / re-class / reorder / convert the selected shapes. No
modifier key is needed (desktops take Alt+click for moving windows)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction, QColor, QIcon, QPixmap
from PySide6.QtWidgets import QMenu, QWidget

from annotations.geometry import Mask, Polygon

if TYPE_CHECKING:
    from app.workspace import Workspace


def _swatch(color: str) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(QColor(color))
    return QIcon(pixmap)


def build_shape_menu(window: Workspace, annotation_id: int, delete_vertex: Callable[[], None] | None, parent: QWidget) -> QMenu:
    """The menu for shape ``annotation_id`` (already selected); ``delete_vertex``: the action
    for the vertex under the pointer, or None when the pointer is on no vertex."""
    session = window.session
    edits = window.selection_edits
    annotation = session.annotations[annotation_id]
    count = len(session.selection)
    shapes = "shape" if count <= 1 else f"{count} shapes"
    menu = QMenu(parent)
    menu.setObjectName("shapeContextMenu")
    if delete_vertex is not None:
        vertex = QAction("Delete &vertex", menu)
        vertex.setObjectName("menu_delete_vertex")
        vertex.triggered.connect(lambda _checked=False: delete_vertex())
        menu.addAction(vertex)
        menu.addSeparator()
    delete = menu.addAction(f"&Delete {shapes}", edits.delete)
    delete.setObjectName("menu_delete_shape")
    classes = menu.addMenu("Change &class")
    classes.setObjectName("menu_change_class")
    for category in session.categories:
        action = classes.addAction(_swatch(category.color), category.name)
        action.setObjectName(f"menu_class_{category.id}")
        action.setCheckable(True)
        action.setChecked(category.id == annotation.category_id)
        action.triggered.connect(lambda _checked=False, cid=category.id: edits.set_category(cid))
    menu.addSeparator()
    front = menu.addAction("Bring to &front", lambda: edits.reorder(front=True))
    front.setObjectName("menu_bring_front")
    back = menu.addAction("Send to &back", lambda: edits.reorder(front=False))
    back.setObjectName("menu_send_back")
    menu.addSeparator()
    if not isinstance(annotation.geometry, Mask):
        menu.addAction("Convert to &mask", lambda: edits.convert("mask")).setObjectName("menu_to_mask")
    if not isinstance(annotation.geometry, Polygon):
        menu.addAction("Convert to &polygon", lambda: edits.convert("polygon")).setObjectName("menu_to_polygon")
    menu.addAction("&Copy", edits.copy).setObjectName("menu_copy")
    return menu
