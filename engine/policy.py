"""When to retrain: a pure, debounced policy usable by the GUI and the CLI (no torch, no Qt).

Retrain after ``every_n_finished`` images were finished (done/reviewed) since the images the
newest model version of the architecture was trained on, never while a training job is in
flight, and not sooner than ``cooldown_s`` after the previous trigger.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from annotations.store import Project


@dataclass(frozen=True)
class RetrainState:
    """What the policy looks at. ``last_trigger_s`` is a monotonic time in seconds (or None)."""

    finished_image_ids: frozenset[int]
    trained_image_ids: frozenset[int]
    training_in_flight: bool = False
    last_trigger_s: float | None = None

    @property
    def newly_finished(self) -> int:
        """Finished images the newest version has not been trained on."""
        return len(self.finished_image_ids - self.trained_image_ids)


@dataclass(frozen=True)
class RetrainDecision:
    retrain: bool
    reason: str


@dataclass(frozen=True)
class RetrainPolicy:
    """``every_n_finished`` new finished images trigger a retrain; ``min_finished`` is the
    smallest data set worth training on (one image goes to validation)."""

    every_n_finished: int = 10
    min_finished: int = 4
    cooldown_s: float = 30.0

    def __post_init__(self) -> None:
        if self.every_n_finished < 1:
            raise ValueError(f"every_n_finished must be >= 1, got {self.every_n_finished}")
        if self.min_finished < 2:
            raise ValueError(f"min_finished must be >= 2 (one image is held out), got {self.min_finished}")

    def decide(self, state: RetrainState, now_s: float) -> RetrainDecision:
        """Whether to start a training job now (``now_s``: the same monotonic clock as
        ``state.last_trigger_s``)."""
        if state.training_in_flight:
            return RetrainDecision(False, "a training job is already running")
        total = len(state.finished_image_ids)
        if total < self.min_finished:
            return RetrainDecision(False, f"{total} finished images; need at least {self.min_finished}")
        new = state.newly_finished
        if new < self.every_n_finished:
            return RetrainDecision(False, f"{new} of {self.every_n_finished} newly finished images")
        if state.last_trigger_s is not None and now_s - state.last_trigger_s < self.cooldown_s:
            wait = self.cooldown_s - (now_s - state.last_trigger_s)
            return RetrainDecision(False, f"cooling down ({wait:.0f} s left)")
        return RetrainDecision(True, f"{new} newly finished images")

    def should_retrain(self, state: RetrainState, now_s: float) -> bool:
        """:meth:`decide` as a bool."""
        return self.decide(state, now_s).retrain


def retrain_state(
    project: Project,
    architecture: str = "",
    *,
    training_in_flight: bool = False,
    last_trigger_s: float | None = None,
) -> RetrainState:
    """Read a :class:`RetrainState` from an open ``annotations.store.Project``: its finished
    images, and the images the newest version (of ``architecture``, if given) was trained on."""
    finished = frozenset(
        image.id for image in project.images() if image.status.is_finished
    )
    versions = [
        v for v in project.model_versions()
        if (not architecture or v.architecture == architecture) and v.trained_on.get("image_ids")
    ]
    trained = frozenset(int(i) for i in versions[-1].trained_on["image_ids"]) if versions else frozenset()
    return RetrainState(finished, trained, training_in_flight, last_trigger_s)


__all__ = ["RetrainDecision", "RetrainPolicy", "RetrainState", "retrain_state"]
