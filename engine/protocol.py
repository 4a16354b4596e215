"""The messages between the GUI (or CLI) and the engine worker: plain picklable dataclasses.

No torch, no Qt, no open handles: the same messages can later cross a network to a GPU server.
Every job emits :class:`Started`, any number of :class:`Progress`, and exactly one terminal
event: :class:`Succeeded`, :class:`Failed` or :class:`Cancelled`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import Enum
from typing import Any


def new_job_id() -> str:
    """A fresh unique job id."""
    return uuid.uuid4().hex[:12]


class Device(str, Enum):
    AUTO = "auto"
    CPU = "cpu"
    CUDA = "cuda"


class SegmentMethod(str, Enum):
    AUTO = "auto"  # SAM when its weights are present, else the project's trained model when one suits it, else GrabCut
    GRABCUT = "grabcut"
    MODEL = "model"
    SAM = "sam"  # a SAM-family model (engine.sam); needs its weight file (main.py weights fetch NAME)


# ---------------------------------------------------------------------------- requests
@dataclass(frozen=True)
class Prelabel:
    """Predict shapes for images and store them as predictions of a model version.

    ``model`` is a registry name (e.g. ``"maskrcnn_resnet50_fpn"``) or a model version id as a
    string; empty means the project's current promoted version. ``image_ids`` empty means every
    unfinished image. Finished (done/reviewed) images are never touched.
    """

    project_path: str
    model: str = ""
    image_ids: tuple[int, ...] = ()
    device: Device = Device.AUTO
    score_threshold: float = 0.5
    batch_size: int = 4
    allow_untrained: bool = False  # testing only: let an untrained (random-weight) network store pre-labels
    job_id: str = field(default_factory=new_job_id)


@dataclass(frozen=True)
class Train:
    """Train (warm-started from the current version of ``model`` when there is one) on a frozen
    snapshot of the project's finished images; promote only if validation improves."""

    project_path: str
    model: str = ""
    epochs: int = 10
    device: Device = Device.AUTO
    batch_size: int = 2
    seed: int = 0
    val_fraction: float = 0.2
    weights_file: str = ""  # a user-chosen pretrained weight file (loaded with weights_only=True)
    reprelabel: bool = True  # after promotion, re-predict unfinished images
    iterations_per_epoch: int = 0  # 0: one pass over the training images (at least the recipe's minimum)
    learning_rate: float = 0.0  # 0: the architecture's recipe default
    loss: str = "auto"  # semantic models: an engine.loss_choice.LossKind value ("auto", "ce", "weighted-ce", ...)
    job_id: str = field(default_factory=new_job_id)


@dataclass(frozen=True)
class Segment:
    """Interactive segmentation of one image: a box and/or clicks -> one mask.

    Coordinates are continuous image pixels; points are (x, y).
    """

    project_path: str
    image_id: int
    box_xyxy: tuple[float, float, float, float] | None = None
    positive_points: tuple[tuple[float, float], ...] = ()
    negative_points: tuple[tuple[float, float], ...] = ()
    method: SegmentMethod = SegmentMethod.AUTO
    sam_model: str = ""  # an engine.sam.catalog name; "" = the default (sam2.1_hiera_tiny)
    sam_weights_file: str = ""  # a user-picked SAM checkpoint instead of the weights cache
    refine: bool = True  # SAM: the previous answer on this image is a prompt too when this prompt extends it
    prepare_only: bool = False  # no prompt: compute (cache) the SAM embedding of image_id, then of prefetch_image_ids
    prefetch_image_ids: tuple[int, ...] = ()  # images whose embeddings to compute after answering (the next image)
    job_id: str = field(default_factory=new_job_id)


@dataclass(frozen=True)
class Cancel:
    """Ask the job ``job_id`` to stop at its next batch or iteration."""

    job_id: str


@dataclass(frozen=True)
class Shutdown:
    """Stop the worker after the job in flight (which is cancelled)."""


Request = Prelabel | Train | Segment | Cancel | Shutdown
JobRequest = Prelabel | Train | Segment

_JOB_KINDS: dict[type, str] = {Prelabel: "prelabel", Train: "train", Segment: "segment"}


def job_kind(request: Any) -> str:
    """``"prelabel"``, ``"train"`` or ``"segment"`` for a job request (the ``Started.kind``).

    Raises TypeError for anything that is not a job request.
    """
    try:
        return _JOB_KINDS[type(request)]
    except KeyError:
        raise TypeError(f"not a job request: {type(request).__name__}") from None


# ---------------------------------------------------------------------------- results
@dataclass(frozen=True)
class PrelabelResult:
    """``image_ids``: the images predicted (their proposals stored); ``failed_images``: images
    whose file was missing or unreadable, skipped (the run goes on without them)."""

    model_version_id: int
    image_ids: tuple[int, ...]
    prediction_count: int
    seconds: float
    skipped_image_ids: tuple[int, ...] = ()  # finished images named in the request: untouched
    failed_images: tuple[tuple[int, str], ...] = ()  # (image id, reason): missing/unreadable, untouched


@dataclass(frozen=True)
class TrainResult:
    model_version_id: int
    promoted: bool
    metrics: dict[str, Any]
    baseline_metrics: dict[str, Any]
    epochs_run: int
    history: tuple[dict[str, Any], ...] = ()  # per epoch: {"epoch", "loss", "val": {...}}
    seconds: float = 0.0
    weights_path: str = ""  # the new version's weight file, relative to the project folder
    primary_metric: str = ""  # the key of ``metrics`` that decided promotion (e.g. "miou")
    prelabel: PrelabelResult | None = None  # the re-prediction of unfinished images after promotion
    loss: str = ""  # the training loss used and why, e.g. "weighted-ce (auto: classes very unbalanced: ...)"


@dataclass(frozen=True)
class SegmentResult:
    """A mask as compressed COCO RLE at full image size: ``size`` (height, width), ``counts``."""

    size: tuple[int, int]
    counts: bytes  # empty for a prepare_only request
    method: SegmentMethod
    milliseconds: float
    alternatives: tuple[bytes, ...] = ()  # SAM's other candidates (RLE counts, same size), next best first
    scores: tuple[float, ...] = ()  # SAM's predicted IoU of counts, then of each alternative
    embedding_ms: float = 0.0  # time spent computing an image embedding for this answer (0: cached)
    model: str = ""  # the SAM model that answered (method SAM), e.g. "sam2.1_hiera_tiny"


# ---------------------------------------------------------------------------- events
@dataclass(frozen=True)
class Started:
    job_id: str
    kind: str  # "prelabel" | "train" | "segment"


@dataclass(frozen=True)
class Progress:
    job_id: str
    done: int
    total: int
    message: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)  # e.g. loss / val metric per epoch


@dataclass(frozen=True)
class Succeeded:
    job_id: str
    result: Any  # PrelabelResult | TrainResult | SegmentResult


@dataclass(frozen=True)
class Failed:
    """A job failed. ``input_error`` is True when the input was at fault (an unknown model, a
    missing file, too few finished images): the CLI maps it to exit code 2."""

    job_id: str
    error_type: str
    message: str
    traceback_text: str = ""
    input_error: bool = False


@dataclass(frozen=True)
class Cancelled:
    job_id: str


@dataclass(frozen=True)
class WorkerDied:
    """Emitted by the client (not the worker) when the worker process exits unexpectedly;
    jobs in flight get a :class:`Failed` each, and the client restarts the worker."""

    exit_code: int | None
    restarted: bool


Event = Started | Progress | Succeeded | Failed | Cancelled | WorkerDied
TERMINAL_EVENTS = (Succeeded, Failed, Cancelled)
