"""The GUI's model list stays in sync with the engine registry (read as text: it imports torch)."""

from __future__ import annotations

import sys

from app.assist.models import default_model, model_choices


def test_model_choices_never_import_torch() -> None:
    before = "torch" in sys.modules
    choices = model_choices()
    assert choices and all(c.name for c in choices)
    if not before:
        assert "torch" not in sys.modules


def test_choices_carry_the_output_kind() -> None:
    by_name = {c.name: c for c in model_choices()}
    assert by_name["unet"].output == "semantic masks"
    assert by_name["maskrcnn_resnet50_fpn"].output == "instance masks"
    assert by_name["fasterrcnn_resnet50_fpn"].output == "boxes"


def test_default_model_follows_the_newest_version(new_project) -> None:
    from annotations.model import ModelVersion

    assert default_model(new_project) == "maskrcnn_resnet50_fpn"
    new_project.add_model_version(ModelVersion(0, "unet_tiny", (1, 2)))
    assert default_model(new_project) == "unet_tiny"
