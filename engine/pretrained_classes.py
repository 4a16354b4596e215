"""Which classes each model's pretrained weights know, without torch: the class lists of
torchvision's COCO and VOC weights and the file name each model's weights are downloaded to.

Lets ``main.py info`` and ``main.py weights list`` say which project classes a model can propose
before any training (the class remap by name), quickly and without importing torch. A test
keeps these tables equal to torchvision's own.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

COCO_CATEGORIES: tuple[str, ...] = (
    '__background__', 'person', 'bicycle', 'car', 'motorcycle', 'airplane', 'bus', 'train', 'truck', 'boat',
    'traffic light', 'fire hydrant', 'N/A', 'stop sign', 'parking meter', 'bench', 'bird', 'cat', 'dog',
    'horse', 'sheep', 'cow', 'elephant', 'bear', 'zebra', 'giraffe', 'N/A', 'backpack', 'umbrella', 'N/A',
    'N/A', 'handbag', 'tie', 'suitcase', 'frisbee', 'skis', 'snowboard', 'sports ball', 'kite',
    'baseball bat', 'baseball glove', 'skateboard', 'surfboard', 'tennis racket', 'bottle', 'N/A',
    'wine glass', 'cup', 'fork', 'knife', 'spoon', 'bowl', 'banana', 'apple', 'sandwich', 'orange',
    'broccoli', 'carrot', 'hot dog', 'pizza', 'donut', 'cake', 'chair', 'couch', 'potted plant', 'bed', 'N/A',
    'dining table', 'N/A', 'N/A', 'toilet', 'N/A', 'tv', 'laptop', 'mouse', 'remote', 'keyboard',
    'cell phone', 'microwave', 'oven', 'toaster', 'sink', 'refrigerator', 'N/A', 'book', 'clock', 'vase',
    'scissors', 'teddy bear', 'hair drier', 'toothbrush',
)

VOC_CATEGORIES: tuple[str, ...] = (
    '__background__', 'aeroplane', 'bicycle', 'bird', 'boat', 'bottle', 'bus', 'car', 'cat', 'chair', 'cow',
    'diningtable', 'dog', 'horse', 'motorbike', 'person', 'pottedplant', 'sheep', 'sofa', 'train',
    'tvmonitor',
)

PRETRAINED_FILES: dict[str, tuple[str, str]] = {
    'maskrcnn_resnet50_fpn': ('coco', 'maskrcnn_resnet50_fpn_coco-bf2d0c1e.pth'),
    'maskrcnn_resnet50_fpn_v2': ('coco', 'maskrcnn_resnet50_fpn_v2_coco-73cbd019.pth'),
    'fasterrcnn_resnet50_fpn': ('coco', 'fasterrcnn_resnet50_fpn_coco-258fb6c6.pth'),
    'fasterrcnn_resnet50_fpn_v2': ('coco', 'fasterrcnn_resnet50_fpn_v2_coco-dd69338a.pth'),
    'fasterrcnn_mobilenet_v3_large_fpn': ('coco', 'fasterrcnn_mobilenet_v3_large_fpn-fb6a3cc7.pth'),
    'fasterrcnn_mobilenet_v3_large_320_fpn': ('coco', 'fasterrcnn_mobilenet_v3_large_320_fpn-907ea3f9.pth'),
    'retinanet_resnet50_fpn': ('coco', 'retinanet_resnet50_fpn_coco-eeacb38b.pth'),
    'retinanet_resnet50_fpn_v2': ('coco', 'retinanet_resnet50_fpn_v2_coco-5905b1c5.pth'),
    'fcos_resnet50_fpn': ('coco', 'fcos_resnet50_fpn_coco-99b0c9b7.pth'),
    'ssdlite320_mobilenet_v3_large': ('coco', 'ssdlite320_mobilenet_v3_large_coco-a79551df.pth'),
    'fcn_resnet50': ('voc', 'fcn_resnet50_coco-1167a1af.pth'),
    'deeplabv3_resnet50': ('voc', 'deeplabv3_resnet50_coco-cd0a2569.pth'),
    'deeplabv3_mobilenet_v3_large': ('voc', 'deeplabv3_mobilenet_v3_large-fc3c493d.pth'),
    'lraspp_mobilenet_v3_large': ('voc', 'lraspp_mobilenet_v3_large-d234d4ea.pth'),
}
"""Registry model -> (data set of its weights: "coco" | "voc", file name in torchvision's cache)."""


def torch_hub_checkpoints() -> Path:
    """torchvision's download cache like ``torch.hub.get_dir()/checkpoints``: ``$TORCH_HOME/hub``,
    else ``$XDG_CACHE_HOME/torch/hub``, else ``~/.cache/torch/hub`` (torch.hub.set_dir is not seen)."""
    home = os.environ.get("TORCH_HOME")
    if not home:
        home = os.path.join(os.environ.get("XDG_CACHE_HOME", os.path.join("~", ".cache")), "torch")
    return Path(os.path.expanduser(home)) / "hub" / "checkpoints"


def _normalise(name: str) -> str:
    return name.strip().lower().replace("_", " ").replace("-", " ")


def categories(model: str) -> tuple[str, ...]:
    """The class names (background and "N/A" slots excluded) of ``model``'s pretrained weights."""
    entry = PRETRAINED_FILES.get(model)
    if entry is None:
        return ()
    names = COCO_CATEGORIES if entry[0] == "coco" else VOC_CATEGORIES
    return tuple(n for n in names if n not in ("__background__", "N/A"))


@dataclass(frozen=True)
class ZeroShot:
    """What ``model`` can propose for a project before training: the project classes its
    weights know by name, and whether those weights are on disk."""

    model: str
    dataset: str
    classes: tuple[str, ...]
    on_disk: bool


def proposable(class_names: Sequence[str]) -> list[ZeroShot]:
    """Per model with pretrained weights that know at least one of ``class_names``."""
    out = []
    folder = torch_hub_checkpoints()
    for model, (dataset, filename) in PRETRAINED_FILES.items():
        known = {_normalise(n) for n in categories(model)}
        classes = tuple(n for n in class_names if _normalise(n) in known)
        if classes:
            out.append(ZeroShot(model, dataset, classes, (folder / filename).is_file()))
    return out
