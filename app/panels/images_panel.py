"""The image list: thumbnail, file name and status of every image, filters by status and by
class, and previous/next unfinished buttons. Thumbnails are decoded in a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

import numpy as np
from PySide6.QtCore import QAbstractListModel, QModelIndex, QObject, QPersistentModelIndex, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QMenu,
    QPushButton,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from annotations.model import Image, ImageStatus
from app.canvas.qt_numpy import qimage_from_array
from app.image_loading import ImageLoadError, thumbnail
from app.image_table import ImageView
from app.session import Session

if TYPE_CHECKING:
    from app.workspace import Workspace

THUMB_PX = 52
ROW_HEIGHT = THUMB_PX + 10
THUMBNAIL_MAX_PIXELS = 60_000_000
"""Non-JPEG images larger than this get no thumbnail (it would mean decoding them whole)."""
STATUS_COLORS = {
    ImageStatus.NEW: "#8a8f98",
    ImageStatus.PRELABELED: "#9b59b6",
    ImageStatus.IN_PROGRESS: "#e6a23c",
    ImageStatus.DONE: "#2e9d5b",
    ImageStatus.REVIEWED: "#2f80ed",
}
STATUS_TEXT = {
    ImageStatus.NEW: "new",
    ImageStatus.PRELABELED: "pre-labeled",
    ImageStatus.IN_PROGRESS: "in progress",
    ImageStatus.DONE: "done",
    ImageStatus.REVIEWED: "reviewed",
}
ImageRole = Qt.ItemDataRole.UserRole + 1


NO_SHAPES = -1
"""The class filter's entry for images without any shape."""


def contains_sorted(sorted_ids: np.ndarray, ids: np.ndarray) -> np.ndarray:
    """Boolean mask over ``ids``: True where the id is in ``sorted_ids`` (ascending, unique) —
    binary searches, no sort of either array."""
    if not sorted_ids.size:
        return np.zeros(ids.shape, bool)
    at = np.minimum(np.searchsorted(sorted_ids, ids), sorted_ids.size - 1)
    return np.asarray(sorted_ids[at] == ids)


def with_id(sorted_ids: np.ndarray, image_id: int, present: bool) -> np.ndarray:
    """``sorted_ids`` (ascending, unique) with ``image_id`` added (``present``) or removed."""
    at = int(np.searchsorted(sorted_ids, image_id))
    there = at < sorted_ids.size and int(sorted_ids[at]) == image_id
    if present and not there:
        return np.insert(sorted_ids, at, image_id)
    if not present and there:
        return np.delete(sorted_ids, at)
    return sorted_ids


class ThumbnailCache(QObject):
    """Decodes thumbnails in one worker thread; ``ready(image_id)`` fires when one is there."""

    ready = Signal(int)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._pixmaps: dict[int, QPixmap] = {}
        self._images: dict[int, QImage | None] = {}
        self._requested: set[int] = set()
        self._finished: set[int] = set()  # decoded or failed (worker thread adds, under the lock)
        self._closed = False
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="thumbnails")

    def get(self, image: Image, path: Path) -> QPixmap | None:
        found = self._pixmaps.get(image.id)
        if found is not None:
            return found
        with self._lock:
            ready = self._images.pop(image.id, None)
        if ready is not None:
            pixmap = self._pixmaps[image.id] = QPixmap.fromImage(ready)
            return pixmap
        if image.id not in self._requested and not self._closed:
            self._requested.add(image.id)
            big = image.width * image.height > THUMBNAIL_MAX_PIXELS and path.suffix.lower() not in (".jpg", ".jpeg")
            if big:
                self._finished.add(image.id)
            else:
                self._executor.submit(self._job, image.id, path)
        return None

    def pending(self) -> int:
        """Thumbnails requested and not decoded (nor failed) yet."""
        with self._lock:
            return len(self._requested - self._finished)

    def _job(self, image_id: int, path: Path) -> None:
        try:
            array = thumbnail(path, THUMB_PX)
        except (ImageLoadError, MemoryError, OSError):
            with self._lock:
                self._finished.add(image_id)
            return
        qimage = qimage_from_array(array).copy()
        with self._lock:
            self._images[image_id] = qimage
            self._finished.add(image_id)
        self.ready.emit(image_id)

    def shutdown(self) -> None:
        self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)


