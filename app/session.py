"""The editing session: the open project, the current image, its annotations, the selection
and visibility, and the undo/redo entry points. Panels and the canvas listen to its signals.

Every edit goes through :meth:`Session.execute` (one committed SQLite transaction per edit:
autosave is automatic and a killed process loses nothing committed).
"""

from __future__ import annotations

from collections import Counter

from PySide6.QtCore import QObject, Signal

from annotations.errors import NotFoundError
from annotations.model import (
    AddAnnotation,
    Annotation,
    Batch,
    Category,
    Command,
    Image,
    ImageStatus,
    SetImageStatus,
)
from annotations.model.changes import Change
from annotations.store import Project
from app.image_table import ImageTable

LAST_IMAGE_SETTING = "gui.last_image_id"


def _images_getting_shapes(command: Command) -> set[int]:
    """Images ``command`` adds a shape to (accepting a prediction adds one too)."""
    if isinstance(command, AddAnnotation):
        return {command.annotation.image_id}
    if isinstance(command, Batch):
        return set().union(*(_images_getting_shapes(child) for child in command.commands)) if command.commands else set()
    return set()


def _sets_status(command: Command) -> bool:
    if isinstance(command, SetImageStatus):
        return True
    return isinstance(command, Batch) and any(_sets_status(child) for child in command.commands)


