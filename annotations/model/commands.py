"""Edits as commands: each ``apply`` performs the edit on an :class:`EditTarget` and returns
the command as done (ids resolved) and its inverse. Commands are plain data and serialize to
JSON, so the store persists the undo history and undo/redo survives a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

from annotations.errors import NotFoundError
from annotations.geometry import Geometry
from annotations.model.codec import (
    annotation_from_json,
    annotation_to_json,
    category_from_json,
    category_to_json,
    geometry_from_json,
    geometry_to_json,
)
from annotations.model.entities import (
    Annotation,
    AnnotationRole,
    Category,
    ImageStatus,
    Prediction,
    PredictionState,
    model_source,
    utc_now,
)


class EditTarget(Protocol):
    """What a command needs from the store (one open transaction)."""

    def get_annotation(self, annotation_id: int) -> Annotation: ...
    def insert_annotation(self, annotation: Annotation) -> Annotation: ...
    def replace_annotation(self, annotation: Annotation) -> None: ...
    def remove_annotation(self, annotation_id: int) -> None: ...
    def annotation_ids_of_category(self, category_id: int) -> list[int]: ...
    def get_image_status(self, image_id: int) -> ImageStatus: ...
    def put_image_status(self, image_id: int, status: ImageStatus) -> None: ...
    def get_category(self, category_id: int) -> Category: ...
    def insert_category(self, category: Category, position: int | None = None) -> Category: ...
    def replace_category(self, category: Category) -> None: ...
    def remove_category(self, category_id: int) -> None: ...
    def get_prediction(self, prediction_id: int) -> Prediction: ...
    def put_prediction_state(self, prediction_id: int, state: PredictionState) -> None: ...
    def put_prediction_category(self, prediction_id: int, category_id: int) -> None: ...


_REGISTRY: dict[str, type[Command]] = {}


class Command(ABC):
    """An undoable edit."""

    name: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _REGISTRY[cls.name] = cls

    @property
    @abstractmethod
    def label(self) -> str:
        """A short human-readable description for the Edit menu (e.g. "Add box")."""

    @abstractmethod
    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        """Perform the edit; return (the command as done, its inverse)."""

    @abstractmethod
    def payload(self) -> dict[str, Any]:
        """JSON-ready fields."""

    @classmethod
    @abstractmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command: ...

    def to_json(self) -> dict[str, Any]:
        """``{"command": name, **payload}``."""
        return {"command": self.name, **self.payload()}


def command_from_json(data: dict[str, Any]) -> Command:
    """Rebuild any command from :meth:`Command.to_json` output."""
    try:
        cls = _REGISTRY[data["command"]]
    except KeyError as exc:
        raise NotFoundError(f"unknown command in history: {data.get('command')!r}") from exc
    return cls.from_payload({k: v for k, v in data.items() if k != "command"})


@dataclass(frozen=True)
class AddAnnotation(Command):
    """Add a shape; ``annotation.id == 0`` gets a fresh id."""

    annotation: Annotation
    name: ClassVar[str] = "add_annotation"

    @property
    def label(self) -> str:
        return f"Add {self.annotation.geometry.kind.value}"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        stored = target.insert_annotation(self.annotation)
        return AddAnnotation(stored), DeleteAnnotation(stored.id)

    def payload(self) -> dict[str, Any]:
        return {"annotation": annotation_to_json(self.annotation)}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(annotation_from_json(payload["annotation"]))


@dataclass(frozen=True)
class DeleteAnnotation(Command):
    annotation_id: int
    name: ClassVar[str] = "delete_annotation"

    @property
    def label(self) -> str:
        return "Delete shape"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_annotation(self.annotation_id)
        target.remove_annotation(self.annotation_id)
        return self, AddAnnotation(old)

    def payload(self) -> dict[str, Any]:
        return {"annotation_id": self.annotation_id}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(int(payload["annotation_id"]))


@dataclass(frozen=True)
class UpdateAnnotation(Command):
    """Replace fields of a shape (geometry, category, z-order, iscrowd, attributes)."""

    annotation_id: int
    changes: dict[str, Any] = field(default_factory=dict)
    description: str = "Edit shape"
    name: ClassVar[str] = "update_annotation"

    _ALLOWED: ClassVar[frozenset[str]] = frozenset(
        {"geometry", "category_id", "z_order", "iscrowd", "attributes", "author", "role"}
    )

    def __post_init__(self) -> None:
        unknown = set(self.changes) - self._ALLOWED
        if unknown:
            raise ValueError(f"cannot change {sorted(unknown)} of an annotation")

    @property
    def label(self) -> str:
        return self.description

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_annotation(self.annotation_id)
        new = replace(old, **self.changes, modified=utc_now())
        target.replace_annotation(new)
        inverse = {key: getattr(old, key) for key in self.changes}
        return self, UpdateAnnotation(self.annotation_id, inverse, f"Undo: {self.description}")

    def payload(self) -> dict[str, Any]:
        changes = dict(self.changes)
        if "geometry" in changes:
            changes["geometry"] = geometry_to_json(changes["geometry"])
        if "role" in changes:
            changes["role"] = AnnotationRole(changes["role"]).value
        return {"annotation_id": self.annotation_id, "changes": changes, "description": self.description}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        changes = dict(payload["changes"])
        if "geometry" in changes:
            changes["geometry"] = geometry_from_json(changes["geometry"])
        if "role" in changes:
            changes["role"] = AnnotationRole(changes["role"])
        return cls(int(payload["annotation_id"]), changes, payload.get("description", "Edit shape"))


@dataclass(frozen=True)
class SetImageStatus(Command):
    image_id: int
    status: ImageStatus
    name: ClassVar[str] = "set_image_status"

    @property
    def label(self) -> str:
        return f"Mark image {self.status.value}"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_image_status(self.image_id)
        target.put_image_status(self.image_id, self.status)
        return self, SetImageStatus(self.image_id, old)

    def payload(self) -> dict[str, Any]:
        return {"image_id": self.image_id, "status": self.status.value}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(int(payload["image_id"]), ImageStatus(payload["status"]))


def set_images_status(target: EditTarget, image_ids: list[int] | tuple[int, ...], status: ImageStatus) -> Batch:
    """One undoable step that sets ``status`` on every image of ``image_ids`` whose status
    differs (images already there are left out, so undo restores exactly what changed). Build it
    inside a read of the store, then ``project.execute`` it; an empty batch changes nothing.
    Raises :class:`NotFoundError` for an unknown image id."""
    changes = tuple(
        SetImageStatus(image_id, status)
        for image_id in dict.fromkeys(image_ids)
        if target.get_image_status(image_id) is not status
    )
    noun = "image" if len(changes) == 1 else "images"
    return Batch(changes, f"Mark {len(changes)} {noun} {status.value}")


@dataclass(frozen=True)
class AddCategory(Command):
    """Add a class; ``category.id == 0`` gets the next free id. ``position`` (optional) is the
    display position to insert at (the undo of a delete puts the class back where it was);
    by default the class goes last."""

    category: Category
    position: int | None = None
    name: ClassVar[str] = "add_category"

    @property
    def label(self) -> str:
        return f"Add class {self.category.name}"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        if self.position is None:
            stored = target.insert_category(self.category)
        else:
            stored = target.insert_category(self.category, position=self.position)
        return AddCategory(stored, self.position), DeleteCategory(stored.id)

    def payload(self) -> dict[str, Any]:
        payload: dict[str, Any] = {"category": category_to_json(self.category)}
        if self.position is not None:
            payload["position"] = self.position
        return payload

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        position = payload.get("position")
        return cls(category_from_json(payload["category"]), None if position is None else int(position))


@dataclass(frozen=True)
class DeleteCategory(Command):
    """Delete a class that no annotation uses (merge it into another first)."""

    category_id: int
    name: ClassVar[str] = "delete_category"

    @property
    def label(self) -> str:
        return "Delete class"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_category(self.category_id)
        position_of = getattr(target, "category_position", None)
        position = position_of(self.category_id) if position_of is not None else None
        target.remove_category(self.category_id)
        return self, AddCategory(old, position)

    def payload(self) -> dict[str, Any]:
        return {"category_id": self.category_id}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(int(payload["category_id"]))


@dataclass(frozen=True)
class UpdateCategory(Command):
    """Rename or recolour a class (the whole new value is given)."""

    category: Category
    name: ClassVar[str] = "update_category"

    @property
    def label(self) -> str:
        return f"Edit class {self.category.name}"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_category(self.category.id)
        target.replace_category(self.category)
        return self, UpdateCategory(old)

    def payload(self) -> dict[str, Any]:
        return {"category": category_to_json(self.category)}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(category_from_json(payload["category"]))


@dataclass(frozen=True)
class SetPredictionState(Command):
    prediction_id: int
    state: PredictionState
    name: ClassVar[str] = "set_prediction_state"

    @property
    def label(self) -> str:
        return f"Mark prediction {self.state.value}"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_prediction(self.prediction_id).state
        target.put_prediction_state(self.prediction_id, self.state)
        return self, SetPredictionState(self.prediction_id, old)

    def payload(self) -> dict[str, Any]:
        return {"prediction_id": self.prediction_id, "state": self.state.value}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(int(payload["prediction_id"]), PredictionState(payload["state"]))


@dataclass(frozen=True)
class SetPredictionCategory(Command):
    """Move a prediction to another class (used by class merges)."""

    prediction_id: int
    category_id: int
    name: ClassVar[str] = "set_prediction_category"

    @property
    def label(self) -> str:
        return "Change prediction class"

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        old = target.get_prediction(self.prediction_id).category_id
        target.put_prediction_category(self.prediction_id, self.category_id)
        return self, SetPredictionCategory(self.prediction_id, old)

    def payload(self) -> dict[str, Any]:
        return {"prediction_id": self.prediction_id, "category_id": self.category_id}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(int(payload["prediction_id"]), int(payload["category_id"]))


@dataclass(frozen=True)
class Batch(Command):
    """Several commands done and undone as one step."""

    commands: tuple[Command, ...]
    description: str = "Edit"
    name: ClassVar[str] = "batch"

    @property
    def label(self) -> str:
        return self.description

    def apply(self, target: EditTarget) -> tuple[Command, Command]:
        done: list[Command] = []
        inverses: list[Command] = []
        for command in self.commands:
            as_done, inverse = command.apply(target)
            done.append(as_done)
            inverses.append(inverse)
        return (
            Batch(tuple(done), self.description),
            Batch(tuple(reversed(inverses)), f"Undo: {self.description}"),
        )

    def payload(self) -> dict[str, Any]:
        return {"commands": [c.to_json() for c in self.commands], "description": self.description}

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> Command:
        return cls(tuple(command_from_json(c) for c in payload["commands"]), payload.get("description", "Edit"))


def merge_categories(target: EditTarget, source_id: int, into_id: int) -> Batch:
    """The batch that moves every annotation (and prediction, when the target can list them)
    of ``source_id`` to ``into_id`` and deletes ``source_id`` (build it inside a read of the
    store, then execute it). Undo restores the class at its old place and every shape's class.
    """
    if source_id == into_id:
        raise ValueError(f"cannot merge class {source_id} into itself")
    target.get_category(into_id)  # NotFoundError when the destination does not exist
    moves: tuple[Command, ...] = tuple(
        UpdateAnnotation(ann_id, {"category_id": into_id}, "Merge classes")
        for ann_id in target.annotation_ids_of_category(source_id)
    )
    prediction_ids_of = getattr(target, "prediction_ids_of_category", None)
    if prediction_ids_of is not None:
        moves += tuple(SetPredictionCategory(pid, into_id) for pid in prediction_ids_of(source_id))
    return Batch(moves + (DeleteCategory(source_id),), "Merge classes")


def accept_prediction(
    prediction: Prediction,
    *,
    geometry: Geometry | None = None,
    category_id: int | None = None,
    author: str = "",
) -> Batch:
    """Accept a prediction (optionally edited): a linked annotation plus the state change.

    The new annotation's ``source`` names the model version and ``origin_prediction_id`` the
    prediction, so the IoU between pre-label and final shape stays computable.
    """
    annotation = Annotation(
        id=0,
        image_id=prediction.image_id,
        category_id=category_id if category_id is not None else prediction.category_id,
        geometry=geometry if geometry is not None else prediction.geometry,
        source=model_source(prediction.model_version_id),
        origin_prediction_id=prediction.id,
        author=author,
    )
    return Batch(
        (AddAnnotation(annotation), SetPredictionState(prediction.id, PredictionState.ACCEPTED)),
        "Accept prediction",
    )


def reject_prediction(prediction: Prediction) -> Command:
    """Reject a prediction (undoable)."""
    return SetPredictionState(prediction.id, PredictionState.REJECTED)
