"""Edits of the selected shapes of the image shown (delete, re-class, reorder, convert, fill
holes, copy and paste, select all), working on the :class:`~app.session.Session` only: the
window, the right-click menu and the panels share them, and tests drive them without a window.
Every edit goes through ``execute_all`` (one undoable step)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from annotations.errors import AnnotationsError
from annotations.geometry import Geometry, Mask, Polygon, to_mask
from annotations.geometry.simplify import DEFAULT_SIMPLIFY_TOLERANCE_PX
from annotations.model import AddAnnotation, Annotation, AnnotationRole, Command, DeleteAnnotation, UpdateAnnotation
from annotations.model.changes import Change
from app import editing
from app.session import Session

MASK_TO_POLYGON_TOLERANCE = DEFAULT_SIMPLIFY_TOLERANCE_PX
"""Pixels of Douglas-Peucker simplification when a mask becomes an editable polygon (the same
setting as the YOLO exporter's and the interactive tool's polygons)."""


@dataclass(frozen=True)
class ClipboardShape:
    """A copied shape, independent of its image (pasted with a new id)."""

    category_id: int
    geometry: Geometry
    iscrowd: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    role: AnnotationRole = AnnotationRole.OBJECT


class SelectionEdits:
    """The selection edits of ``session``. ``execute_all(commands, description)`` runs the
    commands as one undoable step (None when nothing ran or the store refused);
    ``show_message(text)`` reports to the user."""

    def __init__(
        self,
        session: Session,
        execute_all: Callable[[Sequence[Command], str], Change | None],
        show_message: Callable[[str], None],
    ) -> None:
        self.session = session
        self._execute_all = execute_all
        self.show_message = show_message
        self.clipboard: list[ClipboardShape] = []

    def delete(self) -> None:
        self._execute_all([DeleteAnnotation(a.id) for a in self.session.selected_annotations()], "Delete shapes")

    def set_category(self, category_id: int) -> None:
        commands = [
            UpdateAnnotation(a.id, {"category_id": category_id}, "Change class")
            for a in self.session.selected_annotations()
            if a.category_id != category_id
        ]
        self._execute_all(commands, "Change class")

    def reorder(self, *, front: bool) -> None:
        selected = self.session.selected_annotations()
        others = [a.z_order for a in self.session.annotations.values() if a.id not in self.session.selection]
        if not selected:
            return
        if front:
            base = max(others, default=0) + 1
            ordered = sorted(selected, key=lambda a: (a.z_order, a.id))
        else:
            base = min(others, default=0) - len(selected)
            ordered = sorted(selected, key=lambda a: (a.z_order, a.id))
        commands = [
            UpdateAnnotation(a.id, {"z_order": base + k}, "Bring to front" if front else "Send to back")
            for k, a in enumerate(ordered)
            if a.z_order != base + k
        ]
        self._execute_all(commands, "Bring to front" if front else "Send to back")

    def convert(self, kind: str) -> None:
        """Convert the selected shapes to ``mask`` or ``polygon``."""
        image = self.session.image
        if image is None:
            return
        commands: list[Command] = []
        for annotation in self.session.selected_annotations():
            try:
                if kind == "mask" and not isinstance(annotation.geometry, Mask):
                    geometry: Geometry = to_mask(annotation.geometry, image.size_hw)
                elif kind == "polygon" and not isinstance(annotation.geometry, Polygon):
                    geometry = editing.to_polygon(annotation.geometry, tolerance=MASK_TO_POLYGON_TOLERANCE)
                else:
                    continue
            except AnnotationsError as exc:
                self.show_message(f"Shape #{annotation.id} not converted: {exc}")
                continue
            commands.append(UpdateAnnotation(annotation.id, {"geometry": geometry}, f"Convert to {kind}"))
        self._execute_all(commands, f"Convert to {kind}")

    def fill_holes(self) -> None:
        commands = [
            UpdateAnnotation(a.id, {"geometry": editing.fill_holes(a.geometry)}, "Fill holes")
            for a in self.session.selected_annotations()
            if editing.has_holes(a.geometry)
        ]
        if not commands:
            self.show_message("The selected shapes have no holes")
        self._execute_all(commands, "Fill holes")

    def copy(self) -> None:
        self.clipboard = [
            ClipboardShape(a.category_id, a.geometry, a.iscrowd, dict(a.attributes), a.role)
            for a in self.session.selected_annotations()
        ]
        if self.clipboard:
            self.show_message(f"Copied {len(self.clipboard)} shape(s)")

    def paste(self) -> None:
        image = self.session.image
        if image is None or not self.clipboard:
            return
        known = {c.id for c in self.session.categories}
        top = max((a.z_order for a in self.session.annotations.values()), default=0)
        commands: list[Command] = []
        outside = unknown_class = 0
        for shape in self.clipboard:
            if shape.category_id not in known and shape.role is not AnnotationRole.IGNORE:
                unknown_class += 1
                continue
            geometry = editing.fit_to_image(shape.geometry, image.size_hw)
            if geometry is None:
                outside += 1
                continue
            commands.append(AddAnnotation(Annotation(
                0, image.id, shape.category_id, geometry, z_order=top, iscrowd=shape.iscrowd,
                attributes=shape.attributes, role=shape.role,
            )))
        problems = ((outside, f"{outside} outside this image"), (unknown_class, f"{unknown_class} of a deleted class"))
        skipped = ", ".join(text for count, text in problems if count)
        done = self._execute_all(commands, "Paste shapes")
        if done is None:
            self.show_message("Nothing to paste onto this image" + (f" ({skipped})" if skipped else ""))
            return
        added = sorted(done.annotation_ids)
        self.session.set_selection(added)
        self.show_message(f"Pasted {len(added)} shape(s)" + (f"; not pasted: {skipped}" if skipped else ""))

    def select_all(self) -> None:
        self.session.set_selection([a.id for a in self.session.ordered_annotations() if a.id not in self.session.hidden])