class Session(QObject):
    """State shared by the window's views. Signals:

    - ``imageChanged(int)``: another image is shown (its id);
    - ``annotationsChanged(object)``: a frozenset of changed annotation ids of the current
      image, or None when everything must be reloaded;
    - ``selectionChanged()``, ``visibilityChanged()``, ``categoriesChanged()``,
      ``imagesChanged()`` (statuses or the image list; while it is emitted ``changed_image_ids``
      names the images whose status changed, None: any), ``currentCategoryChanged(int)``,
      ``historyChanged()`` (undo/redo availability), ``projectChanged()`` (after any edit,
      undo, redo or refresh), ``message(str)`` (status bar text).
    """

    imageChanged = Signal(int)
    annotationsChanged = Signal(object)
    selectionChanged = Signal()
    visibilityChanged = Signal()
    categoriesChanged = Signal()
    imagesChanged = Signal()
    currentCategoryChanged = Signal(int)
    historyChanged = Signal()
    projectChanged = Signal()
    message = Signal(str)

    def __init__(self, project: Project, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.project = project
        project.written_elsewhere()  # start counting other connections' commits from here
        self.images = ImageTable.load(project)
        self._images_digest = self.images.fingerprint()  # as read (no second scan of the table)
        self._own_writes_seen = project.own_write_count()
        self.image: Image | None = None
        self.annotations: dict[int, Annotation] = {}
        self.categories: list[Category] = project.categories()
        self.selection: tuple[int, ...] = ()
        self.hidden: set[int] = set()
        self.all_hidden = False
        self.current_category_id: int | None = self.categories[0].id if self.categories else None

    # ------------------------------------------------------------------ lookups
    @property
    def categories(self) -> list[Category]:
        """Every class in display order."""
        return self._categories

    @categories.setter
    def categories(self, value: list[Category]) -> None:
        self._categories = value
        self._category_by_id = {c.id: c for c in value}

    @property
    def images(self) -> ImageTable:
        """Every image of the project in id order (statuses kept current by the session), read
        lazily: ids and statuses at once, the other columns a page at a time when asked for."""
        return self._images

    @images.setter
    def images(self, value: ImageTable) -> None:
        self._images = value
        self.status_counts: Counter[ImageStatus] = value.status_counts()
        self.changed_image_ids: frozenset[int] | None = None

    @property
    def finished_count(self) -> int:
        """Images done or reviewed (kept current without a scan)."""
        return self.status_counts[ImageStatus.DONE] + self.status_counts[ImageStatus.REVIEWED]

    def _put_image(self, index: int, image: Image) -> None:
        """Replace row ``index`` keeping the status counts and the fingerprint current."""
        old_status = self._images.status_at(index)
        if old_status is not image.status:
            self.status_counts[old_status] -= 1
            self.status_counts[image.status] += 1
            digest = getattr(self, "_images_digest", None)
            if digest is not None:
                self._images_digest = self.project.fingerprint_after_status_change(digest, image.id, old_status, image.status)
        self._images.put(index, image)

    def row_of_image(self, image_id: int) -> int | None:
        """Row of ``image_id`` in :attr:`images`, or None (a binary search: no scan)."""
        return self._images.row_of(image_id)

    def _read_images_digest(self) -> tuple[int, int, int, int]:
        """A cheap fingerprint of the image list and statuses, computed inside SQLite: a reload
        re-reads the image rows only when it changed (100,000 rows take ~0.5 s in Python)."""
        return self.project.images_fingerprint()

    def category(self, category_id: int) -> Category | None:
        return self._category_by_id.get(category_id)

    def color_of(self, category_id: int) -> str:
        category = self.category(category_id)
        return category.color if category else "#808080"

    def ordered_annotations(self) -> list[Annotation]:
        """Annotations of the current image, back to front (z-order, then id)."""
        return sorted(self.annotations.values(), key=lambda a: (a.z_order, a.id))

    def selected_annotations(self) -> list[Annotation]:
        return [self.annotations[i] for i in self.selection if i in self.annotations]

    def image_index(self, image_id: int) -> int:
        """Row of ``image_id`` in :attr:`images` (NotFoundError when unknown)."""
        index = self.row_of_image(image_id)
        if index is not None:
            return index
        raise NotFoundError(f"{self.project.path.name}: no image with id {image_id}")

    # ------------------------------------------------------------------ navigation
    def open_image(self, image_id: int) -> None:
        """Show image ``image_id`` (raises NotFoundError for an unknown id)."""
        image = self.project.get_image(image_id)
        self.image = image
        index = self.row_of_image(image_id)
        if index is None:  # added since the list was read (an import in this process)
            self.images = ImageTable.load(self.project)
            self._images_digest = self._read_images_digest()
            self.imagesChanged.emit()
        else:
            self._put_image(index, image)
        self.annotations = {a.id: a for a in self.project.annotations(image_id)}
        self.selection = ()
        self.hidden = set()
        if not self.project.readonly:
            self.project.set_setting(LAST_IMAGE_SETTING, image_id)
            self._own_writes_seen = self.project.own_write_count()
        self.imageChanged.emit(image_id)
        self.annotationsChanged.emit(None)
        self.selectionChanged.emit()

    def last_image_id(self) -> int | None:
        """The image shown when the project was last closed (if it still exists)."""
        value = self.project.get_setting(LAST_IMAGE_SETTING)
        return int(value) if isinstance(value, int) and self.images.row_of(value) is not None else None

    # ------------------------------------------------------------------ edits
    def execute(self, command: Command) -> Change:
        """Run an undoable command through the store (committed at once) and refresh views.
        Returns what changed (``.command``: the command as done, with the ids it assigned).
        The first shape on a new (or pre-labeled) image marks it "in progress" in the same
        undo step."""
        command = self._with_progress(command)
        change = self.project.execute_change(command)
        self.apply_change(change)
        return change

    def _with_progress(self, command: Command) -> Command:
        if _sets_status(command):
            return command
        starting = sorted(
            image_id
            for image_id in _images_getting_shapes(command)
            if self._status_of(image_id) in (ImageStatus.NEW, ImageStatus.PRELABELED)
        )
        if not starting:
            return command
        marks = tuple(SetImageStatus(image_id, ImageStatus.IN_PROGRESS) for image_id in starting)
        return Batch((command, *marks), command.label)

    def _status_of(self, image_id: int) -> ImageStatus | None:
        if self.image is not None and self.image.id == image_id:
            return self.image.status
        try:
            return self.project.get_image_status(image_id)
        except NotFoundError:
            return None

    def preview_step(self, *, undo: bool) -> Change | None:
        """What the next undo (``undo=True``) or redo would change, without doing it."""
        return self.project.preview_undo() if undo else self.project.preview_redo()

    def undo(self) -> Change | None:
        """Undo the newest edit in the project's persisted history (whoever made it, before or
        after a restart) and show the image it changed; returns what changed, or None."""
        return self._step(undo=True)

    def redo(self) -> Change | None:
        """Redo the oldest undone edit and show its image; returns what changed, or None."""
        return self._step(undo=False)

    def _step(self, *, undo: bool) -> Change | None:
        change = self.project.undo_change() if undo else self.project.redo_change()
        if change is None:
            return None
        target = change.image_id
        if target is not None and (self.image is None or self.image.id != target):
            try:
                self.open_image(target)
            except NotFoundError:
                pass
        self.apply_change(change)
        self.message.emit(change.description)
        return change

    def apply_change(self, change: Change) -> None:
        """Refresh the session's copies of what ``change`` touched, then tell the views."""
        if change.unknown:
            self.reload()
            return
        if change.category_ids:
            self.categories = self.project.categories()
            if self.current_category_id is not None and self.category(self.current_category_id) is None:
                self.set_current_category(self.categories[0].id if self.categories else None)
            self.categoriesChanged.emit()
        if change.status_image_ids:
            for image_id in change.status_image_ids:
                try:
                    updated = self.project.get_image(image_id)
                except NotFoundError:
                    continue
                index = self.row_of_image(image_id)
                if index is not None:
                    self._put_image(index, updated)
                if self.image is not None and self.image.id == image_id:
                    self.image = updated
            self.changed_image_ids = frozenset(change.status_image_ids)
            self.imagesChanged.emit()
            self.changed_image_ids = None
        changed: set[int] = set()
        current = self.image.id if self.image is not None else None
        for ann_id in change.annotation_ids:
            try:
                annotation = self.project.get_annotation(ann_id)
            except NotFoundError:
                annotation = None
            if annotation is not None and annotation.image_id == current:
                self.annotations[ann_id] = annotation
                changed.add(ann_id)
            elif ann_id in self.annotations:
                del self.annotations[ann_id]
                changed.add(ann_id)
        if changed:
            self.annotationsChanged.emit(frozenset(changed))
        self._own_writes_seen = self.project.own_write_count()  # this edit is applied above
        self._prune_selection()
        self.historyChanged.emit()
        self.projectChanged.emit()

    def reload(self) -> None:
        """Re-read categories, image statuses and the current image's annotations (after an
        undo/redo, or edits made elsewhere such as the engine worker)."""
        categories = self.project.categories()
        if categories != self.categories:
            self.categories = categories
            if self.current_category_id is not None and self.category(self.current_category_id) is None:
                self.set_current_category(categories[0].id if categories else None)
            elif self.current_category_id is None and categories:
                self.set_current_category(categories[0].id)
            self.categoriesChanged.emit()
        if self.image is not None:
            try:
                self.image = self.project.get_image(self.image.id)
            except NotFoundError:
                self.image = None
        elsewhere = self.project.written_elsewhere()
        if not elsewhere and self.project.own_write_count() == self._own_writes_seen:
            digest = self._images_digest  # nobody but this session's edits wrote: statuses are current
        else:
            digest = self._read_images_digest()
        self._own_writes_seen = self.project.own_write_count()
        if digest != self._images_digest:
            self._images_digest = digest
            images = ImageTable.load(self.project)
            if images != self.images:
                self.images = images
                self.imagesChanged.emit()
        fresh = {a.id: a for a in self.project.annotations(self.image.id)} if self.image is not None else {}
        changed = {i for i in fresh.keys() | self.annotations.keys() if fresh.get(i) != self.annotations.get(i)}
        self.annotations = fresh
        if changed:
            self.annotationsChanged.emit(frozenset(changed))
        self._prune_selection()
        self.historyChanged.emit()
        self.projectChanged.emit()

    def _prune_selection(self) -> None:
        kept = tuple(i for i in self.selection if i in self.annotations)
        if kept != self.selection:
            self.selection = kept
            self.selectionChanged.emit()

    # ------------------------------------------------------------------ view state
    def set_selection(self, ids: tuple[int, ...] | list[int]) -> None:
        ids = tuple(dict.fromkeys(i for i in ids if i in self.annotations))
        if ids != self.selection:
            self.selection = ids
            self.selectionChanged.emit()

    def set_hidden(self, annotation_id: int, hidden: bool) -> None:
        if hidden == (annotation_id in self.hidden):
            return
        if hidden:
            self.hidden.add(annotation_id)
            if annotation_id in self.selection:
                self.set_selection([i for i in self.selection if i != annotation_id])
        else:
            self.hidden.discard(annotation_id)
        self.visibilityChanged.emit()

    def set_all_hidden(self, hidden: bool) -> None:
        if hidden != self.all_hidden:
            self.all_hidden = hidden
            self.visibilityChanged.emit()

    def set_current_category(self, category_id: int | None) -> None:
        if category_id != self.current_category_id:
            self.current_category_id = category_id
            self.currentCategoryChanged.emit(category_id if category_id is not None else 0)
