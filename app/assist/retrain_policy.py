"""The auto-retrain policy as the GUI runs it: every N newly finished images, start a training.

The decision is the engine's pure policy (``engine.policy.RetrainPolicy``); this module keeps
the GUI's settings, stored in the project (``assist.auto_retrain``) so they travel with it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from annotations.store import Project
from engine.policy import RetrainDecision, RetrainPolicy, retrain_state

SETTING_KEY = "assist.auto_retrain"


@dataclass(frozen=True)
class RetrainSettings:
    """``every_n_finished``: how many newly finished images trigger a training run."""

    enabled: bool = False
    every_n_finished: int = 5
    model: str = ""
    epochs: int = 10

    @classmethod
    def load(cls, project: Project) -> RetrainSettings:
        """Read from the project's settings (defaults when absent or malformed)."""
        raw = project.get_setting(SETTING_KEY, None)
        if not isinstance(raw, dict):
            return cls()
        try:
            return cls(bool(raw.get("enabled", False)), max(1, int(raw.get("every_n_finished", 5))),
                       str(raw.get("model", "")), max(1, int(raw.get("epochs", 10))))
        except (TypeError, ValueError):
            return cls()

    def save(self, project: Project) -> None:
        """Store in the project's settings."""
        project.set_setting(SETTING_KEY, asdict(self))


def decide(project: Project, settings: RetrainSettings, *, training_running: bool, last_trigger_s: float | None,
           now_s: float) -> RetrainDecision:
    """The engine's debounced policy (``engine.policy``) applied to the project and settings:
    retrain after ``every_n_finished`` newly finished images, never during a training, not within
    the cooldown after the previous trigger."""
    policy = RetrainPolicy(every_n_finished=max(1, settings.every_n_finished))
    state = retrain_state(project, settings.model, training_in_flight=training_running, last_trigger_s=last_trigger_s)
    return policy.decide(state, now_s)
