"""The editing session: the open project, the current image, its annotations, the selection
and visibility, and the undo/redo entry points. Panels and the canvas listen to its signals.

Every edit goes through :meth:`Session.execute` (one committed SQLite transaction per edit:
autosave is automatic and a killed process loses nothing committed).
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QObject, Signal

from annotations.errors import NotFoundError
from annotations.model import (
    AddAnnotation,
    AddCategory,
    Annotation,
    Batch,
    Category,
    Command,
    DeleteAnnotation,
    DeleteCategory,
    Image,
    SetImageStatus,
    UpdateAnnotation,
    UpdateCategory,
)
from annotations.store import Project

LAST_IMAGE_SETTING = "gui.last_image_id"


@dataclass
class _Touched:
    """What a command changed, as far as the views care."""

    annotation_ids: set[int]
    image_ids: set[int]
    statuses: set[int]
    categories: bool = False
    unknown: bool = False


def _touched(command: Command, out: _Touched) -> _Touched:
    if isinstance(command, AddAnnotation):
        out.annotation_ids.add(command.annotation.id)
        out.image_ids.add(command.annotation.image_id)
    elif isinstance(command, (DeleteAnnotation, UpdateAnnotation)):
        out.annotation_ids.add(command.annotation_id)
    elif isinstance(command, SetImageStatus):
        out.statuses.add(command.image_id)
        out.image_ids.add(command.image_id)
    elif isinstance(command, (AddCategory, UpdateCategory, DeleteCategory)):
        out.categories = True
    elif isinstance(command, Batch):
        for child in command.commands:
            _touched(child, out)
    else:
        out.unknown = True
    return out


class Session(QObject):
    """State shared by the window's views. Signals:

    - ``imageChanged(int)``: another image is shown (its id);
    - ``annotationsChanged(object)``: a frozenset of changed annotation ids of the current
      image, or None when everything must be reloaded;
    - ``selectionChanged()``, ``visibilityChanged()``, ``categoriesChanged()``,
      ``imagesChanged()`` (statuses or the image list), ``currentCategoryChanged(int)``,
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
        self.images: list[Image] = project.images()
        self.image: Image | None = None
        self.annotations: dict[int, Annotation] = {}
        self.categories: list[Category] = project.categories()
        self.selection: tuple[int, ...] = ()
        self.hidden: set[int] = set()
        self.all_hidden = False
        self.current_category_id: int | None = self.categories[0].id if self.categories else None
        # (image of the edit, what it touched, its label) for edits made in this session: undo
        # and redo then show that image and refresh only those shapes. Older history (before a
        # restart) is undone with a full reload.
        self._undo_stack: list[tuple[int | None, _Touched, str]] = []
        self._redo_stack: list[tuple[int | None, _Touched, str]] = []

    # ------------------------------------------------------------------ lookups
    @property
    def categories(self) -> list[Category]:
        """Every class in display order."""
        return self._categories

    @categories.setter
    def categories(self, value: list[Category]) -> None:
        self._categories = value
        self._category_by_id = {c.id: c for c in value}

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
        for index, image in enumerate(self.images):
            if image.id == image_id:
                return index
        raise NotFoundError(f"{self.project.path.name}: no image with id {image_id}")

    # ------------------------------------------------------------------ navigation
    def open_image(self, image_id: int) -> None:
        """Show image ``image_id`` (raises NotFoundError for an unknown id)."""
        image = self.project.get_image(image_id)
        self.image = image
        self.images[self.image_index(image_id)] = image
        self.annotations = {a.id: a for a in self.project.annotations(image_id)}
        self.selection = ()
        self.hidden = set()
        if not self.project.readonly:
            self.project.set_setting(LAST_IMAGE_SETTING, image_id)
        self.imageChanged.emit(image_id)
        self.annotationsChanged.emit(None)
        self.selectionChanged.emit()

    def last_image_id(self) -> int | None:
        """The image shown when the project was last closed (if it still exists)."""
        value = self.project.get_setting(LAST_IMAGE_SETTING)
        ids = {image.id for image in self.images}
        return int(value) if isinstance(value, int) and value in ids else None

    # ------------------------------------------------------------------ edits
    def execute(self, command: Command) -> Command:
        """Run an undoable command through the store (committed at once) and refresh views.
        Returns the command as done (with the ids it assigned)."""
        image_of_edit = self._image_of(command)
        done = self.project.execute(command)
        touched = _touched(done, _Touched(set(), set(), set()))
        image_id = image_of_edit if image_of_edit is not None else next(iter(touched.image_ids), None)
        self._undo_stack.append((image_id, touched, done.label))
        self._redo_stack.clear()
        self._apply_touched(touched)
        self.historyChanged.emit()
        self.projectChanged.emit()
        return done

    def undo(self) -> str | None:
        """Undo the newest edit (showing its image first); returns its label or None."""
        return self._step(undo=True)

    def redo(self) -> str | None:
        """Redo the last undone edit (showing its image first); returns its label or None."""
        return self._step(undo=False)

    def _step(self, *, undo: bool) -> str | None:
        stack, other = (self._undo_stack, self._redo_stack) if undo else (self._redo_stack, self._undo_stack)
        expected = self.project.undo_label() if undo else self.project.redo_label()
        entry = stack.pop() if stack else None
        if entry is not None and entry[2] != expected:
            # The history changed outside this session's execute(): refresh everything.
            self._undo_stack.clear()
            self._redo_stack.clear()
            entry = None
        if entry is not None and entry[0] is not None and self.image is not None and entry[0] != self.image.id:
            try:
                self.open_image(entry[0])
            except NotFoundError:
                pass
        label = self.project.undo() if undo else self.project.redo()
        if label is None:
            return None
        if entry is not None:
            other.append(entry)
            self._apply_touched(entry[1])
            self.historyChanged.emit()
            self.projectChanged.emit()
        else:
            self.reload()
        self.message.emit(f"{'Undone' if undo else 'Redone'}: {label}")
        return label

    def _image_of(self, command: Command) -> int | None:
        if isinstance(command, AddAnnotation):
            return command.annotation.image_id
        if isinstance(command, (DeleteAnnotation, UpdateAnnotation)):
            found = self.annotations.get(command.annotation_id)
            if found is not None:
                return found.image_id
            try:
                return self.project.get_annotation(command.annotation_id).image_id
            except NotFoundError:
                return None
        if isinstance(command, SetImageStatus):
            return command.image_id
        if isinstance(command, Batch):
            if any(isinstance(child, (AddCategory, UpdateCategory, DeleteCategory)) for child in command.commands):
                return None  # a class-wide edit (merge): its undo stays on the image shown
            for child in command.commands:
                found_id = self._image_of(child)
                if found_id is not None:
                    return found_id
        return None

    def _apply_touched(self, touched: _Touched) -> None:
        if touched.unknown:
            self.reload()
            return
        if touched.categories:
            self.categories = self.project.categories()
            if self.current_category_id is not None and self.category(self.current_category_id) is None:
                self.set_current_category(self.categories[0].id if self.categories else None)
            self.categoriesChanged.emit()
        if touched.statuses:
            for image_id in touched.statuses:
                updated = self.project.get_image(image_id)
                self.images[self.image_index(image_id)] = updated
                if self.image is not None and self.image.id == image_id:
                    self.image = updated
            self.imagesChanged.emit()
        changed: set[int] = set()
        current = self.image.id if self.image is not None else None
        for ann_id in touched.annotation_ids:
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
        self._prune_selection()

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
        images = self.project.images()
        if images != self.images:
            self.images = images
            self.imagesChanged.emit()
        if self.image is not None:
            try:
                self.image = self.project.get_image(self.image.id)
            except NotFoundError:
                self.image = None
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
    def set_selection(self, ids: "tuple[int, ...] | list[int]") -> None:
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
