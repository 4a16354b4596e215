"""What an edit, an undo or a redo changed: the result type of ``Project.execute_change``,
``undo_change`` and ``redo_change``.

A :class:`Change` names the ids it touched per kind (shapes, image statuses, classes,
predictions), the images concerned and the edit in words, so a view refreshes only what changed
and an undo can show the image it edits first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from annotations.errors import NotFoundError
from annotations.model.commands import (
    AddAnnotation,
    AddCategory,
    Batch,
    Command,
    DeleteAnnotation,
    DeleteCategory,
    SetImageStatus,
    SetPredictionCategory,
    SetPredictionState,
    UpdateAnnotation,
    UpdateCategory,
)
from annotations.model.entities import Annotation, Category, Prediction


class ChangeLookup(Protocol):
    """What :func:`change_of` needs from the store to find the image of a shape or prediction."""

    def get_annotation(self, annotation_id: int) -> Annotation: ...
    def get_prediction(self, prediction_id: int) -> Prediction: ...


@dataclass(frozen=True)
class Change:
    """What one history step changed.

    ``command``: the command applied (the edit as done with its ids on execute, its inverse on
    undo, the edit again on redo); ``label``: the history label ("Add polygon");
    ``description``: the step in words for a status bar ("Undone: Add polygon on street_3.jpg");
    ``annotation_ids`` / ``status_image_ids`` / ``category_ids`` / ``prediction_ids``: the ids
    touched per kind; ``image_ids``: every image whose shapes, status or predictions changed;
    ``unknown``: a command kind this type does not know (a view should reload everything).
    """

    command: Command
    label: str
    description: str = ""
    annotation_ids: frozenset[int] = frozenset()
    status_image_ids: frozenset[int] = frozenset()
    category_ids: frozenset[int] = frozenset()
    prediction_ids: frozenset[int] = frozenset()
    image_ids: frozenset[int] = frozenset()
    unknown: bool = False

    @property
    def image_id(self) -> int | None:
        """The one image this step edits, or None: no image, several, or a class-wide edit (a
        merge moves shapes of any image; its undo stays on the image shown)."""
        if self.category_ids or len(self.image_ids) != 1:
            return None
        return next(iter(self.image_ids))

    def commands(self) -> list[Command]:
        """The applied command and, for a batch, every command inside it (depth first)."""
        return _walk(self.command)

    @property
    def annotation(self) -> Annotation:
        """The shape an ``AddAnnotation`` edit added (with its assigned id); AttributeError
        for other commands."""
        for command in _walk(self.command):
            if isinstance(command, AddAnnotation):
                return command.annotation
        raise AttributeError(f"{self.label!r} added no shape")

    @property
    def category(self) -> Category:
        """The class an ``AddCategory``/``UpdateCategory`` edit wrote; AttributeError otherwise."""
        for command in _walk(self.command):
            if isinstance(command, (AddCategory, UpdateCategory)):
                return command.category
        raise AttributeError(f"{self.label!r} wrote no class")


def _walk(command: Command) -> list[Command]:
    """``command`` and, for a batch, every command inside it (depth first)."""
    if isinstance(command, Batch):
        return [found for child in command.commands for found in _walk(child)]
    return [command]


@dataclass
class _Ids:
    annotations: set[int] = field(default_factory=set)
    statuses: set[int] = field(default_factory=set)
    categories: set[int] = field(default_factory=set)
    predictions: set[int] = field(default_factory=set)
    images: set[int] = field(default_factory=set)
    unknown: bool = False


def _collect(command: Command, lookup: ChangeLookup, out: _Ids) -> None:
    if isinstance(command, Batch):
        for child in command.commands:
            _collect(child, lookup, out)
    elif isinstance(command, AddAnnotation):
        if command.annotation.id:
            out.annotations.add(command.annotation.id)
        out.images.add(command.annotation.image_id)
    elif isinstance(command, (DeleteAnnotation, UpdateAnnotation)):
        out.annotations.add(command.annotation_id)
        try:
            out.images.add(lookup.get_annotation(command.annotation_id).image_id)
        except NotFoundError:
            pass  # already gone (looked up after a delete): the other pass found its image
    elif isinstance(command, SetImageStatus):
        out.statuses.add(command.image_id)
        out.images.add(command.image_id)
    elif isinstance(command, (AddCategory, UpdateCategory)):
        if command.category.id:
            out.categories.add(command.category.id)
    elif isinstance(command, DeleteCategory):
        out.categories.add(command.category_id)
    elif isinstance(command, (SetPredictionState, SetPredictionCategory)):
        out.predictions.add(command.prediction_id)
        try:
            out.images.add(lookup.get_prediction(command.prediction_id).image_id)
        except NotFoundError:
            pass
    else:
        out.unknown = True


def images_touched(command: Command, lookup: ChangeLookup) -> frozenset[int]:
    """The images ``command`` will touch, looked up before it runs (a deleted shape's image is
    known only then)."""
    ids = _Ids()
    _collect(command, lookup, ids)
    return frozenset(ids.images)


def change_of(
    command: Command,
    lookup: ChangeLookup,
    *,
    label: str,
    description: str,
    images_before: frozenset[int] = frozenset(),
) -> Change:
    """The :class:`Change` of ``command`` as applied (its ids resolved), plus the images found
    by :func:`images_touched` before it ran."""
    ids = _Ids(images=set(images_before))
    _collect(command, lookup, ids)
    return Change(
        command=command,
        label=label,
        description=description,
        annotation_ids=frozenset(ids.annotations),
        status_image_ids=frozenset(ids.statuses),
        category_ids=frozenset(ids.categories),
        prediction_ids=frozenset(ids.predictions),
        image_ids=frozenset(ids.images),
        unknown=ids.unknown,
    )