class ImageListModel(QAbstractListModel):
    """The filtered image list (``rows``: a view of the session's image table, in id order).
    Rows are fetched on demand: only the rows the list paints are read from the store."""

    def __init__(self, session: Session, thumbnails: ThumbnailCache, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.thumbnails = thumbnails
        self.rows = ImageView(session.images, np.zeros(0, np.int64))
        self._count = 0  # len(rows): Qt asks for it thousands of times while it lays the list out
        thumbnails.ready.connect(self._on_thumbnail)

    def set_rows(self, rows: ImageView) -> None:
        """Show ``rows`` (in id order)."""
        self.beginResetModel()
        self.rows = rows
        self._count = len(rows)
        self.endResetModel()

    def update_images(self, image_ids: Iterable[int]) -> None:
        """Repaint the rows of ``image_ids`` (their statuses changed in the session's table; no
        reset: keeps the scroll position)."""
        for image_id in image_ids:
            row = self.row_of(image_id)
            if row >= 0:
                index = self.index(row)
                self.dataChanged.emit(index, index)

    def row_of(self, image_id: int) -> int:
        """Row of ``image_id`` in the filtered list, or -1: binary searches, as the rows are
        always in id order (the session's order, filtered) — no index to build per filter."""
        return self.rows.index_of(image_id)

    def image_id_at(self, row: int) -> int:
        """The id of the image in ``row`` (no store read)."""
        return int(self.rows.table.ids[self.rows.table_row(row)])

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: N802, B008
        return 0 if parent.isValid() else self._count

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < self._count:
            return None
        image = self.rows[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return PurePosixPath(image.path).name
        if role == ImageRole:
            return image
        if role == Qt.ItemDataRole.DecorationRole:
            return self.thumbnails.get(image, self.session.project.image_path(image))
        if role == Qt.ItemDataRole.ToolTipRole:
            return f"{image.path}\n{image.width} × {image.height} px · {STATUS_TEXT[image.status]} · id {image.id}"
        return None

    def _on_thumbnail(self, image_id: int) -> None:
        row = self.row_of(image_id)
        if row >= 0:
            index = self.index(row)
            self.dataChanged.emit(index, index, [Qt.ItemDataRole.DecorationRole])


class ImageRowDelegate(QStyledItemDelegate):
    """Thumbnail, file name, and a coloured status pill."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        return QSize(200, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        image: Image = index.data(ImageRole)
        if image is None:
            return
        painter.save()
        rect = option.rect
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        if selected:
            painter.fillRect(rect, option.palette.highlight())
        thumb_rect = QRect(rect.left() + 5, rect.top() + 5, THUMB_PX, THUMB_PX)
        pixmap = index.data(Qt.ItemDataRole.DecorationRole)
        painter.fillRect(thumb_rect, QColor("#3a3d41"))
        if isinstance(pixmap, QPixmap) and not pixmap.isNull():
            scaled = pixmap.scaled(
                THUMB_PX, THUMB_PX, Qt.AspectRatioMode.KeepAspectRatio, Qt.TransformationMode.SmoothTransformation
            )
            painter.drawPixmap(
                thumb_rect.left() + (THUMB_PX - scaled.width()) // 2, thumb_rect.top() + (THUMB_PX - scaled.height()) // 2, scaled
            )
        text_left = thumb_rect.right() + 8
        text_color = option.palette.highlightedText().color() if selected else option.palette.text().color()
        font = QFont(option.font)
        font.setBold(True)
        painter.setFont(font)
        painter.setPen(text_color)
        name_rect = QRect(text_left, rect.top() + 6, rect.right() - text_left - 4, 20)
        name = painter.fontMetrics().elidedText(
            index.data(Qt.ItemDataRole.DisplayRole), Qt.TextElideMode.ElideMiddle, name_rect.width()
        )
        painter.drawText(name_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        small = QFont(option.font)
        small.setPointSizeF(max(7.0, option.font.pointSizeF() - 1))
        painter.setFont(small)
        status_text = STATUS_TEXT[image.status]
        width = painter.fontMetrics().horizontalAdvance(status_text) + 12
        pill = QRect(text_left, rect.top() + 30, width, 18)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(STATUS_COLORS[image.status]))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.drawRoundedRect(pill, 8, 8)
        painter.setPen(QColor("#ffffff"))
        painter.drawText(pill, Qt.AlignmentFlag.AlignCenter, status_text)
        painter.setPen(text_color)
        size_rect = QRect(pill.right() + 8, pill.top(), rect.right() - pill.right() - 10, 18)
        painter.drawText(size_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, f"{image.width}×{image.height}")
        painter.restore()


class ImagesPanel(QWidget):
    """Filters on top, the list, and previous/next unfinished buttons below."""

    FILTERS: tuple[tuple[str, str], ...] = (
        ("all", "All statuses"),
        ("unfinished", "Unfinished"),
        *((s.value, STATUS_TEXT[s].capitalize()) for s in ImageStatus),
    )

    def __init__(self, window: Workspace) -> None:
        super().__init__()
        self.workspace = window
        self.session = window.session
        self.thumbnails = ThumbnailCache(self)
        self.model = ImageListModel(self.session, self.thumbnails, self)
        # Class filter: category id (NO_SHAPES: images without shapes) -> the ids of the images
        # it lets in, ascending; read from the store's index on first use, kept up to date
        # for the image being edited.
        self._ids_by_class: dict[int, np.ndarray] = {}

        self.status_filter = QComboBox()
        for key, text in self.FILTERS:
            self.status_filter.addItem(text, key)
        self.class_filter = QComboBox()
        self.summary = QLabel()
        self.summary.setObjectName("imagesSummary")
        self.list = QListView()
        self.list.setModel(self.model)
        self.list.setItemDelegate(ImageRowDelegate(self.list))
        self.list.setUniformItemSizes(True)
        # Lay 100,000 rows out in batches between events: a filter change or a reset never
        # stalls the window for the whole list.
        self.list.setLayoutMode(QListView.LayoutMode.Batched)
        self.list.setBatchSize(2000)
        # Shift/Ctrl+click selects several images for "Mark done" / "Mark not done".
        self.list.setSelectionMode(QListView.SelectionMode.ExtendedSelection)
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_list_menu)
        self.done_button = QPushButton("Mark done")
        self.done_button.setObjectName("markSelectedDone")
        self.done_button.setToolTip("Mark the selected images done (Shift/Ctrl+click selects several) — one undo step")
        self.not_done_button = QPushButton("Mark not done")
        self.not_done_button.setObjectName("markSelectedNotDone")
        self.not_done_button.setToolTip("Put the selected images back to in progress (new when they have no shapes)")
        self.prev_button = QPushButton("◀ Unfinished")
        self.prev_button.setToolTip("Previous unfinished image (Shift+A)")
        self.next_button = QPushButton("Unfinished ▶")
        self.next_button.setToolTip("Next unfinished image (Shift+D)")

        filters = QHBoxLayout()
        filters.addWidget(self.status_filter, 1)
        filters.addWidget(self.class_filter, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.prev_button)
        buttons.addWidget(self.next_button)
        marks = QHBoxLayout()
        marks.addWidget(self.done_button)
        marks.addWidget(self.not_done_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(filters)
        layout.addWidget(self.summary)
        layout.addWidget(self.list, 1)
        layout.addLayout(marks)
        layout.addLayout(buttons)

        self.status_filter.currentIndexChanged.connect(self.apply_filters)
        self.class_filter.currentIndexChanged.connect(self.apply_filters)
        self.list.clicked.connect(self._on_clicked)
        self.list.activated.connect(self._on_clicked)
        self.done_button.clicked.connect(lambda: self.mark_selected(done=True))
        self.not_done_button.clicked.connect(lambda: self.mark_selected(done=False))
        self.prev_button.clicked.connect(lambda: window.go_unfinished(-1))
        self.next_button.clicked.connect(lambda: window.go_unfinished(+1))
        self.session.imagesChanged.connect(self._on_images_changed)
        self.session.imageChanged.connect(self._select_current)
        self.session.categoriesChanged.connect(self._on_categories_changed)
        self.session.annotationsChanged.connect(self._on_annotations_changed)
        self._fill_class_filter()
        self.apply_filters()

    # ------------------------------------------------------------------ filters
    def _fill_class_filter(self) -> None:
        current = self.class_filter.currentData()
        self.class_filter.blockSignals(True)
        self.class_filter.clear()
        self.class_filter.addItem("Any class", None)
        self.class_filter.addItem("No shapes", NO_SHAPES)
        for category in self.session.categories:
            self.class_filter.addItem(category.name, category.id)
        index = self.class_filter.findData(current)
        self.class_filter.setCurrentIndex(max(0, index))
        self.class_filter.blockSignals(False)

    def _on_categories_changed(self) -> None:
        """A merge or a deleted class moves shapes on any image: re-read which classes each
        image has, and re-filter (a filter on a class that is gone shows every image)."""
        self._ids_by_class = {}
        self._fill_class_filter()
        self.apply_filters()

    def set_status_filter(self, key: str) -> None:
        """Show ``all``, ``unfinished`` or one status value (e.g. ``done``)."""
        self.status_filter.setCurrentIndex(self.status_filter.findData(key))

    def set_class_filter(self, category_id: int | None) -> None:
        """Only images with a shape of ``category_id`` (None: any; -1: images without shapes)."""
        self.class_filter.setCurrentIndex(max(0, self.class_filter.findData(category_id)))

    def _class_image_ids(self, category: int) -> np.ndarray:
        """Ascending ids of the images with a shape of ``category`` (:data:`NO_SHAPES`: with
        no shape): one indexed query on first use (100,000 images / 1,000,000 shapes: tens of
        milliseconds, no shape read), then kept in memory."""
        ids = self._ids_by_class.get(category)
        if ids is None:
            project = self.session.project
            ids = project.image_ids_without_annotations() if category == NO_SHAPES else project.image_ids_with_category(category)
            self._ids_by_class[category] = ids
        return ids

    def _on_annotations_changed(self, _changed: object) -> None:
        """The shapes of the image shown changed: update its place in the known class lists."""
        image = self.session.image
        if image is None or not self._ids_by_class:
            return
        present = {a.category_id for a in self.session.annotations.values()}
        moved = False
        for category, ids in self._ids_by_class.items():
            let_in = not present if category == NO_SHAPES else category in present
            self._ids_by_class[category] = with_id(ids, image.id, let_in)
            moved |= category == self.class_filter.currentData() and self._ids_by_class[category] is not ids
        if moved:  # the image joins or leaves the filtered list
            self.apply_filters()

    def visible_images(self) -> ImageView:
        """The images the filters let in, as a view of the session's table (numpy masks over the
        statuses: 100,000 images in ~1 ms; no image row is read)."""
        status_key = self.status_filter.currentData()
        category = self.class_filter.currentData()
        table = self.session.images
        if status_key == "all" and category is None:
            return ImageView(table)
        if status_key == "all":
            rows = np.arange(len(table))
        elif status_key == "unfinished":
            rows = table.rows_unfinished()
        else:
            rows = table.rows_with_status(ImageStatus(status_key))
        if category is not None:
            rows = rows[contains_sorted(self._class_image_ids(category), table.ids[rows])]
        return ImageView(table, rows)

    def would_show(self, image: Image) -> bool:
        """True when the current filters let ``image`` (as given, e.g. with another status) in."""
        return self._passes(image, self.status_filter.currentData(), self.class_filter.currentData())

    def _passes(self, image: Image, status_key: str, category: int | None) -> bool:
        if status_key == "unfinished" and image.status.is_finished:
            return False
        if status_key not in ("all", "unfinished") and image.status.value != status_key:
            return False
        if category is not None:
            return bool(contains_sorted(self._class_image_ids(category), np.array([image.id], np.int64))[0])
        return True

    def shows(self, image_id: int) -> bool:
        """True when the filtered list holds image ``image_id``."""
        return self.model.row_of(image_id) >= 0

    def apply_filters(self) -> None:
        self.model.set_rows(self.visible_images())
        self._update_summary()
        self._select_current()

    def _update_summary(self) -> None:
        done = self.session.finished_count
        self.summary.setText(f"{len(self.model.rows)} of {len(self.session.images)} images shown · {done} done")

    def _on_images_changed(self) -> None:
        changed = self.session.changed_image_ids
        unfiltered = self.status_filter.currentData() == "all" and self.class_filter.currentData() is None
        if changed is not None and unfiltered and self.model.rows.table is self.session.images:
            self.model.update_images(changed)  # statuses of a few images: repaint those rows only
            self._update_summary()
        else:
            self.apply_filters()

    def _select_current(self, *_args: object) -> None:
        image = self.session.image
        row = self.model.row_of(image.id) if image is not None else -1
        selection = self.list.selectionModel()
        if row < 0:
            selection.clearSelection()
            return
        index = self.model.index(row)
        selection.setCurrentIndex(index, selection.SelectionFlag.ClearAndSelect)
        self.list.scrollTo(index)

    def rows_on_screen(self) -> bool:
        """True once the list shows its rows (a long list is laid out in batches: 100,000 rows
        take a few dozen event-loop turns), or it has none."""
        return not self.model.rowCount() or self.list.indexAt(QPoint(1, 1)).isValid()

    def request_visible_thumbnails(self) -> None:
        """Ask for the thumbnails of the rows in view (painting asks too, but only later)."""
        viewport = self.list.viewport()
        first = self.list.indexAt(viewport.rect().topLeft()).row()
        last = self.list.indexAt(viewport.rect().bottomLeft()).row()
        last = len(self.model.rows) - 1 if last < 0 else last
        for row in range(max(0, first), min(last, len(self.model.rows) - 1) + 1):
            self.model.data(self.model.index(row), Qt.ItemDataRole.DecorationRole)

    # ------------------------------------------------------------------ several images
    def selected_image_ids(self) -> list[int]:
        """Ids of the images selected in the list, in list order."""
        rows = sorted(index.row() for index in self.list.selectionModel().selectedRows())
        return [self.model.image_id_at(row) for row in rows if 0 <= row < len(self.model.rows)]

    def mark_selected(self, *, done: bool) -> None:
        """Mark the selected images done (or not done) in one undoable step."""
        self.workspace.set_images_done(self.selected_image_ids(), done)

    def _on_list_menu(self, position: QPoint) -> None:
        count = len(self.selected_image_ids())
        if not count:
            return
        menu = QMenu(self.list)
        menu.setObjectName("imagesContextMenu")
        what = "image" if count == 1 else f"{count} images"
        menu.addAction(f"Mark {what} done", lambda: self.mark_selected(done=True))
        menu.addAction(f"Mark {what} not done", lambda: self.mark_selected(done=False))
        self.context_menu = menu
        menu.popup(self.list.viewport().mapToGlobal(position))

    def _on_clicked(self, index: QModelIndex) -> None:
        if QApplication.keyboardModifiers() & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier):
            return  # extending the selection, not opening
        image = index.data(ImageRole)
        if image is not None and (self.session.image is None or image.id != self.session.image.id):
            self.workspace.open_image(image.id)
