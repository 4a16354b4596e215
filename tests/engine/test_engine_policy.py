"""The debounced retrain policy."""

from __future__ import annotations

from pathlib import Path

import pytest

from annotations.model import ImageStatus, ModelVersion
from annotations.store import Project
from engine.policy import RetrainPolicy, RetrainState, retrain_state


def state(finished: range, trained: range = range(0), **kw: object) -> RetrainState:
    return RetrainState(frozenset(finished), frozenset(trained), **kw)  # type: ignore[arg-type]  # kw: RetrainState's optional fields


def test_triggers_after_n_new_finished_images() -> None:
    policy = RetrainPolicy(every_n_finished=3, min_finished=2, cooldown_s=0)
    assert not policy.should_retrain(state(range(1, 3)), 0.0)  # 2 new < 3
    assert policy.should_retrain(state(range(1, 4)), 0.0)
    assert not policy.should_retrain(state(range(1, 6), range(1, 4)), 0.0)  # only 2 new since
    assert policy.should_retrain(state(range(1, 7), range(1, 4)), 0.0)


def test_never_while_training_nor_during_cooldown_nor_below_minimum() -> None:
    policy = RetrainPolicy(every_n_finished=1, min_finished=4, cooldown_s=30)
    assert not policy.should_retrain(state(range(1, 4)), 0.0)  # 3 < min 4
    assert not policy.should_retrain(state(range(1, 9), training_in_flight=True), 0.0)
    decision = policy.decide(state(range(1, 9), last_trigger_s=100.0), 110.0)
    assert not decision.retrain and "cooling down" in decision.reason
    assert policy.should_retrain(state(range(1, 9), last_trigger_s=100.0), 131.0)


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="every_n_finished must be >= 1"):
        RetrainPolicy(every_n_finished=0)
    with pytest.raises(ValueError, match="min_finished must be >= 2"):
        RetrainPolicy(min_finished=1)


def test_state_from_project_uses_newest_version_of_the_architecture(blob_project: Path) -> None:
    with Project.open(blob_project) as project:
        s = retrain_state(project)
        assert s.finished_image_ids == {1, 2} and s.trained_image_ids == frozenset()
        project.add_model_version(ModelVersion(0, "unet", (1,), {"image_ids": [1], "revision": 1}))
        project.add_model_version(ModelVersion(0, "maskrcnn_tiny", (1,), {"image_ids": [1, 2], "revision": 2}))
        project.put_image_status(3, ImageStatus.DONE)
        assert retrain_state(project, "unet").newly_finished == 2
        assert retrain_state(project, "maskrcnn_tiny").newly_finished == 1
        assert retrain_state(project).newly_finished == 1
