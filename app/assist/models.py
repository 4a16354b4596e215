"""The model names the GUI offers, without importing torch.

The engine's registry (``engine.models.registry``) builds torch models, so the GUI must not
import it; the names come from its torch-free twin ``engine.catalog`` (no copy here).
"""

from __future__ import annotations

from dataclasses import dataclass

from annotations.store import Project


@dataclass(frozen=True)
class ModelChoice:
    """A registry entry as the GUI shows it: ``output`` is boxes, instance masks or semantic masks."""

    name: str
    output: str
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}  ({self.output})" if self.output else self.name


_OUTPUT_LABELS = {"boxes": "boxes", "instance_masks": "instance masks", "semantic_masks": "semantic masks"}


def model_choices() -> list[ModelChoice]:
    """The models to offer, from the engine's torch-free catalogue (``engine.catalog``, the one
    list of model names)."""
    from engine import catalog

    return [
        ModelChoice(e.name, _OUTPUT_LABELS.get(str(e.output.value), str(e.output.value)), e.description)
        for e in catalog.CATALOG
    ]


def default_model(project: Project) -> str:
    """The model to preselect: the newest trained version's architecture, else Mask R-CNN when
    the project has thing classes, else the U-Net."""
    versions = project.model_versions()
    if versions:
        return str(versions[-1].architecture)
    things = any(c.is_thing for c in project.categories())
    return "maskrcnn_resnet50_fpn" if things else "unet"
