"""The registry's names without torch: what the GUI lists in its model pickers.

``engine.models.registry`` builds the models (torch); this module only names them and says what
they output. A test keeps the two in sync.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class OutputKind(str, Enum):
    """What a model produces for an image."""

    BOXES = "boxes"
    INSTANCE_MASKS = "instance_masks"
    SEMANTIC_MASKS = "semantic_masks"

    @property
    def is_detection(self) -> bool:
        """Boxes or instance masks (torchvision detection API: list of images in, dicts out)."""
        return self is not OutputKind.SEMANTIC_MASKS

    @property
    def has_masks(self) -> bool:
        return self is not OutputKind.BOXES


@dataclass(frozen=True)
class CatalogEntry:
    """A registry entry as a picker shows it. ``tiny``: a small variant for tests / CPU trials."""

    name: str
    output: OutputKind
    description: str
    tiny: bool = False


_B, _I, _S = OutputKind.BOXES, OutputKind.INSTANCE_MASKS, OutputKind.SEMANTIC_MASKS

CATALOG: tuple[CatalogEntry, ...] = (
    CatalogEntry("maskrcnn_resnet50_fpn", _I, "Mask R-CNN R50-FPN"),
    CatalogEntry("maskrcnn_resnet50_fpn_v2", _I, "Mask R-CNN R50-FPN v2"),
    CatalogEntry("fasterrcnn_resnet50_fpn", _B, "Faster R-CNN R50-FPN"),
    CatalogEntry("fasterrcnn_resnet50_fpn_v2", _B, "Faster R-CNN R50-FPN v2"),
    CatalogEntry("fasterrcnn_mobilenet_v3_large_fpn", _B, "Faster R-CNN MobileNetV3-Large FPN"),
    CatalogEntry("fasterrcnn_mobilenet_v3_large_320_fpn", _B, "Faster R-CNN MobileNetV3-Large 320 FPN"),
    CatalogEntry("retinanet_resnet50_fpn", _B, "RetinaNet R50-FPN"),
    CatalogEntry("retinanet_resnet50_fpn_v2", _B, "RetinaNet R50-FPN v2"),
    CatalogEntry("fcos_resnet50_fpn", _B, "FCOS R50-FPN"),
    CatalogEntry("ssdlite320_mobilenet_v3_large", _B, "SSDlite320 MobileNetV3-Large"),
    CatalogEntry("fcn_resnet50", _S, "FCN ResNet-50"),
    CatalogEntry("deeplabv3_resnet50", _S, "DeepLabV3 ResNet-50"),
    CatalogEntry("deeplabv3_mobilenet_v3_large", _S, "DeepLabV3 MobileNetV3-Large"),
    CatalogEntry("lraspp_mobilenet_v3_large", _S, "LR-ASPP MobileNetV3-Large"),
    CatalogEntry("unet", _S, "U-Net (compact, trains from scratch)"),
    CatalogEntry("unet_instances", _I, "U-Net instances (foreground + boundary, watershed; trains from scratch on a CPU)"),
    CatalogEntry("unet_tiny", _S, "U-Net tiny (8 channels; tests, quick CPU trials)", tiny=True),
    CatalogEntry("maskrcnn_tiny", _I, "Mask R-CNN tiny (MobileNetV3-Small FPN; tests)", tiny=True),
    CatalogEntry("fasterrcnn_tiny", _B, "Faster R-CNN tiny (MobileNetV3-Small FPN; tests)", tiny=True),
)

MODEL_NAMES: tuple[str, ...] = tuple(e.name for e in CATALOG)


def model_names(*, include_tiny: bool = True) -> list[str]:
    """Registry names in display order."""
    return [e.name for e in CATALOG if include_tiny or not e.tiny]


def entry(name: str) -> CatalogEntry | None:
    """The catalogue entry called ``name``, or None."""
    return next((e for e in CATALOG if e.name == name), None)
