"""The project's records: categories, images, annotations, predictions and model versions.

Plain immutable values (no Qt, no database handles). Ids are >= 1 once stored; a record built
in memory before it is stored has ``id = 0``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from annotations.geometry import Geometry


def utc_now() -> str:
    """The current time as an ISO-8601 UTC string (the timestamp format of the store)."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ImageStatus(str, Enum):
    """Where an image is in the labeling workflow."""

    NEW = "new"
    PRELABELED = "prelabeled"
    IN_PROGRESS = "in_progress"
    DONE = "done"
    REVIEWED = "reviewed"

    @property
    def is_finished(self) -> bool:
        """Done or reviewed: the image's annotations are final (train on them, don't re-predict)."""
        return self in (ImageStatus.DONE, ImageStatus.REVIEWED)


class PredictionState(str, Enum):
    """What the annotator did with a model proposal."""

    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


class AnnotationRole(str, Enum):
    """What a stored region means.

    ``OBJECT``: a labelled shape (trained on, scored, exported). ``IGNORE``: a region left out
    of training losses and of every metric (void pixels, unlabelled crowds). An ignore region
    either has a class (COCO-style crowd of that class: exported with ``iscrowd=1``) or none
    (``category_id == NO_CATEGORY``: class-agnostic void, exported as label 255).
    """

    OBJECT = "object"
    IGNORE = "ignore"


NO_CATEGORY = 0
"""``Annotation.category_id`` of a class-agnostic ignore region (stored as NULL)."""

HUMAN = "human"


def model_source(version_id: int) -> str:
    """The ``Annotation.source`` of a shape made by model version ``version_id``."""
    return f"model:{version_id}"


@dataclass(frozen=True)
class Category:
    """A class. ``id`` is the export id (e.g. COCO's non-contiguous ids); ``color`` is ``#rrggbb``.

    ``attributes`` holds preset extras such as Cityscapes' ``trainId``/``ignoreInEval``.
    """

    id: int
    name: str
    color: str = "#ff0000"
    supercategory: str = ""
    is_thing: bool = True
    attributes: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Image:
    """An image of the project; ``path`` is relative to the project file (POSIX separators)."""

    id: int
    path: str
    width: int
    height: int
    status: ImageStatus = ImageStatus.NEW
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def size_hw(self) -> tuple[int, int]:
        """(height, width) in pixels."""
        return (self.height, self.width)


@dataclass(frozen=True)
class Annotation:
    """A human (or accepted model) shape. ``source`` is ``human`` or ``model:<version id>``;
    ``origin_prediction_id`` links a shape accepted or edited from a prediction. ``role`` says
    whether it is an object or an ignore region (see :class:`AnnotationRole`); only an ignore
    region may have ``category_id == NO_CATEGORY``."""

    id: int
    image_id: int
    category_id: int
    geometry: Geometry
    z_order: int = 0
    iscrowd: bool = False
    attributes: dict[str, Any] = field(default_factory=dict)
    source: str = HUMAN
    origin_prediction_id: int | None = None
    created: str = ""
    modified: str = ""
    author: str = ""
    role: AnnotationRole = AnnotationRole.OBJECT

    def __post_init__(self) -> None:
        # An ignore region is a crowd to every reader (COCO iscrowd, VOC void, crowd-aware
        # metrics); the store reads them back the same way (its fast path skips this method).
        if self.role is AnnotationRole.IGNORE and not self.iscrowd:
            object.__setattr__(self, "iscrowd", True)

    @property
    def is_ignore(self) -> bool:
        """True for an ignore region (left out of losses and metrics)."""
        return self.role is AnnotationRole.IGNORE

    def with_changes(self, **changes: Any) -> Annotation:
        """A copy with the given fields replaced."""
        return replace(self, **changes)


@dataclass(frozen=True)
class Prediction:
    """A model proposal, stored apart from human annotations."""

    id: int
    image_id: int
    category_id: int
    geometry: Geometry
    score: float
    model_version_id: int
    state: PredictionState = PredictionState.PROPOSED
    created: str = ""


@dataclass(frozen=True)
class ModelVersion:
    """A trained (or pretrained) model. ``trained_on`` holds ``{"image_ids": [...],
    "revision": int}``; ``metrics`` the validation metrics; ``parent_id`` the warm start."""

    id: int
    architecture: str
    classes: tuple[int, ...]
    trained_on: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, Any] = field(default_factory=dict)
    weights_path: str = ""
    created: str = ""
    parent_id: int | None = None
    promoted: bool = False
