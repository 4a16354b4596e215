"""The model names the GUI offers, without importing torch.

The engine's registry (``engine.models.registry``) builds torch models, so the GUI must not
import it; the names come from its torch-free twin ``engine.catalog``, and from the list below
when that is missing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelChoice:
    """A registry entry as the GUI shows it: ``output`` is boxes, instance masks or semantic masks."""

    name: str
    output: str
    description: str = ""

    @property
    def label(self) -> str:
        return f"{self.name}  ({self.output})" if self.output else self.name


FALLBACK_CHOICES: tuple[ModelChoice, ...] = (
    ModelChoice("unet", "semantic masks", "U-Net (compact, trains from scratch)"),
    ModelChoice("maskrcnn_resnet50_fpn", "instance masks", "Mask R-CNN R50-FPN"),
    ModelChoice("maskrcnn_resnet50_fpn_v2", "instance masks", "Mask R-CNN R50-FPN v2"),
    ModelChoice("fasterrcnn_resnet50_fpn", "boxes", "Faster R-CNN R50-FPN"),
    ModelChoice("fasterrcnn_resnet50_fpn_v2", "boxes", "Faster R-CNN R50-FPN v2"),
    ModelChoice("fasterrcnn_mobilenet_v3_large_fpn", "boxes", "Faster R-CNN MobileNetV3-Large FPN"),
    ModelChoice("fasterrcnn_mobilenet_v3_large_320_fpn", "boxes", "Faster R-CNN MobileNetV3-Large 320 FPN"),
    ModelChoice("retinanet_resnet50_fpn", "boxes", "RetinaNet R50-FPN"),
    ModelChoice("retinanet_resnet50_fpn_v2", "boxes", "RetinaNet R50-FPN v2"),
    ModelChoice("fcos_resnet50_fpn", "boxes", "FCOS R50-FPN"),
    ModelChoice("ssdlite320_mobilenet_v3_large", "boxes", "SSDlite320 MobileNetV3-Large"),
    ModelChoice("fcn_resnet50", "semantic masks", "FCN ResNet-50"),
    ModelChoice("deeplabv3_resnet50", "semantic masks", "DeepLabV3 ResNet-50"),
    ModelChoice("deeplabv3_mobilenet_v3_large", "semantic masks", "DeepLabV3 MobileNetV3-Large"),
    ModelChoice("lraspp_mobilenet_v3_large", "semantic masks", "LR-ASPP MobileNetV3-Large"),
    ModelChoice("unet_tiny", "semantic masks", "U-Net tiny (quick CPU trials)"),
    ModelChoice("maskrcnn_tiny", "instance masks", "Mask R-CNN tiny (quick CPU trials)"),
    ModelChoice("fasterrcnn_tiny", "boxes", "Faster R-CNN tiny (quick CPU trials)"),
)
"""Mirrors ``engine/models/registry.py`` (a test keeps the names in sync by reading that file)."""

_OUTPUT_LABELS = {"boxes": "boxes", "instance_masks": "instance masks", "semantic_masks": "semantic masks"}


def model_choices() -> list[ModelChoice]:
    """The models to offer, from the engine's torch-free catalogue (``engine.catalog``); the
    list above when the engine does not provide one."""
    try:
        from engine import catalog
    except ImportError:
        return list(FALLBACK_CHOICES)
    entries = getattr(catalog, "CATALOG", ())
    choices = []
    for e in entries:
        output = getattr(e.output, "value", e.output)
        choices.append(ModelChoice(e.name, _OUTPUT_LABELS.get(str(output), str(output)), e.description))
    return choices or list(FALLBACK_CHOICES)


def default_model(project: object) -> str:
    """The model to preselect: the newest trained version's architecture, else Mask R-CNN when
    the project has thing classes, else the U-Net."""
    if project is None:
        return "unet"
    versions = project.model_versions()  # type: ignore[attr-defined]
    if versions:
        return str(versions[-1].architecture)
    things = any(getattr(c, "is_thing", True) for c in project.categories())  # type: ignore[attr-defined]
    return "maskrcnn_resnet50_fpn" if things else "unet"
