"""The model registry: every architecture the engine can pre-label with and train.

Each :class:`ModelSpec` says what the model outputs (:class:`OutputKind`), how to build it for a
number of classes (background included) with random weights, which torchvision weights to look
for on disk, and how to train it (:class:`TrainRecipe`). :func:`build_model` builds one for the
project's classes, starting from pretrained weights when they are on disk (torchvision's cache or
a user-chosen file), from scratch otherwise. No code path touches the network: builders get
``weights=None, weights_backbone=None`` and state dicts are loaded here.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Protocol, runtime_checkable

import torch
from torch import nn

from engine.catalog import OutputKind
from engine.errors import EngineInputError
from engine.models import weights as W
from engine.models.adapt import adapt_for_pretrained
from engine.models.precision import keep_box_math_float32

BACKGROUND = "__background__"
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class TrainRecipe:
    """Training settings of an architecture (per image batch of the request's size).

    ``crop_size``: semantic models train on square random crops of this side (pixels);
    ``min_iterations_per_epoch``: small data sets are repeated so an epoch has at least this
    many iterations; ``warmup_iterations``: linear learning-rate warm-up at the start.
    """

    optimizer: str = "sgd"  # "sgd" | "adamw"
    lr: float = 0.005
    momentum: float = 0.9
    weight_decay: float = 1e-4
    crop_size: int = 0
    min_iterations_per_epoch: int = 10
    warmup_iterations: int = 50
    vertical_flip: bool = False


@runtime_checkable
class HasBuildOptions(Protocol):
    """A module whose weights' shapes depend on constructor arguments besides the class count
    (a U-Net's width): it names them, so a saved model rebuilds with its own values."""

    def build_options(self) -> dict[str, int]: ...


@dataclass(frozen=True)
class ModelSpec:
    """One registry entry. ``build(num_classes, **build_options)`` returns a randomly initialised
    module (``num_classes`` includes the background; ``build_options`` as a saved module's
    :meth:`HasBuildOptions.build_options` named them, else the registry's defaults)."""

    name: str
    title: str
    output: OutputKind
    build: Callable[..., nn.Module] = field(repr=False)
    weights: str | None = None  # torchvision weight enum, "Enum.VALUE"
    backbone_weights: str | None = None
    backbone_prefixes: tuple[tuple[str, str], ...] = ()
    family: str = ""  # "resnet" | "mobilenet": pretrained-build adaptation of the backbone
    frozen_bn: bool = False
    trainable_layers: int = 3
    recipe: TrainRecipe = TrainRecipe()
    tiny: bool = False
    max_side: int = 1024  # semantic inference: larger images are downscaled to this long side
    image_mean: tuple[float, float, float] = IMAGENET_MEAN
    image_std: tuple[float, float, float] = IMAGENET_STD


@dataclass
class BuiltModel:
    """A module built for ``class_labels`` (index 0 is the background) and how its weights
    were obtained. ``adapted``: the backbone was changed like torchvision's pretrained build."""

    module: nn.Module
    spec: ModelSpec
    class_labels: list[str]
    report: W.LoadReport
    adapted: bool = False

    @property
    def num_classes(self) -> int:
        return len(self.class_labels)


# ---------------------------------------------------------------------------- builders
def _tv_detection(builder_name: str, num_classes: int, **kwargs: object) -> nn.Module:
    from torchvision.models import detection

    model: nn.Module = getattr(detection, builder_name)(weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    return model


def _tv_segmentation(builder_name: str, num_classes: int, **kwargs: object) -> nn.Module:
    from torchvision.models import segmentation

    model: nn.Module = getattr(segmentation, builder_name)(
        weights=None, weights_backbone=None, num_classes=num_classes, **kwargs)
    return model


def _unet(num_classes: int, base_channels: int) -> nn.Module:
    from engine.models.unet import UNet

    return UNet(num_classes, base_channels=base_channels)


def _instance_unet(num_classes: int, base_channels: int) -> nn.Module:
    from engine.models.instance_unet import InstanceUNet

    # Measured on DSB nuclei (bench/RESULTS.md, retrain_curve --curve): zoomed crops and a seed
    # threshold of 0.3 each raised held-out AP50; width 16 beat width 8 at equal CPU time.
    return InstanceUNet(num_classes, base_channels=base_channels, zoom_range=(0.7, 1.5), seed_threshold=0.3)


def _tiny(builder_name: str, num_classes: int) -> nn.Module:
    from engine.models import tiny

    model: nn.Module = getattr(tiny, builder_name)(num_classes)
    return model


RESNET_FPN = (("", "backbone.body."),)
MOBILENET_FPN = (("features.", "backbone.body."),)
RESNET_SEG = (("", "backbone."),)
MOBILENET_SEG = (("features.", "backbone."),)
R50 = "ResNet50_Weights.IMAGENET1K_V1"
MNV3 = "MobileNet_V3_Large_Weights.IMAGENET1K_V1"

RCNN = TrainRecipe(optimizer="sgd", lr=0.005, weight_decay=1e-4)
ONE_STAGE = TrainRecipe(optimizer="sgd", lr=0.0025, weight_decay=1e-4)
SEG_TV = TrainRecipe(optimizer="sgd", lr=0.01, weight_decay=1e-4, crop_size=384)
UNET = TrainRecipe(optimizer="adamw", lr=2e-3, weight_decay=1e-4, crop_size=256, min_iterations_per_epoch=20,
                   warmup_iterations=10, vertical_flip=True)
UNET_TINY = TrainRecipe(optimizer="adamw", lr=5e-3, weight_decay=1e-4, crop_size=128, min_iterations_per_epoch=10,
                        warmup_iterations=5, vertical_flip=True)
INSTANCE_UNET = TrainRecipe(optimizer="adamw", lr=3e-3, weight_decay=1e-4, min_iterations_per_epoch=20,
                            warmup_iterations=10, vertical_flip=True)
TINY_DET = TrainRecipe(optimizer="sgd", lr=0.02, weight_decay=1e-4, min_iterations_per_epoch=5, warmup_iterations=5)

BOXES, INST, SEM = OutputKind.BOXES, OutputKind.INSTANCE_MASKS, OutputKind.SEMANTIC_MASKS

_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec("maskrcnn_resnet50_fpn", "Mask R-CNN R50-FPN", INST, partial(_tv_detection, "maskrcnn_resnet50_fpn"),
              "MaskRCNN_ResNet50_FPN_Weights.COCO_V1", R50, RESNET_FPN, "resnet", True, recipe=RCNN),
    ModelSpec("maskrcnn_resnet50_fpn_v2", "Mask R-CNN R50-FPN v2", INST,
              partial(_tv_detection, "maskrcnn_resnet50_fpn_v2"),
              "MaskRCNN_ResNet50_FPN_V2_Weights.COCO_V1", R50, RESNET_FPN, "resnet", False, recipe=RCNN),
    ModelSpec("fasterrcnn_resnet50_fpn", "Faster R-CNN R50-FPN", BOXES, partial(_tv_detection, "fasterrcnn_resnet50_fpn"),
              "FasterRCNN_ResNet50_FPN_Weights.COCO_V1", R50, RESNET_FPN, "resnet", True, recipe=RCNN),
    ModelSpec("fasterrcnn_resnet50_fpn_v2", "Faster R-CNN R50-FPN v2", BOXES,
              partial(_tv_detection, "fasterrcnn_resnet50_fpn_v2"),
              "FasterRCNN_ResNet50_FPN_V2_Weights.COCO_V1", R50, RESNET_FPN, "resnet", False, recipe=RCNN),
    ModelSpec("fasterrcnn_mobilenet_v3_large_fpn", "Faster R-CNN MobileNetV3-Large FPN", BOXES,
              partial(_tv_detection, "fasterrcnn_mobilenet_v3_large_fpn"),
              "FasterRCNN_MobileNet_V3_Large_FPN_Weights.COCO_V1", MNV3, MOBILENET_FPN, "mobilenet", True, recipe=RCNN),
    ModelSpec("fasterrcnn_mobilenet_v3_large_320_fpn", "Faster R-CNN MobileNetV3-Large 320 FPN", BOXES,
              partial(_tv_detection, "fasterrcnn_mobilenet_v3_large_320_fpn"),
              "FasterRCNN_MobileNet_V3_Large_320_FPN_Weights.COCO_V1", MNV3, MOBILENET_FPN, "mobilenet", True,
              recipe=RCNN),
    ModelSpec("retinanet_resnet50_fpn", "RetinaNet R50-FPN", BOXES, partial(_tv_detection, "retinanet_resnet50_fpn"),
              "RetinaNet_ResNet50_FPN_Weights.COCO_V1", R50, RESNET_FPN, "resnet", True, recipe=ONE_STAGE),
    ModelSpec("retinanet_resnet50_fpn_v2", "RetinaNet R50-FPN v2", BOXES,
              partial(_tv_detection, "retinanet_resnet50_fpn_v2"),
              "RetinaNet_ResNet50_FPN_V2_Weights.COCO_V1", R50, RESNET_FPN, "resnet", False, recipe=ONE_STAGE),
    ModelSpec("fcos_resnet50_fpn", "FCOS R50-FPN", BOXES, partial(_tv_detection, "fcos_resnet50_fpn"),
              "FCOS_ResNet50_FPN_Weights.COCO_V1", R50, RESNET_FPN, "resnet", True, recipe=ONE_STAGE),
    ModelSpec("ssdlite320_mobilenet_v3_large", "SSDlite320 MobileNetV3-Large", BOXES,
              partial(_tv_detection, "ssdlite320_mobilenet_v3_large"),
              "SSDLite320_MobileNet_V3_Large_Weights.COCO_V1", None, (), "", False, 6,
              recipe=TrainRecipe(optimizer="sgd", lr=0.01, weight_decay=4e-5)),
    ModelSpec("fcn_resnet50", "FCN ResNet-50", SEM, partial(_tv_segmentation, "fcn_resnet50", aux_loss=False),
              "FCN_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1", R50, RESNET_SEG, recipe=SEG_TV),
    ModelSpec("deeplabv3_resnet50", "DeepLabV3 ResNet-50", SEM,
              partial(_tv_segmentation, "deeplabv3_resnet50", aux_loss=False),
              "DeepLabV3_ResNet50_Weights.COCO_WITH_VOC_LABELS_V1", R50, RESNET_SEG, recipe=SEG_TV),
    ModelSpec("deeplabv3_mobilenet_v3_large", "DeepLabV3 MobileNetV3-Large", SEM,
              partial(_tv_segmentation, "deeplabv3_mobilenet_v3_large", aux_loss=False),
              "DeepLabV3_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1", MNV3, MOBILENET_SEG, recipe=SEG_TV),
    ModelSpec("lraspp_mobilenet_v3_large", "LR-ASPP MobileNetV3-Large", SEM,
              partial(_tv_segmentation, "lraspp_mobilenet_v3_large"),
              "LRASPP_MobileNet_V3_Large_Weights.COCO_WITH_VOC_LABELS_V1", MNV3, MOBILENET_SEG, recipe=SEG_TV),
    ModelSpec("unet", "U-Net (compact, trains from scratch)", SEM, partial(_unet, base_channels=32), recipe=UNET),
    ModelSpec("unet_instances", "U-Net instances (foreground + boundary, watershed; trains from scratch on a CPU)",
              INST, partial(_instance_unet, base_channels=16), recipe=INSTANCE_UNET),
    ModelSpec("unet_tiny", "U-Net tiny (8 channels; tests, quick CPU trials)", SEM, partial(_unet, base_channels=8),
              recipe=UNET_TINY, tiny=True, max_side=512),
    ModelSpec("maskrcnn_tiny", "Mask R-CNN tiny (MobileNetV3-Small FPN; tests)", INST, partial(_tiny, "maskrcnn_tiny"),
              recipe=TINY_DET, tiny=True),
    ModelSpec("fasterrcnn_tiny", "Faster R-CNN tiny (MobileNetV3-Small FPN; tests)", BOXES,
              partial(_tiny, "fasterrcnn_tiny"), recipe=TINY_DET, tiny=True),
)

REGISTRY: dict[str, ModelSpec] = {spec.name: spec for spec in _SPECS}


def names(*, include_tiny: bool = True) -> list[str]:
    """Registry names in display order."""
    return [s.name for s in _SPECS if include_tiny or not s.tiny]


def get_spec(name: str) -> ModelSpec:
    """The entry called ``name``; :class:`EngineInputError` listing the names otherwise."""
    try:
        return REGISTRY[name]
    except KeyError:
        raise EngineInputError(f"unknown model {name!r}; known models: {', '.join(names())}") from None


def default_architecture(categories: Sequence[object]) -> str:
    """The architecture to start with for a project: the U-Net when every category is stuff
    (semantic); for things Mask R-CNN when its COCO or ImageNet weights are on disk, else the
    instance U-Net (it learns on a CPU from a few images without downloaded weights)."""
    if categories and all(not getattr(c, "is_thing", True) for c in categories):
        return "unet"
    mask_rcnn = REGISTRY["maskrcnn_resnet50_fpn"]
    if W.find_cached(mask_rcnn.weights) is not None or W.find_cached(mask_rcnn.backbone_weights) is not None:
        return mask_rcnn.name
    return "unet_instances"


def sane_batch_norm(module: nn.Module, momentum: float = 0.1) -> int:
    """Raise every BatchNorm's running-statistics momentum to at least ``momentum`` (returns how
    many were changed). torchvision's MobileNetV3 uses 0.01: over the few dozen steps of a
    from-scratch CPU training the running statistics barely leave their initial values and
    eval-mode output collapses to one class."""
    changed = 0
    for child in module.modules():
        if isinstance(child, nn.modules.batchnorm._BatchNorm) and child.momentum is not None \
                and child.momentum < momentum:
            child.momentum = momentum
            changed += 1
    return changed


def class_labels(names_: Sequence[str]) -> list[str]:
    """Labels per class index: the background, then ``names_``."""
    return [BACKGROUND, *names_]


def build_model(
    name: str,
    class_names: Sequence[str],
    *,
    weights_file: str | os.PathLike[str] | None = None,
    pretrained: bool = True,
) -> BuiltModel:
    """Build ``name`` for ``class_names`` (the background is added as class 0).

    Weights, first found wins: ``weights_file`` (a user-chosen file); the architecture's
    torchvision weights in torchvision's cache; its backbone's ImageNet weights there; random
    initialisation (seed torch yourself for reproducible runs). Head rows of classes whose name
    matches a class of the weights (e.g. COCO's "person") are kept; other head rows start fresh.
    """
    spec = get_spec(name)
    labels = class_labels(class_names)
    module = spec.build(len(labels))
    sane_batch_norm(module)
    if spec.output.is_detection:
        keep_box_math_float32(module)
    if weights_file:
        path = Path(weights_file)
        state = W.read_state_dict(path)
        source_labels = _file_labels(path, spec)
        adapted = _adapt(module, spec)
        report = W.load_matching(module, state, source=f"file:{path}", source_labels=source_labels,
                                 target_labels=labels, class_keys=class_dependent_keys(spec, len(labels)))
        return BuiltModel(module, spec, labels, report, adapted)
    if pretrained:
        cached = W.find_cached(spec.weights)
        if cached is not None:
            adapted = _adapt(module, spec)
            report = W.load_matching(module, W.read_state_dict(cached), source=f"torchvision:{cached}",
                                     source_labels=W.weight_categories(spec.weights or ""), target_labels=labels,
                                     class_keys=class_dependent_keys(spec, len(labels)))
            return BuiltModel(module, spec, labels, report, adapted)
        backbone = W.find_cached(spec.backbone_weights)
        if backbone is not None and spec.backbone_prefixes:
            adapted = _adapt(module, spec)
            state = W.rename_prefixes(W.read_state_dict(backbone), spec.backbone_prefixes)
            report = W.load_matching(module, state, source=f"backbone:{backbone}", require_fraction=0.0)
            return BuiltModel(module, spec, labels, report, adapted)
    return BuiltModel(module, spec, labels, W.LoadReport(source="random", replaced=list(module.state_dict())))


def expected_source(name: str, *, weights_file: str | os.PathLike[str] | None = None, pretrained: bool = True) -> str:
    """The weight source :func:`build_model` would use, without building: ``file:<path>``,
    ``torchvision:<path>``, ``backbone:<path>`` or ``random``."""
    spec = get_spec(name)
    if weights_file:
        return f"file:{Path(weights_file)}"
    if pretrained:
        cached = W.find_cached(spec.weights)
        if cached is not None:
            return f"torchvision:{cached}"
        backbone = W.find_cached(spec.backbone_weights)
        if backbone is not None and spec.backbone_prefixes:
            return f"backbone:{backbone}"
    return "random"


def class_dependent_keys(spec: ModelSpec, num_classes: int) -> frozenset[str]:
    """State-dict keys of ``spec``'s model whose shape depends on the class count (the class
    heads), found by building it for ``num_classes`` and ``num_classes + 1`` on the meta device
    (no memory, no weights)."""
    with torch.device("meta"):
        small = spec.build(num_classes).state_dict()
        large = spec.build(num_classes + 1).state_dict()
    return frozenset(k for k, v in small.items() if k in large and large[k].shape != v.shape)


def _adapt(module: nn.Module, spec: ModelSpec) -> bool:
    if not spec.family:
        return False
    adapt_for_pretrained(module, family=spec.family, frozen_bn=spec.frozen_bn, trainable_layers=spec.trainable_layers)
    return True


def _file_labels(path: Path, spec: ModelSpec) -> list[str]:
    """Class labels of a user-chosen file: a SegStudio file names them; a torchvision file
    keeps its download name, which tells its weight enum."""
    if spec.weights and path.name == W.weight_file_name(spec.weights):
        return W.weight_categories(spec.weights)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - read_state_dict already reported unreadable files
        return []
    if isinstance(data, dict) and isinstance(data.get("class_labels"), list):
        return [str(v) for v in data["class_labels"]]
    return []


def build_options(module: nn.Module) -> dict[str, int]:
    """The shape-defining constructor arguments of ``module`` ({} for fixed architectures)."""
    return module.build_options() if isinstance(module, HasBuildOptions) else {}


def infer_build_options(spec_name: str, state_dict: Mapping[str, torch.Tensor]) -> dict[str, int]:
    """Build options of a model file written before files recorded them: a U-Net's width is the
    output-channel count of its first convolution ({} when the file is not a U-Net's).

    >>> infer_build_options("unet_instances", {"net.stem.0.weight": torch.zeros(8, 3, 3, 3)})
    {'base_channels': 8}
    >>> infer_build_options("fcn_resnet50", {"backbone.conv1.weight": torch.zeros(64, 3, 7, 7)})
    {}
    """
    for key in ("stem.0.weight", "net.stem.0.weight"):
        tensor = state_dict.get(key)
        if spec_name in ("unet", "unet_tiny", "unet_instances") and tensor is not None and tensor.dim() == 4:
            return {"base_channels": int(tensor.shape[0])}
    return {}


def rebuild(spec_name: str, class_labels_: Sequence[str], *, adapted: bool,
            options: Mapping[str, int] | None = None) -> BuiltModel:
    """An empty module with the structure of a saved SegStudio model (for loading its weights);
    ``options``: the file's build options (:func:`build_options`), else the registry's."""
    spec = get_spec(spec_name)
    module = spec.build(len(class_labels_), **dict(options or {}))
    sane_batch_norm(module)
    if spec.output.is_detection:
        keep_box_math_float32(module)
    if adapted:
        _adapt(module, spec)
    return BuiltModel(module, spec, list(class_labels_), W.LoadReport(source="empty"), adapted)
